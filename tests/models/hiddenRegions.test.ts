/**
 * Hiding a region is exact, on the shipped ONNX files: with every hidden pixel of both aligned
 * faces replaced by random noise and the networks run again, the restricted score does not move
 * (to 1e-6), while the full score does. The restricted score is a fact about the model: the
 * hidden pixels cannot reach it.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareHidden } from '../../src/core/decision.ts';
import type { ModelEntry } from '../../src/core/manifest.ts';
import { detectFaces, embeddingInput, type Embedding } from '../../src/core/pipeline.ts';
import { HIDE_PRESETS, hiddenMask, type HiddenRegion } from '../../src/core/regions.ts';
import type { OrtModelRunner } from '../../src/inference/modelRunner.ts';
import { decodePhotoFile } from '../../src/node/decodeImage.ts';
import { createNodeRunner, readManifest } from '../../src/node/runtime.ts';
import { hasSamples, SAMPLES } from '../support/env.ts';
import { mulberry32 } from '../support/random.ts';

const available = hasSamples();
const manifest = await readManifest();
const patchModels = manifest.models.filter((m) => m.role === 'embedder' && m.kind !== 'fullface');
const SIDE = 112;

describe.skipIf(!available)('hiding a region on the exported patch models', () => {
  let runner: OrtModelRunner;
  const inputs = new Map<string, Float32Array[]>();
  beforeAll(async () => {
    runner = await createNodeRunner({ manifest });
    const faces = [];
    for (const photo of ['whitehouse/obama_1.jpg', 'nasa/Christina_Koch.jpg']) {
      const { image } = await decodePhotoFile(join(SAMPLES, photo));
      const [face] = await detectFaces(image, runner, manifest);
      faces.push({ image, face });
    }
    for (const m of patchModels)
      inputs.set(
        m.id,
        faces.map((f) => embeddingInput(f.image, f.face, m).tensor),
      );
  });
  afterAll(async () => {
    await runner?.dispose();
  });

  async function embed(model: ModelEntry, tensors: Float32Array[]): Promise<Embedding[]> {
    const per = 3 * SIDE * SIDE;
    const batch = new Float32Array(per * tensors.length);
    tensors.forEach((t, i) => batch.set(t, i * per));
    const out = Object.values(await runner.run(model.id, { data: batch, dims: [tensors.length, 3, SIDE, SIDE] }))[0];
    const [, P, D] = out.dims;
    return tensors.map((_, i) => ({ modelId: model.id, patches: P, dim: D, features: out.data.slice(i * P * D, (i + 1) * P * D) }));
  }

  /** The planar input with every hidden pixel, in all three channels, replaced by noise in the input's range. */
  function scramble(tensor: Float32Array, hidden: HiddenRegion, seed: number): { tensor: Float32Array; changed: number } {
    const mask = hiddenMask(hidden);
    const random = mulberry32(seed);
    const out = tensor.slice();
    let changed = 0;
    for (let c = 0; c < 3; c++) {
      for (let k = 0; k < SIDE * SIDE; k++) {
        if (!mask[k]) continue;
        out[c * SIDE * SIDE + k] = random() * 2 - 1;
        changed++;
      }
    }
    return { tensor: out, changed };
  }

  it.each(patchModels.flatMap((m) => HIDE_PRESETS.map((p) => [m.id, p.id, m, p] as const)))(
    '%s, %s hidden: noise in the hidden pixels leaves the restricted score unchanged',
    async (_m, _p, model, preset) => {
      const hidden: HiddenRegion = { presets: [preset.id], cells: [] };
      const [a, b] = inputs.get(model.id)!;
      const na = scramble(a, hidden, 11);
      const nb = scramble(b, hidden, 12);
      expect(na.changed).toBe(3 * preset.rect[2] * preset.rect[3]);
      const [ea, eb, sa, sb] = await embed(model, [a, b, na.tensor, nb.tensor]);
      const clean = compareHidden(model, ea, eb, hidden);
      const scrambled = compareHidden(model, sa, sb, hidden);
      expect(scrambled.kept).toEqual(clean.kept);
      // The full model sees the noise.
      expect(Math.abs(compareHidden(model, sa, sb).score - compareHidden(model, ea, eb).score)).toBeGreaterThan(1e-4);
      if (clean.empty) {
        expect(clean.kept).toEqual([]);
        expect(model.patches![0][2]).toBe(56);
        return;
      }
      expect(Math.abs(scrambled.score - clean.score)).toBeLessThanOrEqual(1e-6);
    },
  );
});
