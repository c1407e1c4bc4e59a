/**
 * What a visit downloads, in real Chromium on WASM (?ep=wasm), read from the request log: the
 * first heatmap waits only for the model files it needs (the full-face baseline's and the other
 * patch size's files are requested after it), the WebGPU runtime is never fetched without an adapter, and a second visit in the same
 * browser profile downloads no model file at all (the worker keeps them in the Cache API).
 */
import type { BrowserContext, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServedChromium, type Served } from '../support/browser.ts';
import { hasChromium, hasSamples, OBAMA_1, OBAMA_2 } from '../support/env.ts';

const ready = hasChromium() && hasSamples();
const LONG = 600_000;

interface Logged {
  path: string;
  request: Request;
}

/** Opens the app in a new page of the context, logging every request. */
async function visit(context: BrowserContext, url: string): Promise<{ page: Page; requests: Logged[] }> {
  const page = await context.newPage();
  const requests: Logged[] = [];
  page.on('request', (request) => requests.push({ path: new URL(request.url()).pathname, request }));
  await page.goto(`${url}/?ep=wasm`);
  return { page, requests };
}

/**
 * Loads both photos; resolves, once every size is computed, with the moment (epoch ms, the page's
 * clock) both faces' first results were in: what the first heatmap is drawn from.
 */
async function compare(page: Page): Promise<number> {
  await page.evaluate(() => {
    const w = window as any;
    const off = w.__patchface.store.subscribe((s: any) => {
      if (s.panels.a.status === 'ready' && s.panels.b.status === 'ready') {
        w.__firstResults = performance.timeOrigin + performance.now();
        off();
      }
    });
  });
  await page.getByLabel('Photo A', { exact: true }).setInputFiles(OBAMA_1);
  await page.getByLabel('Photo B', { exact: true }).setInputFiles(OBAMA_2);
  await page.getByTestId('facemap-b').waitFor({ timeout: LONG });
  await page.waitForFunction(
    () => {
      const { a, b } = (window as any).__patchface.store.getState().panels;
      return [a, b].every((p) => p.status === 'ready' && p.computing.length === 0 && p.embeddings.rrf56);
    },
    undefined,
    { timeout: LONG },
  );
  return page.evaluate(() => (window as any).__firstResults as number);
}

/** When a request started (epoch ms). */
const startedAt = (r: Logged) => r.request.timing().startTime;

const onnx = (requests: Logged[]) => requests.filter((r) => r.path.endsWith('.onnx'));

describe.skipIf(!ready)('model downloads in Chromium (WASM backend, real models)', () => {
  let served: Served;
  let url: string;
  let context: BrowserContext;

  beforeAll(async () => {
    served = await startServedChromium();
    url = served.url;
    context = await served.browser.newContext();
  });
  afterAll(() => served?.close());

  it('a first visit fetches the baseline and the other patch size after the first heatmap, and no WebGPU runtime', async () => {
    const { page, requests } = await visit(context, url);
    const firstResults = await compare(page);
    const models = onnx(requests);
    const at = (file: string) => startedAt(models.find((r) => r.path.endsWith(`/${file}`))!) - firstResults;
    console.log(
      `[model-cache] first visit, relative to the first results: ${models.map((r) => `${r.path} ${Math.round(startedAt(r) - firstResults)} ms`).join(', ')}`,
    );
    for (const file of ['ssd_mobilenetv1.onnx', 'landmark68.onnx', 'rrf28.onnx']) expect(at(file), file).toBeLessThan(0);
    for (const file of ['fullface.onnx', 'rrf56.onnx']) expect(at(file), file).toBeGreaterThan(0);
    expect(requests.filter((r) => r.path.includes('asyncify')).map((r) => r.request.url())).toEqual([]);
    // The files are stored once downloaded; wait for the last one before the second visit.
    const stored = await page.evaluate(async (n) => {
      for (let tries = 0; tries < 240; tries++) {
        if ((await (await caches.open('patchface-models-v1')).keys()).length >= n) return true;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      return false;
    }, models.length);
    expect(stored).toBe(true);
    await page.close();
  });

  it('a second visit in the same profile downloads no model file', async () => {
    const { page, requests } = await visit(context, url);
    await compare(page);
    expect(requests.length).toBeGreaterThan(0);
    expect(onnx(requests)).toEqual([]);
    await page.close();
  });
});
