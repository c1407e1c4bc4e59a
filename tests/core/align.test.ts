import { describe, expect, it } from 'vitest';
import {
  ARCFACE_TEMPLATE_112,
  DLIB_CHIP_LANDMARKS,
  alignFace112,
  alignToTemplate,
  applyAffine,
  composeAffine,
  dlibChip5Template,
  dlibChipTransform,
  dlibMeanShapeChipPoint,
  estimateSimilarity,
  extractChip,
  invertAffine,
  similarityScaleAngle,
  transformPoints,
  warpAffineRgb,
} from '../../src/core/align';
import type { Affine, RgbImage } from '../../src/core/types';
import { mulberry32 } from '../support/random';

/** Similarity with scale s, angle theta (radians), translation (tx, ty). */
function sim(s: number, theta: number, tx: number, ty: number): Affine {
  const c = s * Math.cos(theta),
    n = s * Math.sin(theta);
  return [c, -n, tx, n, c, ty];
}

function expectAffineClose(actual: Affine, expected: Affine, digits = 9): void {
  for (let k = 0; k < 6; k++) expect(actual[k]).toBeCloseTo(expected[k], digits);
}

function image(width: number, height: number, f: (x: number, y: number, ch: number) => number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) for (let ch = 0; ch < 3; ch++) data[(y * width + x) * 3 + ch] = f(x, y, ch);
  return { width, height, data };
}

const px = (img: RgbImage, x: number, y: number, ch = 0) => img.data[(y * img.width + x) * 3 + ch];

describe('affine helpers', () => {
  const cases: [string, Affine][] = [
    ['identity', [1, 0, 0, 0, 1, 0]],
    ['translation', [1, 0, 5, 0, 1, -3]],
    ['similarity', sim(1.7, 0.4, 12, -8)],
    ['general affine', [2, 0.5, 1, -0.25, 3, 4]],
  ];
  it.each(cases)('invertAffine(%s) composes to identity', (_, m) => {
    const inv = invertAffine(m);
    expectAffineClose(composeAffine(inv, m), [1, 0, 0, 0, 1, 0], 12);
    expectAffineClose(composeAffine(m, inv), [1, 0, 0, 0, 1, 0], 12);
    const [x, y] = applyAffine(m, 3.5, -2);
    const [bx, by] = applyAffine(inv, x, y);
    expect(bx).toBeCloseTo(3.5, 12);
    expect(by).toBeCloseTo(-2, 12);
  });

  it('applyAffine and transformPoints agree with the matrix convention', () => {
    const m: Affine = [1, 2, 3, 4, 5, 6];
    expect(applyAffine(m, 10, 100)).toEqual([213, 546]);
    expect(Array.from(transformPoints(m, [10, 100, 0, 0]))).toEqual([213, 546, 3, 6]);
  });

  it('composeAffine applies inner first', () => {
    const scale2: Affine = [2, 0, 0, 0, 2, 0];
    const shift: Affine = [1, 0, 1, 0, 1, 0];
    expect(applyAffine(composeAffine(scale2, shift), 1, 0)).toEqual([4, 0]);
    expect(applyAffine(composeAffine(shift, scale2), 1, 0)).toEqual([3, 0]);
  });

  it('invertAffine rejects singular matrices', () => {
    expect(() => invertAffine([1, 2, 0, 2, 4, 0])).toThrow(/singular/);
    expect(() => invertAffine([0, 0, 0, 0, 0, 0])).toThrow(/singular/);
  });
});

describe('estimateSimilarity', () => {
  const src = [10, 20, 40, 22, 25, 40, 14, 60, 38, 61];
  const cases: [string, Affine][] = [
    ['identity', sim(1, 0, 0, 0)],
    ['pure translation', sim(1, 0, 7.25, -3.5)],
    ['scale 2', sim(2, 0, 0, 0)],
    ['rotation 90 deg', sim(1, Math.PI / 2, 0, 0)],
    ['rotation+scale+translation', sim(0.37, -0.61, 123.4, -56.7)],
    ['upside down, big', sim(5.5, Math.PI, -300, 80)],
  ];
  it.each(cases)('recovers %s exactly from noiseless points', (_, T) => {
    const dst = transformPoints(T, src);
    expectAffineClose(estimateSimilarity(src, dst), T, 10);
  });

  it('maps the ArcFace template onto itself with the identity', () => {
    expectAffineClose(estimateSimilarity(ARCFACE_TEMPLATE_112, ARCFACE_TEMPLATE_112), [1, 0, 0, 0, 1, 0], 12);
  });

  it('is the least-squares optimum on noisy points (residual grows under any perturbation)', () => {
    const rnd = mulberry32(7);
    const T = sim(1.3, 0.2, 5, 9);
    const dst = Array.from(transformPoints(T, src), (v) => v + (rnd() - 0.5) * 4);
    const m = estimateSimilarity(src, dst);
    const residual = (p: number, q: number, tx: number, ty: number) => {
      let r = 0;
      for (let i = 0; i < 5; i++) {
        const x = src[2 * i],
          y = src[2 * i + 1];
        r += (p * x - q * y + tx - dst[2 * i]) ** 2 + (q * x + p * y + ty - dst[2 * i + 1]) ** 2;
      }
      return r;
    };
    const base = residual(m[0], m[3], m[2], m[5]);
    const eps = 1e-4;
    for (const [dp, dq, dx, dy] of [
      [eps, 0, 0, 0],
      [-eps, 0, 0, 0],
      [0, eps, 0, 0],
      [0, -eps, 0, 0],
      [0, 0, eps, 0],
      [0, 0, 0, -eps],
    ]) {
      expect(residual(m[0] + dp, m[3] + dq, m[2] + dx, m[5] + dy)).toBeGreaterThan(base);
    }
  });

  it('never returns a reflection (guard), even for mirrored targets', () => {
    const mirrored = Array.from(src, (v, i) => (i % 2 === 0 ? -v : v));
    const m = estimateSimilarity(src, mirrored);
    const det = m[0] * m[4] - m[1] * m[3];
    expect(det).toBeGreaterThanOrEqual(0);
    expect(m[0]).toBeCloseTo(m[4], 12);
    expect(m[1]).toBeCloseTo(-m[3], 12);
    // Symmetric cross: a perfectly mirrored symmetric set has no better proper fit than collapsing to the centroid.
    const cross = [-1, 0, 1, 0, 0, 1, 0, -1];
    const flip = [1, 0, -1, 0, 0, 1, 0, -1];
    expectAffineClose(estimateSimilarity(cross, flip), [0, 0, 0, 0, 0, 0], 12);
  });

  it('scale and angle are readable back', () => {
    const { scale, angle } = similarityScaleAngle(sim(2.5, 0.3, 1, 1));
    expect(scale).toBeCloseTo(2.5, 12);
    expect(angle).toBeCloseTo(0.3, 12);
  });

  it.each([
    ['length mismatch', [0, 0, 1, 1], [0, 0], /src has 4/],
    ['odd length', [0, 0, 1], [0, 0, 1], /odd/],
    ['one point', [0, 0], [1, 1], /at least 2/],
    ['degenerate', [3, 3, 3, 3], [0, 0, 1, 1], /degenerate/],
    ['NaN', [0, 0, NaN, 1], [0, 0, 1, 1], /degenerate|finite/],
  ] as const)('rejects %s', (_, s, d, msg) => {
    expect(() => estimateSimilarity(s, d)).toThrow(msg);
  });
});

describe('warpAffineRgb', () => {
  const grad = image(10, 6, (x, y, ch) => (ch === 0 ? 20 * x : ch === 1 ? 40 * y : 7));

  it('identity returns the same bytes', () => {
    const out = warpAffineRgb(grad, [1, 0, 0, 0, 1, 0], 10, 6);
    expect(out.width).toBe(10);
    expect(out.height).toBe(6);
    expect(Array.from(out.data)).toEqual(Array.from(grad.data));
  });

  it('integer translation shifts pixels and fills the border with 0', () => {
    const out = warpAffineRgb(grad, [1, 0, 1, 0, 1, 2], 10, 6);
    for (let y = 0; y < 6; y++)
      for (let x = 0; x < 10; x++) {
        const inside = x + 1 < 10 && y + 2 < 6;
        expect(px(out, x, y, 0)).toBe(inside ? 20 * (x + 1) : 0);
        expect(px(out, x, y, 2)).toBe(inside ? 7 : 0);
      }
  });

  // [source x sampled, expected red] on the row y = 0 of the x-gradient (red = 20 x).
  const samples: [number, number][] = [
    [0, 0],
    [0.5, 10],
    [2.25, 45],
    [8.75, 175],
    [9, 180],
    [-0.5, 0], // half the weight on the black border: 0.5 * 0 + 0.5 * 0
    [9.5, 90], // half of 180, half border
    [9.25, 135], // 0.75 * 180
    [-1, 0],
    [10, 0],
  ];
  it.each(samples)('samples x = %f as %i (pixel centres at integers)', (sx, expected) => {
    const out = warpAffineRgb(grad, [0, 0, sx, 0, 0, 0], 1, 1);
    expect(px(out, 0, 0, 0)).toBe(expected);
  });

  it('rounds half up and is bilinear in both directions', () => {
    const two = image(
      2,
      2,
      (x, y) =>
        [
          [0, 1],
          [2, 3],
        ][y][x],
    );
    const at = (sx: number, sy: number) => px(warpAffineRgb(two, [0, 0, sx, 0, 0, sy], 1, 1), 0, 0);
    expect(at(0.5, 0)).toBe(1); // 0.5 -> 1
    expect(at(0.25, 0)).toBe(0); // 0.25 -> 0
    expect(at(0.5, 0.5)).toBe(2); // 1.5 -> 2
    expect(at(0, 0.25)).toBe(1); // 0.5 -> 1
    expect(at(1, 1)).toBe(3);
  });

  it('upsampling by 2 interpolates a linear ramp exactly', () => {
    const out = warpAffineRgb(grad, [0.5, 0, 0, 0, 0.5, 0], 19, 11);
    for (let x = 0; x < 19; x++) expect(px(out, x, 0, 0)).toBe(10 * x);
    for (let y = 0; y < 11; y++) expect(px(out, 3, y, 1)).toBe(20 * y);
  });

  it('reproduces affine intensity functions under a rotation (to rounding)', () => {
    const f = [(x: number, y: number) => 2 * x + y + 3, (x: number, y: number) => 100 + x - y, (x: number, y: number) => y + 20];
    const src = image(80, 80, (x, y, ch) => f[ch](x, y));
    const M = sim(0.9, 0.5, 30, 5); // dst -> src
    const out = warpAffineRgb(src, M, 40, 40);
    let checked = 0;
    for (let y = 0; y < 40; y++)
      for (let x = 0; x < 40; x++) {
        const [sx, sy] = applyAffine(M, x, y);
        if (sx < 0 || sy < 0 || sx > 79 || sy > 79) continue;
        for (let ch = 0; ch < 3; ch++) expect(Math.abs(px(out, x, y, ch) - f[ch](sx, sy))).toBeLessThanOrEqual(0.5 + 1e-9);
        checked++;
      }
    expect(checked).toBeGreaterThan(1000);
  });

  it('gives fixed bytes for a fixed input (golden hash, the cross-engine reference)', () => {
    const src = image(64, 48, (x, y, ch) => (x * 7 + y * 13 + ch * 50 + ((x * y) % 17)) & 255);
    const out = warpAffineRgb(src, sim(0.83, -0.27, 9.3, 14.1), 50, 50);
    let h = 0x811c9dc5;
    for (const v of out.data) h = Math.imul(h ^ v, 0x01000193) >>> 0;
    expect(h).toBe(GOLDEN_WARP_HASH);
  });

  it.each([
    ['bad output size', () => warpAffineRgb(grad, [1, 0, 0, 0, 1, 0], 0, 5), /output size/],
    ['fractional size', () => warpAffineRgb(grad, [1, 0, 0, 0, 1, 0], 2.5, 5), /output size/],
    ['non-finite transform', () => warpAffineRgb(grad, [NaN, 0, 0, 0, 1, 0], 5, 5), /non-finite/],
    ['short data', () => warpAffineRgb({ width: 2, height: 2, data: new Uint8Array(11) }, [1, 0, 0, 0, 1, 0], 2, 2), /expected 12/],
  ] as const)('rejects %s', (_, fn, msg) => {
    expect(fn).toThrow(msg);
  });
});

// Computed once from this implementation; a change means the warp's bytes changed.
const GOLDEN_WARP_HASH = 405980623;

describe('alignFace112', () => {
  // Aligned -> source: the face is 2.3x larger in the photo, rotated and shifted.
  const alignedToSource = sim(2.3, 0.35, 140, 60);
  const f = (u: number, v: number) => [u + 40, v + 60, 0.5 * u + 0.5 * v + 10];
  // The photo's colour is an affine function of aligned coordinates, so the aligned face is predictable.
  const sourceToAligned = invertAffine(alignedToSource);
  const photo = image(400, 400, (x, y, ch) => {
    const [u, v] = applyAffine(sourceToAligned, x, y);
    return Math.max(0, Math.min(255, Math.round(f(u, v)[ch])));
  });
  const landmarks5 = Float32Array.from(transformPoints(alignedToSource, ARCFACE_TEMPLATE_112));

  it('recovers the source -> aligned transform', () => {
    const { transform } = alignFace112(photo, landmarks5);
    expectAffineClose(transform, sourceToAligned, 4); // landmarks were rounded to float32
    const mapped = transformPoints(transform, landmarks5);
    for (let k = 0; k < 10; k++) expect(mapped[k]).toBeCloseTo(ARCFACE_TEMPLATE_112[k], 3);
  });

  it('produces the expected 112x112 face', () => {
    const { face } = alignFace112(photo, landmarks5);
    expect(face.width).toBe(112);
    expect(face.height).toBe(112);
    let maxErr = 0;
    for (let v = 0; v < 112; v += 3)
      for (let u = 0; u < 112; u += 3) for (let ch = 0; ch < 3; ch++) maxErr = Math.max(maxErr, Math.abs(px(face, u, v, ch) - f(u, v)[ch]));
    // Source pixels were rounded (<= 0.5) and the result is rounded again (<= 0.5).
    expect(maxErr).toBeLessThanOrEqual(1.01);
  });

  it('rejects the wrong number of landmarks', () => {
    expect(() => alignFace112(photo, new Float32Array(8))).toThrow(/5 points/);
    expect(() => alignToTemplate(photo, landmarks5, [1, 2, 3], 112)).toThrow(/5 points/);
  });
});

describe('dlib face chips', () => {
  it('fits the 33 landmarks 27..54 and 60..64', () => {
    expect(DLIB_CHIP_LANDMARKS.length).toBe(33);
    expect(DLIB_CHIP_LANDMARKS[0]).toBe(27);
    expect(DLIB_CHIP_LANDMARKS).toContain(54);
    expect(DLIB_CHIP_LANDMARKS).not.toContain(55);
    expect(DLIB_CHIP_LANDMARKS).toContain(60);
    expect(DLIB_CHIP_LANDMARKS).toContain(64);
    expect(DLIB_CHIP_LANDMARKS).not.toContain(65);
  });

  // Hand-computed from dlib's constants: (0.25 + m) / 1.5 * 150 - 0.5 = 100 m + 24.5.
  const meanShapeTable: [number, number, number][] = [
    [17, 100 * 0.000213256 + 24.5, 100 * 0.106454 + 24.5],
    [30, 100 * 0.490127 + 24.5, 100 * 0.515625 + 24.5],
    [48, 100 * 0.254149 + 24.5, 100 * 0.780233 + 24.5],
    [54, 100 * 0.726104 + 24.5, 100 * 0.780233 + 24.5],
    [67, 100 * 0.42689 + 24.5, 100 * 0.824182 + 24.5],
  ];
  it.each(meanShapeTable)('mean shape point %i sits at (%f, %f) in a 150px chip', (i, x, y) => {
    const [cx, cy] = dlibMeanShapeChipPoint(i);
    expect(cx).toBeCloseTo(x, 10);
    expect(cy).toBeCloseTo(y, 10);
  });

  it('dlibChip5Template matches hand-computed eye, nose and mouth positions', () => {
    const leftEyeX = (0.121737 + 0.187122 + 0.265825 + 0.334606 + 0.260918 + 0.182743) / 6;
    const leftEyeY = (0.216423 + 0.178758 + 0.179852 + 0.231733 + 0.245099 + 0.244077) / 6;
    const rightEyeX = (0.645647 + 0.714428 + 0.793132 + 0.858516 + 0.79751 + 0.719335) / 6;
    const rightEyeY = (0.231733 + 0.179852 + 0.178758 + 0.216423 + 0.244077 + 0.245099) / 6;
    const expected = [leftEyeX, leftEyeY, rightEyeX, rightEyeY, 0.490127, 0.515625, 0.254149, 0.780233, 0.726104, 0.780233].map(
      (m) => 100 * m + 24.5,
    );
    const t = dlibChip5Template();
    expect(t.length).toBe(10);
    for (let k = 0; k < 10; k++) expect(t[k]).toBeCloseTo(expected[k], 10);
    // Other size/padding: (p + m) / (1 + 2p) * size - 0.5
    const t2 = dlibChip5Template(200, 0.2);
    expect(t2[4]).toBeCloseTo(((0.2 + 0.490127) / 1.4) * 200 - 0.5, 10);
  });

  /** A 68-point shape that is dlib's mean shape placed by chip->image similarity T (chip coordinates before the -0.5 shift). */
  function shapeFrom(T: Affine, size = 150, padding = 0.25, rnd = mulberry32(1)): Float32Array {
    const pts = new Float32Array(136);
    for (let i = 0; i < 68; i++) {
      let x: number, y: number;
      if (i >= 17) {
        const [cx, cy] = dlibMeanShapeChipPoint(i, size, padding);
        [x, y] = applyAffine(T, cx + 0.5, cy + 0.5);
      } else {
        // The jaw is never used: put garbage there.
        x = rnd() * 1000;
        y = rnd() * 1000;
      }
      pts[2 * i] = x;
      pts[2 * i + 1] = y;
    }
    return pts;
  }

  // [scale s = source px per chip px, angle, tx, ty]
  const placements: [number, number, number, number][] = [
    [1, 0, 0, 0],
    [1, 0.3, 50, -20],
    [0.6, -0.2, 80, 40],
    [2, 0.1, 100, 200],
    [3.7, Math.PI / 6, -40, 300],
  ];
  it.each(placements)("dlibChipTransform reproduces dlib's corner mapping (s=%f, angle=%f)", (s, angle, tx, ty) => {
    const T = sim(s, angle, tx, ty);
    const shape = shapeFrom(T);
    const m = dlibChipTransform(shape);
    // dlib: chip = K s (p - size/2) + (size-1)/2 with K = (size-1)/(size s - 1), p = unshifted mean point.
    const K = 149 / (150 * s - 1);
    for (const i of [27, 30, 36, 45, 48, 54, 62]) {
      const [cx, cy] = dlibMeanShapeChipPoint(i);
      const [x, y] = applyAffine(m, shape[2 * i], shape[2 * i + 1]);
      expect(x).toBeCloseTo(K * s * (cx + 0.5 - 75) + 74.5, 3);
      expect(y).toBeCloseTo(K * s * (cy + 0.5 - 75) + 74.5, 3);
    }
    // Rotation is undone.
    expect(similarityScaleAngle(m).angle).toBeCloseTo(-angle, 5);
  });

  it("at the chip's own scale the mean shape lands exactly on the 5-point template", () => {
    const shape = shapeFrom(sim(1, 0.25, 30, 70));
    const m = dlibChipTransform(shape);
    const t = dlibChip5Template();
    const mapped = (i: number) => applyAffine(m, shape[2 * i], shape[2 * i + 1]);
    const [nx, ny] = mapped(30);
    expect(nx).toBeCloseTo(t[4], 3);
    expect(ny).toBeCloseTo(t[5], 3);
  });

  it('ignores the jaw, the eyebrows and the lower lip', () => {
    const T = sim(1.4, 0.1, 20, 30);
    const a = shapeFrom(T, 150, 0.25, mulberry32(1));
    const b = Float32Array.from(a);
    for (const i of [0, 5, 16, 17, 21, 26, 55, 57, 59, 65, 66, 67]) {
      b[2 * i] += 37;
      b[2 * i + 1] -= 11;
    }
    expect(dlibChipTransform(b)).toEqual(dlibChipTransform(a));
    const c = Float32Array.from(a);
    c[2 * 33] += 5; // nose bottom is used
    expect(dlibChipTransform(c)).not.toEqual(dlibChipTransform(a));
  });

  it('5-point alignment to dlibChip5Template approximates the 68-point chip to well under a pixel', () => {
    for (const [s, angle, tx, ty] of placements) {
      const shape = shapeFrom(sim(s, angle, tx, ty));
      const mean = (idx: number[]) => {
        let x = 0,
          y = 0;
        for (const i of idx) {
          x += shape[2 * i];
          y += shape[2 * i + 1];
        }
        return [x / idx.length, y / idx.length];
      };
      const five = [...mean([36, 37, 38, 39, 40, 41]), ...mean([42, 43, 44, 45, 46, 47]), ...mean([30]), ...mean([48]), ...mean([54])];
      const m5 = estimateSimilarity(five, dlibChip5Template());
      const m68 = dlibChipTransform(shape);
      for (const [cx, cy] of [
        [0, 0],
        [149, 0],
        [0, 149],
        [149, 149],
        [75, 75],
      ]) {
        const src = applyAffine(invertAffine(m68), cx, cy);
        const [x, y] = applyAffine(m5, src[0], src[1]);
        expect(Math.hypot(x - cx, y - cy)).toBeLessThanOrEqual(0.75);
      }
    }
  });

  it.each([
    ['wrong landmark count', () => dlibChipTransform(new Float32Array(10)), /68 points/],
    ['bad size', () => dlibChipTransform(new Float32Array(136), 0), /size/],
    ['negative padding', () => dlibChip5Template(150, -0.1), /padding/],
    ['all landmarks on one point', () => dlibChipTransform(new Float32Array(136)), /too small/],
    ['tiny face', () => dlibChipTransform(shapeFrom(sim(0.001, 0, 0, 0))), /too small/],
    ['landmark without mean', () => dlibMeanShapeChipPoint(16), /17\.\.67/],
  ] as const)('rejects %s', (_, fn, msg) => {
    expect(fn).toThrow(msg);
  });

  it('extractChip with a translation is a crop', () => {
    const src = image(40, 30, (x, y, ch) => (x + 3 * y + ch) & 255);
    const chip = extractChip(src, [1, 0, -10, 0, 1, -5], 8);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) expect(px(chip, x, y, 1)).toBe(px(src, x + 10, y + 5, 1));
  });
});
