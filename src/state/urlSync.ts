/** The chosen patch size lives in the URL (?patch=56) so a link restores the view. */
import { useAppStore, type PatchSize } from './store.ts';

export function patchSizeFromSearch(search: string): PatchSize | null {
  const v = new URLSearchParams(search).get('patch');
  return v === '28' ? 28 : v === '56' ? 56 : null;
}

export function epFromSearch(search: string): 'auto' | 'wasm' {
  return new URLSearchParams(search).get('ep') === 'wasm' ? 'wasm' : 'auto';
}

/** Restores the patch size from the URL, then keeps the URL in step. Returns the unsubscribe. */
export function syncPatchSizeWithUrl(win: Pick<Window, 'location' | 'history'> = window): () => void {
  const initial = patchSizeFromSearch(win.location.search);
  if (initial) useAppStore.getState().setPatchSize(initial);
  return useAppStore.subscribe((s, prev) => {
    if (s.view.patchSize === prev.view.patchSize) return;
    const url = new URL(win.location.href);
    url.searchParams.set('patch', String(s.view.patchSize));
    win.history.replaceState(win.history.state, '', url);
  });
}
