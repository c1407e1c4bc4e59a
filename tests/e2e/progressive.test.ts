/**
 * Progressive results in real Chromium with the real models (?ep=wasm): the verdict and the map of
 * the patch size on screen come before the full-face baseline and the other size's model have
 * finished, and the baseline says it is computing until its score replaces that; switching to that
 * size while it is still computing shows its progress, never a blank, then its maps; and a photo
 * replaced before its background work ends leaves nothing of itself on screen.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openExplorer, SHIPPED_MANIFEST as manifest, type OpenExplorer } from '../support/browser.ts';
import { hasChromium, hasSamples, OBAMA_1, OBAMA_2 } from '../support/env.ts';

const ready = hasChromium() && hasSamples();
const P28 = String(manifest.models.find((m) => m.id === 'rrf28')?.patches?.length);
const P56 = String(manifest.models.find((m) => m.id === 'rrf56')?.patches?.length);
const LONG = 600_000;

/** Page-side log of moments (performance.now()) and of every text the score panel showed. */
async function record(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as any;
    const store = w.__patchface.store;
    const log = { firstHeatmap: 0, bothSizes: 0, baselineComputing: false, texts: [] as string[], clickedAt: -1 };
    w.__progressive = log;
    const score = () => document.querySelector('section[aria-label="Similarity"]')?.textContent ?? '';
    new MutationObserver(() => {
      const text = score();
      if (text !== log.texts.at(-1)) log.texts.push(text);
      const a = document.querySelector('[data-testid="facemap-a"]');
      const b = document.querySelector('[data-testid="facemap-b"]');
      if (!log.firstHeatmap && a && b) {
        log.firstHeatmap = performance.now();
        log.baselineComputing = /computing…/.test(document.querySelector('[data-testid="baseline"]')?.textContent ?? '');
      }
    }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    store.subscribe((s: any) => {
      if (!log.bothSizes && s.panels.a.embeddings.rrf56 && s.panels.b.embeddings.rrf56) log.bothSizes = performance.now();
    });
  });
}

async function settled(page: Page, panel: 'a' | 'b', before: number): Promise<void> {
  await page.waitForFunction(
    ({ p, before }) => {
      const s = (window as any).__patchface.store.getState().panels[p];
      return s.token > before && s.status === 'ready' && s.computing.length === 0 && s.embeddings.rrf56;
    },
    { p: panel, before },
    { timeout: LONG },
  );
}

const token = (page: Page, panel: 'a' | 'b') =>
  page.evaluate((p) => (window as any).__patchface.store.getState().panels[p].token as number, panel);

async function scoreAt(page: Page, size: '28' | '56'): Promise<string> {
  await page.getByRole('radiogroup', { name: 'Patch size' }).getByRole('radio', { name: size }).check();
  await expect.poll(() => page.getByTestId('facemap-a').getAttribute('data-patches'), { timeout: LONG }).toBe(size === '28' ? P28 : P56);
  return page.getByTestId('score').innerText();
}

describe.skipIf(!ready)('progressive results in Chromium (WASM backend, real models)', () => {
  let explorer: OpenExplorer;
  let page: Page;
  const scores: Record<'28' | '56', string> = { '28': '', '56': '' };

  beforeAll(async () => {
    explorer = await openExplorer();
    page = explorer.page;
    await record(page);
  });
  afterAll(() => explorer?.close());

  it('shows the verdict and the 28 px maps before the baseline and the 56 px model have finished', async () => {
    const [ta, tb] = [await token(page, 'a'), await token(page, 'b')];
    await page.getByLabel('Photo A', { exact: true }).setInputFiles(OBAMA_1);
    await page.getByLabel('Photo B', { exact: true }).setInputFiles(OBAMA_2);
    await Promise.all([settled(page, 'a', ta), settled(page, 'b', tb)]);
    const log = await page.evaluate(
      () => (window as any).__progressive as { firstHeatmap: number; bothSizes: number; baselineComputing: boolean },
    );
    console.log(`[progressive] first heatmap at ${Math.round(log.firstHeatmap)} ms, both sizes at ${Math.round(log.bothSizes)} ms`);
    expect(log.firstHeatmap).toBeGreaterThan(0);
    expect(log.bothSizes).toBeGreaterThan(log.firstHeatmap);
    expect(log.baselineComputing).toBe(true);
    expect(await page.getByTestId('facemap-a').getAttribute('data-patches')).toBe(P28);
    expect(await page.getByTestId('baseline').innerText()).toMatch(/Black-box score \(fullface.*\d\.\d{3}/);
    scores['28'] = await scoreAt(page, '28');
    scores['56'] = await scoreAt(page, '56');
    scores['28'] = await scoreAt(page, '28');
  });

  it('switching to 56 px while it is computing shows its progress, then its maps', async () => {
    const before = await token(page, 'a');
    // The moment face A's first result lands, before its 56 px request can have answered, the user
    // picks 56: the click goes in from the page itself so no round trip can lose the race.
    await page.evaluate((t) => {
      const w = window as any;
      const log = w.__progressive;
      log.texts = [];
      const off = w.__patchface.store.subscribe((s: any) => {
        if (s.panels.a.token > t && s.panels.a.status === 'ready') {
          off();
          log.clickedWithout56 = !s.panels.a.embeddings.rrf56;
          (document.querySelector('input[name="patch-size"][value="56"]') as HTMLInputElement).click();
        }
      });
    }, before);
    await page.getByLabel('Photo A', { exact: true }).setInputFiles(OBAMA_1);
    await settled(page, 'a', before);
    await expect.poll(() => page.getByTestId('facemap-a').getAttribute('data-patches'), { timeout: LONG }).toBe(P56);
    const log = await page.evaluate(() => (window as any).__progressive as { texts: string[]; clickedWithout56: boolean });
    expect(log.clickedWithout56).toBe(true);
    const after = log.texts.slice(log.texts.findIndex((t) => /Computing the 56 px patches/.test(t)));
    expect(after.length, log.texts.join(' | ')).toBeGreaterThan(1);
    // From the click on, the panel says what it is doing until the 56 px score replaces it.
    for (const text of after) expect(text.trim(), log.texts.join(' | ')).not.toBe('');
    expect(await page.getByTestId('score').innerText()).toBe(scores['56']);
  });

  it('a photo replaced while its background work runs leaves nothing of itself', async () => {
    await scoreAt(page, '28');
    const before = await token(page, 'a');
    await page.getByLabel('Photo A', { exact: true }).setInputFiles(OBAMA_2);
    await page.getByLabel('Photo A', { exact: true }).setInputFiles(OBAMA_1);
    await settled(page, 'a', before + 1);
    expect(await page.evaluate(() => (window as any).__patchface.store.getState().panels.a.fileName)).toBe('obama_1.jpg');
    expect(await scoreAt(page, '28')).toBe(scores['28']);
    expect(await scoreAt(page, '56')).toBe(scores['56']);
  });
});
