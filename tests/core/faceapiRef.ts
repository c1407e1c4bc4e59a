/**
 * face-api itself (its Node WASM build, run on the tfjs CPU backend) as the reference the core
 * modules are checked against. Test-only: the app never imports face-api.
 */

export type FaceApi = any;

import { mulberry32 } from '../support/random';

let loaded: Promise<FaceApi> | null = null;

export function loadFaceApi(): Promise<FaceApi> {
  loaded ??= (async () => {
    const mod = await import('@vladmandic/face-api/dist/face-api.node-wasm.js');
    const fa = (mod as { default?: FaceApi }).default?.tf ? (mod as { default: FaceApi }).default : mod;
    await fa.tf.setBackend('cpu');
    await fa.tf.ready();
    return fa;
  })();
  return loaded;
}

/** Deterministic pseudo-random bytes (mulberry32). */
export function randomBytes(n: number, seed: number): Uint8Array {
  const next = mulberry32(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (next() * 4294967296) & 0xff;
  return out;
}

/** Deterministic pseudo-random floats in [lo, hi). */
export function randomFloats(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const b = randomBytes(n * 2, seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + ((b[2 * i] * 256 + b[2 * i + 1]) / 65536) * (hi - lo);
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** NHWC [1, s, s, 3] -> NCHW [1, 3, s, s]. */
export function nhwcToNchw(x: Float32Array, h: number, w: number, c = 3): Float32Array {
  const out = new Float32Array(x.length);
  for (let y = 0; y < h; y++)
    for (let xx = 0; xx < w; xx++) for (let k = 0; k < c; k++) out[(k * h + y) * w + xx] = x[(y * w + xx) * c + k];
  return out;
}
