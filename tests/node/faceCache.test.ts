/**
 * The detection cache behind `eval` and `prepare-training`: keyed by content, so a dataset that
 * was copied or re-mounted (new paths, new timestamps) still hits, while a changed photo, model
 * or option misses. A hit must never reach the models.
 */
import { appendFileSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fivePointsFrom68 } from '../../src/core/landmarks.ts';
import type { ModelRunner } from '../../src/core/pipeline.ts';
import type { DetectedFace, RgbImage } from '../../src/core/types.ts';
import { detectFacesCached, FaceCache } from '../../src/node/faceCache.ts';
import { readManifest } from '../../src/node/runtime.ts';

const dir = mkdtempSync(join(tmpdir(), 'patchface-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function face(seed: number): DetectedFace {
  const landmarks68 = new Float32Array(136).map((_, i) => 10 + seed + i * 0.5);
  return { box: [seed, seed + 1, 40, 50], score: 0.9, landmarks68, landmarks5: fivePointsFrom68(landmarks68) };
}

const neverRun: ModelRunner = {
  run: () => Promise.reject(new Error('a cache hit must not run a model')),
};
const image: RgbImage = { width: 1, height: 1, data: new Uint8Array(3) };

describe('FaceCache', () => {
  it('finds a photo by its content after it was copied elsewhere with a new timestamp', async () => {
    const manifest = await readManifest();
    const photo = join(dir, 'a.jpg');
    writeFileSync(photo, 'photo bytes one');
    const cacheDir = join(dir, 'c1');
    const first = await FaceCache.open(manifest, {}, cacheDir);
    await first.set(first.key(readFileSync(photo)), [face(1), face(2)]);

    const copy = join(dir, 'moved.jpg');
    copyFileSync(photo, copy);
    utimesSync(copy, new Date(2001, 0, 1), new Date(2001, 0, 1));
    const reopened = await FaceCache.open(manifest, {}, cacheDir);
    expect(reopened.size).toBe(1);
    const hit = reopened.get(reopened.key(readFileSync(copy)));
    expect(hit).toHaveLength(2);
    expect(hit![0].box).toEqual([1, 2, 40, 50]);
    expect(Array.from(hit![1].landmarks68)).toEqual(Array.from(face(2).landmarks68));
    expect(Array.from(hit![1].landmarks5)).toEqual(Array.from(face(2).landmarks5));
    // And detectFacesCached answers from it without touching a model.
    const faces = await detectFacesCached(readFileSync(copy), image, neverRun, manifest, {}, reopened);
    expect(faces.map((f) => f.box)).toEqual([face(1).box, face(2).box]);
  });

  it('remembers photos without a face, and misses when the bytes change', async () => {
    const manifest = await readManifest();
    const photo = join(dir, 'b.jpg');
    writeFileSync(photo, 'no face here');
    const cache = await FaceCache.open(manifest, {}, join(dir, 'c2'));
    await cache.set(cache.key(readFileSync(photo)), []);
    expect(cache.get(cache.key(readFileSync(photo)))).toEqual([]);
    writeFileSync(photo, 'no face here, edited');
    expect(cache.get(cache.key(readFileSync(photo)))).toBeUndefined();
  });

  it('keeps one file per detector and options, and skips a line cut short', async () => {
    const manifest = await readManifest();
    const cacheDir = join(dir, 'c3');
    const photo = join(dir, 'c.jpg');
    writeFileSync(photo, 'photo bytes three');
    const ssd = await FaceCache.open(manifest, {}, cacheDir);
    await ssd.set(ssd.key(readFileSync(photo)), [face(3)]);
    const tiny = await FaceCache.open(manifest, { detector: 'tiny' }, cacheDir);
    const lower = await FaceCache.open(manifest, { minScore: 0.3 }, cacheDir);
    expect(tiny.get(tiny.key(readFileSync(photo)))).toBeUndefined();
    expect(lower.get(lower.key(readFileSync(photo)))).toBeUndefined();
    const files = readdirSync(cacheDir);
    expect(files).toHaveLength(1);
    appendFileSync(join(cacheDir, files[0]), '{"key":"abc","faces":[{"box":[1,');
    const reopened = await FaceCache.open(manifest, {}, cacheDir);
    expect(reopened.size).toBe(1);
    expect(reopened.get(reopened.key(readFileSync(photo)))).toHaveLength(1);
  });
});
