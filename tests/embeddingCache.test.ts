/**
 * The embedding cache behind `eval`: a hit gives back the very floats that were stored, and any
 * change to what an embedding depends on (model file, pipeline options, detections, source code)
 * is a miss. A file cut short is never read back.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findModel, type ModelEntry } from '../src/core/manifest.ts';
import type { Embedding } from '../src/core/pipeline.ts';
import { codeFingerprint, EmbeddingCache } from '../src/node/embeddingCache.ts';
import { photoKey } from '../src/node/faceCache.ts';
import { readManifest } from '../src/node/runtime.ts';

const dir = mkdtempSync(join(tmpdir(), 'patchface-embeddings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function embedding(model: ModelEntry, patches: number, dim: number, seed: number): Embedding {
  // Values with full float32 mantissas, negative ones, and a subnormal: a lossy store would show.
  const features = new Float32Array(patches * dim).map((_, i) => Math.sin(seed + i * 1.7) / 3);
  features[0] = 1e-40;
  return { modelId: model.id, features, patches, dim };
}

describe('EmbeddingCache', () => {
  it('gives back the stored features bit for bit, from a reopened cache', async () => {
    const model = findModel(await readManifest(), 'rrf28');
    const key = photoKey(new TextEncoder().encode('photo one'));
    const stored = embedding(model, 49, 128, 1);
    const first = await EmbeddingCache.open(model, {}, 'detections-a', 'central', join(dir, 'c1'));
    expect(await first.get(key)).toBeUndefined();
    await first.set(key, stored);
    const reopened = await EmbeddingCache.open(model, {}, 'detections-a', 'central', join(dir, 'c1'));
    const hit = await reopened.get(key);
    expect(hit).toBeDefined();
    expect(hit!.modelId).toBe('rrf28');
    expect([hit!.patches, hit!.dim]).toEqual([49, 128]);
    expect(Buffer.from(hit!.features.buffer).equals(Buffer.from(stored.features.buffer))).toBe(true);
    expect(await reopened.get(photoKey(new TextEncoder().encode('photo two')))).toBeUndefined();
  });

  it('misses when the model file, the options, the detections, the face rule or the code differ', async () => {
    const manifest = await readManifest();
    const model = findModel(manifest, 'fullface');
    const key = photoKey(new TextEncoder().encode('photo'));
    const root = join(dir, 'c2');
    const base = await EmbeddingCache.open(model, {}, 'det', 'central', root, 'code-1');
    await base.set(key, embedding(model, 1, 128, 2));
    expect(await (await EmbeddingCache.open(model, {}, 'det', 'central', root, 'code-1')).get(key)).toBeDefined();
    const variants = [
      EmbeddingCache.open({ ...model, sha256: 'another file' }, {}, 'det', 'central', root, 'code-1'),
      EmbeddingCache.open(model, { fullfaceFlip: false }, 'det', 'central', root, 'code-1'),
      EmbeddingCache.open(model, {}, 'other detections', 'central', root, 'code-1'),
      EmbeddingCache.open(model, {}, 'det', 'largest', root, 'code-1'),
      EmbeddingCache.open(model, {}, 'det', 'central', root, 'code-2'),
    ];
    for (const cache of await Promise.all(variants)) expect(await cache.get(key)).toBeUndefined();
    expect(readdirSync(root)).toHaveLength(6);
  });

  it('never reads back a file cut short', async () => {
    const model = findModel(await readManifest(), 'rrf56');
    const root = join(dir, 'c3');
    const cache = await EmbeddingCache.open(model, {}, 'det', 'central', root, 'code');
    const key = photoKey(new TextEncoder().encode('photo'));
    await cache.set(key, embedding(model, 25, 128, 3));
    const [folder] = readdirSync(root);
    const file = join(root, folder, `${key}.f32`);
    truncateSync(file, 8 + 4 * 25 * 128 - 4);
    expect(await cache.get(key)).toBeUndefined();
    writeFileSync(file, new Uint8Array(3));
    expect(await cache.get(key)).toBeUndefined();
    expect(readdirSync(join(root, folder)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('fingerprints the source: an edit to any file it runs changes the key', () => {
    const root = join(dir, 'project');
    for (const sub of ['src/core', 'src/inference', 'src/node/deep']) mkdirSync(join(root, sub), { recursive: true });
    writeFileSync(join(root, 'src/core/align.ts'), 'export const a = 1;');
    writeFileSync(join(root, 'src/inference/worker.ts'), 'export const w = 1;');
    writeFileSync(join(root, 'src/node/deep/decode.ts'), 'export const d = 1;');
    writeFileSync(join(root, 'package-lock.json'), '{"lockfileVersion": 3}');
    const before = codeFingerprint(root);
    expect(codeFingerprint(root)).toBe(before);
    writeFileSync(join(root, 'src/node/deep/decode.ts'), 'export const d = 2;');
    const edited = codeFingerprint(root);
    expect(edited).not.toBe(before);
    writeFileSync(join(root, 'package-lock.json'), '{"lockfileVersion": 3, "x": 1}');
    expect(codeFingerprint(root)).not.toBe(edited);
    // The project's own source fingerprints too (what eval keys on).
    expect(codeFingerprint()).toMatch(/^[0-9a-f]{64}$/);
  });
});
