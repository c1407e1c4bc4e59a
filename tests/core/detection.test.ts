import { beforeAll, describe, expect, it } from 'vitest';
import {
  decodeSsdBoxes,
  decodeTinyYolo,
  iou,
  nonMaxSuppression,
  sigmoid,
  ssdDetections,
  TINY_FACE_ANCHORS,
} from '../../src/core/detection.ts';
import type { LetterboxInfo } from '../../src/core/image.ts';
import { letterboxToTensor } from '../../src/core/image.ts';
import type { BoxXYWH, Detection } from '../../src/core/types.ts';
import { type FaceApi, loadFaceApi, randomFloats } from './faceapiRef.ts';

function letterbox(w: number, h: number, size: number, center = false): LetterboxInfo {
  return letterboxToTensor({ width: w, height: h, data: new Uint8Array(w * h * 3) }, size, { center, mean: 0, scale: 1 }).info;
}

describe('iou', () => {
  it.each([
    ['identical', [0, 0, 10, 10], [0, 0, 10, 10], 1],
    ['disjoint', [0, 0, 10, 10], [20, 20, 5, 5], 0],
    ['touching edges', [0, 0, 10, 10], [10, 0, 10, 10], 0],
    ['half shifted', [0, 0, 10, 10], [5, 0, 10, 10], 50 / 150],
    ['contained', [0, 0, 10, 10], [0, 0, 5, 5], 0.25],
    ['cross', [0, 4, 10, 2], [4, 0, 2, 10], 4 / 36],
    ['zero area', [0, 0, 0, 0], [0, 0, 0, 0], 0],
  ] as [string, BoxXYWH, BoxXYWH, number][])('%s', (_n, a, b, expected) => {
    expect(iou(a, b)).toBeCloseTo(expected, 12);
    expect(iou(b, a)).toBeCloseTo(expected, 12);
  });
});

describe('decodeSsdBoxes', () => {
  it('zero encodings give back the anchors', () => {
    const anchors = Float32Array.from([0.1, 0.2, 0.3, 0.5, 0, 0, 1, 1]);
    const out = decodeSsdBoxes(new Float32Array(8), anchors);
    anchors.forEach((v, i) => expect(out[i]).toBeCloseTo(v, 7));
  });

  it('hand-computed: centre offsets / 10, log sizes / 5', () => {
    // anchor: h 0.4, w 0.2, centre (0.4, 0.4); ty = 1 -> +0.04; tx = -2 -> -0.04; th = 5 ln 2 -> h x2; tw = 0
    const out = decodeSsdBoxes(Float32Array.from([1, -2, 5 * Math.LN2, 0]), Float32Array.from([0.2, 0.3, 0.6, 0.5]));
    const expected = [0.04, 0.26, 0.84, 0.46];
    expected.forEach((v, i) => expect(out[i]).toBeCloseTo(v, 6));
  });

  it('rejects mismatched lengths', () => {
    expect(() => decodeSsdBoxes(new Float32Array(8), new Float32Array(4))).toThrow(RangeError);
    expect(() => decodeSsdBoxes(new Float32Array(6), new Float32Array(6))).toThrow(RangeError);
  });
});

describe('nonMaxSuppression (face-api SSD semantics)', () => {
  // [ymin, xmin, ymax, xmax]
  const A = [0, 0, 1, 1];
  const A_SHIFT = [0, 0.1, 1, 1.1]; // IoU with A = 0.9 / 1.1
  const B = [2, 2, 3, 3]; // disjoint from A
  const C_HALF = [0, 0.5, 1, 1.5]; // IoU with A = 1/3
  const D = [0, 1 / 3, 1, 4 / 3]; // IoU with A exactly 0.5 (in doubles: 2/3 / 4/3)
  const A_FLIPPED = [1, 1.1, 0, 0.1]; // same box as A_SHIFT, corners swapped

  it.each([
    ['keeps disjoint boxes, by score', [A, B], [0.6, 0.9], {}, [1, 0]],
    ['suppresses a heavy overlap', [A, A_SHIFT, B], [0.9, 0.8, 0.7], {}, [0, 2]],
    ['keeps a light overlap', [A, C_HALF], [0.9, 0.8], {}, [0, 1]],
    ['IoU exactly at the threshold is kept (suppression needs IoU > threshold)', [A, D], [0.9, 0.8], {}, [0, 1]],
    ['lower threshold suppresses the light overlap', [A, C_HALF], [0.9, 0.8], { iouThreshold: 0.3 }, [0]],
    ['corner order does not matter', [A, A_FLIPPED], [0.8, 0.9], {}, [1]],
    ['minScore is strict', [A, B], [0.5, 0.50001], {}, [1]],
    ['maxResults caps the output', [A, B, [5, 5, 6, 6]], [0.7, 0.8, 0.9], { maxResults: 2 }, [2, 1]],
    ['ties keep index order', [B, A], [0.8, 0.8], {}, [0, 1]],
    [
      'zero-area boxes never suppress',
      [
        [0, 0, 0, 0],
        [0, 0, 0, 0],
      ],
      [0.9, 0.8],
      {},
      [0, 1],
    ],
    ['suppressed boxes do not suppress others', [A, A_SHIFT, [0, 0.2, 1, 1.2]], [0.9, 0.8, 0.7], { iouThreshold: 0.75 }, [0, 2]],
    ['nothing above minScore', [A], [0.2], {}, []],
  ] as [string, number[][], number[], Partial<{ maxResults: number; iouThreshold: number; minScore: number }>, number[]][])(
    '%s',
    (_n, boxes, scores, opts, expected) => {
      const r = nonMaxSuppression(Float32Array.from(boxes.flat()), Float32Array.from(scores), {
        maxResults: 100,
        iouThreshold: 0.5,
        minScore: 0.5,
        ...opts,
      });
      expect(r).toEqual(expected);
    },
  );
});

describe('ssdDetections: mapping to source pixels', () => {
  it('200 x 100 photo, 512 input: boxes scale by padX = 1, padY = 2', () => {
    const boxes = Float32Array.from([0.1, 0.2, 0.3, 0.6]);
    const d = ssdDetections(boxes, Float32Array.from([0.9]), letterbox(200, 100, 512));
    expect(d).toHaveLength(1);
    expect(d[0].score).toBeCloseTo(0.9, 6);
    [40, 20, 80, 40].forEach((v, i) => expect(d[0].box[i]).toBeCloseTo(v, 4));
  });

  it('clamps to the square (max 0, min 1) before scaling, like face-api', () => {
    const boxes = Float32Array.from([-0.1, -0.05, 0.2, 1.2]);
    const d = ssdDetections(boxes, Float32Array.from([0.9]), letterbox(200, 100, 512));
    [0, 0, 200, 40].forEach((v, i) => expect(d[0].box[i]).toBeCloseTo(v, 4));
  });

  it("keeps face-api's rounding of the reshaped side (300 x 101: padY = 512 / 172)", () => {
    const d = ssdDetections(Float32Array.from([0.25, 0, 0.5, 1]), Float32Array.from([0.9]), letterbox(300, 101, 512));
    const padY = 512 / Math.round((101 * 512) / 300);
    expect(d[0].box[1]).toBeCloseTo(0.25 * padY * 101, 9);
    expect(d[0].box[3]).toBeCloseTo(0.25 * padY * 101, 9);
    // ...which differs from the geometric 0.25 * 300 = 75 by a fraction of a pixel
    expect(Math.abs(d[0].box[1] - 75)).toBeLessThan(0.5);
  });

  it('centred letterbox uses the geometric mapping', () => {
    const info = letterbox(100, 200, 64, true); // 50 px of padding before the image in x
    const d = ssdDetections(Float32Array.from([0, 0.25, 0.5, 0.75]), Float32Array.from([0.9]), info);
    [0, 0, 100, 100].forEach((v, i) => expect(d[0].box[i]).toBeCloseTo(v, 9));
  });

  it('drops boxes that are empty after clamping, sorts by area, honours minScore', () => {
    const boxes = Float32Array.from(
      [
        [0.1, 0.1, 0.2, 0.2], // small, score .95
        [0.5, 0.5, 0.9, 0.9], // large, score .7
        [1.2, 0.1, 1.5, 0.2], // entirely below the square: empty after clamping
        [0.3, 0.3, 0.4, 0.45], // medium, score .6 (dropped by minScore .65)
      ].flat(),
    );
    const scores = Float32Array.from([0.95, 0.7, 0.99, 0.6]);
    const d = ssdDetections(boxes, scores, letterbox(512, 512, 512), { minScore: 0.65 });
    expect(d.map((x) => x.score.toFixed(2))).toEqual(['0.70', '0.95']);
    expect(ssdDetections(boxes, scores, letterbox(512, 512, 512), { minScore: 0.5 }).map((x) => x.score.toFixed(2))).toEqual([
      '0.70',
      '0.60',
      '0.95',
    ]);
  });
});

describe('decodeTinyYolo: hand-computed', () => {
  const A = TINY_FACE_ANCHORS.length;

  /** NCHW grid [1, A*E, gh, gw] filled with a very negative objectness everywhere. */
  function emptyGrid(gh: number, gw: number, E = 5): Float32Array {
    const g = new Float32Array(A * E * gh * gw);
    for (let a = 0; a < A; a++) for (let i = 0; i < gh * gw; i++) g[(a * E + 4) * gh * gw + i] = -20;
    return g;
  }
  function set(g: Float32Array, gh: number, gw: number, row: number, col: number, a: number, v: number[], E = 5) {
    v.forEach((x, k) => (g[((a * E + k) * gh + row) * gw + col] = x));
  }

  it('one confident cell -> one box in source pixels', () => {
    const g = emptyGrid(2, 2);
    set(g, 2, 2, 1, 0, 2, [0, 0, 0, 0, 2]);
    const d = decodeTinyYolo(g, [1, 25, 2, 2], TINY_FACE_ANCHORS, { letterbox: letterbox(64, 64, 64) });
    expect(d).toHaveLength(1);
    expect(d[0].score).toBeCloseTo(sigmoid(2), 12);
    const [aw, ah] = TINY_FACE_ANCHORS[2];
    const cx = 0.5 / 2;
    const cy = 1.5 / 2;
    const w = aw / 2;
    const h = ah / 2;
    const expected = [(cx - w / 2) * 64, (cy - h / 2) * 64, w * 64, h * 64];
    expected.forEach((v, i) => expect(d[0].box[i]).toBeCloseTo(v, 9));
  });

  it('nhwc and nchw layouts, and 6 values per anchor (one class), give the same result', () => {
    const gh = 3;
    const gw = 3;
    const nchw = randomFloats(25 * gh * gw, 42, -3, 3);
    const nhwc = new Float32Array(nchw.length);
    const nchw6 = new Float32Array(30 * gh * gw);
    for (let a = 0; a < A; a++)
      for (let k = 0; k < 5; k++)
        for (let r = 0; r < gh; r++)
          for (let c = 0; c < gw; c++) {
            const v = nchw[((a * 5 + k) * gh + r) * gw + c];
            nhwc[((r * gw + c) * A + a) * 5 + k] = v;
            nchw6[((a * 6 + k) * gh + r) * gw + c] = v;
          }
    const lb = letterbox(100, 60, 96);
    const ref = decodeTinyYolo(nchw, [1, 25, gh, gw], TINY_FACE_ANCHORS, { letterbox: lb });
    expect(ref.length).toBeGreaterThan(0);
    expect(decodeTinyYolo(nhwc, [1, gh, gw, 25], TINY_FACE_ANCHORS, { letterbox: lb, layout: 'nhwc' })).toEqual(ref);
    expect(decodeTinyYolo(nchw6, [1, 30, gh, gw], TINY_FACE_ANCHORS, { letterbox: lb })).toEqual(ref);
  });

  it('suppresses overlapping boxes (IoU > 0.4) keeping the higher score; minScore is strict', () => {
    const g = emptyGrid(4, 4);
    set(g, 4, 4, 1, 1, 1, [0, 0, 0, 0, 3]);
    set(g, 4, 4, 1, 1, 3, [0, 0, 0.2, 0.2, 1]); // same centre, similar size: suppressed
    set(g, 4, 4, 3, 3, 0, [0, 0, 0, 0, 0]); // score exactly 0.5: not > 0.5
    const lb = letterbox(128, 128, 128);
    const d = decodeTinyYolo(g, [1, 25, 4, 4], TINY_FACE_ANCHORS, { letterbox: lb });
    expect(d.map((x) => x.score)).toEqual([sigmoid(3)]);
    const loose = decodeTinyYolo(g, [1, 25, 4, 4], TINY_FACE_ANCHORS, { letterbox: lb, iouThreshold: 0.99, minScore: 0.4 });
    expect(loose).toHaveLength(3);
    // largest area first
    const areas = loose.map((x) => x.box[2] * x.box[3]);
    expect([...areas].sort((p, q) => q - p)).toEqual(areas);
  });

  it('rejects inconsistent dims', () => {
    expect(() => decodeTinyYolo(new Float32Array(24), [1, 24, 1, 1], TINY_FACE_ANCHORS, { letterbox: letterbox(32, 32, 32) })).toThrow(
      RangeError,
    );
    expect(() => decodeTinyYolo(new Float32Array(10), [1, 25, 1, 1], TINY_FACE_ANCHORS, { letterbox: letterbox(32, 32, 32) })).toThrow(
      RangeError,
    );
  });
});

describe('cross-check against face-api itself (tfjs CPU)', () => {
  let fa: FaceApi;
  beforeAll(async () => {
    fa = await loadFaceApi();
  });

  it('decodeSsdBoxes equals face-api outputLayer decodeBoxesLayer bit for bit', () => {
    const { tf } = fa;
    const n = 500;
    const enc = randomFloats(n * 4, 1, -3, 3);
    const anchors = new Float32Array(n * 4);
    const r = randomFloats(n * 4, 2, 0, 1);
    for (let i = 0; i < n; i++) {
      anchors[4 * i] = r[4 * i] * 0.5;
      anchors[4 * i + 1] = r[4 * i + 1] * 0.5;
      anchors[4 * i + 2] = anchors[4 * i] + 0.05 + r[4 * i + 2] * 0.5;
      anchors[4 * i + 3] = anchors[4 * i + 1] + 0.05 + r[4 * i + 3] * 0.5;
    }
    // face-api src/ssdMobilenetv1/outputLayer.ts, verbatim in tf ops
    const ref = tf.tidy(() => {
      const x0 = tf.tensor2d(anchors, [n, 4]);
      const x1 = tf.tensor2d(enc, [n, 4]);
      const v0 = tf.unstack(tf.transpose(x0, [1, 0]));
      const sizes = [tf.sub(v0[2], v0[0]), tf.sub(v0[3], v0[1])];
      const centers = [tf.add(v0[0], tf.div(sizes[0], 2)), tf.add(v0[1], tf.div(sizes[1], 2))];
      const vec = tf.unstack(tf.transpose(x1, [1, 0]));
      const div0 = tf.div(tf.mul(tf.exp(tf.div(vec[2], 5)), sizes[0]), 2);
      const add0 = tf.add(tf.mul(tf.div(vec[0], 10), sizes[0]), centers[0]);
      const div1 = tf.div(tf.mul(tf.exp(tf.div(vec[3], 5)), sizes[1]), 2);
      const add1 = tf.add(tf.mul(tf.div(vec[1], 10), sizes[1]), centers[1]);
      return tf.transpose(tf.stack([tf.sub(add0, div0), tf.sub(add1, div1), tf.add(add0, div0), tf.add(add1, div1)]), [1, 0]).dataSync();
    }) as Float32Array;
    expect(Array.from(decodeSsdBoxes(enc, anchors))).toEqual(Array.from(ref));
  });

  /** face-api SsdMobilenetv1.locateFaces with the network replaced by fixed outputs. */
  async function faceApiSsd(boxes: Float32Array, scores: Float32Array, w: number, h: number, minConfidence: number) {
    const { tf } = fa;
    const net = new fa.SsdMobilenetv1();
    net.forwardInput = (netInput: FaceApi) => {
      netInput.toBatchTensor(512, false).dispose(); // sets inputSize, as the real forward does
      return { boxes: [tf.tensor2d(boxes, [scores.length, 4])], scores: [tf.tensor1d(scores)] };
    };
    const input = tf.zeros([h, w, 3], 'int32');
    const dets = await net.locateFaces(input, { minConfidence, maxResults: 100 });
    input.dispose();
    return dets.map((d: FaceApi) => ({ box: [d.box.x, d.box.y, d.box.width, d.box.height], score: d.score })) as Detection[];
  }

  it.each([
    [300, 101, 0.5, 11],
    [101, 300, 0.5, 12],
    [640, 480, 0.3, 13],
    [257, 257, 0.8, 14],
  ])('ssdDetections equals face-api locateFaces on %i x %i (minConfidence %s)', async (w, h, minScore, seed) => {
    const n = 300;
    const r = randomFloats(n * 4, seed, 0, 1);
    const boxes = new Float32Array(n * 4);
    for (let i = 0; i < n; i++) {
      // clustered boxes (lots of overlaps), some straddling the square's edges but none outside it
      const cy = 0.05 + 0.9 * r[4 * i];
      const cx = 0.05 + 0.9 * r[4 * i + 1];
      const bh = 0.04 + 0.3 * r[4 * i + 2];
      const bw = 0.04 + 0.3 * r[4 * i + 3];
      boxes.set([cy - bh / 2, cx - bw / 2, cy + bh / 2, cx + bw / 2], 4 * i);
    }
    const scores = randomFloats(n, seed + 100, 0, 1);
    const ours = ssdDetections(boxes, scores, letterbox(w, h, 512), { minScore });
    const ref = (await faceApiSsd(boxes, scores, w, h, minScore)).sort((a, b) => b.box[2] * b.box[3] - a.box[2] * a.box[3]);
    expect(ours.length).toBeGreaterThan(3);
    expect(ours.length).toBe(ref.length);
    ours.forEach((d, i) => {
      expect(d.score).toBe(ref[i].score);
      d.box.forEach((v, k) => expect(v).toBeCloseTo(ref[i].box[k], 9));
    });
  });

  /** face-api TinyFaceDetector.locateFaces with the network replaced by a fixed NHWC grid. */
  async function faceApiTiny(grid: Float32Array, gh: number, gw: number, w: number, h: number, inputSize: number, scoreThreshold: number) {
    const { tf } = fa;
    const net = new fa.TinyFaceDetector();
    net.forwardInput = (netInput: FaceApi, size: number) => {
      netInput.toBatchTensor(size, false).dispose();
      return tf.tensor4d(grid, [1, gh, gw, 25]);
    };
    const input = tf.zeros([h, w, 3], 'int32');
    const dets = await net.locateFaces(input, { inputSize, scoreThreshold });
    input.dispose();
    return dets.map((d: FaceApi) => ({ box: [d.box.x, d.box.y, d.box.width, d.box.height], score: d.score })) as Detection[];
  }

  it.each([
    [416, 13, 640, 480, 0.5, 21],
    [416, 13, 300, 101, 0.5, 22],
    [320, 10, 120, 400, 0.3, 23],
    [160, 5, 64, 64, 0.7, 24],
  ])(
    'decodeTinyYolo equals face-api TinyFaceDetector (input %i, grid %i, photo %i x %i, threshold %s)',
    async (inputSize, g, w, h, minScore, seed) => {
      const nhwc = randomFloats(g * g * 25, seed, -3, 3);
      const ours = decodeTinyYolo(nhwc, [1, g, g, 25], TINY_FACE_ANCHORS, {
        letterbox: letterbox(w, h, inputSize),
        minScore,
        layout: 'nhwc',
      });
      const ref = (await faceApiTiny(nhwc, g, g, w, h, inputSize, minScore)).sort((a, b) => b.box[2] * b.box[3] - a.box[2] * a.box[3]);
      expect(ours.length).toBeGreaterThan(2);
      expect(ours.length).toBe(ref.length);
      ours.forEach((d, i) => {
        expect(d.score).toBeCloseTo(ref[i].score, 12);
        d.box.forEach((v, k) => expect(v).toBeCloseTo(ref[i].box[k], 6));
      });
    },
  );
});
