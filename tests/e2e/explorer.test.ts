/**
 * The explorer in real headless Chromium with the real models on the WASM backend (?ep=wasm):
 * a comparison end to end, the sum check, hover, the patch-size toggle and its URL, several
 * faces in one photo, every kind of bad input, exports, and no request leaving the origin.
 * One browser and one page for the whole file: model sessions load once.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boxesOverlap, CROSS_LABELS } from '../../src/core/heatmap.ts';
import type { BoxXYWH } from '../../src/core/types.ts';
import { png } from '../core/headerFixtures.ts';
import { openExplorer, SHIPPED_MANIFEST as manifest, type OpenExplorer } from '../support/browser.ts';
import { hasChromium, hasSamples, OBAMA_1, OBAMA_2, SAMPLES } from '../support/env.ts';
import { COMPARE_JSON_KEYS } from '../support/compareJsonKeys.ts';

const ready = hasChromium() && hasSamples();
/** Patch counts as the shipped manifest lists them (a grid may overlap, so not just (112/size)^2). */
const patchCount = (id: string) => String(manifest.models.find((m) => m.id === id)?.patches?.length);
const P28 = patchCount('rrf28');
const P56 = patchCount('rrf56');
/** Whether a model's graph appends a constant coordinate, whose part of the score the page states. */
const hasConstant = (id: string) => manifest.models.find((m) => m.id === id)?.constant != null;
const LONG = 300_000;

interface PanelSnapshot {
  status: string;
  readyAt: number;
  startedAt: number;
  faces: number;
  chosen: number;
  token: number;
}

async function panelState(page: Page, panel: 'a' | 'b'): Promise<PanelSnapshot> {
  return page.evaluate((p) => {
    const s = (window as any).__patchface.store.getState().panels[p];
    return { status: s.status, readyAt: s.readyAt, startedAt: s.startedAt, faces: s.faces.length, chosen: s.chosen, token: s.token };
  }, panel);
}

/** Sets a file on a panel's input and waits until that panel settles (ready or error, background work done). */
async function load(page: Page, panel: 'a' | 'b', file: string | { name: string; mimeType: string; buffer: Buffer }): Promise<number> {
  const before = (await panelState(page, panel)).token;
  const t0 = Date.now();
  await page.getByLabel(`Photo ${panel.toUpperCase()}`, { exact: true }).setInputFiles(file);
  await page.waitForFunction(
    ({ p, before }) => {
      const s = (window as any).__patchface.store.getState().panels[p];
      return s.token > before && (s.status === 'ready' || s.status === 'error') && s.computing.length === 0;
    },
    { p: panel, before },
    { timeout: LONG },
  );
  return Date.now() - t0;
}

describe.skipIf(!ready)('explorer in Chromium (WASM backend, real models)', () => {
  let explorer: OpenExplorer;
  let url: string;
  let page: Page;
  const requests: string[] = [];

  beforeAll(async () => {
    explorer = await openExplorer({ acceptDownloads: true }, (p) => p.on('request', (r) => requests.push(r.url())));
    ({ page, url } = explorer);
  });
  afterAll(() => explorer?.close());

  it('compares obama_1 and obama_2: score, verdict, exact sum, timings', async () => {
    const t0 = Date.now();
    await Promise.all([load(page, 'a', OBAMA_1), load(page, 'b', OBAMA_2)]);
    await page.getByTestId('facemap-b').waitFor({ timeout: LONG });
    console.log(`[explorer] cold: photos set -> heatmap in ${Date.now() - t0} ms (includes first model loads)`);

    const status = page.getByRole('status', { name: 'Similarity' });
    const text = await status.innerText();
    expect(text).toMatch(/\b[01]\.\d{3}\b/);
    const calibrated = manifest.models.find((m) => m.id === 'rrf28')?.threshold != null;
    if (calibrated) expect(text).toContain('Same person');
    else expect(text).toMatch(/not calibrated/i);
    expect(await page.getByTestId('sum-check').getAttribute('data-holds')).toBe('true');
    expect(await page.getByTestId('baseline').innerText()).toMatch(/Black-box score \(fullface/);
    expect(await page.getByTestId('facemap-a').getAttribute('data-patches')).toBe(P28);

    // Warm: one photo again, sessions loaded.
    const warm = await load(page, 'a', OBAMA_1);
    await page.getByTestId('facemap-a').waitFor({ timeout: LONG });
    console.log(`[explorer] warm: file input -> heatmap for one photo in ${warm} ms`);
    const timings = await page.getByTestId('timings').innerText();
    expect(timings).toMatch(/from photo to heatmap/);
  });

  it('hovering or arrowing over a patch shows its contribution, share and rank', async () => {
    const map = page.getByTestId('facemap-a');
    // The mouse moves in viewport coordinates: bring the map into view first, as a user scrolls to
    // it (a longer score panel, such as one with the constant coordinate's line, pushes it down).
    await map.scrollIntoViewIfNeeded();
    const box = (await map.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.4, box.y + box.height * 0.4);
    await expect.poll(() => page.getByTestId('inspect-rank').innerText()).toMatch(new RegExp(`^\\d+ of ${P28}$`));
    expect(await page.getByTestId('inspect-contribution').innerText()).toMatch(/^[+-]\d\.\d{4}$/);
    expect(await page.getByTestId('inspect-share').innerText()).toMatch(/%$/);
    // The other face shows the row of the patch-to-patch matrix: one outline per patch.
    expect(await page.locator('[data-testid^="cross-b-"]').count()).toBe(Number(P28));
    // Values are printed on at most 16 of them, each inside its own cell, none over another.
    const labels = await page.locator('[data-testid^="cross-value-b-"]').evaluateAll((nodes) =>
      nodes.map((n) => {
        const t = n.getBoundingClientRect();
        const c = n.parentElement!.querySelector('rect')!.getBoundingClientRect();
        return { t: [t.x, t.y, t.width, t.height] as BoxXYWH, c: [c.x, c.y, c.width, c.height] as BoxXYWH };
      }),
    );
    expect(labels.length).toBe(Math.min(Number(P28), CROSS_LABELS));
    for (const { t, c } of labels) {
      expect(t[0]).toBeGreaterThanOrEqual(c[0] - 1);
      expect(t[0] + t[2]).toBeLessThanOrEqual(c[0] + c[2] + 1);
    }
    for (let i = 0; i < labels.length; i++)
      for (let j = i + 1; j < labels.length; j++) expect(boxesOverlap(labels[i].t, labels[j].t)).toBe(false);
    await page.mouse.move(0, 0);
    await map.focus();
    await page.keyboard.press('ArrowRight');
    expect(await page.locator('h3', { hasText: 'Patch 2 of face A' }).count()).toBe(1);
    await page.getByTestId('bars-b').locator('li').first().hover();
    await expect.poll(() => page.getByTestId('inspect-rank').innerText()).toBe(`1 of ${P28}`);
  });

  it('the 28/56 toggle switches the grid instantly and lives in the URL', async () => {
    const group = page.getByRole('radiogroup', { name: 'Patch size' });
    await group.getByRole('radio', { name: '56' }).check();
    await expect.poll(() => page.getByTestId('facemap-a').getAttribute('data-patches')).toBe(P56);
    expect(String(await page.getByTestId('bars-a').locator('li').count())).toBe(P56);
    expect(new URL(page.url()).searchParams.get('patch')).toBe('56');
    expect(await page.getByTestId('sum-check').getAttribute('data-holds')).toBe('true');
    expect(await page.getByTestId('constant-part').count()).toBe(hasConstant('rrf56') ? 1 : 0);
    if (hasConstant('rrf56')) {
      expect(await page.getByTestId('constant-part').innerText()).toMatch(
        new RegExp(`^Constant coordinate: \\d\\.\\d{4} of the score -?\\d\\.\\d{4}, the same \\d\\.\\d{5} in each of the ${P56} patches`),
      );
    }
    await group.getByRole('radio', { name: '28' }).check();
    await expect.poll(() => page.getByTestId('facemap-a').getAttribute('data-patches')).toBe(P28);
    expect(String(await page.getByTestId('bars-a').locator('li').count())).toBe(P28);
    expect(await page.getByTestId('constant-part').count()).toBe(hasConstant('rrf28') ? 1 : 0);
  });

  it('exports JSON with the CLI fields and a PNG', async () => {
    const [json] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export JSON' }).click()]);
    const body = JSON.parse(readFileSync((await json.path())!, 'utf8'));
    expect(Object.keys(body).sort()).toEqual([...COMPARE_JSON_KEYS, 'view'].sort());
    expect(body).toMatchObject({ view: 'decision', hide: [], cells: [] });
    expect(body.constantPart === null).toBe(!hasConstant('rrf28'));
    expect(Object.keys(body.faces.a).sort()).toEqual(['box', 'found', 'landmarks5', 'score']);
    expect(String(body.patches.length)).toBe(P28);
    const sum = body.patches.reduce((s: number, p: { a: number }) => s + p.a, 0);
    expect(Math.abs(sum - body.score)).toBeLessThan(1e-9);
    const [pngDl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export PNG' }).click()]);
    const bytes = readFileSync((await pngDl.path())!);
    expect([...bytes.subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');
  });

  it('each bad input gets its own alert in panel B; panel A keeps its result', async () => {
    const jpeg = readFileSync(OBAMA_2);
    const noise = await sharp(Buffer.from(Array.from({ length: 160 * 160 * 3 }, (_, i) => (i * 2654435761) % 251)), {
      raw: { width: 160, height: 160, channels: 3 },
    })
      .png()
      .toBuffer();
    const tiny = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    const cases: [string, { name: string; mimeType: string; buffer: Buffer }, RegExp][] = [
      ['empty file', { name: 'empty.jpg', mimeType: 'image/jpeg', buffer: Buffer.alloc(0) }, /empty/i],
      ['text file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('just some notes, not a photo\n') }, /not an image/i],
      [
        'SVG',
        {
          name: 'face.svg',
          mimeType: 'image/svg+xml',
          buffer: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200"><circle cx="100" cy="100" r="80"/></svg>'),
        },
        /SVG/,
      ],
      [
        'truncated JPEG',
        { name: 'cut.jpg', mimeType: 'image/jpeg', buffer: jpeg.subarray(0, Math.floor(jpeg.length * 0.4)) },
        /truncated|incomplete/i,
      ],
      ['pixel bomb', { name: 'bomb.png', mimeType: 'image/png', buffer: Buffer.from(png(50000, 50000)) }, /limit is 40 MP/],
      ['tiny image', { name: 'tiny.png', mimeType: 'image/png', buffer: tiny }, /at least 32 pixels/],
      ['no face', { name: 'noise.png', mimeType: 'image/png', buffer: noise }, /No face was found/],
    ];
    const scoreBefore = await page.getByTestId('facemap-a').count();
    expect(scoreBefore).toBe(1);
    for (const [what, file, message] of cases) {
      const t0 = Date.now();
      await load(page, 'b', file);
      const alert = page.locator('[data-panel="b"] [role="alert"]');
      expect(await alert.innerText(), what).toMatch(message);
      expect(Date.now() - t0, `${what} answered quickly`).toBeLessThan(60_000);
      expect(await page.locator('[data-panel="a"] [role="alert"]').count(), what).toBe(0);
      const a = await panelState(page, 'a');
      expect(a.status, what).toBe('ready');
      expect(await page.getByLabel('Photo A: aligned face, 112 by 112').count(), what).toBe(1);
    }
    // The page stayed responsive throughout.
    expect(await page.evaluate(() => 1 + 1)).toBe(2);
  });

  it('a photo with two people offers both faces; clicking one compares it', async () => {
    await load(page, 'b', join(SAMPLES, 'nasa/morgan_and_hague_iss_20mp.jpg'));
    const b = await panelState(page, 'b');
    expect(b.status).toBe('ready');
    expect(b.faces).toBeGreaterThanOrEqual(2);
    expect(b.chosen).toBe(0);
    const faces = page.getByRole('group', { name: 'Faces in Photo B' });
    expect(await faces.getByRole('button').count()).toBe(b.faces);
    expect(await faces.getByRole('button', { name: /Face 1/ }).getAttribute('aria-pressed')).toBe('true');
    await faces.getByRole('button', { name: /Face 2/ }).click();
    await page.waitForFunction(
      () => {
        const s = (window as any).__patchface.store.getState().panels.b;
        return s.chosen === 1 && s.status === 'ready';
      },
      undefined,
      { timeout: LONG },
    );
    expect(await faces.getByRole('button', { name: /Face 2/ }).getAttribute('aria-pressed')).toBe('true');
    await page.getByTestId('sum-check').waitFor({ timeout: LONG });
    expect(await page.getByTestId('sum-check').getAttribute('data-holds')).toBe('true');
  });

  it('restores the patch size from the URL', async () => {
    await page.goto(`${url}/?ep=wasm&patch=56`);
    expect(await page.getByRole('radio', { name: '56' }).isChecked()).toBe(true);
  });

  it('made no request to any origin but its own', () => {
    const origin = new URL(url).origin;
    const foreign = requests.filter((r) => !r.startsWith(origin) && !r.startsWith('data:') && !r.startsWith('blob:'));
    expect(requests.length).toBeGreaterThan(5);
    expect(foreign).toEqual([]);
  });
});
