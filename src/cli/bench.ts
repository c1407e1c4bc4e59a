/**
 * `patchface bench [PHOTO ...]`: per-stage wall time of the pipeline on this machine (decode,
 * each network, and the pure-TypeScript work between them), median over --runs repetitions.
 */
import { readdirSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { embedders } from '../core/manifest.ts';
import { detectFaces, embedFaces, TimedRunner, type PipelineOptions } from '../core/pipeline.ts';
import { decodePhotoFile } from '../node/decodeImage.ts';
import { createNodeRunner, PROJECT_ROOT, type NodeRuntime } from '../node/runtime.ts';

/** The median (the lower of the middle two for an even count); NaN for none. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
}

export function defaultBenchPhotos(): string[] {
  const dir = resolve(PROJECT_ROOT, '../shared/data/samples/whitehouse');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jpg'))
    .map((f) => join(dir, f));
}

export async function runBench(opts: {
  photos: string[];
  runs: number;
  threads?: number;
  runtime?: NodeRuntime;
  json: boolean;
  pipeline?: PipelineOptions;
}): Promise<number> {
  const base = await createNodeRunner({ threads: opts.threads, runtime: opts.runtime });
  const runner = new TimedRunner(base);
  const manifest = base.manifest;
  const models = embedders(manifest);
  const photos = opts.photos.length ? opts.photos : defaultBenchPhotos();
  const rows: Record<string, Record<string, number>> = {};
  for (const photo of photos) {
    const samples: Record<string, number[]> = {};
    const add = (k: string, v: number) => (samples[k] ??= []).push(v);
    for (let r = 0; r <= opts.runs; r++) {
      runner.reset();
      const t0 = performance.now();
      const { image } = await decodePhotoFile(photo);
      const t1 = performance.now();
      const faces = await detectFaces(image, runner, manifest, opts.pipeline);
      const t2 = performance.now();
      if (!faces.length) throw new Error(`${photo}: no face found`);
      for (const m of models) await embedFaces([{ image, face: faces[0] }], m, runner, opts.pipeline);
      const t3 = performance.now();
      if (r === 0) continue; // warm-up: session creation and first-run allocation
      add('decode', t1 - t0);
      add('detect+landmarks (total)', t2 - t1);
      for (const [id, ms] of runner.ms) add(`network ${id}`, ms);
      const networks = [...runner.ms.values()].reduce((a, b) => a + b, 0);
      add('TypeScript between networks', t3 - t1 - networks);
      add('total', t3 - t0);
    }
    rows[basename(photo)] = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  }
  await base.dispose();
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({ cpu: cpus()[0]?.model, cores: availableParallelism(), runs: opts.runs, ms: rows }, null, 2)}\n`,
    );
  } else {
    process.stdout.write(`${cpus()[0]?.model} x${availableParallelism()}, median of ${opts.runs} runs, ms\n`);
    for (const [photo, stages] of Object.entries(rows)) {
      process.stdout.write(`\n${photo}\n`);
      for (const [k, v] of Object.entries(stages)) process.stdout.write(`  ${k.padEnd(30)} ${v.toFixed(1).padStart(8)}\n`);
    }
  }
  return 0;
}
