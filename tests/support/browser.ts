/** Real Chromium (Debian's, via playwright-core) against the project's own Vite server. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContextOptions, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { parseManifest, type Manifest } from '../../src/core/manifest.ts';
import { CHROMIUM, PROJECT_ROOT } from './env.ts';

/** The manifest the app ships, as the browser tests read it. */
export const SHIPPED_MANIFEST: Manifest = parseManifest(
  JSON.parse(readFileSync(join(PROJECT_ROOT, 'public/models/manifest.json'), 'utf8')),
);

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/** Starts the project's Vite dev server on a free loopback port. */
export async function startDevServer(): Promise<{ server: ViteDevServer; url: string }> {
  const server = await createServer({
    root: PROJECT_ROOT,
    configFile: `${PROJECT_ROOT}/vite.config.ts`,
    logLevel: 'error',
    server: { host: '127.0.0.1', port: 0, strictPort: false },
  });
  await server.listen();
  const address = server.httpServer?.address();
  if (!address || typeof address === 'string') throw new Error('Vite server has no port');
  return { server, url: `http://127.0.0.1:${address.port}` };
}

export interface Served {
  server: ViteDevServer;
  url: string;
  browser: Browser;
  /** Closes the browser, then the server. */
  close(): Promise<void>;
}

/** The project's dev server and one Chromium, closed together. */
export async function startServedChromium(): Promise<Served> {
  const { server, url } = await startDevServer();
  const browser = await launchChromium();
  return {
    server,
    url,
    browser,
    close: async () => {
      await browser.close();
      await server.close();
    },
  };
}

export interface OpenExplorer extends Served {
  page: Page;
}

/**
 * The dev server, Chromium and one page on the explorer with the WASM backend forced, once that
 * backend has started. `watch` sees the page before it navigates (e.g. to log its requests).
 */
export async function openExplorer(
  options: BrowserContextOptions = {},
  watch: (page: Page) => void = () => undefined,
): Promise<OpenExplorer> {
  const served = await startServedChromium();
  const page = await served.browser.newPage(options);
  watch(page);
  await page.goto(`${served.url}/?ep=wasm`);
  await page.getByText(/Backend: WASM, \d+ threads?/).waitFor({ timeout: 600_000 });
  return { ...served, page };
}
