/**
 * The teacher's views that `prepare-training` keeps for function matching (train_rrf.py
 * --teacher-view): the region around the teacher's chip must hold the chip's own pixels, and its
 * map from the student's stored frame must agree with both alignments, or the teacher would score
 * another view than the student's.
 */
import { describe, expect, it } from 'vitest';
import { applyAffine, alignToTemplate, ARCFACE_TEMPLATE_112, dlibMeanShapeChipPoint, extractChip } from '../../src/core/align.ts';
import { fivePointsFrom68 } from '../../src/core/landmarks.ts';
import { findModel, inputSide } from '../../src/core/manifest.ts';
import { fullfaceChipTransform } from '../../src/core/pipeline.ts';
import type { DetectedFace, RgbImage } from '../../src/core/types.ts';
import { CHIP_MARGIN, MARGIN, STORED_SIZE, teacherRegion } from '../../src/cli/prepareTraining.ts';
import { readManifest } from '../../src/node/runtime.ts';
import { mulberry32 } from '../support/random.ts';

/** A face whose 68 landmarks are dlib's mean shape, scaled by 1.7, turned by 0.2 rad and moved into a 400x360 photo. */
function syntheticFace(): DetectedFace {
  const landmarks68 = new Float32Array(136);
  const [s, angle, tx, ty] = [1.7, 0.2, 90, 40];
  for (let i = 0; i < 68; i++) {
    // The jaw has no mean position and is not used by the chip: keep it near the chin.
    const [cx, cy] = dlibMeanShapeChipPoint(Math.max(i, 17));
    landmarks68[2 * i] = s * (Math.cos(angle) * cx - Math.sin(angle) * cy) + tx;
    landmarks68[2 * i + 1] = s * (Math.sin(angle) * cx + Math.cos(angle) * cy) + ty;
  }
  return { box: [60, 20, 300, 320], score: 0.99, landmarks68, landmarks5: fivePointsFrom68(landmarks68) };
}

function noiseImage(width: number, height: number): RgbImage {
  const rnd = mulberry32(3);
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(rnd() * 256);
  return { width, height, data };
}

describe('teacherRegion', async () => {
  const fullface = findModel(await readManifest(), 'fullface');
  const side = inputSide(fullface);
  const image = noiseImage(400, 360);
  const face = syntheticFace();
  const frame = alignToTemplate(
    image,
    face.landmarks5,
    ARCFACE_TEMPLATE_112.map((v) => v + MARGIN),
    STORED_SIZE,
  ).transform;

  it.each(['dlib68', 'dlib5'] as const)("holds the teacher's %s chip, byte for byte, as its centre crop", (crop) => {
    const { region } = teacherRegion(image, face, fullface, frame, { fullfaceCrop: crop });
    const size = side + 2 * CHIP_MARGIN;
    expect([region.width, region.height]).toEqual([size, size]);
    const chip = extractChip(image, fullfaceChipTransform(face, side, crop), side);
    const centre = new Uint8Array(side * side * 3);
    for (let y = 0; y < side; y++) {
      const from = ((y + CHIP_MARGIN) * size + CHIP_MARGIN) * 3;
      centre.set(region.data.subarray(from, from + side * 3), y * side * 3);
    }
    expect(Buffer.compare(Buffer.from(centre), Buffer.from(chip.data))).toBe(0);
  });

  it('maps a point of the stored face to where the same photo point lies in the region', () => {
    const { frameToRegion } = teacherRegion(image, face, fullface, frame);
    const photoToRegion = fullfaceChipTransform(face, side, 'dlib68');
    const rnd = mulberry32(5);
    for (let k = 0; k < 20; k++) {
      const [px, py] = [60 + rnd() * 280, 20 + rnd() * 300];
      const [fx, fy] = applyAffine(frame, px, py);
      const [rx, ry] = applyAffine(frameToRegion, fx, fy);
      const [cx, cy] = applyAffine(photoToRegion, px, py);
      expect(rx).toBeCloseTo(cx + CHIP_MARGIN, 6);
      expect(ry).toBeCloseTo(cy + CHIP_MARGIN, 6);
    }
  });

  it("refuses face-api's box crop, which is not a similarity of the photo", () => {
    expect(() => teacherRegion(image, face, fullface, frame, { fullfaceCrop: 'faceapi' })).toThrow(/similarity of the photo/);
  });
});
