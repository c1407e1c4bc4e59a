/**
 * Explaining the decision in real headless Chromium, real models, WASM backend, on obama_1 against
 * a NASA portrait: the decision map's sum check, the Heatmap switch, hiding the lower half (the
 * same score as `patchface compare --hide lower-half`, judged at that region's LFW threshold), a
 * dropped patch in the inspector, drops outside the app's box, and a phone-sized touch screen.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openExplorer, SHIPPED_MANIFEST, type OpenExplorer } from '../support/browser.ts';
import { hasChromium, hasSamples, OBAMA_1, PROJECT_ROOT, SAMPLES } from '../support/env.ts';

const ready = hasChromium() && hasSamples();
const KOCH = join(SAMPLES, 'nasa/Christina_Koch.jpg');
const LONG = 300_000;
const rrf28 = SHIPPED_MANIFEST.models.find((m) => m.id === 'rrf28')!;

const run = promisify(execFile);
/** `patchface compare` on the browser's backend (WASM), as JSON. */
async function cli(...args: string[]) {
  const { stdout } = await run(
    process.execPath,
    [join(PROJECT_ROOT, 'bin/patchface.js'), 'compare', OBAMA_1, KOCH, '--model', 'rrf28', '--runtime', 'wasm', '--json', ...args],
    {
      cwd: PROJECT_ROOT,
      maxBuffer: 1 << 24,
    },
  );
  return JSON.parse(stdout) as { score: number; threshold: number | null; same: boolean | null; kept: number[] };
}

async function waitReady(page: Page) {
  await page.waitForFunction(
    () => {
      const s = (window as any).__patchface.store.getState().panels;
      return s.a.status === 'ready' && s.b.status === 'ready' && s.a.computing.length === 0 && s.b.computing.length === 0;
    },
    undefined,
    { timeout: LONG },
  );
  await page.getByTestId('facemap-b').waitFor({ timeout: LONG });
}

const signed = (x: number) => (x >= 0 ? '+' : '−') + Math.abs(x).toFixed(3);

describe.skipIf(!ready)('the decision explained, in Chromium (WASM backend, real models)', () => {
  let explorer: OpenExplorer;
  let page: Page;

  beforeAll(async () => {
    explorer = await openExplorer({ viewport: { width: 1400, height: 1000 } });
    page = explorer.page;
  });
  afterAll(() => explorer?.close());

  it("two photos dropped on <html>, outside the app's box, fill both panels and the page stays", async () => {
    const before = page.url();
    // Below the app's content: the <html> element itself is the target.
    const appBottom = await page.locator('.app').evaluate((el) => el.getBoundingClientRect().bottom);
    const target = await page.evaluate(({ y }) => document.elementFromPoint(700, y)?.tagName, { y: Math.min(990, appBottom + 20) });
    expect(target).toBe('HTML');
    const cdp = await page.context().newCDPSession(page);
    const data = { items: [], files: [OBAMA_1, KOCH], dragOperationsMask: 1 };
    const at = { x: 700, y: Math.min(990, appBottom + 20) };
    await cdp.send('Input.dispatchDragEvent', { type: 'dragEnter', ...at, data });
    await cdp.send('Input.dispatchDragEvent', { type: 'dragOver', ...at, data });
    await page.getByTestId('drop-overlay').waitFor();
    expect(await page.getByTestId('drop-overlay').innerText()).toMatch(/first photo into A and the second into B/);
    await cdp.send('Input.dispatchDragEvent', { type: 'drop', ...at, data });
    await waitReady(page);
    expect(page.url()).toBe(before);
    const names = await page.evaluate(() => {
      const s = (window as any).__patchface.store.getState().panels;
      return [s.a.fileName, s.b.fileName];
    });
    expect(names).toEqual(['obama_1.jpg', 'Christina_Koch.jpg']);
    expect(await page.getByTestId('drop-overlay').count()).toBe(0);
  });

  it("the decision map's sum check reads score − threshold, as the CLI computes it", async () => {
    const full = await cli();
    expect(full.threshold).toBe(rrf28.threshold);
    const check = page.getByTestId('sum-check');
    expect(await check.innerText()).toContain(`Σ margins = score − threshold = ${signed(full.score - full.threshold!)}`);
    expect(await check.getAttribute('data-holds')).toBe('true');
    expect(await page.getByTestId('score').innerText()).toBe(full.score.toFixed(3));
  });

  it('switching Heatmap changes the legend', async () => {
    const legend = page.getByTestId('legend');
    expect(await legend.getAttribute('data-view')).toBe('decision');
    const decisionText = await legend.innerText();
    await page.getByRole('radiogroup', { name: 'Heatmap' }).getByRole('radio', { name: 'Score' }).check();
    expect(await legend.getAttribute('data-view')).toBe('score');
    expect(await legend.innerText()).not.toBe(decisionText);
    expect(new URL(page.url()).searchParams.get('heatmap')).toBe('score');
    await page.getByRole('radiogroup', { name: 'Heatmap' }).getByRole('radio', { name: 'Decision' }).check();
    expect(await legend.getAttribute('data-view')).toBe('decision');
  });

  it("hiding Lower half gives the CLI's --hide lower-half score, judged at that region's threshold", async () => {
    const hidden = await cli('--hide', 'lower-half');
    const calibration = rrf28.hide?.['lower-half'];
    expect(calibration, "the manifest must hold the lower half's LFW calibration (eval lfw --write-manifest)").toBeTruthy();
    expect(hidden.threshold).toBe(calibration!.threshold);
    await page.getByRole('group', { name: 'Hide region' }).getByRole('checkbox', { name: 'Lower half' }).check();
    const status = page.getByRole('status', { name: 'Similarity' });
    expect(await status.getByTestId('score').innerText()).toBe(hidden.score.toFixed(3));
    expect(await status.getByTestId('verdict').innerText()).toBe(hidden.same ? 'Same person' : 'Different people');
    expect(await status.innerText()).toContain(`threshold ${calibration!.threshold.toFixed(3)}`);
    expect(await page.getByTestId('facemap-a').getAttribute('data-kept')).toBe(String(hidden.kept.length));
    expect(new URL(page.url()).searchParams.get('hide')).toBe('lower-half');
  });

  it('hovering a dropped patch says that it is dropped', async () => {
    const map = page.getByTestId('facemap-a');
    await map.scrollIntoViewIfNeeded();
    const box = (await map.boundingBox())!;
    // Near the chin: every patch there touches the lower half.
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.92);
    expect(await page.getByTestId('inspect-dropped').innerText()).toMatch(/Dropped: this patch touches a hidden pixel/);
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.1);
    expect(await page.getByTestId('inspect-contribution').count()).toBe(1);
    await page.getByRole('button', { name: 'Show all' }).click();
  });
});

describe.skipIf(!ready)('on a phone-sized touch screen', () => {
  let explorer: OpenExplorer;
  let page: Page;

  beforeAll(async () => {
    explorer = await openExplorer({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true, deviceScaleFactor: 1 });
    page = explorer.page;
  });
  afterAll(() => explorer?.close());

  it('never scrolls sideways; a tap inspects a patch and a tap on a preset hides it', async () => {
    await page.getByLabel('Photo A', { exact: true }).setInputFiles(OBAMA_1);
    await page.getByLabel('Photo B', { exact: true }).setInputFiles(KOCH);
    await waitReady(page);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(390);
    const map = page.getByTestId('facemap-a');
    await map.scrollIntoViewIfNeeded();
    const box = (await map.boundingBox())!;
    await page.touchscreen.tap(box.x + box.width * 0.3, box.y + box.height * 0.3);
    await page.getByTestId('inspect-contribution').waitFor();
    expect(await page.getByTestId('inspector').innerText()).toMatch(/Patch \d+ of face A/);
    await page.getByRole('group', { name: 'Hide region' }).getByRole('checkbox', { name: 'Eyes' }).tap();
    expect(await page.getByTestId('hidden-summary').innerText()).toMatch(/Hidden: Eyes\./);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  });
});
