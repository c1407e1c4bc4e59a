/**
 * The app state: one zustand store made of three slices (photo panels, inference runtime,
 * view). Large typed arrays (pixels, embeddings) live here as plain references; no devtools or
 * persist middleware is used, so they are never serialised. `initialAppState()` lets tests reset.
 */
import { create } from 'zustand';
import type { Manifest } from '../core/manifest.ts';
import { NOTHING_HIDDEN, type HiddenRegion, type HidePresetId } from '../core/regions.ts';
import type { Embedding } from '../core/pipeline.ts';
import type { RgbImage } from '../core/types.ts';
import type { Backend, FaceInfo, StageTimings } from '../inference/protocol.ts';

export type PanelId = 'a' | 'b';
export const PANELS: readonly PanelId[] = ['a', 'b'];
export type PatchSize = 28 | 56;

export type PanelStatus = 'empty' | 'detecting' | 'embedding' | 'ready' | 'error';

export interface PanelState {
  /** Increments with every new photo: replies for an older token are stale and dropped. */
  token: number;
  status: PanelStatus;
  fileName: string | null;
  /** Object URL of the photo for display (the browser applies EXIF orientation itself). */
  photoUrl: string | null;
  photoId: string | null;
  /** Source pixels after EXIF orientation. */
  width: number;
  height: number;
  faces: FaceInfo[];
  /** Index into `faces`, -1 when none. */
  chosen: number;
  aligned: RgbImage | null;
  embeddings: Record<string, Embedding>;
  /** Models still being computed for the chosen face, the first ones before `ready`, the rest after, in the background. */
  computing: string[];
  /** Why the background models failed (the panel stays ready with what it has). */
  backgroundError: string | null;
  error: string | null;
  timings: StageTimings;
  /** performance.now() when the photo arrived and when the embeddings on screen were ready. */
  startedAt: number;
  readyAt: number;
}

export interface ModelProgress {
  phase: 'download' | 'session' | 'ready';
  loaded: number;
  total: number;
}

export interface InferenceState {
  status: 'starting' | 'ready' | 'error';
  backend: Backend | null;
  threads: number;
  adapter: string | null;
  manifest: Manifest | null;
  error: string | null;
  models: Record<string, ModelProgress>;
}

export interface Hover {
  face: PanelId;
  index: number;
}

/** 'decision': each patch's margin c_i - t / K (centred on the threshold); 'score': its contribution c_i. */
export type HeatmapView = 'decision' | 'score';

export interface ViewState {
  patchSize: PatchSize;
  heatmap: HeatmapView;
  /** Regions hidden on both faces. */
  hidden: HiddenRegion;
  /** Clicks and drags on a face hide 14 px cells instead of inspecting patches. */
  drawing: boolean;
  /** Heatmap opacity, 0..1. */
  opacity: number;
  hover: Hover | null;
}

export interface AppState {
  panels: Record<PanelId, PanelState>;
  inference: InferenceState;
  view: ViewState;
}

export interface AppActions {
  setPanel(panel: PanelId, patch: Partial<PanelState>): void;
  setInference(patch: Partial<InferenceState>): void;
  setModelProgress(modelId: string, progress: ModelProgress): void;
  setPatchSize(size: PatchSize): void;
  setOpacity(opacity: number): void;
  setHover(hover: Hover | null): void;
  setHeatmap(view: HeatmapView): void;
  togglePreset(id: HidePresetId): void;
  /** Hides (or shows again) free-form cells. */
  setCells(cells: readonly number[], hidden: boolean): void;
  setHidden(hidden: HiddenRegion): void;
  setDrawing(drawing: boolean): void;
}

export function emptyPanel(token = 0): PanelState {
  return {
    token,
    status: 'empty',
    fileName: null,
    photoUrl: null,
    photoId: null,
    width: 0,
    height: 0,
    faces: [],
    chosen: -1,
    aligned: null,
    embeddings: {},
    computing: [],
    backgroundError: null,
    error: null,
    timings: {},
    startedAt: 0,
    readyAt: 0,
  };
}

export function initialAppState(): AppState {
  return {
    panels: { a: emptyPanel(), b: emptyPanel() },
    inference: { status: 'starting', backend: null, threads: 0, adapter: null, manifest: null, error: null, models: {} },
    view: { patchSize: 28, heatmap: 'decision', hidden: NOTHING_HIDDEN, drawing: false, opacity: 0.6, hover: null },
  };
}

export const useAppStore = create<AppState & AppActions>()((set) => ({
  ...initialAppState(),
  setPanel: (panel, patch) => set((s) => ({ panels: { ...s.panels, [panel]: { ...s.panels[panel], ...patch } } })),
  setInference: (patch) => set((s) => ({ inference: { ...s.inference, ...patch } })),
  setModelProgress: (modelId, progress) =>
    set((s) => ({ inference: { ...s.inference, models: { ...s.inference.models, [modelId]: progress } } })),
  setPatchSize: (patchSize) => set((s) => ({ view: { ...s.view, patchSize, hover: null } })),
  setOpacity: (opacity) => set((s) => ({ view: { ...s.view, opacity: Math.max(0, Math.min(1, opacity)) } })),
  setHeatmap: (heatmap) => set((s) => ({ view: { ...s.view, heatmap } })),
  togglePreset: (id) =>
    set((s) => {
      const { presets, cells } = s.view.hidden;
      const next = presets.includes(id) ? presets.filter((p) => p !== id) : [...presets, id];
      return { view: { ...s.view, hidden: { presets: next, cells } } };
    }),
  setCells: (changed, hide) =>
    set((s) => {
      const cells = new Set(s.view.hidden.cells);
      for (const c of changed) {
        if (hide) cells.add(c);
        else cells.delete(c);
      }
      return { view: { ...s.view, hidden: { presets: s.view.hidden.presets, cells: [...cells].sort((a, b) => a - b) } } };
    }),
  setHidden: (hidden) => set((s) => ({ view: { ...s.view, hidden } })),
  setDrawing: (drawing) => set((s) => ({ view: { ...s.view, drawing } })),
  setHover: (hover) =>
    set((s) => (s.view.hover?.face === hover?.face && s.view.hover?.index === hover?.index ? s : { view: { ...s.view, hover } })),
}));

/** Resets data (not actions) to the initial state; for tests. */
export function resetAppStore(): void {
  useAppStore.setState(initialAppState());
}

export type AppStore = typeof useAppStore;
