/**
 * What the UI asks for (load a photo into a panel, choose a face) turned into worker requests
 * and store updates. Stale replies (a newer photo arrived meanwhile) are dropped by token.
 *
 * Results come progressively: a chosen face is first embedded with the patch model of the size on
 * screen, and the panel is ready (verdict and maps); the full-face baseline, then the other patch
 * model, follow as background requests, sent only once no panel is still detecting or embedding,
 * so one photo's extra work never delays the other photo's first result.
 */
import { DEFAULT_DETECTOR, noFaceError } from '../core/pipeline.ts';
import type { InferenceApi } from '../inference/client.ts';
import { embedderPlan } from './selectors.ts';
import { emptyPanel, PANELS, useAppStore, type AppStore, type PanelId } from './store.ts';

export interface ControllerOptions {
  ep: 'auto' | 'wasm';
  modelsBase: string;
  /** Object URLs for display; injectable because jsdom has none. */
  createObjectURL?: (blob: Blob) => string;
  revokeObjectURL?: (url: string) => void;
}

export class Controller {
  private ready: Promise<void> | null = null;
  /** Set once the worker has started: requests then go out without first yielding to a render. */
  private started = false;
  private photoCounter = 0;
  /** The panel token whose background request was last sent, so each is sent once. */
  private readonly backgroundSent: Record<PanelId, number> = { a: -1, b: -1 };
  private readonly unsubscribe: () => void;

  constructor(
    readonly api: InferenceApi,
    private readonly options: ControllerOptions,
    private readonly store: AppStore = useAppStore,
  ) {
    this.unsubscribe = api.onProgress((e) =>
      this.store.getState().setModelProgress(e.modelId, { phase: e.phase, loaded: e.loaded, total: e.total }),
    );
  }

  /** Starts the worker (idempotent); the promise rejects when the runtime cannot start. */
  start(): Promise<void> {
    this.ready ??= (async () => {
      const s = this.store.getState();
      try {
        const r = await this.api.request('init', {
          ep: this.options.ep,
          modelsBase: this.options.modelsBase,
          // What the first heatmap needs, in the order it is used; the baseline and the other
          // patch model load when their background request first needs them, after it.
          preload: [DEFAULT_DETECTOR, 'landmarks68', `rrf${s.view.patchSize}`],
        });
        s.setInference({ status: 'ready', backend: r.backend, threads: r.threads, adapter: r.adapter, manifest: r.manifest, error: null });
        this.started = true;
      } catch (e) {
        s.setInference({ status: 'error', error: `The face models could not be started: ${(e as Error).message}` });
        throw e;
      }
    })();
    return this.ready;
  }

  async loadPhoto(panel: PanelId, file: File | Blob): Promise<void> {
    const s = this.store.getState();
    const previous = s.panels[panel];
    if (previous.photoUrl) this.options.revokeObjectURL?.(previous.photoUrl);
    if (previous.photoId) void this.api.request('release', { photoId: previous.photoId }).catch(() => undefined);
    const token = previous.token + 1;
    const photoId = `${panel}-${++this.photoCounter}`;
    const fileName = (file as File).name ?? null;
    s.setPanel(panel, { ...emptyPanel(token), status: 'detecting', fileName, photoId, startedAt: performance.now() });
    s.setHover(null);
    try {
      // Awaiting would let React render the cleared panel before the worker gets the photo.
      if (!this.started) await this.start();
      const r = await this.api.request('analyse', { photoId, file });
      if (this.stale(panel, token)) return;
      if (r.faces.length === 0) throw noFaceError();
      this.store.getState().setPanel(panel, { width: r.width, height: r.height, faces: r.faces, timings: r.timings });
      await this.embed(panel, token, 0);
      // The photo as loaded is shown with its first result, not before: decoding a large photo
      // for display competes with the patch model for the CPU (on 2 cores, about 30 ms).
      if (!this.stale(panel, token)) this.store.getState().setPanel(panel, { photoUrl: this.options.createObjectURL?.(file) ?? null });
    } catch (e) {
      if (this.stale(panel, token)) return;
      const current = this.store.getState().panels[panel];
      this.store
        .getState()
        .setPanel(panel, { ...emptyPanel(token), fileName, status: 'error', error: (e as Error).message, startedAt: current.startedAt });
      this.startBackground();
    }
  }

  async chooseFace(panel: PanelId, index: number): Promise<void> {
    const p = this.store.getState().panels[panel];
    if (index === p.chosen || index < 0 || index >= p.faces.length) return;
    const token = p.token + 1;
    this.store.getState().setPanel(panel, { token, startedAt: performance.now() });
    try {
      await this.embed(panel, token, index);
    } catch (e) {
      if (this.stale(panel, token)) return;
      this.store.getState().setPanel(panel, { status: 'error', error: (e as Error).message, computing: [] });
      this.startBackground();
    }
  }

  dispose(): void {
    this.unsubscribe();
    this.api.dispose();
  }

  private async embed(panel: PanelId, token: number, index: number): Promise<void> {
    const s = this.store.getState();
    const manifest = s.inference.manifest;
    if (!manifest) throw new Error('The face models are not loaded.');
    const p = s.panels[panel];
    const { first, later } = embedderPlan(manifest, s.view.patchSize);
    s.setPanel(panel, {
      status: 'embedding',
      chosen: index,
      aligned: null,
      embeddings: {},
      computing: [...first, ...later],
      backgroundError: null,
    });
    const r = await this.api.request('embed', { photoId: p.photoId!, faceIndex: index, models: first });
    if (this.stale(panel, token)) return;
    const embeddings = Object.fromEntries(r.embeddings.map((e) => [e.modelId, e]));
    const timings = { ...this.store.getState().panels[panel].timings, ...r.timings };
    this.store
      .getState()
      .setPanel(panel, { status: 'ready', aligned: r.aligned, embeddings, timings, readyAt: performance.now(), computing: later });
    this.startBackground();
  }

  /** Sends each ready panel's remaining models as a background request, once no panel has foreground work left. */
  private startBackground(): void {
    const { panels } = this.store.getState();
    if (PANELS.some((id) => panels[id].status === 'detecting' || panels[id].status === 'embedding')) return;
    for (const id of PANELS) {
      const p = panels[id];
      if (p.status !== 'ready' || p.computing.length === 0 || this.backgroundSent[id] === p.token) continue;
      this.backgroundSent[id] = p.token;
      void this.embedLater(id, p.token, p.photoId!, p.chosen, p.computing);
    }
  }

  private async embedLater(panel: PanelId, token: number, photoId: string, faceIndex: number, models: string[]): Promise<void> {
    try {
      const r = await this.api.request('embed', { photoId, faceIndex, models, background: true });
      if (this.stale(panel, token)) return;
      const current = this.store.getState().panels[panel];
      const { align: _align, ...modelTimings } = r.timings;
      this.store.getState().setPanel(panel, {
        embeddings: { ...current.embeddings, ...Object.fromEntries(r.embeddings.map((e) => [e.modelId, e])) },
        timings: { ...current.timings, ...modelTimings },
        computing: [],
      });
    } catch (e) {
      if (this.stale(panel, token)) return;
      this.store.getState().setPanel(panel, { computing: [], backgroundError: (e as Error).message });
    }
  }

  private stale(panel: PanelId, token: number): boolean {
    return this.store.getState().panels[panel].token !== token;
  }
}
