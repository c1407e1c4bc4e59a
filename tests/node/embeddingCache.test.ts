/**
 * The embedding cache behind `eval`: a hit gives back the very floats that were stored, and any
 * change to what an embedding depends on (model file, pipeline options, detections, source code)
 * is a miss. A file cut short is never read back.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { findModel, type ModelEntry } from '../../src/core/manifest.ts';
import type { Embedding } from '../../src/core/pipeline.ts';
import { codeFingerprint, EMBEDDING_ENTRY_POINTS, importClosure } from '../../src/node/codeFingerprint.ts';
import { EmbeddingCache } from '../../src/node/embeddingCache.ts';
import { photoKey } from '../../src/node/faceCache.ts';
import { readManifest } from '../../src/node/runtime.ts';

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

  it('fingerprints what computes an embedding: its import closure, as code, and its packages', () => {
    const root = join(dir, 'project');
    for (const sub of ['src/core', 'src/node', 'src/ui']) mkdirSync(join(root, sub), { recursive: true });
    const write = (file: string, text: string) => writeFileSync(join(root, file), text);
    write('src/node/decodeImage.ts', "import sharp from 'sharp';\nexport const d = 1;\n");
    write('src/node/runtime.ts', "import * as ort from 'onnxruntime-web';\nexport { ort };\n");
    write(
      'src/core/pipeline.ts',
      "import { align } from './align';\nimport type { View } from '../ui/view.ts';\nexport const p = align + 1;\n",
    );
    write('src/core/align.ts', 'export const align = 2;\n');
    write('src/ui/view.ts', 'export type View = number;\nexport const v = 1;\n');
    const lock = (sharp: string, other: string) =>
      JSON.stringify({
        packages: {
          'node_modules/sharp': { version: sharp },
          'node_modules/onnxruntime-web': { version: '1.0.0' },
          'node_modules/zustand': { version: other },
        },
      });
    write('package-lock.json', lock('1.0.0', '1.0.0'));
    expect(importClosure(root, EMBEDDING_ENTRY_POINTS)).toEqual({
      files: ['src/core/align.ts', 'src/core/pipeline.ts', 'src/node/decodeImage.ts', 'src/node/runtime.ts'],
      packages: ['onnxruntime-web', 'sharp'],
    });
    const before = codeFingerprint(root);
    expect(codeFingerprint(root)).toBe(before);
    // Comments, layout and files outside the closure keep every cached embedding.
    write('src/core/align.ts', '/** why */\nexport   const align =\n  2;\n');
    write('src/ui/view.ts', 'export type View = number;\nexport const v = 2;\n');
    write('package-lock.json', lock('1.0.0', '2.0.0'));
    expect(codeFingerprint(root)).toBe(before);
    // A change to what runs, or to an imported package's version, is a miss.
    write('src/core/align.ts', 'export const align = 3;\n');
    const edited = codeFingerprint(root);
    expect(edited).not.toBe(before);
    write('package-lock.json', lock('1.0.1', '2.0.0'));
    expect(codeFingerprint(root)).not.toBe(edited);
    // The project's own source fingerprints too (what eval keys on), and a view helper is not in it.
    expect(codeFingerprint()).toMatch(/^[0-9a-f]{64}$/);
    const project = importClosure(fileURLToPath(new URL('../../', import.meta.url)), EMBEDDING_ENTRY_POINTS).files;
    expect(project).toContain('src/core/pipeline.ts');
    expect(project.filter((f) => /heatmap|verification|regions|compareJson|decision/.test(f))).toEqual([]);
  });
});
