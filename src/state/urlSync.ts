/**
 * The view lives in the URL so a link restores it: ?patch=56, ?heatmap=score (decision is the
 * default), ?hide=lower-half,eyes and ?cells=0,9 (free-form hidden 14 px cells).
 */
import { CELLS_PER_SIDE, HIDE_PRESET_IDS, type HiddenRegion, type HidePresetId } from '../core/regions.ts';
import { useAppStore, type AppState, type HeatmapView, type PatchSize } from './store.ts';

export function patchSizeFromSearch(search: string): PatchSize | null {
  const v = new URLSearchParams(search).get('patch');
  return v === '28' ? 28 : v === '56' ? 56 : null;
}

export function heatmapFromSearch(search: string): HeatmapView | null {
  const v = new URLSearchParams(search).get('heatmap');
  return v === 'score' || v === 'decision' ? v : null;
}

/** The hidden region a URL names; unknown presets and cells outside the face are ignored. */
export function hiddenFromSearch(search: string): HiddenRegion {
  const params = new URLSearchParams(search);
  const presets = (params.get('hide') ?? '')
    .split(',')
    .filter((id): id is HidePresetId => (HIDE_PRESET_IDS as readonly string[]).includes(id));
  const cells = (params.get('cells') ?? '')
    .split(',')
    .filter(Boolean)
    .map(Number)
    .filter((c) => Number.isInteger(c) && c >= 0 && c < CELLS_PER_SIDE * CELLS_PER_SIDE);
  return { presets: [...new Set(presets)], cells: [...new Set(cells)].sort((a, b) => a - b) };
}

export function epFromSearch(search: string): 'auto' | 'wasm' {
  return new URLSearchParams(search).get('ep') === 'wasm' ? 'wasm' : 'auto';
}

function writeView(url: URL, view: AppState['view']): void {
  url.searchParams.set('patch', String(view.patchSize));
  if (view.heatmap === 'decision') url.searchParams.delete('heatmap');
  else url.searchParams.set('heatmap', view.heatmap);
  const set = (key: string, values: readonly (string | number)[]) =>
    values.length ? url.searchParams.set(key, values.join(',')) : url.searchParams.delete(key);
  set('hide', view.hidden.presets);
  set('cells', view.hidden.cells);
}

/** Restores the view from the URL, then keeps the URL in step. Returns the unsubscribe. */
export function syncViewWithUrl(win: Pick<Window, 'location' | 'history'> = window): () => void {
  const s = useAppStore.getState();
  const size = patchSizeFromSearch(win.location.search);
  if (size) s.setPatchSize(size);
  const heatmap = heatmapFromSearch(win.location.search);
  if (heatmap) s.setHeatmap(heatmap);
  s.setHidden(hiddenFromSearch(win.location.search));
  return useAppStore.subscribe((next, prev) => {
    const v = next.view;
    const p = prev.view;
    if (v.patchSize === p.patchSize && v.heatmap === p.heatmap && v.hidden === p.hidden) return;
    const url = new URL(win.location.href);
    writeView(url, v);
    win.history.replaceState(win.history.state, '', url);
  });
}
