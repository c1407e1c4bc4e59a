import { beforeAll, describe, expect, it } from 'vitest';
import {
  clipBoxFaceApi,
  cropRgb,
  letterboxToTensor,
  mirrorRgb,
  padImage,
  padToSquareOffsets,
  resizeBilinear,
  resizeBilinearRgb,
  rgbaToRgb,
  sourceToTensor,
  tensorToSource,
  toPlanarTensor,
} from '../../src/core/image.ts';
import type { BoxXYWH, RgbImage } from '../../src/core/types.ts';
import { type FaceApi, loadFaceApi, maxAbsDiff, nhwcToNchw, randomBytes } from './faceapiRef.ts';

function img(width: number, height: number, pixels: number[]): RgbImage {
  return { width, height, data: Uint8Array.from(pixels) };
}

function randomImage(width: number, height: number, seed: number): RgbImage {
  return { width, height, data: randomBytes(width * height * 3, seed) };
}

/** One channel plane of an NCHW tensor as rows of numbers. */
function plane(t: Float32Array, size: number, c: number): number[][] {
  return Array.from({ length: size }, (_, y) => Array.from(t.subarray(c * size * size + y * size, c * size * size + (y + 1) * size)));
}

describe('padToSquareOffsets (face-api padToSquare rounding)', () => {
  it.each([
    [10, 7, false, 0, 0],
    [7, 10, false, 0, 0],
    [10, 10, true, 0, 0],
    // diff 3: round(1.5) = 2 after, 1 before
    [10, 7, true, 0, 1],
    [7, 10, true, 1, 0],
    // diff 1: round(0.5) = 1 after, 0 before
    [10, 9, true, 0, 0],
    // diff 4: 2 + 2
    [10, 6, true, 0, 2],
    // diff 5: 3 after, 2 before
    [5, 10, true, 2, 0],
  ])('%i x %i center=%s -> before (%i, %i)', (w, h, center, ox, oy) => {
    expect(padToSquareOffsets(w, h, center)).toEqual({ offsetX: ox, offsetY: oy });
  });
});

describe('letterboxToTensor: hand-computed cases', () => {
  it('1x3 column, centred, size 3: identity resize with one zero column each side', () => {
    const image = img(1, 3, [10, 11, 12, 20, 21, 22, 30, 31, 32]);
    const r = letterboxToTensor(image, 3, { center: true, mean: 0, scale: 1 });
    expect(r.offsetX).toBe(1);
    expect(r.offsetY).toBe(0);
    expect(r.scaleToSource).toBe(1);
    expect(plane(r.tensor, 3, 0)).toEqual([
      [0, 10, 0],
      [0, 20, 0],
      [0, 30, 0],
    ]);
    expect(plane(r.tensor, 3, 2)).toEqual([
      [0, 12, 0],
      [0, 22, 0],
      [0, 32, 0],
    ]);
  });

  it('2x1 row, bottom padding, upsampled to 4 (tfjs: sample i * 2/4, ceil clamped to the edge)', () => {
    const image = img(2, 1, [10, 0, 0, 20, 0, 0]);
    const r = letterboxToTensor(image, 4, { center: false, mean: 0, scale: 1 });
    expect(r.scaleToSource).toBe(0.5);
    expect(plane(r.tensor, 4, 0)).toEqual([
      [10, 15, 20, 20],
      [5, 7.5, 10, 10],
      [0, 0, 0, 0],
      [0, 0, 0, 0],
    ]);
  });

  it('normalises after padding: padding becomes (0 - mean) * scale', () => {
    const image = img(2, 1, [255, 128, 0, 255, 128, 0]);
    const r = letterboxToTensor(image, 2, { center: false, mean: [127.5, 100, 10], scale: [1 / 127.5, 0.5, 2] });
    expect(plane(r.tensor, 2, 0)[0]).toEqual([1, 1]);
    expect(plane(r.tensor, 2, 0)[1]).toEqual([-1, -1]);
    expect(plane(r.tensor, 2, 1)).toEqual([
      [14, 14],
      [-50, -50],
    ]);
    expect(plane(r.tensor, 2, 2)).toEqual([
      [-20, -20],
      [-20, -20],
    ]);
  });

  it.each([
    // [w, h, size, center, scaleToSource, offsetX, offsetY]
    [640, 480, 512, false, 1.25, 0, 0],
    [480, 640, 512, true, 1.25, 80, 0],
    [5568, 3712, 512, false, 10.875, 0, 0],
    [3712, 5568, 416, true, 5568 / 416, 928, 0],
    [300, 101, 112, true, 300 / 112, 0, 99],
  ] as [number, number, number, boolean, number, number, number][])(
    'geometry %i x %i -> %i (center %s)',
    (w, h, size, center, scale, ox, oy) => {
      const r = letterboxToTensor({ width: w, height: h, data: new Uint8Array(w * h * 3) }, size, { center, mean: 0, scale: 1 });
      expect(r.scaleToSource).toBeCloseTo(scale, 12);
      expect(r.offsetX).toBe(ox);
      expect(r.offsetY).toBe(oy);
      expect(r.info).toEqual({ size, sourceWidth: w, sourceHeight: h, center, scaleToSource: r.scaleToSource, offsetX: ox, offsetY: oy });
    },
  );

  it('maps tensor coordinates back to source pixels and round-trips', () => {
    const r = letterboxToTensor(randomImage(30, 50, 1), 100, { center: true, mean: 0, scale: 1 });
    expect(r.info).toMatchObject({
      size: 100,
      sourceWidth: 30,
      sourceHeight: 50,
      center: true,
      scaleToSource: 0.5,
      offsetX: 10,
      offsetY: 0,
    });
    // Tensor (0, 0) is the padded corner, 10 px left of the image; tensor (20, 0) is the image's (0, 0).
    expect(tensorToSource(r.info, 0, 0)).toEqual([-10, 0]);
    expect(tensorToSource(r.info, 20, 0)).toEqual([0, 0]);
    expect(tensorToSource(r.info, 100, 100)).toEqual([40, 50]);
    const [tx, ty] = sourceToTensor(r.info, 12.25, 33.5);
    expect(tensorToSource(r.info, tx, ty)).toEqual([12.25, 33.5]);
  });

  it('a sample at tensor pixel (i, j) reads source pixel tensorToSource(i, j) when that is an integer', () => {
    const image = randomImage(9, 5, 7);
    const r = letterboxToTensor(image, 18, { center: true, mean: 0, scale: 1 });
    // scale 0.5: even tensor pixels land exactly on source pixels (offsetY = 9-5 -> before 2)
    for (let ty = 0; ty < 18; ty += 2) {
      for (let tx = 0; tx < 18; tx += 2) {
        const [sx, sy] = tensorToSource(r.info, tx, ty);
        const inside = sx >= 0 && sx < 9 && sy >= 0 && sy < 5;
        const expected = inside ? image.data[(sy * 9 + sx) * 3 + 1] : 0;
        expect(r.tensor[18 * 18 + ty * 18 + tx]).toBe(expected);
      }
    }
  });

  it('handles extreme aspect ratios without a square buffer (20000 x 2 -> 64)', () => {
    const image = randomImage(20000, 2, 3);
    const t0 = Date.now();
    const r = letterboxToTensor(image, 64, { center: false, mean: 0, scale: 1 });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(r.tensor.length).toBe(3 * 64 * 64);
    // row 0 samples source row 0; every other row is padding
    expect(plane(r.tensor, 64, 0)[1].every((v) => v === 0)).toBe(true);
    expect(r.tensor[0]).toBe(image.data[0]);
  });

  it('rejects empty images and bad sizes', () => {
    expect(() => letterboxToTensor(img(0, 0, []), 8, { center: false, mean: 0, scale: 1 })).toThrow(RangeError);
    expect(() => letterboxToTensor(img(1, 1, [1, 2, 3]), 0, { center: false, mean: 0, scale: 1 })).toThrow(RangeError);
  });
});

describe('letterboxToTensor matches face-api toBatchTensor + tfjs resizeBilinear (CPU)', () => {
  let fa: FaceApi;
  beforeAll(async () => {
    fa = await loadFaceApi();
  });

  const cases: [number, number, number, boolean][] = [
    [7, 5, 4, false],
    [5, 7, 4, true],
    [13, 13, 16, false],
    [37, 20, 112, true],
    [20, 37, 112, false],
    [3, 50, 16, true],
    [50, 3, 16, true],
    [64, 48, 512, false],
    [33, 61, 150, true],
    [112, 90, 112, true],
    [300, 171, 416, false],
  ];
  it.each(cases)('%i x %i -> %i, center=%s', (w, h, size, center) => {
    const image = randomImage(w, h, w * 1000 + h);
    const mean: [number, number, number] = [122.782, 117.001, 104.298];
    const scale = 1 / 255;
    const ours = letterboxToTensor(image, size, { center, mean, scale });
    const { tf } = fa;
    const ref = tf.tidy(() => {
      const t = tf.tensor3d(Int32Array.from(image.data), [h, w, 3], 'int32');
      const batch = new fa.NetInput([t]).toBatchTensor(size, center);
      return tf.mul(tf.sub(batch, tf.tensor1d(mean)), scale).dataSync() as Float32Array;
    });
    const diff = maxAbsDiff(ours.tensor, nhwcToNchw(ref, size, size));
    expect(diff).toBeLessThan(1e-5);
  });

  it('SSD normalisation (x / 127.5 - 1) agrees with mean 127.5, scale 1/127.5', () => {
    const image = randomImage(41, 29, 5);
    const ours = letterboxToTensor(image, 512, { center: false, mean: 127.5, scale: 1 / 127.5 });
    const { tf } = fa;
    const ref = tf.tidy(() => {
      const t = tf.tensor3d(Int32Array.from(image.data), [29, 41, 3], 'int32');
      const batch = tf.cast(new fa.NetInput([t]).toBatchTensor(512, false), 'float32');
      return tf.sub(tf.div(batch, 127.5), 1).dataSync() as Float32Array;
    });
    expect(maxAbsDiff(ours.tensor, nhwcToNchw(ref, 512, 512))).toBeLessThan(1e-5);
  });

  it.each([
    [5, 4, 9, 7, false, false],
    [5, 4, 3, 2, false, false],
    [5, 4, 9, 7, true, false],
    [5, 4, 9, 7, false, true],
    [6, 6, 1, 1, true, false],
  ] as [number, number, number, number, boolean, boolean][])(
    'resizeBilinear %i x %i -> %i x %i (alignCorners %s, halfPixelCenters %s)',
    (w, h, nw, nh, alignCorners, halfPixelCenters) => {
      const image = randomImage(w, h, 11);
      const ours = resizeBilinear(image.data, w, h, 3, nw, nh, { alignCorners, halfPixelCenters });
      const { tf } = fa;
      const ref = tf.tidy(() =>
        tf.image
          .resizeBilinear(tf.tensor4d(Float32Array.from(image.data), [1, h, w, 3]), [nh, nw], alignCorners, halfPixelCenters)
          .dataSync(),
      ) as Float32Array;
      expect(maxAbsDiff(ours, ref)).toBeLessThan(1e-4);
    },
  );

  it.each([[[10.7, 5.2, 20.6, 30.9]], [[-3.5, -2.25, 20, 20]], [[50, 40, 100, 100]], [[0, 0, 64, 48]], [[62.2, 46.9, 5, 5]]] as [
    BoxXYWH,
  ][])('cropRgb(%j) equals face-api extractFaceTensors with a Rect', async (box) => {
    const image = randomImage(64, 48, 9);
    const { tf } = fa;
    const t = tf.tensor3d(Int32Array.from(image.data), [48, 64, 3], 'int32');
    const [face] = await fa.extractFaceTensors(t, [new fa.Box({ x: box[0], y: box[1], width: box[2], height: box[3] })]);
    const ours = cropRgb(image, box);
    expect([ours.width, ours.height]).toEqual([face.shape[1], face.shape[0]]);
    expect(Array.from(ours.data)).toEqual(Array.from(face.dataSync()));
    t.dispose();
    face.dispose();
  });
});

describe('clipBoxFaceApi / cropRgb', () => {
  it.each([
    // box, image WxH, expected
    [[10.7, 5.2, 20.6, 30.9], 64, 48, [10, 5, 20, 30]],
    [[-3.5, -2.25, 20, 20], 64, 48, [0, 0, 16, 17]],
    [[50, 40, 100, 100], 64, 48, [50, 40, 14, 8]],
    [[0, 0, 64, 48], 64, 48, [0, 0, 64, 48]],
    [[70, 10, 5, 5], 64, 48, [70, 10, -6, 5]],
    [[-10, -10, 5, 5], 64, 48, [0, 0, -5, -5]],
  ] as [BoxXYWH, number, number, BoxXYWH][])('%j in %i x %i -> %j', (box, w, h, expected) => {
    expect(clipBoxFaceApi(box, w, h)).toEqual(expected);
  });

  it('crops the right pixels and reports the box it used', () => {
    const image = img(3, 2, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]);
    // face-api floors x and width separately: 0.9..3.0 becomes columns 0..1
    const c = cropRgb(image, [0.9, 0.5, 2.5, 2]);
    expect(c.box).toEqual([0, 0, 2, 1]);
    expect(Array.from(c.data)).toEqual([1, 2, 3, 4, 5, 6]);
    const d = cropRgb(image, [1, 1, 2, 1]);
    expect(d.box).toEqual([1, 1, 2, 1]);
    expect(Array.from(d.data)).toEqual([13, 14, 15, 16, 17, 18]);
  });

  it('throws when nothing of the box is inside the image', () => {
    expect(() => cropRgb(img(2, 2, new Array(12).fill(0)), [5, 5, 2, 2])).toThrow(RangeError);
    expect(() => cropRgb(img(2, 2, new Array(12).fill(0)), [-5, 0, 2, 2])).toThrow(RangeError);
  });
});

describe('toPlanarTensor / rgbaToRgb / padImage / resizeBilinearRgb', () => {
  it('toPlanarTensor splits channels and normalises', () => {
    const t = toPlanarTensor(img(2, 1, [0, 10, 20, 255, 30, 40]), [0, 10, 20], [1, 2, 0.5]);
    expect(Array.from(t)).toEqual([0, 255, 0, 40, 0, 10]);
  });

  it('mirrorRgb reverses each row and keeps pixels whole; twice is the identity', () => {
    const src = img(3, 2, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]);
    const m = mirrorRgb(src);
    expect(Array.from(m.data)).toEqual([7, 8, 9, 4, 5, 6, 1, 2, 3, 16, 17, 18, 13, 14, 15, 10, 11, 12]);
    expect(mirrorRgb(m)).toEqual(src);
  });

  it('rgbaToRgb drops alpha by default', () => {
    const r = rgbaToRgb(Uint8ClampedArray.from([1, 2, 3, 0, 4, 5, 6, 255]), 2, 1);
    expect(r).toEqual({ width: 2, height: 1, data: Uint8Array.from([1, 2, 3, 4, 5, 6]) });
  });

  it('rgbaToRgb composites over a background when asked', () => {
    const r = rgbaToRgb(Uint8Array.from([0, 0, 0, 0, 100, 100, 100, 255, 0, 0, 0, 51]), 3, 1, [255, 255, 255]);
    expect(Array.from(r.data)).toEqual([255, 255, 255, 100, 100, 100, 204, 204, 204]);
  });

  it('rgbaToRgb gives the same pixels from an aligned buffer (word reads) and an unaligned one', () => {
    const bytes = Uint8Array.from({ length: 4 * 6 + 1 }, (_, i) => (i * 37 + 11) & 255);
    const aligned = rgbaToRgb(bytes.subarray(0, 24), 3, 2);
    const unaligned = rgbaToRgb(bytes.subarray(1), 3, 2);
    expect(Array.from(aligned.data)).toEqual([0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 16, 17, 18, 20, 21, 22].map((i) => bytes[i]));
    expect(Array.from(unaligned.data)).toEqual([0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 16, 17, 18, 20, 21, 22].map((i) => bytes[i + 1]));
  });

  it('rgbaToRgb rejects a short buffer', () => {
    expect(() => rgbaToRgb(new Uint8Array(7), 2, 1)).toThrow(RangeError);
  });

  it('padImage adds a zero border on all sides', () => {
    const p = padImage(img(2, 1, [1, 2, 3, 4, 5, 6]), 1, 2);
    expect([p.width, p.height]).toEqual([4, 5]);
    const px = (x: number, y: number) => Array.from(p.data.subarray((y * 4 + x) * 3, (y * 4 + x) * 3 + 3));
    expect(px(1, 2)).toEqual([1, 2, 3]);
    expect(px(2, 2)).toEqual([4, 5, 6]);
    let sum = 0;
    for (const v of p.data) sum += v;
    expect(sum).toBe(21);
    expect(padImage(img(1, 1, [9, 9, 9]), 0, 0).data).toEqual(Uint8Array.from([9, 9, 9]));
    expect(() => padImage(img(1, 1, [9, 9, 9]), -1, 0)).toThrow(RangeError);
    expect(() => padImage(img(1, 1, [9, 9, 9]), 0.5, 0)).toThrow(RangeError);
  });

  it('resizeBilinearRgb rounds and clamps to bytes', () => {
    const r = resizeBilinearRgb(img(2, 1, [0, 0, 0, 255, 255, 255]), 4, 1);
    expect(Array.from(r.data.filter((_, i) => i % 3 === 0))).toEqual([0, 128, 255, 255]);
  });
});
