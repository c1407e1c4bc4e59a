/**
 * The shipped restricted-receptive-field models, checked on their exported ONNX files:
 * - faithfulness: changing pixels outside patch i leaves feature i bit-for-bit unchanged, and
 *   changing pixels inside it changes it;
 * - the manifest's `mirror` flag is true to the graph: with it, the features of a mirrored face
 *   are the face's features at the mirrored positions;
 * - the manifest's `constant` is true to the graph: with it, the last coordinate of every patch
 *   feature of every face is that number;
 * - the trained network: on a seeded noise face the file outputs the features PyTorch computes
 *   from the weights stored in it (rrf-reference.json, written by training/reference_outputs.py),
 *   whatever the graph rewrote after export;
 * - exactness: the per-patch contributions computed by the core module sum to the score;
 * - size: each file is at most 8 MB.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boxContains, boxesOverlap } from '../../src/core/heatmap.ts';
import { findModel, type ModelEntry } from '../../src/core/manifest.ts';
import { compareEmbeddings, detectFaces, embedFaces } from '../../src/core/pipeline.ts';
import { decodePhotoFile } from '../../src/node/decodeImage.ts';
import { createNodeRunner, MODELS_DIR, readManifest } from '../../src/node/runtime.ts';
import type { OrtModelRunner } from '../../src/inference/modelRunner.ts';
import { hasSamples, SAMPLES } from '../support/env.ts';
import { mulberry32 } from '../support/random.ts';

const manifest = await readManifest();
const patchModels = manifest.models.filter((m) => m.role === 'embedder' && m.kind !== 'fullface');
const FACE = 112;
const REFERENCE = JSON.parse(readFileSync(new URL('./rrf-reference.json', import.meta.url), 'utf8')) as {
  seed: number;
  faces: number;
  models: Record<string, { sha256: string; dims: number[]; features: number[] }>;
};

describe('shipped patch models', () => {
  it('include rrf28 and rrf56', () => {
    expect(patchModels.map((m) => m.id)).toEqual(expect.arrayContaining(['rrf28', 'rrf56']));
  });
});

describe.each(patchModels.map((m) => [m.id, m] as [string, ModelEntry]))('%s', (_id, model) => {
  let runner: OrtModelRunner;
  beforeAll(async () => {
    runner = await createNodeRunner({ manifest });
  });
  afterAll(async () => {
    await runner?.dispose();
  });

  it('is at most 8 MB', () => {
    expect(statSync(join(MODELS_DIR, model.file)).size).toBeLessThanOrEqual(8 * 1024 * 1024);
  });

  it('outputs the features PyTorch computes from its stored weights', async () => {
    const ref = REFERENCE.models[model.id];
    const regenerate = 'run /usr/bin/python3 -m training.reference_outputs';
    expect(ref, `no PyTorch reference for ${model.id}: ${regenerate}`).toBeDefined();
    expect(ref.sha256, `the reference was made from another ${model.file}: ${regenerate}`).toBe(model.sha256);
    const random = mulberry32(REFERENCE.seed);
    const faces = new Float32Array(REFERENCE.faces * 3 * FACE * FACE).map(() => random() * 2 - 1);
    const out = Object.values(await runner.run(model.id, { data: faces, dims: [REFERENCE.faces, 3, FACE, FACE] }))[0];
    expect(out.dims).toEqual(ref.dims);
    const D = ref.dims[2];
    for (let f = 0; f < out.data.length / D; f++) {
      let maxDiff = 0;
      let dot = 0;
      let nOut = 0;
      let nRef = 0;
      for (let k = f * D; k < (f + 1) * D; k++) {
        maxDiff = Math.max(maxDiff, Math.abs(out.data[k] - ref.features[k]));
        dot += out.data[k] * ref.features[k];
        nOut += out.data[k] ** 2;
        nRef += ref.features[k] ** 2;
      }
      // float32 rounding in another order of sums, nothing more
      expect(maxDiff, `feature ${f}`).toBeLessThan(1e-4);
      expect(dot / Math.sqrt(nOut * nRef), `feature ${f}`).toBeGreaterThan(0.99999);
    }
  });

  it('lists its patches and outputs one feature per patch', () => {
    const boxes = model.patches ?? [];
    expect(boxes.length).toBeGreaterThan(1);
    for (const [x, y, w, h] of boxes) {
      expect(x >= 0 && y >= 0 && x + w <= FACE && y + h <= FACE).toBe(true);
    }
    expect(model.output.dims?.[1]).toBe(boxes.length);
  });

  it('every patch feature depends only on its own patch (exported ONNX)', async () => {
    const boxes = model.patches!;
    const P = boxes.length;
    const plane = FACE * FACE;
    const random = mulberry32(1234);
    const base = new Float32Array(3 * plane).map(() => random() * 2 - 1);
    // Patches with disjoint boxes share one "inside changed" image: for patch i the other boxes
    // lie outside it, and the first check proves that pixels outside it do not matter, so a
    // change of feature i can only come from its own pixels. This keeps the batch small for
    // overlapping grids (49 patches: 4 such images instead of 49).
    const groups: number[][] = [];
    boxes.forEach((box, i) => {
      const group = groups.find((members) => members.every((j) => !boxesOverlap(boxes[j], box)));
      if (group) group.push(i);
      else groups.push([i]);
    });
    const groupOf = new Map(groups.flatMap((members, g) => members.map((i) => [i, g] as [number, number])));
    // Batch: [base, outside-changed_i for each patch i, inside-changed_g for each group g].
    const G = groups.length;
    const batch = new Float32Array(3 * plane * (1 + P + G));
    batch.set(base, 0);
    boxes.forEach((box, i) => {
      const outside = base.slice();
      let changedOutside = 0;
      for (let y = 0; y < FACE; y++) {
        for (let x = 0; x < FACE; x++) {
          if (boxContains(box, x, y)) continue;
          for (let c = 0; c < 3; c++) {
            if (random() < 0.5) {
              outside[c * plane + y * FACE + x] = random() * 2 - 1;
              changedOutside++;
            }
          }
        }
      }
      expect(changedOutside).toBeGreaterThan(1000);
      batch.set(outside, 3 * plane * (1 + i));
    });
    groups.forEach((members, g) => {
      const inside = base.slice();
      for (let y = 0; y < FACE; y++) {
        for (let x = 0; x < FACE; x++) {
          if (!members.some((i) => boxContains(boxes[i], x, y))) continue;
          for (let c = 0; c < 3; c++) {
            if (random() < 0.05) inside[c * plane + y * FACE + x] = random() * 2 - 1;
          }
        }
      }
      batch.set(inside, 3 * plane * (1 + P + g));
    });
    const out = await runner.run(model.id, { data: batch, dims: [1 + P + G, 3, FACE, FACE] });
    const t = Object.values(out)[0];
    const D = t.dims[2];
    expect(t.dims).toEqual([1 + P + G, P, D]);
    const feature = (item: number, patch: number) => t.data.subarray((item * P + patch) * D, (item * P + patch + 1) * D);
    for (let i = 0; i < P; i++) {
      const ref = feature(0, i);
      const afterOutside = feature(1 + i, i);
      const afterInside = feature(1 + P + groupOf.get(i)!, i);
      let maxOutside = 0;
      let maxInside = 0;
      for (let k = 0; k < D; k++) {
        maxOutside = Math.max(maxOutside, Math.abs(afterOutside[k] - ref[k]));
        maxInside = Math.max(maxInside, Math.abs(afterInside[k] - ref[k]));
      }
      expect(maxOutside, `patch ${i}: pixels outside it changed its feature`).toBe(0);
      expect(maxInside, `patch ${i}: pixels inside it did not change its feature`).toBeGreaterThan(1e-4);
    }
  });

  it(`features of a mirrored face ${model.mirror ? 'are' : 'are not'} the mirrored features (manifest mirror: ${model.mirror ?? false})`, async () => {
    const boxes = model.patches!;
    const P = boxes.length;
    const plane = FACE * FACE;
    const random = mulberry32(99);
    const face = new Float32Array(3 * plane).map(() => random() * 2 - 1);
    const flipped = new Float32Array(3 * plane);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < FACE; y++) {
        for (let x = 0; x < FACE; x++) flipped[c * plane + y * FACE + x] = face[c * plane + y * FACE + (FACE - 1 - x)];
      }
    }
    const batch = new Float32Array(6 * plane);
    batch.set(face, 0);
    batch.set(flipped, 3 * plane);
    const t = Object.values(await runner.run(model.id, { data: batch, dims: [2, 3, FACE, FACE] }))[0];
    const D = t.dims[2];
    const mirrorOf = boxes.map(([x, y, w, h]) =>
      boxes.findIndex(([x2, y2, w2, h2]) => x2 === FACE - x - w && y2 === y && w2 === w && h2 === h),
    );
    let maxDiff = 0;
    for (let i = 0; i < P; i++) {
      expect(mirrorOf[i], `patch ${i} has no mirrored patch`).toBeGreaterThanOrEqual(0);
      for (let k = 0; k < D; k++) {
        maxDiff = Math.max(maxDiff, Math.abs(t.data[i * D + k] - t.data[(P + mirrorOf[i]) * D + k]));
      }
    }
    if (model.mirror) expect(maxDiff).toBeLessThan(1e-5);
    else expect(maxDiff).toBeGreaterThan(1e-3);
  });

  it(`the last feature coordinate ${model.constant != null ? 'is the constant on every patch and face' : 'varies'} (manifest constant: ${model.constant ?? 'none'})`, async () => {
    const P = model.patches!.length;
    const plane = FACE * FACE;
    const random = mulberry32(7);
    const batch = new Float32Array(2 * 3 * plane).map(() => random() * 2 - 1);
    const t = Object.values(await runner.run(model.id, { data: batch, dims: [2, 3, FACE, FACE] }))[0];
    const D = t.dims[2];
    expect(model.output.dims?.[2]).toBe(D);
    const last = Array.from({ length: 2 * P }, (_, i) => t.data[i * D + D - 1]);
    if (model.constant != null) {
      // stored in the graph as float32
      for (const v of last) expect(v).toBe(Math.fround(model.constant));
    } else {
      expect(Math.max(...last) - Math.min(...last)).toBeGreaterThan(1e-4);
    }
  });

  it.skipIf(!hasSamples())('contributions sum to the score on real photos', async () => {
    const load = async (file: string) => {
      const { image } = await decodePhotoFile(join(SAMPLES, file));
      const [face] = await detectFaces(image, runner, manifest);
      return { image, face };
    };
    const pairs = [
      ['whitehouse/obama_1.jpg', 'whitehouse/obama_2.jpg'],
      ['whitehouse/obama_1.jpg', 'nasa/Christina_Koch.jpg'],
    ];
    for (const [a, b] of pairs) {
      const [ea, eb] = await embedFaces([await load(a), await load(b)], findModel(manifest, model.id), runner);
      const r = compareEmbeddings(model, ea, eb);
      expect(r.patches).toHaveLength(model.patches!.length);
      const sumA = r.patches.reduce((s, p) => s + p.a, 0);
      const sumB = r.patches.reduce((s, p) => s + p.b, 0);
      expect(Math.abs(sumA - r.score)).toBeLessThan(1e-5);
      expect(Math.abs(sumB - r.score)).toBeLessThan(1e-5);
    }
  });
});
