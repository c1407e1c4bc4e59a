/**
 * The one place that turns manifest entries into onnxruntime sessions and runs them.
 *
 * It is handed the `onnxruntime-web` namespace instead of importing it, so the same class serves
 * the browser worker (which imports the WebGPU/WASM build) and Node (which imports the Node
 * build of the same package). Sessions are created lazily, once per model, and runs on one
 * session are serialised: overlapping run() calls on one WebGPU session fail. With `oneAtATime`
 * every session creation and run across all models is serialised too (see that option).
 */
import type * as Ort from 'onnxruntime-web';
import type { Manifest, ModelEntry } from '../core/manifest.ts';
import { findModel } from '../core/manifest.ts';
import type { ModelRunner } from '../core/pipeline.ts';
import type { Tensor } from '../core/types.ts';

export type OrtModule = typeof Ort;

export interface ModelRunnerOptions {
  executionProviders?: string[];
  /** Further session options, e.g. onnxruntime-node's thread counts. */
  sessionOptions?: Record<string, unknown>;
  /** Reads a model file named in the manifest (relative to the models folder). */
  loadModelBytes: (file: string) => Promise<Uint8Array>;
  /**
   * Serialise all session creations and runs, across models. onnxruntime-web's WebGPU backend
   * keeps one global state: creating a session while another model runs crashed its WASM heap
   * ("memory access out of bounds", Chromium 156 with a SwiftShader adapter) and left the
   * request hanging. WASM does not need it.
   */
  oneAtATime?: boolean;
  /** Called around session creation, for progress displays. */
  onSessionEvent?: (event: { modelId: string; phase: 'loading' | 'ready'; bytes?: number; ms?: number }) => void;
}

interface SessionSlot {
  session: Promise<Ort.InferenceSession>;
  queue: Promise<unknown>;
}

export class OrtModelRunner implements ModelRunner {
  private readonly slots = new Map<string, SessionSlot>();
  /** The tail of the global queue when `oneAtATime` is set. */
  private exclusive: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ort: OrtModule,
    readonly manifest: Manifest,
    private readonly options: ModelRunnerOptions,
  ) {}

  entry(modelId: string): ModelEntry {
    return findModel(this.manifest, modelId);
  }

  /** Creates (once) and returns the session for a model. */
  session(modelId: string): Promise<Ort.InferenceSession> {
    return this.slot(modelId).session;
  }

  async run(modelId: string, input: Tensor): Promise<Record<string, Tensor>> {
    const slot = this.slot(modelId);
    const job = slot.queue.then(async () => {
      const session = await slot.session;
      const feeds = { [session.inputNames[0]]: new this.ort.Tensor('float32', input.data, input.dims) };
      const results = await this.inTurn(() => session.run(feeds));
      const out: Record<string, Tensor> = {};
      for (const name of session.outputNames) {
        const t = results[name];
        out[name] = { data: t.data as Float32Array, dims: [...t.dims] };
        t.dispose?.();
      }
      return out;
    });
    // Keep the queue alive after a failure; the caller still sees the rejection.
    slot.queue = job.catch(() => undefined);
    return job;
  }

  async dispose(): Promise<void> {
    const slots = [...this.slots.values()];
    this.slots.clear();
    await Promise.all(slots.map(async (s) => (await s.session.catch(() => null))?.release()));
  }

  /** Runs `work` after every earlier exclusive job when `oneAtATime` is set; at once otherwise. */
  private inTurn<T>(work: () => Promise<T>): Promise<T> {
    if (!this.options.oneAtATime) return work();
    const job = this.exclusive.then(work);
    this.exclusive = job.catch(() => undefined);
    return job;
  }

  private slot(modelId: string): SessionSlot {
    let slot = this.slots.get(modelId);
    if (!slot) {
      const entry = this.entry(modelId);
      const session = (async () => {
        const t0 = Date.now();
        this.options.onSessionEvent?.({ modelId, phase: 'loading' });
        const bytes = await this.options.loadModelBytes(entry.file);
        const s = await this.inTurn(() =>
          this.ort.InferenceSession.create(bytes, {
            executionProviders: this.options.executionProviders ?? ['wasm'],
            graphOptimizationLevel: 'all',
            ...this.options.sessionOptions,
          }),
        );
        this.options.onSessionEvent?.({ modelId, phase: 'ready', bytes: bytes.byteLength, ms: Date.now() - t0 });
        return s;
      })();
      slot = { session, queue: Promise.resolve() };
      this.slots.set(modelId, slot);
      // A failed load must not poison later attempts (e.g. after a transient fetch error).
      session.catch(() => this.slots.delete(modelId));
    }
    return slot;
  }
}
