/**
 * One ONNX file on its own: session start and inference time, on onnxruntime-web's WASM backend
 * (the browser's fallback engine) or onnxruntime-node, for comparing candidate files of one model
 * (a quantised or optimised graph, another batch size) before one replaces the shipped file.
 *
 *   npx tsx scripts/bench-model.ts FILE.onnx [FILE.onnx ...] [--runtime wasm|native] [--threads N]
 *                                  [--batch N] [--runs N] [--optimised-out FILE.onnx]
 *
 * The input is seeded noise of the model's manifest shape ([N, 3, side, side], found by the file's
 * name in public/models/manifest.json, else 112); the runtime starts on landmark68.onnx before
 * any file is timed. --optimised-out writes the graph onnxruntime-node
 * produces at its basic (portable) optimisation level. Times are medians of --runs (default 7).
 */
import { basename } from 'node:path';
import { median } from '../src/cli/bench.ts';
import { inputSide } from '../src/core/manifest.ts';
import { MODELS_DIR, readManifest } from '../src/node/runtime.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const [value] = args.splice(at, 2).slice(1);
  return value;
};
const runtime = option('--runtime', 'wasm');
const threads = Number(option('--threads', '2'));
const batch = Number(option('--batch', '1'));
const runs = Number(option('--runs', '7'));
const optimisedOut = option('--optimised-out', '');
const files = args;
if (files.length === 0 || !['wasm', 'native'].includes(runtime) || !(batch >= 1) || !(runs >= 1))
  throw new Error('usage: bench-model.ts FILE.onnx [...] [--runtime wasm|native] [--threads N] [--batch N] [--runs N]');

const manifest = await readManifest();
const ortNode = await import('onnxruntime-node');
const ort = runtime === 'native' ? ortNode : await import('onnxruntime-web');
if (runtime === 'wasm') (ort as typeof import('onnxruntime-web')).env.wasm.numThreads = threads;

// The runtime's own start (WASM instantiation) is not any file's: pay it on the smallest model.
await (await ort.InferenceSession.create(`${MODELS_DIR}/landmark68.onnx`)).release();

for (const file of files) {
  if (optimisedOut) await ortNode.InferenceSession.create(file, { graphOptimizationLevel: 'basic', optimizedModelFilePath: optimisedOut });
  const entry = manifest.models.find((m) => m.file === basename(file));
  const side = entry ? inputSide(entry) : 112;
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(
    file,
    runtime === 'native' ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : { executionProviders: ['wasm'] },
  );
  const start = performance.now() - t0;
  let seed = 1;
  const noise = Float32Array.from({ length: batch * 3 * side * side }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', noise, [batch, 3, side, side]) };
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t);
  }
  const ms = median(times);
  console.log(
    `${file}: ${runtime}, ${threads} threads, batch ${batch}: session start ${start.toFixed(0)} ms, ` +
      `run ${ms.toFixed(1)} ms (${(ms / batch).toFixed(1)} ms a face), median of ${runs}`,
  );
  await session.release();
}
