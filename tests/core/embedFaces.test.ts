/**
 * embedFaces batching, with a recording runner in place of ONNX: the full-face descriptor is
 * the mean of the chip's and its mirror image's, while patch models are never flipped (a
 * mirrored patch is another patch).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findModel, parseManifest } from '../../src/core/manifest.ts';
import { embeddingInput, embedFaces, type ModelRunner } from '../../src/core/pipeline.ts';
import type { DetectedFace, RgbImage, Tensor } from '../../src/core/types.ts';
import { PROJECT_ROOT } from '../support/env.ts';
import { mulberry32 } from '../support/random.ts';

const manifest = parseManifest(JSON.parse(readFileSync(join(PROJECT_ROOT, 'public/models/manifest.json'), 'utf8')));
const random = mulberry32(11);
const image: RgbImage = { width: 200, height: 200, data: new Uint8Array(200 * 200 * 3).map(() => Math.floor(random() * 256)) };
const face: DetectedFace = {
  box: [50, 50, 100, 100],
  score: 0.99,
  landmarks68: new Float32Array(136),
  landmarks5: Float32Array.from([80, 90, 120, 90, 100, 112, 84, 132, 116, 132]),
};

/** Answers each batch row with `dim` numbers read off that row's input, and records the inputs. */
function recordingRunner(patches: number, dim: number): ModelRunner & { inputs: Tensor[] } {
  const inputs: Tensor[] = [];
  return {
    inputs,
    async run(_id, input) {
      inputs.push(input);
      const [n, c, h, w] = input.dims;
      const per = c * h * w;
      const out = new Float32Array(n * patches * dim);
      for (let r = 0; r < n; r++) for (let k = 0; k < patches * dim; k++) out[r * patches * dim + k] = input.data[r * per + k * 7];
      return { out: { data: out, dims: patches === 1 ? [n, dim] : [n, patches, dim] } };
    },
  };
}

describe('embedFaces', () => {
  const fullface = findModel(manifest, 'fullface');
  const side = 150;

  it('fullface: one batch holding each chip and its mirror image, descriptors averaged', async () => {
    const runner = recordingRunner(1, 128);
    const [e] = await embedFaces([{ image, face }], fullface, runner, { fullfaceCrop: 'dlib5' });
    expect(runner.inputs).toHaveLength(1);
    const { dims, data } = runner.inputs[0];
    expect(dims).toEqual([2, 3, side, side]);
    const per = 3 * side * side;
    const plain = embeddingInput(image, face, fullface, { fullfaceCrop: 'dlib5' }).tensor;
    expect(data.subarray(0, per)).toEqual(plain);
    for (const [c, y, x] of [
      [0, 0, 0],
      [1, 37, 5],
      [2, 149, 149],
      [0, 75, 74],
    ]) {
      expect(data[per + c * side * side + y * side + x]).toBe(plain[c * side * side + y * side + (side - 1 - x)]);
    }
    for (let k = 0; k < 128; k++) expect(e.features[k]).toBeCloseTo((data[k * 7] + data[per + k * 7]) / 2, 6);
    expect([e.patches, e.dim]).toEqual([1, 128]);
  });

  it('fullface with fullfaceFlip false: the chip alone', async () => {
    const runner = recordingRunner(1, 128);
    const [e] = await embedFaces(
      [
        { image, face },
        { image, face },
      ],
      fullface,
      runner,
      { fullfaceCrop: 'dlib5', fullfaceFlip: false },
    );
    expect(runner.inputs[0].dims).toEqual([2, 3, side, side]);
    const per = 3 * side * side;
    expect(Array.from(e.features)).toEqual(Array.from({ length: 128 }, (_, k) => runner.inputs[0].data[k * 7]));
    expect(runner.inputs[0].data.subarray(per)).toEqual(runner.inputs[0].data.subarray(0, per));
  });

  it('patch models are never flipped', async () => {
    const rrf = findModel(manifest, 'rrf28');
    const runner = recordingRunner(16, 8);
    const out = await embedFaces(
      [
        { image, face },
        { image, face },
      ],
      rrf,
      runner,
    );
    expect(runner.inputs[0].dims).toEqual([2, 3, 112, 112]);
    expect(out.map((e) => [e.patches, e.dim])).toEqual([
      [16, 8],
      [16, 8],
    ]);
  });
});
