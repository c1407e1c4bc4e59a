/**
 * Node side of the one runtime, reading models from public/models/. By default onnxruntime-node,
 * whose native CPU kernels run the patch models several times faster than WASM (README,
 * benchmark); its CPU binaries ship inside the npm package, and `.npmrc` skips the install script
 * that would fetch GPU libraries. `runtime: 'wasm'` runs onnxruntime-web's WASM backend instead,
 * the same code as the browser's fallback, to check that both agree.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseManifest, type Manifest } from '../core/manifest.ts';
import { OrtModelRunner, type OrtModule } from '../inference/modelRunner.ts';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const MODELS_DIR = join(PROJECT_ROOT, 'public/models');
export const MANIFEST_PATH = join(MODELS_DIR, 'manifest.json');

export async function readManifest(path = MANIFEST_PATH): Promise<Manifest> {
  return parseManifest(JSON.parse(await readFile(path, 'utf8')));
}

export type NodeRuntime = 'native' | 'wasm';
export const NODE_RUNTIMES: readonly NodeRuntime[] = ['native', 'wasm'];

export async function createNodeRunner(
  opts: { threads?: number; manifest?: Manifest; runtime?: NodeRuntime } = {},
): Promise<OrtModelRunner> {
  const threads = opts.threads ?? Math.max(1, availableParallelism());
  const manifest = opts.manifest ?? (await readManifest());
  const loadModelBytes = async (file: string) => new Uint8Array(await readFile(join(MODELS_DIR, file)));
  if ((opts.runtime ?? 'native') === 'native') {
    // Same API as onnxruntime-web's (both build on onnxruntime-common).
    const ort = (await import('onnxruntime-node')) as unknown as OrtModule;
    return new OrtModelRunner(ort, manifest, {
      executionProviders: ['cpu'],
      sessionOptions: { intraOpNumThreads: threads, interOpNumThreads: 1 },
      loadModelBytes,
    });
  }
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = threads;
  ort.env.logLevel = 'error';
  return new OrtModelRunner(ort, manifest, { executionProviders: ['wasm'], loadModelBytes });
}
