/**
 * Post-processing of the two face-api detectors' raw outputs (SSD-MobileNetV1 and the tiny
 * YOLOv2 face detector), reproducing face-api's code so the ONNX conversions give the same
 * detections. Pure: no DOM, no runtime imports.
 */
import type { LetterboxInfo } from './image.ts';
import type { BoxXYWH, Detection } from './types.ts';

const f32 = Math.fround;

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Intersection over union of two `[x, y, w, h]` boxes; 0 when the union is empty. */
export function iou(a: BoxXYWH, b: BoxXYWH): number {
  const iw = Math.max(0, Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]));
  const ih = Math.max(0, Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]));
  const inter = iw * ih;
  const union = a[2] * a[3] + b[2] * b[3] - inter;
  return union > 0 ? inter / union : 0;
}

// ---------------------------------------------------------------------------------------------
// SSD-MobileNetV1

/**
 * face-api ssdMobilenetv1/outputLayer.ts `decodeBoxesLayer`: box encodings `[ty, tx, th, tw]`
 * against anchors `[ymin, xmin, ymax, xmax]` with variances 10, 10, 5, 5. Each arithmetic step
 * is rounded to float32 like the tfjs ops it replaces, so results match tfjs-cpu bit for bit.
 * Returns `[ymin, xmin, ymax, xmax]` per anchor, normalised to the padded square.
 */
export function decodeSsdBoxes(encodings: Float32Array, anchors: Float32Array): Float32Array {
  if (encodings.length !== anchors.length || encodings.length % 4 !== 0) {
    throw new RangeError(`decodeSsdBoxes: ${encodings.length} encodings vs ${anchors.length} anchor values`);
  }
  const out = new Float32Array(encodings.length);
  for (let i = 0; i < encodings.length; i += 4) {
    const size0 = f32(anchors[i + 2] - anchors[i]);
    const size1 = f32(anchors[i + 3] - anchors[i + 1]);
    const c0 = f32(anchors[i] + f32(size0 / 2));
    const c1 = f32(anchors[i + 1] + f32(size1 / 2));
    const half0 = f32(f32(f32(Math.exp(f32(encodings[i + 2] / 5))) * size0) / 2);
    const mid0 = f32(f32(f32(encodings[i] / 10) * size0) + c0);
    const half1 = f32(f32(f32(Math.exp(f32(encodings[i + 3] / 5))) * size1) / 2);
    const mid1 = f32(f32(f32(encodings[i + 1] / 10) * size1) + c1);
    out[i] = mid0 - half0;
    out[i + 1] = mid1 - half1;
    out[i + 2] = mid0 + half0;
    out[i + 3] = mid1 + half1;
  }
  return out;
}

/** face-api's IOU on `[y0, x0, y1, x1]` boxes (corners may come in either order). */
function iouYXYX(b: ArrayLike<number>, i: number, j: number): number {
  const yminI = Math.min(b[i * 4], b[i * 4 + 2]);
  const xminI = Math.min(b[i * 4 + 1], b[i * 4 + 3]);
  const ymaxI = Math.max(b[i * 4], b[i * 4 + 2]);
  const xmaxI = Math.max(b[i * 4 + 1], b[i * 4 + 3]);
  const yminJ = Math.min(b[j * 4], b[j * 4 + 2]);
  const xminJ = Math.min(b[j * 4 + 1], b[j * 4 + 3]);
  const ymaxJ = Math.max(b[j * 4], b[j * 4 + 2]);
  const xmaxJ = Math.max(b[j * 4 + 1], b[j * 4 + 3]);
  const areaI = (ymaxI - yminI) * (xmaxI - xminI);
  const areaJ = (ymaxJ - yminJ) * (xmaxJ - xminJ);
  if (areaI <= 0 || areaJ <= 0) return 0;
  const inter = Math.max(Math.min(ymaxI, ymaxJ) - Math.max(yminI, yminJ), 0) * Math.max(Math.min(xmaxI, xmaxJ) - Math.max(xminI, xminJ), 0);
  return inter / (areaI + areaJ - inter);
}

export interface NmsOptions {
  /** At most this many indices are returned (face-api SSD default 100). */
  maxResults: number;
  /** A candidate overlapping a kept box with IoU > this is dropped (face-api SSD uses 0.5). */
  iouThreshold: number;
  /** Candidates need score > minScore (strictly, as in face-api). */
  minScore: number;
}

/**
 * face-api ssdMobilenetv1/nonMaxSuppression.ts: candidates with score > minScore, by score
 * descending (ties keep index order), each kept unless it overlaps a kept box with
 * IoU > iouThreshold. Returns indices into `scores`, highest score first.
 */
export function nonMaxSuppression(boxesYXYX: ArrayLike<number>, scores: ArrayLike<number>, opts: NmsOptions): number[] {
  const n = scores.length;
  if (boxesYXYX.length !== n * 4) throw new RangeError(`nonMaxSuppression: ${boxesYXYX.length / 4} boxes vs ${n} scores`);
  const outputSize = Math.min(opts.maxResults, n);
  const candidates: number[] = [];
  for (let i = 0; i < n; i++) if (scores[i] > opts.minScore) candidates.push(i);
  candidates.sort((a, b) => scores[b] - scores[a] || a - b);
  const selected: number[] = [];
  for (const c of candidates) {
    if (selected.length >= outputSize) break;
    let suppressed = false;
    for (let j = selected.length - 1; j >= 0; j--) {
      const o = iouYXYX(boxesYXYX, c, selected[j]);
      if (o === 0) continue;
      if (o > opts.iouThreshold) {
        suppressed = true;
        break;
      }
    }
    if (!suppressed) selected.push(c);
  }
  return selected;
}

/**
 * Maps a coordinate normalised to the letterboxed square (0..1) to source pixels along one axis.
 * Non-centred letterboxes (what face-api's detectors use) follow face-api exactly: the value is
 * scaled by `size / reshaped` (face-api's padX / padY, reshaped = round(side * size / maxSide))
 * and then by the source side. Centred ones use the geometric mapping.
 */
function squareToSource(info: LetterboxInfo, axis: 'x' | 'y'): (v: number) => number {
  const side = axis === 'x' ? info.sourceWidth : info.sourceHeight;
  if (info.center) {
    const off = axis === 'x' ? info.offsetX : info.offsetY;
    const k = info.size * info.scaleToSource;
    return (v) => v * k - off;
  }
  const maxSide = Math.max(info.sourceWidth, info.sourceHeight);
  const reshaped = Math.round(side * (info.size / maxSide));
  const pad = info.size / reshaped;
  return (v) => v * pad * side;
}

function byAreaDescending(a: Detection, b: Detection): number {
  return b.box[2] * b.box[3] - a.box[2] * a.box[3];
}

export interface SsdOptions {
  /** face-api default 0.5 (its `minConfidence`). */
  minScore?: number;
  /** face-api default 100. */
  maxResults?: number;
  /** face-api hard-codes 0.5. */
  iouThreshold?: number;
}

/**
 * face-api SsdMobilenetv1.locateFaces after the network: NMS on the decoded boxes, then each box
 * clamped to the square (`max(0, ymin)`, `min(1, ymax)`, ...) and mapped to source pixels.
 * `scores` are probabilities (sigmoid of the face-class logit). Boxes that end up empty after
 * clamping (face-api would throw constructing them) are dropped. Sorted largest area first.
 */
export function ssdDetections(
  decodedBoxes: Float32Array,
  scores: Float32Array,
  letterbox: LetterboxInfo,
  opts: SsdOptions = {},
): Detection[] {
  const indices = nonMaxSuppression(decodedBoxes, scores, {
    maxResults: opts.maxResults ?? 100,
    iouThreshold: opts.iouThreshold ?? 0.5,
    minScore: opts.minScore ?? 0.5,
  });
  const toX = squareToSource(letterbox, 'x');
  const toY = squareToSource(letterbox, 'y');
  const out: Detection[] = [];
  for (const i of indices) {
    const top = toY(Math.max(0, decodedBoxes[i * 4]));
    const bottom = toY(Math.min(1, decodedBoxes[i * 4 + 2]));
    const left = toX(Math.max(0, decodedBoxes[i * 4 + 1]));
    const right = toX(Math.min(1, decodedBoxes[i * 4 + 3]));
    if (!(right > left && bottom > top)) continue;
    out.push({ box: [left, top, right - left, bottom - top], score: scores[i] });
  }
  return out.sort(byAreaDescending);
}

// ---------------------------------------------------------------------------------------------
// Tiny YOLOv2 (face-api TinyFaceDetector)

/** face-api tinyFaceDetector/const.ts BOX_ANCHORS, in grid cells. */
export const TINY_FACE_ANCHORS: ReadonlyArray<readonly [number, number]> = [
  [1.603231, 2.094468],
  [6.041143, 7.080126],
  [2.882459, 3.518061],
  [4.266906, 5.178857],
  [9.041765, 10.66308],
];
/** face-api tinyFaceDetector/const.ts MEAN_RGB (input is `(px - mean) / 255`). */
export const TINY_FACE_MEAN_RGB: readonly [number, number, number] = [117.001, 114.697, 97.404];
/** face-api tinyFaceDetector/const.ts IOU_THRESHOLD. */
export const TINY_FACE_IOU_THRESHOLD = 0.4;

export interface TinyYoloOptions {
  /** Geometry of the letterboxed input (face-api: not centred). */
  letterbox: LetterboxInfo;
  /** Keep boxes with sigmoid(objectness) > minScore. face-api default 0.5. */
  minScore?: number;
  /** face-api TinyFaceDetector: 0.4. */
  iouThreshold?: number;
  /**
   * Memory layout of `grid`. 'nchw' (ONNX): dims [1, A*E, gh, gw], channel = anchor * E + k.
   * 'nhwc' (tfjs): dims [1, gh, gw, A*E]. E = 5 (+ classes): tx, ty, tw, th, objectness, ...
   */
  layout?: 'nchw' | 'nhwc';
}

interface XYWH {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** face-api ops/iou.ts (IoU variant). */
function iouRect(a: XYWH, b: XYWH): number {
  const w = Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x));
  const h = Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));
  const inter = w * h;
  return inter / (a.w * a.h + b.w * b.h - inter);
}

/**
 * face-api ops/nonMaxSuppression.ts: repeatedly take the highest score (ties: the later index,
 * as face-api pops from an ascending sort) and drop everything with IoU > threshold.
 */
function greedyNms(boxes: XYWH[], scores: number[], iouThreshold: number): number[] {
  let order = scores
    .map((score, i) => ({ score, i }))
    .sort((a, b) => a.score - b.score)
    .map((c) => c.i);
  const pick: number[] = [];
  while (order.length > 0) {
    const curr = order.pop() as number;
    pick.push(curr);
    order = order.filter((idx) => iouRect(boxes[curr], boxes[idx]) <= iouThreshold);
  }
  return pick;
}

/**
 * face-api TinyYolov2Base.extractBoxes + detect: per cell and anchor, score = sigmoid(t_o),
 * centre = (cell + sigmoid(t_xy)) / grid, size = exp(t_wh) * anchor / grid, kept when
 * score > minScore; then NMS (IoU > iouThreshold suppressed) and mapping to source pixels
 * (face-api does not clamp these boxes to the image). With more than 5 values per anchor the
 * extra class channels are ignored: face-api's detection score is the objectness alone.
 * Sorted largest area first.
 */
export function decodeTinyYolo(
  grid: Float32Array,
  dims: readonly number[],
  anchors: ReadonlyArray<readonly [number, number]>,
  opts: TinyYoloOptions,
): Detection[] {
  const layout = opts.layout ?? 'nchw';
  if (dims.length !== 4 || dims[0] !== 1) throw new RangeError(`decodeTinyYolo: expected dims [1, ...], got [${dims.join(', ')}]`);
  const [channels, gh, gw] = layout === 'nchw' ? [dims[1], dims[2], dims[3]] : [dims[3], dims[1], dims[2]];
  const numAnchors = anchors.length;
  const enc = channels / numAnchors;
  if (!Number.isInteger(enc) || enc < 5) {
    throw new RangeError(`decodeTinyYolo: ${channels} channels do not hold ${numAnchors} anchors x (5 + classes)`);
  }
  if (grid.length !== channels * gh * gw) throw new RangeError(`decodeTinyYolo: ${grid.length} values for dims [${dims.join(', ')}]`);
  const at =
    layout === 'nchw'
      ? (row: number, col: number, a: number, k: number) => grid[((a * enc + k) * gh + row) * gw + col]
      : (row: number, col: number, a: number, k: number) => grid[((row * gw + col) * numAnchors + a) * enc + k];
  const minScore = opts.minScore ?? 0.5;

  // Boxes in units of the letterboxed square (0..1), as face-api's before its correction factor.
  const boxes: XYWH[] = [];
  const scores: number[] = [];
  for (let row = 0; row < gh; row++) {
    for (let col = 0; col < gw; col++) {
      for (let a = 0; a < numAnchors; a++) {
        const score = sigmoid(at(row, col, a, 4));
        // face-api: `if (!scoreThreshold || score > scoreThreshold)`.
        if (minScore && !(score > minScore)) continue;
        const cx = (col + sigmoid(at(row, col, a, 0))) / gw;
        const cy = (row + sigmoid(at(row, col, a, 1))) / gh;
        const w = (Math.exp(at(row, col, a, 2)) * anchors[a][0]) / gw;
        const h = (Math.exp(at(row, col, a, 3)) * anchors[a][1]) / gh;
        boxes.push({ x: cx - w / 2, y: cy - h / 2, w, h });
        scores.push(score);
      }
    }
  }
  const picked = greedyNms(boxes, scores, opts.iouThreshold ?? TINY_FACE_IOU_THRESHOLD);
  const toX = squareToSource(opts.letterbox, 'x');
  const toY = squareToSource(opts.letterbox, 'y');
  const out: Detection[] = picked.map((i) => {
    const b = boxes[i];
    const x0 = toX(b.x);
    const y0 = toY(b.y);
    return { box: [x0, y0, toX(b.x + b.w) - x0, toY(b.y + b.h) - y0] as BoxXYWH, score: scores[i] };
  });
  return out.sort(byAreaDescending);
}
