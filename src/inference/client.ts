/**
 * The UI's handle on the inference worker: typed requests, replies matched by id through a
 * pending map, progress listeners and dispose(). The worker is injected (a seam for component
 * tests, which pass a fake); `createInferenceClient()` makes the real one.
 */
import { PatchFaceError, type PatchFaceErrorCode } from '../core/errors.ts';
import type { ProgressEvent, Request, RequestMap, RequestType, WorkerMessage } from './protocol.ts';
import { transferablesOf } from './protocol.ts';

/** What the client needs of a Worker; a fake implements just this. */
export interface WorkerLike {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  addEventListener(type: 'error', listener: (event: ErrorEvent | Event) => void): void;
  terminate(): void;
}

/** The request surface the UI uses (the client, or anything shaped like it). */
export interface InferenceApi {
  request<T extends RequestType>(type: T, payload: RequestMap[T]['payload']): Promise<RequestMap[T]['result']>;
  onProgress(listener: (event: ProgressEvent) => void): () => void;
  dispose(): void;
}

export class InferenceClient implements InferenceApi {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Set<(event: ProgressEvent) => void>();
  private disposed = false;

  constructor(private readonly worker: WorkerLike) {
    worker.addEventListener('message', (event: MessageEvent) => this.receive(event.data as WorkerMessage));
    worker.addEventListener('error', (event: ErrorEvent | Event) => {
      const message = (event as ErrorEvent).message || 'The inference worker failed to start.';
      this.failAll(new Error(message));
    });
  }

  request<T extends RequestType>(type: T, payload: RequestMap[T]['payload']): Promise<RequestMap[T]['result']> {
    if (this.disposed) return Promise.reject(new Error('The inference client was disposed.'));
    const id = this.nextId++;
    const message: Request<T> = { id, type, payload };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      // Files (Blobs) are cloned cheaply by reference; typed arrays are moved.
      this.worker.postMessage(message, transferablesOf(payload));
    });
  }

  onProgress(listener: (event: ProgressEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.failAll(new Error('The inference client was disposed.'));
    this.listeners.clear();
    this.worker.terminate();
  }

  private receive(message: WorkerMessage): void {
    if ('type' in message && message.type === 'fatal') {
      this.failAll(
        new Error(
          `The face models stopped with an error (${message.message}). Try again, or reload the page; adding ?ep=wasm to the address uses the WASM backend.`,
        ),
      );
      return;
    }
    if ('type' in message) {
      for (const l of this.listeners) l(message);
      return;
    }
    const entry = this.pending.get(message.id);
    if (!entry) return;
    this.pending.delete(message.id);
    if (message.ok) entry.resolve(message.result);
    else
      entry.reject(
        message.error.code
          ? new PatchFaceError(message.error.code as PatchFaceErrorCode, message.error.message)
          : new Error(message.error.message),
      );
  }

  private failAll(error: Error): void {
    for (const entry of this.pending.values()) entry.reject(error);
    this.pending.clear();
  }
}

export function createInferenceClient(): InferenceClient {
  const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'patchface-inference' });
  return new InferenceClient(worker as WorkerLike);
}
