/**
 * Side-by-side browser benchmark: PatchFace (the built app, `vite preview`) against face-api's
 * own pipeline (SSD MobileNet v1, 68 landmarks, descriptor on tfjs's WASM backend, on a page of
 * its own in scripts/bench-faceapi/, built into a temporary folder and never into dist/), in one
 * headless Chromium, both on WASM, both cross-origin isolated (threads), the same two photos.
 *
 *   npm run -s bench:browser -- [--runs N] [--json]   # builds the app (vite build) first
 *
 * With --json, stdout is the JSON alone and the table goes to stderr.
 *
 * Every moment is taken inside the page on its own clock (performance.now(), zero at the
 * navigation): a cold visit is a fresh browser context from navigation, a warm run starts at the
 * file input's change event. PatchFace's moments are read from the DOM (score shown, both maps
 * drawn with the patch count of the size on screen) and from the store (both sizes' embeddings).
 * Bytes: every response of the first cold PatchFace visit, raw and gzip-compressed here (node:zlib,
 * level 6, every file, as a compressing static host would send them); "before the first heatmap"
 * counts the responses finished by then. A second visit is a new page in the same browser context.
 * Times are medians of --runs (default 3); this measures, it asserts nothing.
 */
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { build, preview, type PreviewServer } from 'vite';
import { launchChromium } from '../tests/support/browser.ts';
import { OBAMA_1, OBAMA_2, PROJECT_ROOT } from '../tests/support/env.ts';

const args = process.argv.slice(2);
const asJson = args.includes('--json');
const runsAt = args.indexOf('--runs');
const RUNS = runsAt >= 0 ? Number(args[runsAt + 1]) : 3;
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error('usage: bench-browser.ts [--runs N] [--json]');
const PHOTOS = [OBAMA_1, OBAMA_2];
const LONG = 600_000;
const HOVER_MOVES = 100;
const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
const log = (line: string) => (asJson ? process.stderr : process.stdout).write(`${line}\n`);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
/** Nearest-rank percentile. */
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};

function address(server: PreviewServer): string {
  const a = server.httpServer.address();
  if (!a || typeof a === 'string') throw new Error('preview server has no port');
  return `http://127.0.0.1:${a.port}`;
}

/** The face-api page, built into a temporary folder with face-api's weights and tfjs's .wasm files beside it. */
async function serveFaceApi(): Promise<PreviewServer> {
  const root = join(PROJECT_ROOT, 'scripts/bench-faceapi');
  const outDir = join(tmpdir(), 'patchface-bench-faceapi');
  rmSync(outDir, { recursive: true, force: true });
  // Not minified: tfjs starts its WASM threads from the source text of a function (toString), and
  // minified, that text names variables of the bundle the thread lacks ("e is not defined").
  await build({ root, configFile: false, logLevel: 'error', build: { outDir, emptyOutDir: true, target: 'es2022', minify: false } });
  const modules = join(PROJECT_ROOT, 'node_modules');
  cpSync(join(modules, '@vladmandic/face-api/model'), join(outDir, 'model'), { recursive: true });
  mkdirSync(join(outDir, 'wasm'), { recursive: true });
  for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'])
    cpSync(join(modules, '@tensorflow/tfjs-backend-wasm/dist', f), join(outDir, 'wasm', f));
  return preview({
    root,
    configFile: false,
    logLevel: 'error',
    build: { outDir },
    preview: { host: '127.0.0.1', port: 0, headers: ISOLATION },
  });
}

/** The app as it ships: `vite build` into dist/, then `vite preview`. */
async function serveApp(): Promise<PreviewServer> {
  await build({ root: PROJECT_ROOT, configFile: join(PROJECT_ROOT, 'vite.config.ts'), logLevel: 'error' });
  return preview({
    root: PROJECT_ROOT,
    configFile: join(PROJECT_ROOT, 'vite.config.ts'),
    logLevel: 'error',
    preview: { host: '127.0.0.1', port: 0 },
  });
}

// ---------------------------------------------------------------- face-api

interface FaceApiJob {
  files: number;
  start: number;
  end: number;
  faces: number;
}

async function faceApiJobs(page: Page, count: number): Promise<FaceApiJob[]> {
  await page.waitForFunction(
    (n) => {
      const b = (window as any).__faceapiBench;
      if (b?.error) throw new Error(b.error);
      return b && b.jobs.length >= n;
    },
    count,
    { timeout: LONG, polling: 50 },
  );
  return page.evaluate(() => (window as any).__faceapiBench.jobs as FaceApiJob[]);
}

async function benchFaceApi(browser: Browser, url: string): Promise<{ coldMs: number[]; warmMs: number[] }> {
  const coldMs: number[] = [];
  const warmMs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (e) => log(`face-api page error: ${e.message}`));
    await page.goto(url);
    // Cold: both photos chosen as soon as the page can take them; navigation -> both descriptors.
    await page.locator('#photos').setInputFiles(PHOTOS);
    const [cold] = await faceApiJobs(page, 1);
    if (cold.faces !== 2) throw new Error(`face-api found a face in ${cold.faces} of 2 photos`);
    coldMs.push(cold.end);
    if (run === RUNS - 1) {
      // Warm: one new photo at a time, the models loaded.
      for (let i = 0; i < RUNS; i++) {
        await page.locator('#photos').setInputFiles(PHOTOS[(i + 1) % 2]);
        const jobs = await faceApiJobs(page, i + 2);
        warmMs.push(jobs[i + 1].end - jobs[i + 1].start);
      }
    }
    await context.close();
  }
  return { coldMs, warmMs };
}

// ---------------------------------------------------------------- PatchFace

/**
 * Installed before the app's scripts: records, on the page's clock, when a photo was chosen and
 * when its score, its maps and both patch sizes' embeddings appeared; pointer moves to inspector
 * updates; clicks to redrawn maps.
 */
function recorder(): void {
  interface Run {
    start: number;
    tokens: [number, number];
    cleared: boolean;
    verdict: number;
    firstHeatmap: number;
    bothSizes: number;
  }
  const rec = { runs: [] as Run[], hover: [] as number[], toggle: [] as number[] };
  (window as any).__bench = rec;
  let lastMove = -1;
  let lastClick = -1;
  let lastHeading = '';
  let lastPatches = '';
  const store = () => (window as any).__patchface?.store;
  const tokens = (): [number, number] => {
    const s = store()?.getState();
    return s ? [s.panels.a.token, s.panels.b.token] : [0, 0];
  };
  const pending = () => {
    const r = rec.runs[rec.runs.length - 1];
    return r && !(r.verdict && r.firstHeatmap && r.bothSizes) ? r : null;
  };
  const expectedPatches = () => {
    const s = store()?.getState();
    const entry = s?.inference.manifest?.models.find((m: { id: string }) => m.id === `rrf${s.view.patchSize}`);
    return entry ? String(entry.patches.length) : null;
  };
  const checkStore = () => {
    const r = pending();
    const s = store()?.getState();
    if (!r || r.bothSizes || !s) return;
    const [ta, tb] = tokens();
    if (ta <= r.tokens[0] && tb <= r.tokens[1]) return;
    const done = (['a', 'b'] as const).every((p) => s.panels[p].embeddings.rrf28 && s.panels[p].embeddings.rrf56);
    if (done) r.bothSizes = performance.now();
  };
  const checkDom = () => {
    const now = performance.now();
    const r = pending();
    if (r) {
      const score = document.querySelector('[data-testid="score"]');
      if (!r.cleared && !score) r.cleared = true;
      if (r.cleared && !r.verdict && score) r.verdict = now;
      const a = document.querySelector('[data-testid="facemap-a"]');
      const b = document.querySelector('[data-testid="facemap-b"]');
      const want = expectedPatches();
      if (r.cleared && !r.firstHeatmap && a && b && a.getAttribute('data-patches') === want && b.getAttribute('data-patches') === want)
        r.firstHeatmap = now;
      checkStore();
    }
    const heading = document.querySelector('[data-testid="inspector"] h3, .inspector h3')?.textContent ?? '';
    if (heading !== lastHeading) {
      if (heading && lastMove >= 0) rec.hover.push(now - lastMove);
      lastMove = -1;
      lastHeading = heading;
    }
    const patches = document.querySelector('[data-testid="facemap-a"]')?.getAttribute('data-patches') ?? '';
    if (patches !== lastPatches) {
      if (lastClick >= 0 && patches) rec.toggle.push(now - lastClick);
      lastClick = -1;
      lastPatches = patches;
    }
  };
  document.addEventListener(
    'change',
    (e) => {
      const t = e.target as HTMLInputElement;
      if (t?.type !== 'file' || pending()) return;
      rec.runs.push({ start: performance.now(), tokens: tokens(), cleared: false, verdict: 0, firstHeatmap: 0, bothSizes: 0 });
    },
    true,
  );
  document.addEventListener('pointermove', (e) => (lastMove = e.timeStamp), true);
  document.addEventListener('click', (e) => (lastClick = e.timeStamp), true);
  const observe = () => {
    new MutationObserver(checkDom).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
    const hook = () => (store() ? store().subscribe(checkStore) : setTimeout(hook, 5));
    hook();
  };
  if (document.body) observe();
  else document.addEventListener('DOMContentLoaded', observe);
}

interface AppRun {
  start: number;
  verdict: number;
  firstHeatmap: number;
  bothSizes: number;
}

async function appRun(page: Page, index: number): Promise<AppRun> {
  await page.waitForFunction(
    (i) => {
      const r = (window as any).__bench.runs[i];
      return r && r.verdict && r.firstHeatmap && r.bothSizes;
    },
    index,
    { timeout: LONG, polling: 50 },
  );
  return page.evaluate((i) => (window as any).__bench.runs[i] as AppRun, index);
}

async function choosePhotos(page: Page, a: string, b?: string): Promise<void> {
  await page.getByLabel('Photo A', { exact: true }).setInputFiles(a);
  if (b) await page.getByLabel('Photo B', { exact: true }).setInputFiles(b);
}

interface Download {
  url: string;
  finishedAt: number;
  body: Buffer;
  wireBytes: number;
}

interface Downloads {
  done: Download[];
  /** Model files requested so far. */
  modelRequests: number;
  /** Resolves once every finished response's body has been read (before the page closes). */
  settle(): Promise<void>;
}

function recordDownloads(page: Page): Downloads {
  const out: Downloads = { done: [], modelRequests: 0, settle: async () => void (await Promise.all(pending)) };
  const pending: Promise<void>[] = [];
  page.on('request', (request) => {
    if (request.url().startsWith('http') && new URL(request.url()).pathname.endsWith('.onnx')) out.modelRequests++;
  });
  page.on('requestfinished', (request) => {
    const finishedAt = Date.now();
    if (!request.url().startsWith('http')) return;
    pending.push(
      (async () => {
        const response = await request.response();
        if (!response) return;
        const [body, sizes] = await Promise.all([response.body().catch(() => Buffer.alloc(0)), request.sizes()]);
        out.done.push({ url: request.url(), finishedAt, body, wireBytes: sizes.responseBodySize });
      })().catch(() => undefined), // a response without a body (redirect, abort)
    );
  });
  return out;
}

async function newAppPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => log(`app page error: ${e.message}`));
  return page;
}

async function benchApp(browser: Browser, url: string) {
  const cold: number[] = [];
  let downloads: Download[] = [];
  let firstHeatmapEpoch = 0;
  let secondVisit: Download[] = [];
  for (let run = 0; run < RUNS; run++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1400 } });
    // tsx keeps function names through a helper the page lacks; give the page a stand-in.
    await context.addInitScript({ content: `var __name = (f) => f; (${recorder.toString()})();` });
    let page = await newAppPage(context);
    const got = run === 0 ? recordDownloads(page) : null;
    await page.goto(`${url}/?ep=wasm`);
    await choosePhotos(page, PHOTOS[0], PHOTOS[1]);
    const r = await appRun(page, 0);
    cold.push(r.firstHeatmap);
    if (got) {
      firstHeatmapEpoch = (await page.evaluate(() => performance.timeOrigin)) + r.firstHeatmap;
      // appRun waited for both sizes, so every model file of the visit has been downloaded.
      // Whatever the page keeps in the Cache API is written after use: let it finish before leaving.
      const stored = await page.evaluate(async (n) => {
        for (let tries = 0; tries < 120; tries++) {
          let entries = 0;
          for (const name of await caches.keys()) entries += (await (await caches.open(name)).keys()).length;
          if (entries >= n) return true;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
        return false;
      }, got.modelRequests);
      if (!stored) log(`the first visit left fewer Cache API entries than the ${got.modelRequests} model files it requested`);
      await got.settle();
      downloads = got.done;
      await page.close();
      const again = await newAppPage(context);
      const second = recordDownloads(again);
      await again.goto(`${url}/?ep=wasm`);
      await choosePhotos(again, PHOTOS[0], PHOTOS[1]);
      await appRun(again, 0);
      await second.settle();
      secondVisit = second.done;
      page = again;
    }
    if (run < RUNS - 1) await context.close();
    else return { cold, downloads, firstHeatmapEpoch, secondVisit, context, page };
  }
  throw new Error('unreachable');
}

async function benchAppWarm(page: Page) {
  const verdict: number[] = [];
  const firstHeatmap: number[] = [];
  const bothSizes: number[] = [];
  const stages: Record<string, number[]> = {};
  for (let i = 0; i < RUNS; i++) {
    await choosePhotos(page, PHOTOS[(i + 1) % 2]);
    const r = await appRun(page, i + 1);
    verdict.push(r.verdict - r.start);
    firstHeatmap.push(r.firstHeatmap - r.start);
    bothSizes.push(r.bothSizes - r.start);
    // The worker's own clock for each stage of the new photo (decode, detect, ..., embed:<model>).
    const timings = await page.evaluate(() => (window as any).__patchface.store.getState().panels.a.timings as Record<string, number>);
    for (const [stage, t] of Object.entries(timings)) (stages[stage] ??= []).push(t);
  }
  // Hover: 100 moves over face A's map, each to a different patch (cell centres of a 7 x 7 grid).
  const map = page.getByTestId('facemap-a');
  await map.scrollIntoViewIfNeeded();
  const box = (await map.boundingBox())!;
  await page.mouse.move(0, 0);
  for (let i = 0; i < HOVER_MOVES; i++) {
    const before = await page.evaluate(() => (window as any).__bench.hover.length);
    const k = (i * 8) % 49;
    await page.mouse.move(box.x + (box.width * ((k % 7) + 0.5)) / 7, box.y + (box.height * (Math.floor(k / 7) + 0.5)) / 7);
    await page
      .waitForFunction((n) => (window as any).__bench.hover.length > n, before, { timeout: 5_000, polling: 'raf' })
      .catch(() => log(`hover move ${i}: no inspector update`));
  }
  await page.mouse.move(0, 0);
  // Toggle: both sizes ready; each click on the other size until both maps show its grid.
  const group = page.getByRole('radiogroup', { name: 'Patch size' });
  for (let i = 0; i < 2 * RUNS; i++) {
    const before = await page.evaluate(() => (window as any).__bench.toggle.length);
    await group.getByRole('radio', { name: i % 2 === 0 ? '56' : '28' }).click();
    await page.waitForFunction((n) => (window as any).__bench.toggle.length > n, before, { timeout: LONG, polling: 'raf' });
  }
  const { hover, toggle } = await page.evaluate(() => (window as any).__bench as { hover: number[]; toggle: number[] });
  return { verdict, firstHeatmap, bothSizes, stages, hover, toggle };
}

// ---------------------------------------------------------------- run

const faceApiServer = await serveFaceApi();
const appServer = await serveApp();
const browser = await launchChromium();
try {
  log(`face-api: ${RUNS} cold visits, ${RUNS} warm photos...`);
  const fa = await benchFaceApi(browser, `${address(faceApiServer)}/`);
  log(`PatchFace: ${RUNS} cold visits, a second visit, ${RUNS} warm photos, ${HOVER_MOVES} hover moves, ${2 * RUNS} toggles...`);
  const app = await benchApp(browser, address(appServer));
  const warm = await benchAppWarm(app.page);
  await app.context.close();

  const gz = (b: Buffer) => gzipSync(b, { level: 6 }).byteLength;
  const early = app.downloads.filter((d) => d.finishedAt <= app.firstHeatmapEpoch);
  const sum = (ds: Download[], f: (d: Download) => number) => ds.reduce((s, d) => s + f(d), 0);
  const result = {
    faceapi: { coldMs: median(fa.coldMs), warmMs: median(fa.warmMs) },
    patchface: {
      verdictMs: median(warm.verdict),
      firstHeatmapMs: median(warm.firstHeatmap),
      bothSizesMs: median(warm.bothSizes),
      coldFirstHeatmapMs: median(app.cold),
      hoverMedianMs: median(warm.hover),
      hoverP95Ms: percentile(warm.hover, 95),
      toggleMs: median(warm.toggle),
      /** medians of the worker's stages for the warm new photo: where the verdict's time goes */
      stagesMs: Object.fromEntries(Object.entries(warm.stages).map(([stage, t]) => [stage, median(t)])),
    },
    bytes: {
      beforeFirstHeatmap: sum(early, (d) => d.body.byteLength),
      beforeFirstHeatmapGzip: sum(early, (d) => gz(d.body)),
      total: sum(app.downloads, (d) => d.body.byteLength),
      totalGzip: sum(app.downloads, (d) => gz(d.body)),
      secondVisitModels: sum(
        app.secondVisit.filter((d) => new URL(d.url).pathname.endsWith('.onnx')),
        (d) => d.wireBytes,
      ),
    },
    ratios: { verdict: 0, firstHeatmap: 0 },
  };
  result.ratios.verdict = result.patchface.verdictMs / result.faceapi.warmMs;
  result.ratios.firstHeatmap = result.patchface.firstHeatmapMs / result.faceapi.warmMs;

  if (asJson) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  const ms = (x: number) => `${Math.round(x).toLocaleString('en-US')} ms`;
  const mb = (x: number) => `${(x / 1e6).toFixed(1)} MB`;
  const f = result.faceapi;
  const p = result.patchface;
  const b = result.bytes;
  const rows: [string, string, string, string][] = [
    [
      'cold visit: navigation -> result for both photos',
      ms(f.coldMs),
      ms(p.coldFirstHeatmapMs),
      (p.coldFirstHeatmapMs / f.coldMs).toFixed(2),
    ],
    ['warm, new photo: verdict shown', ms(f.warmMs), ms(p.verdictMs), result.ratios.verdict.toFixed(2)],
    ['warm, new photo: first heatmap', ms(f.warmMs), ms(p.firstHeatmapMs), result.ratios.firstHeatmap.toFixed(2)],
    ['warm, new photo: both patch sizes ready', ms(f.warmMs), ms(p.bothSizesMs), (p.bothSizesMs / f.warmMs).toFixed(2)],
    [
      'warm, new photo: worker stages',
      '',
      Object.entries(p.stagesMs)
        .map(([stage, t]) => `${stage} ${Math.round(t)}`)
        .join(', '),
      '',
    ],
    ['hover -> inspector (median / p95)', '', `${p.hoverMedianMs.toFixed(1)} / ${p.hoverP95Ms.toFixed(1)} ms`, ''],
    ['patch size toggle -> maps redrawn', '', `${p.toggleMs.toFixed(1)} ms`, ''],
    ['bytes before first heatmap (raw / gzip)', '', `${mb(b.beforeFirstHeatmap)} / ${mb(b.beforeFirstHeatmapGzip)}`, ''],
    ['bytes of the first visit (raw / gzip)', '', `${mb(b.total)} / ${mb(b.totalGzip)}`, ''],
    ['second visit: model bytes downloaded', '', mb(b.secondVisitModels), ''],
  ];
  const head: [string, string, string, string] = ['', 'face-api', 'PatchFace', 'PatchFace / face-api'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  log(
    `\nheadless Chromium, WASM, median of ${RUNS} runs (face-api warm: descriptor of one new photo; times on a shared machine are noisy)`,
  );
  log(line(head));
  for (const r of rows) log(line(r));
} finally {
  await browser.close();
  await appServer.close();
  await faceApiServer.close();
}
