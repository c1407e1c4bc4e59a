/** The store slices, the URL sync of the patch size, and the worker client's protocol handling. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isPatchFaceError } from '../../src/core/errors.ts';
import { InferenceClient } from '../../src/inference/client.ts';
import { selectResult } from '../../src/state/selectors.ts';
import { emptyPanel, initialAppState, resetAppStore, useAppStore } from '../../src/state/store.ts';
import { epFromSearch, heatmapFromSearch, hiddenFromSearch, patchSizeFromSearch, syncViewWithUrl } from '../../src/state/urlSync.ts';
import { FakeWorker, fakeManifest } from '../support/fakeWorker.ts';

afterEach(resetAppStore);

describe('store', () => {
  it('starts from the exported initial state and resets to it', () => {
    useAppStore.getState().setPanel('a', { status: 'ready', fileName: 'x.jpg' });
    useAppStore.getState().setOpacity(0.2);
    resetAppStore();
    const { panels, inference, view } = useAppStore.getState();
    expect({ panels, inference, view }).toEqual(initialAppState());
  });

  it('updates one panel without touching the other', () => {
    const b = useAppStore.getState().panels.b;
    useAppStore.getState().setPanel('a', { status: 'error', error: 'boom' });
    expect(useAppStore.getState().panels.a.error).toBe('boom');
    expect(useAppStore.getState().panels.b).toBe(b);
  });

  it('clamps opacity, clears hover on patch-size change, ignores repeated hovers', () => {
    const s = useAppStore.getState();
    s.setOpacity(3);
    expect(useAppStore.getState().view.opacity).toBe(1);
    s.setHover({ face: 'a', index: 3 });
    const view = useAppStore.getState().view;
    s.setHover({ face: 'a', index: 3 });
    expect(useAppStore.getState().view).toBe(view);
    s.setPatchSize(56);
    expect(useAppStore.getState().view).toMatchObject({ patchSize: 56, hover: null });
  });

  it('derives no result until both faces have embeddings', () => {
    const manifest = fakeManifest();
    expect(selectResult(manifest, emptyPanel(), emptyPanel(), 28)).toBeNull();
    expect(selectResult(null, emptyPanel(), emptyPanel(), 28)).toBeNull();
  });
});

describe('the view in the URL', () => {
  it('parses ?patch= and ?ep=', () => {
    expect(patchSizeFromSearch('?patch=56')).toBe(56);
    expect(patchSizeFromSearch('?patch=28')).toBe(28);
    expect(patchSizeFromSearch('?patch=99')).toBeNull();
    expect(epFromSearch('?ep=wasm')).toBe('wasm');
    expect(epFromSearch('')).toBe('auto');
    expect(heatmapFromSearch('?heatmap=score')).toBe('score');
    expect(heatmapFromSearch('?heatmap=x')).toBeNull();
    expect(hiddenFromSearch('?hide=mouth,chin,eyes&cells=9,64,3,x')).toEqual({ presets: ['mouth', 'eyes'], cells: [3, 9] });
    expect(hiddenFromSearch('')).toEqual({ presets: [], cells: [] });
  });

  it('restores the size from the URL and writes changes back', () => {
    const replaceState = vi.fn();
    const win = { location: { search: '?patch=56&ep=wasm', href: 'http://x/?patch=56&ep=wasm' }, history: { state: null, replaceState } };
    const stop = syncViewWithUrl(win as unknown as Window);
    expect(useAppStore.getState().view.patchSize).toBe(56);
    useAppStore.getState().setPatchSize(28);
    expect(String(replaceState.mock.calls[0][2])).toBe('http://x/?patch=28&ep=wasm');
    stop();
  });

  it('restores the heatmap view and the hidden regions, and writes them back', () => {
    const replaceState = vi.fn();
    const url = 'http://x/?heatmap=score&hide=lower-half&cells=0';
    const win = { location: { search: new URL(url).search, href: url }, history: { state: null, replaceState } };
    const stop = syncViewWithUrl(win as unknown as Window);
    expect(useAppStore.getState().view).toMatchObject({ heatmap: 'score', hidden: { presets: ['lower-half'], cells: [0] } });
    const s = useAppStore.getState();
    s.setHeatmap('decision');
    s.togglePreset('eyes');
    s.setCells([0], false);
    s.setCells([9, 1], true);
    const last = String(replaceState.mock.calls.at(-1)![2]);
    expect(new URL(last).searchParams.get('heatmap')).toBeNull();
    expect(new URL(last).searchParams.get('hide')).toBe('lower-half,eyes');
    expect(new URL(last).searchParams.get('cells')).toBe('1,9');
    s.togglePreset('lower-half');
    expect(useAppStore.getState().view.hidden.presets).toEqual(['eyes']);
    stop();
  });
});

describe('inference client', () => {
  it('matches replies to requests by id, forwards progress, rejects errors with their code', async () => {
    const worker = new FakeWorker();
    const client = new InferenceClient(worker);
    const progress = vi.fn();
    client.onProgress(progress);
    const [init, bad] = await Promise.allSettled([
      client.request('init', { ep: 'wasm', modelsBase: '/models/', preload: [] }),
      client.request('analyse', { photoId: 'p', file: new File([], 'bad.txt') }),
    ]);
    expect(init.status === 'fulfilled' && init.value.backend).toBe('wasm');
    expect(bad.status).toBe('rejected');
    expect(isPatchFaceError((bad as PromiseRejectedResult).reason, 'not-an-image')).toBe(true);
    worker.emit({ type: 'progress', modelId: 'ssd', phase: 'download', loaded: 1, total: 2 });
    expect(progress).toHaveBeenCalledWith({ type: 'progress', modelId: 'ssd', phase: 'download', loaded: 1, total: 2 });
  });

  it('dispose() rejects pending requests and terminates the worker', async () => {
    const worker = new FakeWorker();
    const client = new InferenceClient(worker);
    const pending = client.request('init', { ep: 'wasm', modelsBase: '/models/', preload: [] });
    client.dispose();
    await expect(pending).rejects.toThrow(/disposed/);
    expect(worker.terminated).toBe(true);
    await expect(client.request('release', { photoId: 'x' })).rejects.toThrow(/disposed/);
  });
});
