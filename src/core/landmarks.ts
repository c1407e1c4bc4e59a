/**
 * The 68-point landmark stage as face-api runs it: crop the detection, pad it to a centred
 * square, resize to 112, and map the net's output back to source pixels. Plus the 5 points
 * alignment needs and face-api's own (unrotated) aligned box for the dlib descriptor baseline.
 *
 * Pure: no DOM, no runtime imports.
 */
import { cropRgb, letterboxToTensor, type PerChannel } from './image.ts';
import type { BoxXYWH, RgbImage } from './types.ts';

/** face-api's landmark nets run on 112x112 inputs. */
export const LANDMARK_INPUT_SIZE = 112;

/** Where the landmark input came from, enough to map the net output back to source pixels. */
export interface LandmarkCrop {
  /** The integer crop actually cut from the source (face-api's clipAtImageBorders). */
  x: number;
  y: number;
  width: number;
  height: number;
  /**
   * face-api shifts the landmarks by the *unclipped, unfloored* detection box corner, not by
   * the crop's corner; kept so `landmarksToSource` can reproduce it.
   */
  shiftX: number;
  shiftY: number;
  /** Input side (112). */
  size: number;
}

/**
 * face-api's landmark input for one detection (DetectFaceLandmarksTasks -> extractFaceTensors
 * -> FaceLandmark68Net with toBatchTensor(112, isCenter=true)): crop the box as face-api does,
 * pad it to a square with the padding split around it, resize bilinearly to 112 and normalise
 * `(px - mean) * scale` (face-api: mean [122.782, 117.001, 104.298], scale 1/255).
 * Throws RangeError when the box has no pixels inside the image (face-api drops such faces).
 */
export function landmarkInput(
  img: RgbImage,
  box: BoxXYWH,
  opts: { mean: PerChannel; scale: PerChannel; size?: number },
): { tensor: Float32Array; crop: LandmarkCrop } {
  const size = opts.size ?? LANDMARK_INPUT_SIZE;
  const crop = cropRgb(img, box);
  const [x, y, width, height] = crop.box;
  const { tensor } = letterboxToTensor(crop, size, { center: true, mean: opts.mean, scale: opts.scale });
  return { tensor, crop: { x, y, width, height, shiftX: box[0], shiftY: box[1], size } };
}

/**
 * Maps the landmark net's 136 outputs (x, y interleaved, 0..1 of the padded square) to source
 * pixels.
 *
 * - 'faceapi' (default) reproduces FaceLandmark68NetBase.postProcess + FaceLandmarks.shiftBy to
 *   float32 precision: it assumes a padding of |w - h| / 2 (face-api pads floor(|w - h| / 2)),
 *   and shifts by the raw detection corner rather than the floored crop corner, so it can be
 *   off by up to one pixel, more if the box started outside the image.
 * - 'geometric' inverts the input preparation exactly: x = out * max(w, h) - padBefore + cropX.
 */
export function landmarksToSource(raw136: Float32Array, crop: LandmarkCrop, mode: 'faceapi' | 'geometric' = 'faceapi'): Float32Array {
  if (raw136.length !== 136) throw new RangeError(`landmarksToSource: expected 136 values, got ${raw136.length}`);
  const out = new Float32Array(136);
  const { width: w, height: h, size } = crop;
  const side = Math.max(w, h);
  if (mode === 'geometric') {
    const diff = Math.abs(w - h);
    const before = diff - Math.round(diff * 0.5);
    const padX = h > w ? before : 0;
    const padY = w > h ? before : 0;
    for (let i = 0; i < 68; i++) {
      out[2 * i] = raw136[2 * i] * side - padX + crop.x;
      out[2 * i + 1] = raw136[2 * i + 1] * side - padY + crop.y;
    }
    return out;
  }
  const f = Math.fround;
  const scale = size / side;
  const ws = w * scale;
  const hs = h * scale;
  const padX = ws < hs ? Math.abs(ws - hs) / 2 : 0;
  const padY = hs < ws ? Math.abs(ws - hs) / 2 : 0;
  // tfjs: output.mul(size).sub(pad).div(scaledDims), each op stored as float32.
  const fSize = f(size);
  const fPadX = f(padX);
  const fPadY = f(padY);
  const fWs = f(ws);
  const fHs = f(hs);
  for (let i = 0; i < 68; i++) {
    const rx = f(f(f(raw136[2 * i] * fSize) - fPadX) / fWs);
    const ry = f(f(f(raw136[2 * i + 1] * fSize) - fPadY) / fHs);
    // FaceLandmarks: relative * (cropWidth, cropHeight) + shift, in doubles.
    out[2 * i] = rx * w + crop.shiftX;
    out[2 * i + 1] = ry * h + crop.shiftY;
  }
  return out;
}

function meanPoint(l68: ArrayLike<number>, from: number, to: number): [number, number] {
  let sx = 0;
  let sy = 0;
  for (let i = from; i < to; i++) {
    sx += l68[2 * i];
    sy += l68[2 * i + 1];
  }
  return [sx / (to - from), sy / (to - from)];
}

/**
 * The 5 alignment points from the 68 (0-based iBUG 300-W indices), x, y interleaved:
 * left eye centre = mean(36..41), right eye centre = mean(42..47), nose tip = 30,
 * mouth corners = 48 and 54. "Left" is image left, matching the ArcFace template order.
 */
export function fivePointsFrom68(l68: ArrayLike<number>): Float32Array {
  if (l68.length !== 136) throw new RangeError(`fivePointsFrom68: expected 136 values, got ${l68.length}`);
  const [lx, ly] = meanPoint(l68, 36, 42);
  const [rx, ry] = meanPoint(l68, 42, 48);
  return Float32Array.of(lx, ly, rx, ry, l68[60], l68[61], l68[96], l68[97], l68[108], l68[109]);
}

/**
 * face-api's FaceLandmarks.align() box for landmarks already in source pixels.
 *
 * - default (face-api's `align()` defaults): the landmarks' min bounding box padded by
 *   `minBoxPadding` (0.2) of its size, half on each side. Quirk kept: the max starts at 0.
 * - `useDlibAlignment: true`: what face-api's `withFaceDescriptor(s)` actually crops for the
 *   dlib descriptor: a square of side floor(mean eye-to-mouth distance / 0.45) placed at
 *   (0.5, 0.43) of its side around the centre of the eye and mouth centres, corner floored
 *   and clamped at 0. `imageWidth/Height` are face-api's landmark image dims (the detection
 *   crop), which only cap the side; leave them out to not cap it.
 *
 * The result is unrotated and may extend past the image; crop it with `cropRgb`
 * (face-api's clipAtImageBorders).
 */
export function faceApiAlignedBox(
  l68: ArrayLike<number>,
  opts: { useDlibAlignment?: boolean; minBoxPadding?: number; imageWidth?: number; imageHeight?: number } = {},
): BoxXYWH {
  if (l68.length !== 136) throw new RangeError(`faceApiAlignedBox: expected 136 values, got ${l68.length}`);
  if (opts.useDlibAlignment) {
    const le = meanPoint(l68, 36, 42);
    const re = meanPoint(l68, 42, 48);
    const mouth = meanPoint(l68, 48, 68);
    const dist = (p: [number, number]) => Math.sqrt((mouth[0] - p[0]) ** 2 + (mouth[1] - p[1]) ** 2);
    const size = Math.floor((dist(le) + dist(re)) / 2 / 0.45);
    const refX = (le[0] + re[0] + mouth[0]) / 3;
    const refY = (le[1] + re[1] + mouth[1]) / 3;
    const x = Math.floor(Math.max(0, refX - 0.5 * size));
    const y = Math.floor(Math.max(0, refY - 0.43 * size));
    const iw = opts.imageWidth ?? Infinity;
    const ih = opts.imageHeight ?? Infinity;
    return [x, y, Math.min(size, iw + x), Math.min(size, ih + y)];
  }
  const padding = opts.minBoxPadding ?? 0.2;
  let minX = Infinity;
  let minY = Infinity;
  let maxX = 0;
  let maxY = 0;
  for (let i = 0; i < 68; i++) {
    const x = l68[2 * i];
    const y = l68[2 * i + 1];
    if (x < minX) minX = x;
    if (y < minY) minY = y;
    if (maxX < x) maxX = x;
    if (maxY < y) maxY = y;
  }
  const w = maxX - minX;
  const h = maxY - minY;
  const px = w * padding;
  const py = h * padding;
  return [minX - px / 2, minY - py / 2, w + px, h + py];
}
