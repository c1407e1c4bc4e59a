/**
 * What a test needs from outside the repository, and the rule for when it is missing:
 * a fresh clone skips such tests with a clear message; under CI=true they must fail instead.
 */
import { existsSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SHARED_DATA = resolve(PROJECT_ROOT, '../shared/data');
export const SAMPLES = resolve(SHARED_DATA, 'samples');
export const LFW = resolve(SHARED_DATA, 'lfw');
/** The two photos of one person the browser tests compare. */
export const OBAMA_1 = resolve(SAMPLES, 'whitehouse/obama_1.jpg');
export const OBAMA_2 = resolve(SAMPLES, 'whitehouse/obama_2.jpg');
/**
 * Sample photos of six people (paths under SAMPLES) for pair lists: the first six hold two
 * photos each of Obama and Andrew Morgan, then Nick Hague and Karen Nyberg.
 */
export const PAIR_PHOTOS = [
  'whitehouse/obama_1.jpg',
  'whitehouse/obama_2.jpg',
  'nasa/Andrew_Morgan.jpg',
  'nasa/andrew_morgan_iss.jpg',
  'nasa/Nick_Hague.jpg',
  'nasa/Karen_Nyberg.jpg',
  'nasa/Christina_Koch.jpg',
  'nasa/Akihiko_Hoshide.jpg',
] as const;
export const CHROMIUM = process.env.PATCHFACE_CHROMIUM ?? '/usr/bin/chromium';
export const IN_CI = process.env.CI === 'true';

/**
 * Returns true when `path` exists. Otherwise throws under CI, or prints why and returns false
 * so the caller can `describe.skipIf(!available)`.
 */
export function requireResource(path: string, what: string): boolean {
  if (existsSync(path)) return true;
  const message = `${what} not found at ${path}`;
  if (IN_CI) throw new Error(`${message} (CI=true: tests needing it must not skip)`);
  console.warn(`SKIPPED: ${message}; the tests that need it are skipped.`);
  return false;
}

export const hasSamples = () => requireResource(SAMPLES, 'Shared sample photos (../shared/data/samples)');
export const hasLfw = () => requireResource(resolve(LFW, 'pairs.txt'), 'LFW (../shared/data/lfw)');
export const hasChromium = () => requireResource(CHROMIUM, 'Chromium (apt-get install -y chromium)');

/** Copies sample photos (paths under SAMPLES, e.g. "nasa/Nick_Hague.jpg") flat into `dir`, for pair lists. */
export async function copySamples(dir: string, photos: readonly string[]): Promise<void> {
  for (const f of photos) await copyFile(join(SAMPLES, f), join(dir, basename(f)));
}
