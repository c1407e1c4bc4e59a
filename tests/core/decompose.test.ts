import { describe, expect, it } from 'vitest';
import {
  cosine,
  meanCosineCoordinatePart,
  meanCosineDecomposition,
  meanFeature,
  patchToPatchMatrix,
  rankPatches,
  regionWeightedDecomposition,
  shares,
  spreadOverBoxes,
} from '../../src/core/decompose';
import type { BoxXYWH } from '../../src/core/types';
import { mulberry32 } from '../support/random';

function randomFeatures(P: number, D: number, seed: number, offset = 0): Float32Array {
  const rnd = mulberry32(seed);
  return Float32Array.from({ length: P * D }, () => rnd() * 2 - 1 + offset);
}

const sum = (v: ArrayLike<number>) => Array.from(v).reduce((s, x) => s + x, 0);

describe('cosine', () => {
  it.each([
    [[1, 0], [0, 1], 0],
    [[1, 2, 3], [2, 4, 6], 1],
    [[1, 0], [-3, 0], -1],
    [[1, 1], [1, 0], Math.SQRT1_2],
    [[0, 0], [1, 0], 0],
  ])('cos(%j, %j) = %f', (a, b, expected) => {
    expect(cosine(a, b)).toBeCloseTo(expected, 14);
  });
  it('rejects different lengths', () => {
    expect(() => cosine([1, 2], [1])).toThrow(/lengths differ/);
  });
});

describe('meanCosineDecomposition', () => {
  it('matches a hand-checked 2-patch example', () => {
    // a_1 = (1,0), a_2 = (0,1); b_1 = b_2 = (1,0). A = (.5,.5), B = (1,0), S = 1/sqrt(2).
    const a = [1, 0, 0, 1];
    const b = [1, 0, 1, 0];
    const r = meanCosineDecomposition(a, b, 2, 2);
    const h = 1 / (2 * Math.SQRT1_2); // 1 / (P |A| |B|)
    expect(r.score).toBeCloseTo(Math.SQRT1_2, 15);
    expect(Array.from(r.contributionsA)).toEqual([h, 0].map((v) => expect.closeTo(v, 15)));
    expect(Array.from(r.contributionsB)).toEqual([0.5 * h, 0.5 * h].map((v) => expect.closeTo(v, 15)));
    const M = patchToPatchMatrix(a, b, 2, 2);
    expect(Array.from(M)).toEqual([h / 2, h / 2, 0, 0].map((v) => expect.closeTo(v, 15)));
  });

  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [1, 7, 2],
    [4, 8, 3],
    [4, 512, 4],
    [16, 128, 5],
    [16, 512, 6],
    [49, 64, 7],
  ];
  it.each(shapes)('P=%i D=%i: contributions sum to the score (1e-12)', (P, D, seed) => {
    const a = randomFeatures(P, D, seed, 0.3);
    const b = randomFeatures(P, D, seed + 100, 0.3);
    const r = meanCosineDecomposition(a, b, P, D);
    // The score is the cosine of the mean descriptors, computed independently.
    expect(r.score).toBeCloseTo(cosine(meanFeature(a, P, D), meanFeature(b, P, D)), 13);
    expect(Math.abs(sum(r.contributionsA) - r.score)).toBeLessThan(1e-12);
    expect(Math.abs(sum(r.contributionsB) - r.score)).toBeLessThan(1e-12);
    expect(r.contributionsA.length).toBe(P);
    expect(r.contributionsB.length).toBe(P);
  });

  it.each(shapes)('P=%i D=%i: patch-to-patch rows sum to c_i, columns to d_j, all to S', (P, D, seed) => {
    const a = randomFeatures(P, D, seed + 1);
    const b = randomFeatures(P, D, seed + 2);
    const r = meanCosineDecomposition(a, b, P, D);
    const M = patchToPatchMatrix(a, b, P, D);
    expect(M.length).toBe(P * P);
    for (let i = 0; i < P; i++) {
      let row = 0,
        col = 0;
      for (let j = 0; j < P; j++) {
        row += M[i * P + j];
        col += M[j * P + i];
      }
      expect(Math.abs(row - r.contributionsA[i])).toBeLessThan(1e-12);
      expect(Math.abs(col - r.contributionsB[i])).toBeLessThan(1e-12);
    }
    expect(Math.abs(sum(M) - r.score)).toBeLessThan(1e-12);
  });

  it('is symmetric: swapping the faces swaps c and d', () => {
    const a = randomFeatures(16, 32, 11);
    const b = randomFeatures(16, 32, 12);
    const ab = meanCosineDecomposition(a, b, 16, 32);
    const ba = meanCosineDecomposition(b, a, 16, 32);
    expect(ba.score).toBeCloseTo(ab.score, 14);
    for (let i = 0; i < 16; i++) {
      expect(ba.contributionsA[i]).toBeCloseTo(ab.contributionsB[i], 14);
      expect(ba.contributionsB[i]).toBeCloseTo(ab.contributionsA[i], 14);
    }
  });

  it('is invariant to the scale of either face', () => {
    const a = randomFeatures(4, 16, 21);
    const b = randomFeatures(4, 16, 22);
    const r1 = meanCosineDecomposition(a, b, 4, 16);
    const r2 = meanCosineDecomposition(
      a.map((v) => v * 3),
      b.map((v) => v * 0.5),
      4,
      16,
    );
    expect(r2.score).toBeCloseTo(r1.score, 6);
    for (let i = 0; i < 4; i++) expect(r2.contributionsA[i]).toBeCloseTo(r1.contributionsA[i], 6);
  });

  it('computes in float64 whatever the input type', () => {
    const a = randomFeatures(4, 8, 31);
    const b = randomFeatures(4, 8, 32);
    const r32 = meanCosineDecomposition(a, b, 4, 8);
    const r64 = meanCosineDecomposition(Float64Array.from(a), Array.from(b), 4, 8);
    expect(r32.score).toBe(r64.score);
    expect(Array.from(r32.contributionsA)).toEqual(Array.from(r64.contributionsA));
  });

  it('a zero mean descriptor gives score 0 and zero contributions (still consistent)', () => {
    const a = [1, 2, -1, -2]; // mean is zero
    const b = [1, 0, 0, 1];
    const r = meanCosineDecomposition(a, b, 2, 2);
    expect(r.score).toBe(0);
    expect(Array.from(r.contributionsA)).toEqual([0, 0]);
    expect(Array.from(r.contributionsB)).toEqual([0, 0]);
    expect(Array.from(patchToPatchMatrix(a, b, 2, 2))).toEqual([0, 0, 0, 0]);
  });

  it.each([
    ['wrong length', () => meanCosineDecomposition([1, 2, 3], [1, 2, 3, 4], 2, 2), /expected 2x2/],
    ['bad P', () => meanCosineDecomposition([], [], 0, 2), /positive integers/],
    ['matrix wrong length', () => patchToPatchMatrix([1, 2], [1, 2, 3, 4], 2, 2), /expected 2x2/],
  ] as const)('rejects %s', (_, fn, msg) => {
    expect(fn).toThrow(msg);
  });
});

describe('meanCosineCoordinatePart', () => {
  /** P x D random features whose last coordinate is the constant c in every patch. */
  function withConstant(P: number, D: number, seed: number, c: number): Float64Array {
    const f = Float64Array.from(randomFeatures(P, D, seed, 0.3));
    for (let i = 0; i < P; i++) f[i * D + D - 1] = c;
    return f;
  }

  it('hand-checked: one patch each, features [3, 4] and [4, 3]', () => {
    // |A| = |B| = 5; coordinate 0 carries 3*4/25, coordinate 1 carries 4*3/25
    expect(meanCosineCoordinatePart([3, 4], [4, 3], 1, 2, 0)).toBeCloseTo(12 / 25, 15);
    expect(meanCosineCoordinatePart([3, 4], [4, 3], 1, 2, 1)).toBeCloseTo(12 / 25, 15);
  });

  it('the parts of all coordinates sum to the score', () => {
    const a = randomFeatures(9, 6, 41, 0.2);
    const b = randomFeatures(9, 6, 42, 0.2);
    const parts = Array.from({ length: 6 }, (_, k) => meanCosineCoordinatePart(a, b, 9, 6, k));
    expect(sum(parts)).toBeCloseTo(meanCosineDecomposition(a, b, 9, 6).score, 12);
  });

  it('a constant coordinate is c² / (|A| |B|), held as the same part / P by every patch of both faces', () => {
    const P = 16,
      D = 9,
      c = 0.7;
    const a = withConstant(P, D, 51, c);
    const b = withConstant(P, D, 52, c);
    const part = meanCosineCoordinatePart(a, b, P, D, D - 1);
    const nA = Math.hypot(...meanFeature(a, P, D));
    const nB = Math.hypot(...meanFeature(b, P, D));
    expect(part).toBeCloseTo((c * c) / (nA * nB), 12);
    // what is left of each patch's contribution once the constant is taken out is its pixels' part:
    // the same decomposition on the other coordinates, scaled by the full norms
    const r = meanCosineDecomposition(a, b, P, D);
    const B = meanFeature(b, P, D);
    const A = meanFeature(a, P, D);
    for (let i = 0; i < P; i++) {
      let pixelsA = 0,
        pixelsB = 0;
      for (let k = 0; k < D - 1; k++) {
        pixelsA += a[i * D + k] * B[k];
        pixelsB += A[k] * b[i * D + k];
      }
      expect(r.contributionsA[i] - pixelsA / (P * nA * nB)).toBeCloseTo(part / P, 12);
      expect(r.contributionsB[i] - pixelsB / (P * nA * nB)).toBeCloseTo(part / P, 12);
    }
  });

  it('is 0 when a mean descriptor is zero, and rejects a coordinate out of range', () => {
    expect(meanCosineCoordinatePart([1, 2, -1, -2], [1, 0, 0, 1], 2, 2, 0)).toBe(0);
    expect(() => meanCosineCoordinatePart([1, 2], [1, 2], 1, 2, 2)).toThrow(/coordinate 2/);
  });
});

describe('regionWeightedDecomposition', () => {
  it.each([
    // a, b, weights, expected contributions
    [
      [1, 0, 1, 1],
      [1, 0, 1, -1],
      [0.25, 0.75],
      [0.25, 0],
    ],
    [
      [1, 0, 1, 1],
      [2, 0, 2, 2],
      [0.5, 0.5],
      [0.5, 0.5],
    ],
    [
      [1, 0, 0, 1],
      [-1, 0, 0, 3],
      [0.9, 0.1],
      [-0.9, 0.1],
    ],
    [
      [0, 0, 0, 1],
      [1, 0, 0, 1],
      [0.5, 0.5],
      [0, 0.5],
    ], // zero-norm region contributes 0
  ])('a=%j b=%j w=%j -> %j', (a, b, w, expected) => {
    const r = regionWeightedDecomposition(a, b, 2, 2, w);
    for (let k = 0; k < 2; k++) expect(r.contributionsA[k]).toBeCloseTo(expected[k], 15);
    expect(Array.from(r.contributionsB)).toEqual(Array.from(r.contributionsA));
    expect(r.contributionsB).not.toBe(r.contributionsA);
    expect(r.score).toBeCloseTo(sum(expected), 15);
  });

  it('contributions sum to the score and equal w_r cos_r on random features', () => {
    const P = 16,
      D = 64;
    const a = randomFeatures(P, D, 41);
    const b = randomFeatures(P, D, 42);
    const rnd = mulberry32(43);
    const raw = Array.from({ length: P }, () => rnd());
    const w = raw.map((v) => v / sum(raw));
    const r = regionWeightedDecomposition(a, b, P, D, w);
    expect(Math.abs(sum(r.contributionsA) - r.score)).toBeLessThan(1e-12);
    for (let i = 0; i < P; i++) {
      expect(r.contributionsA[i]).toBeCloseTo(w[i] * cosine(a.subarray(i * D, (i + 1) * D), b.subarray(i * D, (i + 1) * D)), 14);
    }
  });

  it.each([
    ['negative weight', [-0.1, 1.1], /finite and >= 0/],
    ['NaN weight', [NaN, 1], /finite and >= 0/],
    ['wrong count', [1], /expected 2 weights/],
  ] as const)('rejects %s', (_, w, msg) => {
    expect(() => regionWeightedDecomposition([1, 0, 0, 1], [1, 0, 0, 1], 2, 2, w)).toThrow(msg);
  });
});

function grid(patch: number, stride: number, size = 112): BoxXYWH[] {
  const boxes: BoxXYWH[] = [];
  for (let y = 0; y + patch <= size; y += stride) for (let x = 0; x + patch <= size; x += stride) boxes.push([x, y, patch, patch]);
  return boxes;
}

describe('spreadOverBoxes', () => {
  it('hand-checked overlapping boxes on a 4x4 map', () => {
    const map = spreadOverBoxes(
      [4, 8],
      [
        [0, 0, 2, 2],
        [1, 1, 2, 2],
      ],
      4,
    );
    // Box 0 puts 1 per pixel on [0,1]^2, box 1 puts 2 per pixel on [1,2]^2.
    expect(Array.from(map)).toEqual([1, 1, 0, 0, 1, 3, 2, 0, 0, 2, 2, 0, 0, 0, 0, 0]);
  });

  it.each([
    ['4x4 grid of 28 px', grid(28, 28), 16],
    ['2x2 grid of 56 px', grid(56, 56), 4],
    ['overlapping 56 px, stride 28', grid(56, 28), 9],
    ['overlapping 28 px, stride 14', grid(28, 14), 49],
  ] as const)('%s: the map integrates to the score', (_, boxes, n) => {
    expect(boxes.length).toBe(n);
    const rnd = mulberry32(n);
    const c = Float64Array.from({ length: n }, () => rnd() - 0.4);
    const map = spreadOverBoxes(c, boxes);
    expect(map.length).toBe(112 * 112);
    expect(Math.abs(sum(map) - sum(c))).toBeLessThan(1e-12);
  });

  it('a non-overlapping grid puts c_i / area on every pixel of box i', () => {
    const boxes = grid(28, 28);
    const c = boxes.map((_, i) => i + 1);
    const map = spreadOverBoxes(c, boxes);
    expect(map[0]).toBe(1 / 784);
    expect(map[111 * 112 + 111]).toBe(16 / 784);
    expect(map[30 * 112 + 60]).toBe(7 / 784); // row 1, column 2 -> patch 6
  });

  it.each([
    ['count mismatch', [1, 2], [[0, 0, 2, 2]] as BoxXYWH[], /2 contributions but 1 boxes/],
    ['outside', [1], [[110, 0, 4, 4]] as BoxXYWH[], /inside 112x112/],
    ['negative origin', [1], [[-1, 0, 4, 4]] as BoxXYWH[], /inside/],
    ['fractional', [1], [[0.5, 0, 4, 4]] as BoxXYWH[], /integer box/],
    ['empty', [1], [[0, 0, 0, 4]] as BoxXYWH[], /integer box/],
  ] as const)('rejects %s', (_, c, boxes, msg) => {
    expect(() => spreadOverBoxes(c, boxes)).toThrow(msg);
  });
});

describe('rankPatches and shares', () => {
  it.each([
    [
      [0.1, 0.3, -0.2, 0.3],
      [1, 3, 0, 2],
    ],
    [[], []],
    [
      [-1, -2, -3],
      [0, 1, 2],
    ],
    [
      [0, 5, 0, 5, 1],
      [1, 3, 4, 0, 2],
    ],
  ])('rankPatches(%j) = %j', (c, expected) => {
    expect(rankPatches(c)).toEqual(expected);
  });

  it('shares are c_i / score and sum to 1', () => {
    const c = [0.2, -0.1, 0.4];
    const s = shares(c, 0.5);
    expect(Array.from(s)).toEqual([0.4, -0.2, 0.8].map((v) => expect.closeTo(v, 15)));
    expect(sum(s)).toBeCloseTo(1, 15);
  });

  it('shares are NaN when the score is 0', () => {
    expect(Array.from(shares([0.1, -0.1], 0)).every(Number.isNaN)).toBe(true);
  });
});
