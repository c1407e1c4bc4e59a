/// <reference lib="webworker" />
/**
 * The inference worker: the only browser module that imports onnxruntime-web. It picks the
 * backend once (WebGPU when an adapter is really returned, else WASM), owns every session
 * through OrtModelRunner, decodes photos (EXIF orientation honoured, header checked before any
 * decoder allocates) and runs the one core pipeline.
 */
import { alignFace112 } from '../core/align.ts';
import { isPatchFaceError, PatchFaceError } from '../core/errors.ts';
import { rgbaToRgb } from '../core/image.ts';
import { assertPixelBound, sniffImage } from '../core/imageHeader.ts';
import { assertJpegComplete } from '../core/jpegComplete.ts';
import { findModel, parseManifest, type Manifest } from '../core/manifest.ts';
import { detectFaces, embedFaces, TimedRunner, type Embedding } from '../core/pipeline.ts';
import type { DetectedFace, RgbImage } from '../core/types.ts';
import { OrtModelRunner, type OrtModule } from './modelRunner.ts';
import type { Backend, FatalEvent, ProgressEvent, Reply, Request, RequestMap, RequestType, StageTimings } from './protocol.ts';
import { transferablesOf } from './protocol.ts';
// The runtime files each import needs, served by `vite` and emitted by `vite build` alike. The
// WebGPU build's URLs are imported only when WebGPU is used (in `init`), so a WASM visit requests
// nothing of it.
import wasmMjsUrl from 'onnxruntime-web/ort-wasm-simd-threaded.mjs?url';
import wasmBinaryUrl from 'onnxruntime-web/ort-wasm-simd-threaded.wasm?url';

declare const self: DedicatedWorkerGlobalScope;

/** White, as Node's sharp flatten uses, so both decoders give the same pixels for transparent PNGs. */
const FLATTEN_BACKGROUND: [number, number, number] = [255, 255, 255];

let runner: OrtModelRunner | null = null;
let timed: TimedRunner | null = null;
let manifest: Manifest | null = null;
let initOnce: Promise<RequestMap['init']['result']> | null = null;
const photos = new Map<string, { image: RgbImage; faces: DetectedFace[] }>();

function progress(event: Omit<ProgressEvent, 'type'>): void {
  self.postMessage({ type: 'progress', ...event } satisfies ProgressEvent);
}

async function pickBackend(ep: 'auto' | 'wasm'): Promise<{ backend: Backend; adapter: string | null }> {
  if (ep === 'wasm') return { backend: 'wasm', adapter: null };
  try {
    const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
    const adapter = (await gpu?.requestAdapter()) as { info?: { vendor?: string; architecture?: string } } | null | undefined;
    if (adapter)
      return {
        backend: 'webgpu',
        adapter: [adapter.info?.vendor, adapter.info?.architecture].filter(Boolean).join(' ') || 'WebGPU adapter',
      };
  } catch {
    // No adapter: fall through to WASM.
  }
  return { backend: 'wasm', adapter: null };
}

/** Cache API storage of model files; an entry is keyed by the file's URL and its manifest SHA-256. */
const MODEL_CACHE = 'patchface-models-v1';

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * A model file from the Cache API, or downloaded (with progress) and stored there when its bytes
 * match the manifest's SHA-256, so a later visit downloads no model bytes. Older entries of the
 * same file go. Without the Cache API (or with its storage refused) it is a plain download.
 */
async function loadModelFile(url: string, modelId: string, sha256: string): Promise<Uint8Array> {
  const cache = await self.caches?.open(MODEL_CACHE).catch(() => null);
  if (!cache || !sha256) return fetchWithProgress(url, modelId);
  const key = `${url}#sha256=${sha256}`;
  const hit = await cache.match(key).catch(() => undefined);
  if (hit) return new Uint8Array(await hit.arrayBuffer());
  // Stored below instead: no second copy in the HTTP cache.
  const bytes = await fetchWithProgress(url, modelId, 'no-store');
  void (async () => {
    if ((await sha256Hex(bytes)) !== sha256) return;
    for (const old of await cache.keys()) if (old.url.startsWith(`${url}#`) && old.url !== key) await cache.delete(old);
    await cache.put(key, new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'Content-Type': 'application/octet-stream' } }));
  })().catch(() => undefined);
  return bytes;
}

async function fetchWithProgress(url: string, modelId: string, cacheMode: RequestCache = 'default'): Promise<Uint8Array> {
  const response = await fetch(url, { cache: cacheMode });
  if (!response.ok) throw new Error(`Could not download ${url} (HTTP ${response.status}).`);
  const total = Number(response.headers.get('content-length') ?? 0);
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  let lastReport = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    if (loaded - lastReport > 256 * 1024) {
      lastReport = loaded;
      progress({ modelId, phase: 'download', loaded, total });
    }
  }
  const bytes = new Uint8Array(loaded);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.byteLength;
  }
  return bytes;
}

async function init({ ep, modelsBase, preload }: RequestMap['init']['payload']): Promise<RequestMap['init']['result']> {
  const { backend, adapter } = await pickBackend(ep);
  // Two imports so a WASM-only visit downloads the 14 MB plain runtime, not the 27 MB WebGPU one.
  const ort: OrtModule =
    backend === 'webgpu'
      ? ((await import('onnxruntime-web/webgpu')) as unknown as OrtModule)
      : ((await import('onnxruntime-web/wasm')) as unknown as OrtModule);
  const [mjsUrl, binaryUrl] =
    backend === 'webgpu'
      ? await Promise.all([
          import('onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs?url').then((m) => m.default),
          import('onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url').then((m) => m.default),
        ])
      : [wasmMjsUrl, wasmBinaryUrl];
  ort.env.wasm.wasmPaths = { mjs: new URL(mjsUrl, self.location.href), wasm: new URL(binaryUrl, self.location.href) };
  // Without cross-origin isolation there is no SharedArrayBuffer and threads silently become one.
  const threads = self.crossOriginIsolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
  ort.env.wasm.numThreads = threads;
  ort.env.logLevel = 'error';
  const base = new URL(modelsBase, self.location.href);
  const response = await fetch(new URL('manifest.json', base));
  if (!response.ok) throw new Error(`Could not load the model manifest (HTTP ${response.status}).`);
  manifest = parseManifest(await response.json());
  runner = new OrtModelRunner(ort, manifest, {
    executionProviders: backend === 'webgpu' ? ['webgpu', 'wasm'] : ['wasm'],
    oneAtATime: backend === 'webgpu',
    loadModelBytes: (file) => {
      const entry = manifest!.models.find((m) => m.file === file);
      return loadModelFile(new URL(file, base).href, entry?.id ?? file, entry?.sha256 ?? '');
    },
    onSessionEvent: (e) =>
      progress({ modelId: e.modelId, phase: e.phase === 'loading' ? 'session' : 'ready', loaded: e.bytes ?? 0, total: e.bytes ?? 0 }),
  });
  timed = new TimedRunner(runner);
  // Sessions load in the background, one after another; a request that needs one waits for it.
  void (async () => {
    for (const id of preload) {
      if (!manifest!.models.some((m) => m.id === id)) continue;
      await runner!.session(id).catch(() => undefined);
    }
  })();
  return { backend, threads, manifest, adapter };
}

async function decodePhoto(file: Blob): Promise<RgbImage> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const header = sniffImage(bytes);
  assertPixelBound(header.width, header.height);
  if (header.format === 'jpeg') assertJpegComplete(bytes);
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes]), { imageOrientation: 'from-image' });
  } catch {
    throw new PatchFaceError(
      'decode-failed',
      `The ${header.format.toUpperCase()} file could not be decoded: it looks corrupt or truncated.`,
    );
  }
  try {
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error('No 2D canvas in this worker.');
    ctx.drawImage(bitmap, 0, 0);
    const rgba = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
    // A JPEG has no alpha, so there is nothing to flatten: its pixels are copied as they are.
    return rgbaToRgb(rgba, bitmap.width, bitmap.height, header.format === 'jpeg' ? undefined : FLATTEN_BACKGROUND);
  } finally {
    bitmap.close();
  }
}

function requireReady(): { runner: TimedRunner; manifest: Manifest } {
  if (!timed || !manifest) throw new Error('The inference worker is not initialised.');
  return { runner: timed, manifest };
}

async function analyse({ photoId, file }: RequestMap['analyse']['payload']): Promise<RequestMap['analyse']['result']> {
  const t0 = performance.now();
  const image = await decodePhoto(file);
  const decode = performance.now() - t0;
  const { runner: r, manifest: m } = requireReady();
  const t1 = performance.now();
  r.reset();
  const faces = await detectFaces(image, r, m);
  const detectTotal = performance.now() - t1;
  const landmarks = r.ms.get('landmarks68') ?? 0;
  photos.set(photoId, { image, faces });
  const timings: StageTimings = { decode, detect: detectTotal - landmarks, landmarks };
  return {
    width: image.width,
    height: image.height,
    faces: faces.map((f) => ({ box: f.box, score: f.score, landmarks5: f.landmarks5 })),
    timings,
  };
}

/** Requests in flight other than background embeds; background work waits until there are none. */
let inFlight = 0;
const idleWaiters: (() => void)[] = [];

function whenIdle(): Promise<void> {
  return inFlight === 0 ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve));
}

function requirePhoto(photoId: string): { image: RgbImage; faces: DetectedFace[] } {
  const photo = photos.get(photoId);
  if (!photo) throw new Error('This photo is no longer loaded; please load it again.');
  return photo;
}

async function embed({ photoId, faceIndex, models, background }: RequestMap['embed']['payload']): Promise<RequestMap['embed']['result']> {
  if (background) await whenIdle();
  const photo = requirePhoto(photoId);
  const face = photo.faces[faceIndex];
  if (!face) throw new Error(`The photo has no face number ${faceIndex + 1}.`);
  const { runner: r, manifest: m } = requireReady();
  const t0 = performance.now();
  const aligned = alignFace112(photo.image, face.landmarks5).face;
  const timings: StageTimings = { align: performance.now() - t0 };
  const embeddings: Embedding[] = [];
  for (const id of models) {
    if (background) {
      // A request that arrived meanwhile goes first; a released photo is not worth finishing.
      await whenIdle();
      requirePhoto(photoId);
    }
    const t = performance.now();
    const [e] = await embedFaces([{ image: photo.image, face }], findModel(m, id), r);
    timings[`embed:${id}`] = performance.now() - t;
    embeddings.push(e);
  }
  return { aligned, embeddings, timings };
}

const handlers: { [T in RequestType]: (payload: RequestMap[T]['payload']) => Promise<RequestMap[T]['result']> } = {
  init: (p) =>
    (initOnce ??= init(p).catch((e) => {
      initOnce = null;
      throw e;
    })),
  analyse,
  embed,
  release: async ({ photoId }) => {
    photos.delete(photoId);
    return null;
  },
};

// An exception thrown outside any request (inside an onnxruntime callback, say) would otherwise
// leave the requests in flight waiting forever, and the panels spinning.
function fatal(message: string): void {
  self.postMessage({ type: 'fatal', message } satisfies FatalEvent);
}
self.addEventListener('error', (event) => fatal(event.message || 'unknown error'));
self.addEventListener('unhandledrejection', (event) => fatal(String((event.reason as Error)?.message ?? event.reason)));

self.addEventListener('message', async (event: MessageEvent<Request>) => {
  const { id, type, payload } = event.data;
  const foreground = !(type === 'embed' && (payload as RequestMap['embed']['payload']).background);
  if (foreground) inFlight++;
  let reply: Reply;
  try {
    const handler = handlers[type] as (p: unknown) => Promise<unknown>;
    if (!handler) throw new Error(`Unknown request "${type}".`);
    const result = await handler(payload);
    reply = { id, ok: true, result } as Reply;
  } catch (e) {
    const err = e as Error;
    reply = { id, ok: false, error: { message: err?.message ?? String(e), code: isPatchFaceError(e) ? e.code : undefined } };
  } finally {
    if (foreground && --inFlight === 0) for (const resolve of idleWaiters.splice(0)) resolve();
  }
  self.postMessage(reply, reply.ok && type === 'embed' ? transferablesOf(reply.result) : []);
});
