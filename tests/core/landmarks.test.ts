import { beforeAll, describe, expect, it } from 'vitest';
import { letterboxToTensor } from '../../src/core/image.ts';
import { faceApiAlignedBox, fivePointsFrom68, type LandmarkCrop, landmarkInput, landmarksToSource } from '../../src/core/landmarks.ts';
import type { BoxXYWH, RgbImage } from '../../src/core/types.ts';
import { type FaceApi, loadFaceApi, maxAbsDiff, nhwcToNchw, randomBytes, randomFloats } from './faceapiRef.ts';

const MEAN: [number, number, number] = [122.782, 117.001, 104.298];
const SCALE = 1 / 255;

function randomImage(width: number, height: number, seed: number): RgbImage {
  return { width, height, data: randomBytes(width * height * 3, seed) };
}

function crop(partial: Partial<LandmarkCrop> & { width: number; height: number }): LandmarkCrop {
  return { x: 0, y: 0, shiftX: 0, shiftY: 0, size: 112, ...partial };
}

describe('landmarkInput', () => {
  it('crops like face-api (clip, floor) and letterboxes the crop centred to 112', () => {
    const image = randomImage(64, 48, 1);
    const box: BoxXYWH = [10.7, 5.2, 20.6, 30.9];
    const { tensor, crop: c } = landmarkInput(image, box, { mean: MEAN, scale: SCALE });
    expect(c).toEqual({ x: 10, y: 5, width: 20, height: 30, shiftX: 10.7, shiftY: 5.2, size: 112 });
    const cropped: RgbImage = { width: 20, height: 30, data: new Uint8Array(20 * 30 * 3) };
    for (let r = 0; r < 30; r++) cropped.data.set(image.data.subarray(((5 + r) * 64 + 10) * 3, ((5 + r) * 64 + 30) * 3), r * 60);
    expect(tensor).toEqual(letterboxToTensor(cropped, 112, { center: true, mean: MEAN, scale: SCALE }).tensor);
  });

  it('throws for a box outside the image', () => {
    expect(() => landmarkInput(randomImage(8, 8, 2), [20, 20, 5, 5], { mean: 0, scale: 1 })).toThrow(RangeError);
  });
});

describe('landmarksToSource: hand-computed', () => {
  const centre = new Float32Array(136).fill(0.5);

  it.each([
    // crop, mode, expected (x, y) of an output at (0.5, 0.5)
    // even difference: both modes agree. 20x30: x = 0.5 * 30 - 5 + origin
    [crop({ x: 10, y: 5, width: 20, height: 30, shiftX: 10, shiftY: 5 }), 'faceapi', [20, 20]],
    [crop({ x: 10, y: 5, width: 20, height: 30, shiftX: 10, shiftY: 5 }), 'geometric', [20, 20]],
    // odd difference 9 (21x30): face-api assumes 4.5 px of padding, the input had 4
    [crop({ x: 10, y: 5, width: 21, height: 30, shiftX: 10, shiftY: 5 }), 'faceapi', [20.5, 20]],
    [crop({ x: 10, y: 5, width: 21, height: 30, shiftX: 10, shiftY: 5 }), 'geometric', [21, 20]],
    // face-api shifts by the raw box corner, geometric by the crop corner
    [crop({ x: 10, y: 5, width: 30, height: 30, shiftX: 10.7, shiftY: 5.2 }), 'faceapi', [25.7, 20.2]],
    [crop({ x: 10, y: 5, width: 30, height: 30, shiftX: 10.7, shiftY: 5.2 }), 'geometric', [25, 20]],
    // wide crop: padding in y
    [crop({ x: 0, y: 0, width: 40, height: 10, shiftX: 0, shiftY: 0 }), 'faceapi', [20, 5]],
    [crop({ x: 0, y: 0, width: 40, height: 10, shiftX: 0, shiftY: 0 }), 'geometric', [20, 5]],
  ] as [LandmarkCrop, 'faceapi' | 'geometric', [number, number]][])('%j %s', (c, mode, [ex, ey]) => {
    const out = landmarksToSource(centre, c, mode);
    for (let i = 0; i < 68; i++) {
      expect(out[2 * i]).toBeCloseTo(ex, 4);
      expect(out[2 * i + 1]).toBeCloseTo(ey, 4);
    }
  });

  it('geometric mode inverts landmarkInput: a source point maps to its tensor position and back', () => {
    const c = crop({ x: 100, y: 40, width: 37, height: 60, shiftX: 100.3, shiftY: 40.9 });
    const side = 60;
    const before = 23 - Math.round(23 / 2); // 11 columns of padding before the crop
    const src = [110.5, 70.25];
    const raw = new Float32Array(136);
    raw[0] = (src[0] - c.x + before) / side;
    raw[1] = (src[1] - c.y) / side;
    const out = landmarksToSource(raw, c, 'geometric');
    expect(out[0]).toBeCloseTo(src[0], 4);
    expect(out[1]).toBeCloseTo(src[1], 4);
  });

  it('rejects wrong lengths', () => {
    expect(() => landmarksToSource(new Float32Array(10), crop({ width: 1, height: 1 }))).toThrow(RangeError);
  });
});

/** 68 points with x = i, y = 2i. */
const RAMP = Float32Array.from({ length: 136 }, (_, k) => (k % 2 === 0 ? k / 2 : k - 1));

describe('fivePointsFrom68', () => {
  it('eye centres are means of 36..41 and 42..47; nose 30; mouth corners 48, 54', () => {
    expect(Array.from(fivePointsFrom68(RAMP))).toEqual([38.5, 77, 44.5, 89, 30, 60, 48, 96, 54, 108]);
  });
  it('rejects wrong lengths', () => {
    expect(() => fivePointsFrom68(new Float32Array(10))).toThrow(RangeError);
  });
});

describe('faceApiAlignedBox: hand-computed', () => {
  function pts(fn: (i: number) => [number, number]): Float32Array {
    const out = new Float32Array(136);
    for (let i = 0; i < 68; i++) [out[2 * i], out[2 * i + 1]] = fn(i);
    return out;
  }

  it('default: min bbox padded by 20 %', () => {
    // points spanning x 10..20, y 30..50
    const l = pts((i) => [10 + (i % 11), 30 + (i % 21)]);
    expect(faceApiAlignedBox(l)).toEqual([9, 28, 12, 24]);
    expect(faceApiAlignedBox(l, { minBoxPadding: 0 })).toEqual([10, 30, 10, 20]);
  });

  it("keeps face-api's quirk: the max starts at 0, so all-negative x gives right = 0", () => {
    const l = pts((i) => [-20 + (i % 11), 30 + (i % 21)]);
    const [x, , w] = faceApiAlignedBox(l, { minBoxPadding: 0 });
    expect(x).toBe(-20);
    expect(w).toBe(20);
  });

  it('dlib: square of side floor(eye-to-mouth / 0.45) at (0.5, 0.43) around the eye/mouth centroid', () => {
    const l = pts((i) => (i >= 36 && i < 42 ? [40, 50] : i >= 42 && i < 48 ? [60, 50] : i >= 48 ? [50, 77] : [0, 0]));
    // eye-to-mouth = sqrt(10^2 + 27^2) = 28.79..., / 0.45 = 63.98 -> 63; centroid (50, 59)
    expect(faceApiAlignedBox(l, { useDlibAlignment: true })).toEqual([18, 31, 63, 63]);
    // face-api caps the side by its landmark image dims + corner
    expect(faceApiAlignedBox(l, { useDlibAlignment: true, imageWidth: 10, imageHeight: 20 })).toEqual([18, 31, 28, 51]);
  });

  it('dlib: the corner is clamped at 0', () => {
    const l = pts((i) => (i >= 36 && i < 42 ? [0, 5] : i >= 42 && i < 48 ? [20, 5] : i >= 48 ? [10, 32] : [0, 0]));
    const [x, y] = faceApiAlignedBox(l, { useDlibAlignment: true });
    expect([x, y]).toEqual([0, 0]);
  });
});

describe('cross-check against face-api itself (tfjs CPU)', () => {
  let fa: FaceApi;
  beforeAll(async () => {
    fa = await loadFaceApi();
  });

  it.each([
    [64, 48, [10.7, 5.2, 20.6, 30.9]],
    [64, 48, [-4.2, 3.3, 30, 21]],
    [200, 150, [120.5, 80.25, 90, 90]],
    [120, 160, [0, 0, 120, 160]],
    [300, 200, [50.9, 20.1, 113, 111]],
  ] as [number, number, BoxXYWH][])(
    'landmarkInput on %i x %i, box %j equals extractFaceTensors + toBatchTensor(112, centred)',
    async (w, h, box) => {
      const image = randomImage(w, h, w + h);
      const { tf } = fa;
      const t = tf.tensor3d(Int32Array.from(image.data), [h, w, 3], 'int32');
      const [face] = await fa.extractFaceTensors(t, [new fa.Box({ x: box[0], y: box[1], width: box[2], height: box[3] })]);
      const ref = tf.tidy(() => {
        const batch = tf.cast(new fa.NetInput([face]).toBatchTensor(112, true), 'float32');
        return tf.div(tf.sub(batch, tf.tensor1d(MEAN)), 255).dataSync();
      }) as Float32Array;
      const ours = landmarkInput(image, box, { mean: MEAN, scale: SCALE });
      expect([ours.crop.width, ours.crop.height]).toEqual([face.shape[1], face.shape[0]]);
      expect(maxAbsDiff(ours.tensor, nhwcToNchw(ref, 112, 112))).toBeLessThan(1e-5);
      t.dispose();
      face.dispose();
    },
  );

  it.each([
    [20, 30, 10.7, 5.2],
    [21, 30, 10, 5],
    [33, 17, 0, 0],
    [150, 150, 99.9, 12.3],
    [91, 120, 400.25, 300.5],
  ])("landmarksToSource('faceapi') equals postProcess + FaceLandmarks68.shiftBy (crop %i x %i, shift %s, %s)", (cw, ch, sx, sy) => {
    const raw = randomFloats(136, cw * ch, -0.1, 1.1);
    const { tf } = fa;
    const net = new fa.FaceLandmark68Net();
    const rel = tf.tidy(() => net.postProcess(tf.tensor2d(raw, [1, 136]), 112, [{ width: cw, height: ch }]).dataSync()) as Float32Array;
    const points = Array.from({ length: 68 }, (_, i) => new fa.Point(rel[2 * i], rel[2 * i + 1]));
    const lm = new fa.FaceLandmarks68(points, { width: cw, height: ch }).shiftBy(sx, sy);
    const ref = lm.positions.flatMap((p: FaceApi) => [p.x, p.y]) as number[];
    const ours = landmarksToSource(raw, crop({ x: Math.floor(sx), y: Math.floor(sy), width: cw, height: ch, shiftX: sx, shiftY: sy }));
    // float32 output of values up to ~500: one ulp is 3e-5
    expect(maxAbsDiff(ours, ref)).toBeLessThan(1e-4);
  });

  it.each([1, 2, 3, 4, 5, 6])('faceApiAlignedBox equals FaceLandmarks68.align() (seed %i)', (seed) => {
    // a plausible face: random points in a 200 x 250 region somewhere in a 1024 x 1024 frame
    const r = randomFloats(138, seed, 0, 1);
    const ox = 50 + r[136] * 600;
    const oy = 50 + r[137] * 600;
    const l68 = new Float32Array(136);
    for (let i = 0; i < 68; i++) {
      l68[2 * i] = ox + r[2 * i] * 200;
      l68[2 * i + 1] = oy + r[2 * i + 1] * 250;
    }
    // dims 1024 (a power of two) make face-api's relative <-> absolute round trip exact
    const points = Array.from({ length: 68 }, (_, i) => new fa.Point(l68[2 * i] / 1024, l68[2 * i + 1] / 1024));
    const lm = new fa.FaceLandmarks68(points, { width: 1024, height: 1024 });
    const asArray = (b: FaceApi) => [b.x, b.y, b.width, b.height];
    expect(faceApiAlignedBox(l68)).toEqual(asArray(lm.align()));
    expect(faceApiAlignedBox(l68, { minBoxPadding: 0.35 })).toEqual(asArray(lm.align(null, { minBoxPadding: 0.35 })));
    expect(faceApiAlignedBox(l68, { useDlibAlignment: true, imageWidth: 1024, imageHeight: 1024 })).toEqual(
      asArray(lm.align(null, { useDlibAlignment: true })),
    );
    const small = new fa.FaceLandmarks68(
      points.map((p: FaceApi) => new fa.Point(p.x * 8, p.y * 8)),
      { width: 128, height: 128 },
    );
    expect(faceApiAlignedBox(l68, { useDlibAlignment: true, imageWidth: 128, imageHeight: 128 })).toEqual(
      asArray(small.align(null, { useDlibAlignment: true })),
    );
  });
});
