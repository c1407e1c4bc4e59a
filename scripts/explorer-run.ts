/**
 * Runs the explorer once in headless Chromium on the WASM backend and reports what a first visit
 * costs, or writes the README screenshot.
 *
 *   npx tsx scripts/explorer-run.ts measure      # `vite build` first; serves dist/ with `vite preview`
 *   npx tsx scripts/explorer-run.ts screenshot   # dev server; writes docs/screenshot.png
 *
 * measure: a cold load (fresh browser profile, no cache) of the built app, then obama_1 vs
 * obama_2; prints the bytes of every response by kind and the time from file input to heatmap.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { preview } from 'vite';
import { launchChromium, startDevServer } from '../tests/support/browser.ts';
import { PROJECT_ROOT, SAMPLES } from '../tests/support/env.ts';

const mode = process.argv[2] ?? 'measure';
if (mode !== 'measure' && mode !== 'screenshot') throw new Error('usage: explorer-run.ts measure|screenshot');

let url: string;
let close: () => Promise<void>;
if (mode === 'measure') {
  const server = await preview({
    root: PROJECT_ROOT,
    configFile: join(PROJECT_ROOT, 'vite.config.ts'),
    logLevel: 'error',
    preview: { host: '127.0.0.1', port: 0 },
  });
  const address = server.httpServer.address();
  if (!address || typeof address === 'string') throw new Error('preview server has no port');
  url = `http://127.0.0.1:${address.port}`;
  close = () => server.close();
} else {
  const dev = await startDevServer();
  url = dev.url;
  close = () => dev.server.close();
}

const browser = await launchChromium();
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1400 } });
  const page = await context.newPage();
  const sizes = new Map<string, number>();
  page.on('response', async (r) => {
    // Object URLs of the user's own photos are not downloads.
    if (!r.url().startsWith('http')) return;
    try {
      sizes.set(r.url(), (await r.body()).byteLength);
    } catch {
      // Redirects and aborted responses have no body.
    }
  });
  page.on('pageerror', (e) => console.error('page error:', e.message));
  const tStart = Date.now();
  await page.goto(`${url}/?ep=wasm`);
  await page.getByText(/Backend: WASM/).waitFor({ timeout: 300_000 });
  const t0 = Date.now();
  await page.getByLabel('Photo A', { exact: true }).setInputFiles(join(SAMPLES, 'whitehouse/obama_1.jpg'));
  await page.getByLabel('Photo B', { exact: true }).setInputFiles(join(SAMPLES, 'whitehouse/obama_2.jpg'));
  await page.getByTestId('facemap-b').waitFor({ timeout: 300_000 });
  const coldMs = Date.now() - t0;
  // Warm: the same photo again, every session loaded.
  const token = await page.evaluate(() => (window as any).__patchface.store.getState().panels.a.token);
  const t1 = Date.now();
  await page.getByLabel('Photo A', { exact: true }).setInputFiles(join(SAMPLES, 'whitehouse/obama_1.jpg'));
  await page.waitForFunction((t) => {
    const s = (window as any).__patchface.store.getState().panels.a;
    return s.token > t && s.status === 'ready';
  }, token);
  await page.getByTestId('facemap-a').waitFor();
  const warmMs = Date.now() - t1;

  if (mode === 'screenshot') {
    await page.locator('details.timings summary').click();
    const map = page.getByTestId('facemap-a');
    const box = (await map.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.375, box.y + box.height * 0.375);
    await page.getByTestId('inspect-rank').waitFor();
    mkdirSync(join(PROJECT_ROOT, 'docs'), { recursive: true });
    const out = join(PROJECT_ROOT, 'docs/screenshot.png');
    await page.screenshot({ path: out, fullPage: true });
    console.log(`wrote ${out}`);
  }
  const byKind = new Map<string, number>();
  let total = 0;
  for (const [u, n] of sizes) {
    const path = new URL(u).pathname;
    const kind = path.endsWith('.wasm')
      ? 'wasm runtime'
      : path.endsWith('.onnx')
        ? 'models (.onnx)'
        : /\.(m?js|tsx?)$/.test(path)
          ? 'scripts'
          : 'other';
    byKind.set(kind, (byKind.get(kind) ?? 0) + n);
    total += n;
  }
  console.log(
    `${mode === 'measure' ? 'built app (vite preview)' : 'dev server'}: ${sizes.size} responses, ${total} bytes (${(total / 1e6).toFixed(1)} MB)`,
  );
  for (const [k, n] of [...byKind].sort((a, b) => b[1] - a[1])) console.log(`  ${k.padEnd(16)} ${String(n).padStart(10)} bytes`);
  for (const [u, n] of [...sizes].sort((a, b) => b[1] - a[1]).slice(0, 12))
    console.log(`    ${String(n).padStart(10)}  ${new URL(u).pathname}`);
  console.log(`page load -> backend ready: ${t0 - tStart} ms`);
  console.log(`cold: both photos -> heatmap ${coldMs} ms (includes first model loads)`);
  console.log(`warm: one photo, file input -> heatmap ${warmMs} ms`);
  console.log(`timings panel: ${(await page.getByTestId('timings').innerText()).replace(/\s+/g, ' ')}`);
} finally {
  await browser.close();
  await close();
}
