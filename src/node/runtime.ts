/**
 * Node side of the one runtime: onnxruntime-web's WASM backend (its Node build), reading models
 * from public/models/. No onnxruntime-node: its install script downloads CUDA libraries and the
 * WASM backend is the same code the browser runs, so Node and browser numbers agree.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-web';
import { parseManifest, type Manifest } from '../core/manifest.ts';
import { OrtModelRunner } from '../inference/modelRunner.ts';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const MODELS_DIR = join(PROJECT_ROOT, 'public/models');
export const MANIFEST_PATH = join(MODELS_DIR, 'manifest.json');

export async function readManifest(path = MANIFEST_PATH): Promise<Manifest> {
  return parseManifest(JSON.parse(await readFile(path, 'utf8')));
}

let configured = false;
function configureOrt(threads?: number): void {
  if (configured) return;
  configured = true;
  ort.env.wasm.numThreads = threads ?? Math.max(1, availableParallelism());
  ort.env.logLevel = 'error';
}

export async function createNodeRunner(opts: { threads?: number; manifest?: Manifest } = {}): Promise<OrtModelRunner> {
  configureOrt(opts.threads);
  const manifest = opts.manifest ?? (await readManifest());
  return new OrtModelRunner(ort, manifest, {
    executionProviders: ['wasm'],
    loadModelBytes: async (file) => new Uint8Array(await readFile(join(MODELS_DIR, file))),
  });
}
