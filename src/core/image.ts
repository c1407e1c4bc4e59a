/**
 * Image operations on `RgbImage`, reproducing the tfjs semantics face-api relies on
 * (padToSquare + tf.image.resizeBilinear(alignCorners=false, halfPixelCenters=false)), so the
 * converted ONNX detectors see the same input tensors face-api's networks saw.
 *
 * Pure: no DOM, no Node imports.
 */
import type { BoxXYWH, RgbImage } from './types.ts';

/** A per-channel (R, G, B) constant, or one value for all three. */
export type PerChannel = number | readonly [number, number, number];

function channel(v: PerChannel, c: number): number {
  return typeof v === 'number' ? v : v[c];
}

/** How a letterboxed tensor relates to the source photo. */
export interface LetterboxInfo {
  /** Side of the square tensor, in tensor pixels. */
  size: number;
  sourceWidth: number;
  sourceHeight: number;
  /** Whether the padding was split between both sides (face-api `isCenterImage`). */
  center: boolean;
  /** Source pixels per tensor pixel: max(sourceWidth, sourceHeight) / size. */
  scaleToSource: number;
  /** Padding before the image in the padded square, in source pixels (0 unless `center`). */
  offsetX: number;
  offsetY: number;
}

/** Maps a point in tensor pixels (0..size) to source pixels. */
export function tensorToSource(info: LetterboxInfo, x: number, y: number): [number, number] {
  return [x * info.scaleToSource - info.offsetX, y * info.scaleToSource - info.offsetY];
}

/** Maps a point in source pixels to tensor pixels (0..size). */
export function sourceToTensor(info: LetterboxInfo, x: number, y: number): [number, number] {
  return [(x + info.offsetX) / info.scaleToSource, (y + info.offsetY) / info.scaleToSource];
}

/**
 * Zero padding face-api's padToSquare puts *before* the image along the shorter axis: with
 * `center`, `round(diff / 2)` goes after and the rest before; without, everything goes after.
 */
export function padToSquareOffsets(width: number, height: number, center: boolean): { offsetX: number; offsetY: number } {
  const diff = Math.abs(width - height);
  const before = center ? diff - Math.round(diff * 0.5) : 0;
  return { offsetX: height > width ? before : 0, offsetY: width > height ? before : 0 };
}

/**
 * tf.image.resizeBilinear sample positions for one axis (alignCorners=false,
 * halfPixelCenters=false, as in the tfjs CPU kernel): output i reads input at i * in / out.
 */
function axisSamples(inSize: number, outSize: number) {
  const ratio = inSize / outSize;
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float64Array(outSize);
  for (let i = 0; i < outSize; i++) {
    const s = ratio * i;
    const f = Math.max(0, Math.floor(s));
    lo[i] = f;
    frac[i] = s - f;
    hi[i] = Math.min(inSize - 1, Math.ceil(s));
  }
  return { lo, hi, frac };
}

/**
 * face-api's `toBatchTensor` for one image: pad to a square with zeros (bottom/right, or split
 * when `center`), resize bilinearly to `size` x `size` exactly as tfjs does, then normalise each
 * channel as `(px - mean[c]) * scale`. Padding is 0 *before* normalisation, as in face-api.
 *
 * The padded square is never materialised (a 5568x3712 photo would need 93 MB): samples that
 * fall in the padding read 0.
 *
 * Returns an NCHW tensor `1 x 3 x size x size` and the mapping back to source pixels.
 */
export function letterboxToTensor(
  img: RgbImage,
  size: number,
  opts: { center: boolean; mean: PerChannel; scale: PerChannel },
): { tensor: Float32Array; info: LetterboxInfo } & LetterboxInfo {
  const { width: w, height: h, data } = img;
  if (w < 1 || h < 1) throw new RangeError(`letterboxToTensor: empty image ${w}x${h}`);
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`letterboxToTensor: bad size ${size}`);
  const side = Math.max(w, h);
  const { offsetX, offsetY } = padToSquareOffsets(w, h, opts.center);
  const rows = axisSamples(side, size);
  const cols = axisSamples(side, size);
  const plane = size * size;
  const tensor = new Float32Array(3 * plane);
  const m0 = channel(opts.mean, 0);
  const m1 = channel(opts.mean, 1);
  const m2 = channel(opts.mean, 2);
  const s0 = channel(opts.scale, 0);
  const s1 = channel(opts.scale, 1);
  const s2 = channel(opts.scale, 2);

  // Per-column source offsets into a row (-1 = padding).
  const colLo = new Int32Array(size);
  const colHi = new Int32Array(size);
  for (let c = 0; c < size; c++) {
    const xl = cols.lo[c] - offsetX;
    const xh = cols.hi[c] - offsetX;
    colLo[c] = xl >= 0 && xl < w ? xl * 3 : -1;
    colHi[c] = xh >= 0 && xh < w ? xh * 3 : -1;
  }
  const px = (rowBase: number, colOff: number, ch: number) => (rowBase < 0 || colOff < 0 ? 0 : data[rowBase + colOff + ch]);

  for (let r = 0; r < size; r++) {
    const yl = rows.lo[r] - offsetY;
    const yh = rows.hi[r] - offsetY;
    const top = yl >= 0 && yl < h ? yl * w * 3 : -1;
    const bot = yh >= 0 && yh < h ? yh * w * 3 : -1;
    const rf = rows.frac[r];
    let o = r * size;
    for (let c = 0; c < size; c++, o++) {
      const cl = colLo[c];
      const chh = colHi[c];
      const cf = cols.frac[c];
      for (let ch = 0; ch < 3; ch++) {
        const tl = px(top, cl, ch);
        const tr = px(top, chh, ch);
        const bl = px(bot, cl, ch);
        const br = px(bot, chh, ch);
        const t = tl + (tr - tl) * cf;
        const b = bl + (br - bl) * cf;
        // tfjs stores the resized image as float32 before normalising it.
        const v = Math.fround(t + (b - t) * rf);
        const mean = ch === 0 ? m0 : ch === 1 ? m1 : m2;
        const scale = ch === 0 ? s0 : ch === 1 ? s1 : s2;
        tensor[ch * plane + o] = (v - mean) * scale;
      }
    }
  }
  const info: LetterboxInfo = {
    size,
    sourceWidth: w,
    sourceHeight: h,
    center: opts.center,
    scaleToSource: side / size,
    offsetX,
    offsetY,
  };
  return { tensor, info, ...info };
}

/**
 * tf.image.resizeBilinear (CPU kernel semantics) on an interleaved HWC buffer of any channel
 * count. Returns float32 HWC.
 */
export function resizeBilinear(
  src: ArrayLike<number>,
  width: number,
  height: number,
  channels: number,
  newWidth: number,
  newHeight: number,
  opts: { alignCorners?: boolean; halfPixelCenters?: boolean } = {},
): Float32Array {
  const alignCorners = opts.alignCorners ?? false;
  const half = opts.halfPixelCenters ?? false;
  const effIn = [alignCorners && newHeight > 1 ? height - 1 : height, alignCorners && newWidth > 1 ? width - 1 : width];
  const effOut = [alignCorners && newHeight > 1 ? newHeight - 1 : newHeight, alignCorners && newWidth > 1 ? newWidth - 1 : newWidth];
  const rowRatio = effIn[0] / effOut[0];
  const colRatio = effIn[1] / effOut[1];
  const out = new Float32Array(newWidth * newHeight * channels);
  let o = 0;
  for (let r = 0; r < newHeight; r++) {
    const sr = half ? rowRatio * (r + 0.5) - 0.5 : rowRatio * r;
    const r0 = Math.max(0, Math.floor(sr));
    const rf = sr - r0;
    const r1 = Math.min(height - 1, Math.ceil(sr));
    for (let c = 0; c < newWidth; c++) {
      const sc = half ? colRatio * (c + 0.5) - 0.5 : colRatio * c;
      const c0 = Math.max(0, Math.floor(sc));
      const cf = sc - c0;
      const c1 = Math.min(width - 1, Math.ceil(sc));
      for (let d = 0; d < channels; d++) {
        const tl = src[(r0 * width + c0) * channels + d];
        const tr = src[(r0 * width + c1) * channels + d];
        const bl = src[(r1 * width + c0) * channels + d];
        const br = src[(r1 * width + c1) * channels + d];
        const t = tl + (tr - tl) * cf;
        const b = bl + (br - bl) * cf;
        out[o++] = t + (b - t) * rf;
      }
    }
  }
  return out;
}

/** `resizeBilinear` on an RgbImage, rounded back to 8 bits. */
export function resizeBilinearRgb(
  img: RgbImage,
  newWidth: number,
  newHeight: number,
  opts: { alignCorners?: boolean; halfPixelCenters?: boolean } = {},
): RgbImage {
  const f = resizeBilinear(img.data, img.width, img.height, 3, newWidth, newHeight, opts);
  const data = new Uint8Array(f.length);
  for (let i = 0; i < f.length; i++) data[i] = Math.min(255, Math.max(0, Math.round(f[i])));
  return { width: newWidth, height: newHeight, data };
}

/**
 * face-api's `Box.clipAtImageBorders` (used by extractFaceTensors / extractFaces): clip the
 * top-left corner at 0, the size at the image border, then floor x, y, width and height
 * *separately*. The result may have width or height <= 0 (face-api then drops the face).
 */
export function clipBoxFaceApi(box: BoxXYWH, imageWidth: number, imageHeight: number): BoxXYWH {
  const [x, y, bw, bh] = box;
  const cx = Math.max(x, 0);
  const cy = Math.max(y, 0);
  const cw = Math.min(x + bw - cx, imageWidth - cx);
  const chh = Math.min(y + bh - cy, imageHeight - cy);
  return [Math.floor(cx), Math.floor(cy), Math.floor(cw), Math.floor(chh)];
}

/**
 * Integer crop of `box` (source pixels), clipped and floored exactly like face-api's
 * extractFaceTensors. Throws RangeError when nothing of the box lies inside the image.
 */
export function cropRgb(img: RgbImage, box: BoxXYWH): RgbImage & { box: BoxXYWH } {
  const clipped = clipBoxFaceApi(box, img.width, img.height);
  const [x, y, w, h] = clipped;
  if (w <= 0 || h <= 0) {
    throw new RangeError(`cropRgb: box [${box.join(', ')}] has no pixels inside the ${img.width}x${img.height} image`);
  }
  const data = new Uint8Array(w * h * 3);
  for (let r = 0; r < h; r++) {
    const from = ((y + r) * img.width + x) * 3;
    data.set(img.data.subarray(from, from + w * 3), r * w * 3);
  }
  return { width: w, height: h, data, box: clipped };
}

/** HWC uint8 -> NCHW float32 `1 x 3 x H x W`, each channel as `(px - mean[c]) * scale`. */
export function toPlanarTensor(img: RgbImage, mean: PerChannel, scale: PerChannel): Float32Array {
  const plane = img.width * img.height;
  const out = new Float32Array(3 * plane);
  for (let ch = 0; ch < 3; ch++) {
    const m = channel(mean, ch);
    const s = channel(scale, ch);
    const base = ch * plane;
    for (let i = 0; i < plane; i++) out[base + i] = (img.data[i * 3 + ch] - m) * s;
  }
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * RGBA (canvas ImageData, decoders) -> RGB. Alpha is dropped unless `background` is given, in
 * which case each pixel is composited over it (non-premultiplied alpha, as ImageData holds).
 */
export function rgbaToRgb(
  rgba: Uint8ClampedArray | Uint8Array,
  width: number,
  height: number,
  background?: readonly [number, number, number],
): RgbImage {
  const n = width * height;
  if (rgba.length < n * 4) throw new RangeError(`rgbaToRgb: ${rgba.length} bytes is too few for ${width}x${height} RGBA`);
  const data = new Uint8Array(n * 3);
  if (!background && LITTLE_ENDIAN && rgba.byteOffset % 4 === 0) {
    // One 32-bit read per pixel, R in its low byte: this copy runs over every pixel of every JPEG.
    const words = new Uint32Array(rgba.buffer, rgba.byteOffset, n);
    for (let i = 0, k = 0; i < n; i++, k += 3) {
      const w = words[i];
      data[k] = w;
      data[k + 1] = w >>> 8;
      data[k + 2] = w >>> 16;
    }
    return { width, height, data };
  }
  for (let i = 0, j = 0, k = 0; i < n; i++, j += 4, k += 3) {
    const a = rgba[j + 3];
    // An opaque pixel blends to itself: copied.
    if (!background || a === 255) {
      data[k] = rgba[j];
      data[k + 1] = rgba[j + 1];
      data[k + 2] = rgba[j + 2];
    } else {
      for (let c = 0; c < 3; c++) data[k + c] = Math.round((rgba[j + c] * a + background[c] * (255 - a)) / 255);
    }
  }
  return { width, height, data };
}

/** The image mirrored left to right (test-time flip of the full-face descriptor, flipped teacher targets). */
export function mirrorRgb(img: RgbImage): RgbImage {
  const out = new Uint8Array(img.data.length);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const s = (y * img.width + x) * 3;
      const d = (y * img.width + (img.width - 1 - x)) * 3;
      out[d] = img.data[s];
      out[d + 1] = img.data[s + 1];
      out[d + 2] = img.data[s + 2];
    }
  }
  return { width: img.width, height: img.height, data: out };
}

/**
 * Adds a black (zero) border of `padX` columns on the left and right and `padY` rows on the top
 * and bottom. Detections on the padded image map back by subtracting (padX, padY).
 */
export function padImage(img: RgbImage, padX: number, padY: number): RgbImage {
  if (!Number.isInteger(padX) || !Number.isInteger(padY) || padX < 0 || padY < 0) {
    throw new RangeError(`padImage: padding must be non-negative integers, got ${padX}, ${padY}`);
  }
  const width = img.width + 2 * padX;
  const height = img.height + 2 * padY;
  const data = new Uint8Array(width * height * 3);
  const rowBytes = img.width * 3;
  for (let r = 0; r < img.height; r++) {
    data.set(img.data.subarray(r * rowBytes, (r + 1) * rowBytes), ((r + padY) * width + padX) * 3);
  }
  return { width, height, data };
}
