/**
 * The typed message protocol between the UI (client.ts) and the inference worker (worker.ts).
 * Requests are `{ id, type, payload }`, replies `{ id, ok, result | error }`; progress
 * notifications carry no id. Shared by both sides so a change breaks the build, not the app.
 */
import type { PatchFaceErrorCode } from '../core/errors.ts';
import type { Manifest } from '../core/manifest.ts';
import type { Embedding } from '../core/pipeline.ts';
import type { BoxXYWH, RgbImage } from '../core/types.ts';

export type Backend = 'webgpu' | 'wasm';

/** Milliseconds per pipeline stage (only the stages that ran). */
export type StageTimings = Partial<Record<'decode' | 'detect' | 'landmarks' | 'align' | 'embed', number>> & Record<string, number>;

export interface FaceInfo {
  /** Source pixels, after EXIF orientation. */
  box: BoxXYWH;
  score: number;
  landmarks5: Float32Array;
}

export interface RequestMap {
  init: {
    payload: { ep: 'auto' | 'wasm'; modelsBase: string; preload: string[] };
    result: { backend: Backend; threads: number; manifest: Manifest; adapter: string | null };
  };
  /** Decodes a photo and finds every face (largest first). The worker keeps the pixels under photoId. */
  analyse: {
    payload: { photoId: string; file: Blob };
    result: { width: number; height: number; faces: FaceInfo[]; timings: StageTimings };
  };
  /**
   * Aligns one face of an analysed photo and embeds it with each model. A `background` request
   * starts each model only when no other request is in flight (what is on screen comes first), and
   * fails with "no longer loaded" when its photo was released meanwhile.
   */
  embed: {
    payload: { photoId: string; faceIndex: number; models: string[]; background?: boolean };
    result: { aligned: RgbImage; embeddings: Embedding[]; timings: StageTimings };
  };
  release: { payload: { photoId: string }; result: null };
}

export type RequestType = keyof RequestMap;

export interface Request<T extends RequestType = RequestType> {
  id: number;
  type: T;
  payload: RequestMap[T]['payload'];
}

export interface WireError {
  message: string;
  code?: PatchFaceErrorCode;
}

export type Reply<T extends RequestType = RequestType> =
  { id: number; ok: true; result: RequestMap[T]['result'] } | { id: number; ok: false; error: WireError };

export interface ProgressEvent {
  type: 'progress';
  modelId: string;
  phase: 'download' | 'session' | 'ready';
  loaded: number;
  /** 0 when the server gave no length. */
  total: number;
}

/** An error outside any request (an engine callback): every pending request fails with it. */
export interface FatalEvent {
  type: 'fatal';
  message: string;
}

export type WorkerMessage = Reply | ProgressEvent | FatalEvent;

/** Buffers that may be moved rather than copied. */
export function transferablesOf(value: unknown): Transferable[] {
  const out = new Set<ArrayBuffer>();
  const visit = (v: unknown, depth: number) => {
    if (!v || typeof v !== 'object' || depth > 4) return;
    if (ArrayBuffer.isView(v)) {
      if (v.buffer instanceof ArrayBuffer && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength) out.add(v.buffer);
      return;
    }
    for (const x of Array.isArray(v) ? v : Object.values(v)) visit(x, depth + 1);
  };
  visit(value, 0);
  return [...out];
}
