/**
 * The WebGPU path, for real: Chromium is given a WebGPU adapter (SwiftShader, Chromium's own
 * software Vulkan, so no GPU is needed), the worker picks WebGPU by itself (no ?ep), and every
 * model runs through onnxruntime-web's WebGPU execution provider. Its embeddings must match the
 * WASM backend's (the Node CLI's) for the same photos, and the page must show the same verdict.
 */
import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import type { ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cosine } from '../../src/core/decompose.ts';
import { findModel } from '../../src/core/manifest.ts';
import { detectFaces, embedFaces, type Embedding } from '../../src/core/pipeline.ts';
import { decodePhotoFile } from '../../src/node/decodeImage.ts';
import { createNodeRunner } from '../../src/node/runtime.ts';
import { CHROMIUM_ARGS, startDevServer } from '../support/browser.ts';
import { CHROMIUM, hasChromium, hasSamples, OBAMA_1, OBAMA_2 } from '../support/env.ts';

const ready = hasChromium() && hasSamples();
const PHOTOS = { a: OBAMA_1, b: OBAMA_2 };
const MODELS = ['rrf28', 'rrf56', 'fullface'];
const LONG = 1_200_000; // 499 s measured under load (vitest.config.ts)

/** The standard flags, with a software WebGPU adapter in place of --disable-gpu. */
const WEBGPU_ARGS = [
  ...CHROMIUM_ARGS.filter((a) => a !== '--disable-gpu'),
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--enable-unsafe-swiftshader',
];

describe.skipIf(!ready)('explorer on the WebGPU backend (SwiftShader adapter), real models', () => {
  let browser: Browser;
  let server: ViteDevServer;
  let page: Page;
  const wasm: Record<'a' | 'b', Record<string, Embedding>> = { a: {}, b: {} };
  let calibrated = false;

  beforeAll(async () => {
    const runner = await createNodeRunner();
    calibrated = findModel(runner.manifest, 'rrf28').threshold != null;
    for (const side of ['a', 'b'] as const) {
      const { image } = await decodePhotoFile(PHOTOS[side]);
      const [face] = await detectFaces(image, runner, runner.manifest);
      for (const id of MODELS) [wasm[side][id]] = await embedFaces([{ image, face }], findModel(runner.manifest, id), runner);
    }
    await runner.dispose();
    let url: string;
    ({ server, url } = await startDevServer());
    browser = await chromium.launch({ executablePath: CHROMIUM, args: WEBGPU_ARGS, headless: true });
    page = await browser.newPage();
    await page.goto(`${url}/`);
    await page.getByText(/Backend: (WebGPU|WASM)/).waitFor({ timeout: LONG });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('picks WebGPU when the browser gives an adapter', async () => {
    expect(await page.getByTestId('backend').innerText()).toMatch(/Backend: WebGPU/);
  });

  it('gives the WASM embeddings and the same verdict for obama_1 vs obama_2', async () => {
    const t0 = Date.now();
    await page.getByLabel('Photo A', { exact: true }).setInputFiles(PHOTOS.a);
    await page.getByLabel('Photo B', { exact: true }).setInputFiles(PHOTOS.b);
    await page.getByTestId('facemap-b').waitFor({ timeout: LONG });
    console.log(`[webgpu] photos set -> heatmap in ${Date.now() - t0} ms on SwiftShader (includes first model loads)`);
    // The other patch size follows in the background: wait for every model's embedding.
    await page.waitForFunction(
      (ids) => {
        const panels = (window as any).__patchface.store.getState().panels;
        return ['a', 'b'].every((p) => ids.every((id: string) => panels[p].embeddings[id]));
      },
      MODELS,
      { timeout: LONG },
    );
    for (const side of ['a', 'b'] as const) {
      const browserEmb: Record<string, number[]> = await page.evaluate(
        ({ p, ids }) => {
          const e = (window as any).__patchface.store.getState().panels[p].embeddings;
          return Object.fromEntries(ids.map((id: string) => [id, Array.from(e[id].features as Float32Array)]));
        },
        { p: side, ids: MODELS },
      );
      for (const id of MODELS) {
        const ref = wasm[side][id];
        const got = browserEmb[id];
        expect(got.length, `${side} ${id}`).toBe(ref.features.length);
        // Per patch: each patch feature is what the decomposition uses.
        for (let p = 0; p < ref.patches; p++) {
          const s = p * ref.dim;
          const c = cosine(got.slice(s, s + ref.dim), ref.features.subarray(s, s + ref.dim));
          expect(c, `${side} ${id} patch ${p}`).toBeGreaterThan(0.9999);
        }
      }
    }
    const text = await page.getByRole('status', { name: 'Similarity' }).innerText();
    // A freshly exported model has no LFW threshold until `eval lfw --write-manifest` runs.
    if (calibrated) expect(text).toContain('Same person');
    else expect(text).toMatch(/not calibrated/i);
    expect(await page.getByTestId('sum-check').getAttribute('data-holds')).toBe('true');
  });
});
