/**
 * A report opens from disk in real Chromium, renders its charts and maps, and makes no request
 * (no network, not even to the disk beside it) and no page error.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser.ts';
import { copySamples, hasChromium, hasSamples, PROJECT_ROOT } from '../support/env.ts';

const ready = hasChromium() && hasSamples();
const run = promisify(execFile);

describe.skipIf(!ready)('a report in Chromium', () => {
  let dir: string;
  let browser: Browser;
  let file: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'patchface-report-e2e-'));
    const photos = ['whitehouse/obama_1.jpg', 'whitehouse/obama_2.jpg', 'nasa/Nick_Hague.jpg', 'nasa/Christina_Koch.jpg'];
    await copySamples(dir, photos);
    const rows = [
      'obama_1.jpg\tobama_2.jpg\t1\t0',
      'obama_1.jpg\tNick_Hague.jpg\t0\t0',
      'Nick_Hague.jpg\tChristina_Koch.jpg\t1\t1',
      'obama_2.jpg\tChristina_Koch.jpg\t0\t1',
    ];
    await writeFile(join(dir, 'pairs.tsv'), ['a\tb\tsame\tfold', ...rows].join('\n'));
    file = join(dir, 'report.html');
    await run(
      process.execPath,
      [join(PROJECT_ROOT, 'bin/patchface.js'), 'report', 'pairs', join(dir, 'pairs.tsv'), '--root', dir, '--out', file],
      {
        cwd: PROJECT_ROOT,
        env: { ...process.env, PATCHFACE_CACHE: join(dir, 'cache') },
        maxBuffer: 1 << 24,
      },
    );
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('renders from disk with no request and no page error', async () => {
    const page = await browser.newPage();
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    const url = pathToFileURL(file).href;
    await page.goto(url);
    await page.waitForLoadState('load');
    expect(errors).toEqual([]);
    expect(requests.filter((r) => r !== url && !r.startsWith('data:'))).toEqual([]);
    expect(await page.locator('#maps-rrf28 svg').count()).toBe(4);
    expect(await page.locator('#roc-rrf56 polyline').count()).toBe(1);
    // The worst false reject (Nick Hague and Christina Koch, labelled "same") shows both faces.
    const images = page.locator('#model-rrf28 .worst[data-kind="falseRejects"] img');
    expect(await images.count()).toBeGreaterThanOrEqual(2);
    const loaded = await images.evaluateAll((els) =>
      els.every((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth === 112),
    );
    expect(loaded).toBe(true);
    await page.close();
  });
});
