/**
 * Face alignment: least-squares similarity transforms, affine helpers, a bilinear warp
 * that gives the same pixels in Node and in a browser Worker, the ArcFace 112x112
 * alignment and dlib's "face chip" geometry for the full-face baseline.
 *
 * Pure module: no DOM, runtime or node: imports.
 *
 * Conventions: points are interleaved `x0, y0, x1, y1, ...`; pixel centres sit at integer
 * coordinates (pixel (0,0) covers [-0.5, 0.5]^2), as in OpenCV and dlib.
 */
import type { Affine, RgbImage } from './types';

/** Interleaved x,y points (any numeric array-like). */
export type Points2D = ArrayLike<number>;

/**
 * The standard ArcFace / InsightFace 5-point template for 112x112 faces, in aligned pixels:
 * left eye centre, right eye centre, nose tip, left mouth corner, right mouth corner
 * (image left/right). Values as in docs/DESIGN.md.
 */
export const ARCFACE_TEMPLATE_112: readonly number[] = Object.freeze([
  38.2946, 51.6963, 73.5318, 51.5014, 56.0252, 71.7366, 41.5493, 92.3655, 70.7299, 92.2041,
]);

export const ALIGNED_SIZE = 112;

// ---------------------------------------------------------------------------------------
// Affine helpers
// ---------------------------------------------------------------------------------------

export function applyAffine(m: Affine, x: number, y: number): [number, number] {
  return [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];
}

export function invertAffine(m: Affine): Affine {
  const [a, b, tx, c, d, ty] = m;
  const det = a * d - b * c;
  if (!Number.isFinite(det) || det === 0) {
    throw new RangeError(`invertAffine: matrix is singular (det = ${det})`);
  }
  return [d / det, -b / det, (b * ty - d * tx) / det, -c / det, a / det, (c * tx - a * ty) / det];
}

/** `outer ∘ inner`: first apply `inner`, then `outer`. */
export function composeAffine(outer: Affine, inner: Affine): Affine {
  const [a, b, tx, c, d, ty] = outer;
  const [e, f, ux, g, h, uy] = inner;
  return [a * e + b * g, a * f + b * h, a * ux + b * uy + tx, c * e + d * g, c * f + d * h, c * ux + d * uy + ty];
}

/** Applies `m` to interleaved points; returns a new Float64Array. */
export function transformPoints(m: Affine, points: Points2D): Float64Array {
  const out = new Float64Array(points.length);
  for (let i = 0; i + 1 < points.length; i += 2) {
    const x = points[i];
    const y = points[i + 1];
    out[i] = m[0] * x + m[1] * y + m[2];
    out[i + 1] = m[3] * x + m[4] * y + m[5];
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Similarity estimation
// ---------------------------------------------------------------------------------------

/**
 * Least-squares similarity transform (rotation, uniform scale, translation; no reflection)
 * mapping `src` onto `dst`: minimises sum_i |s R src_i + t - dst_i|^2 with R in SO(2).
 *
 * This is Umeyama's estimator with the reflection guard. In 2D the guarded solution has a
 * closed form: with centred points, sR = [[p, -q], [q, p]] where
 * p = sum(x x' + y y') / sum(x^2 + y^2) and q = sum(x y' - y x') / sum(x^2 + y^2)
 * (the normal equations of the linear least-squares problem in (p, q)). It equals
 * U diag(1, det(U V^T)) V^T * trace(D S) / sigma_src^2 from the SVD route, without the
 * SVD, so every engine computes it with the same few IEEE operations.
 */
export function estimateSimilarity(src: Points2D, dst: Points2D): Affine {
  if (src.length !== dst.length) {
    throw new RangeError(`estimateSimilarity: src has ${src.length} values, dst ${dst.length}`);
  }
  if (src.length % 2 !== 0) {
    throw new RangeError(`estimateSimilarity: odd number of values (${src.length}); expected interleaved x,y`);
  }
  const n = src.length / 2;
  if (n < 2) throw new RangeError(`estimateSimilarity: need at least 2 points, got ${n}`);

  let mx = 0,
    my = 0,
    ux = 0,
    uy = 0;
  for (let i = 0; i < n; i++) {
    mx += src[2 * i];
    my += src[2 * i + 1];
    ux += dst[2 * i];
    uy += dst[2 * i + 1];
  }
  mx /= n;
  my /= n;
  ux /= n;
  uy /= n;

  let dot = 0,
    cross = 0,
    ss = 0;
  for (let i = 0; i < n; i++) {
    const x = src[2 * i] - mx,
      y = src[2 * i + 1] - my;
    const xd = dst[2 * i] - ux,
      yd = dst[2 * i + 1] - uy;
    dot += x * xd + y * yd;
    cross += x * yd - y * xd;
    ss += x * x + y * y;
  }
  if (!(ss > 0) || !Number.isFinite(ss) || !Number.isFinite(dot) || !Number.isFinite(cross)) {
    throw new RangeError('estimateSimilarity: source points are degenerate (all equal) or not finite');
  }
  const p = dot / ss;
  const q = cross / ss;
  return [p, -q, ux - (p * mx - q * my), q, p, uy - (q * mx + p * my)];
}

/** Scale and rotation (radians) of the linear part of a similarity transform. */
export function similarityScaleAngle(m: Affine): { scale: number; angle: number } {
  return { scale: Math.hypot(m[0], m[3]), angle: Math.atan2(m[3], m[0]) };
}

// ---------------------------------------------------------------------------------------
// Warping
// ---------------------------------------------------------------------------------------

/**
 * Warps `img` into an `outW` x `outH` image: output pixel (x, y) samples the source at
 * `dstToSrc(x, y)` with bilinear interpolation; source pixels outside the image count as 0
 * (OpenCV `warpAffine(..., WARP_INVERSE_MAP, INTER_LINEAR, BORDER_CONSTANT, 0)` semantics).
 *
 * The interpolation is done in float64 and rounded half-up to uint8. Only +, -, *,
 * Math.floor and comparisons are used, all exactly specified by IEEE 754 / ECMAScript, so
 * Node and every browser produce identical bytes. (OpenCV's classic fixed-point path
 * quantises coordinates to 1/32 px, so it can differ from this by one grey level.)
 */
export function warpAffineRgb(img: RgbImage, dstToSrc: Affine, outW: number, outH: number): RgbImage {
  checkImage(img, 'warpAffineRgb');
  if (!Number.isInteger(outW) || !Number.isInteger(outH) || outW <= 0 || outH <= 0) {
    throw new RangeError(`warpAffineRgb: output size must be positive integers, got ${outW}x${outH}`);
  }
  for (const v of dstToSrc) {
    if (!Number.isFinite(v)) throw new RangeError('warpAffineRgb: transform has a non-finite entry');
  }
  const { width: w, height: h, data: src } = img;
  const out = new Uint8Array(outW * outH * 3);
  const [a, b, tx, c, d, ty] = dstToSrc;
  const rowStride = w * 3;

  for (let y = 0; y < outH; y++) {
    const bx = b * y + tx;
    const by = d * y + ty;
    let o = y * outW * 3;
    for (let x = 0; x < outW; x++, o += 3) {
      const sx = a * x + bx;
      const sy = c * x + by;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      // Fully outside (all four neighbours outside): stays 0.
      if (x0 < -1 || y0 < -1 || x0 >= w || y0 >= h) continue;
      const fx = sx - x0;
      const fy = sy - y0;
      const w00 = (1 - fx) * (1 - fy);
      const w01 = fx * (1 - fy);
      const w10 = (1 - fx) * fy;
      const w11 = fx * fy;
      const inX0 = x0 >= 0;
      const inX1 = x0 + 1 < w;
      const inY0 = y0 >= 0;
      const inY1 = y0 + 1 < h;
      const i00 = y0 * rowStride + x0 * 3;
      for (let ch = 0; ch < 3; ch++) {
        let v = 0;
        if (inY0) {
          if (inX0) v += w00 * src[i00 + ch];
          if (inX1) v += w01 * src[i00 + 3 + ch];
        }
        if (inY1) {
          if (inX0) v += w10 * src[i00 + rowStride + ch];
          if (inX1) v += w11 * src[i00 + rowStride + 3 + ch];
        }
        const r = Math.floor(v + 0.5);
        out[o + ch] = r < 0 ? 0 : r > 255 ? 255 : r;
      }
    }
  }
  return { width: outW, height: outH, data: out };
}

function checkImage(img: RgbImage, where: string): void {
  if (!Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width <= 0 || img.height <= 0) {
    throw new RangeError(`${where}: invalid image size ${img.width}x${img.height}`);
  }
  if (img.data.length !== img.width * img.height * 3) {
    throw new RangeError(`${where}: image data has ${img.data.length} bytes, expected ${img.width * img.height * 3} (RGB)`);
  }
}

// ---------------------------------------------------------------------------------------
// ArcFace 112x112 alignment
// ---------------------------------------------------------------------------------------

export interface AlignedFace {
  /** The aligned face, `size` x `size` RGB. */
  face: RgbImage;
  /** Source pixels -> aligned pixels. */
  transform: Affine;
}

/** Similarity-aligns `landmarks5` onto `template` (in output pixels) and warps. */
export function alignToTemplate(img: RgbImage, landmarks5: Points2D, template: Points2D, size: number): AlignedFace {
  if (landmarks5.length !== 10 || template.length !== 10) {
    throw new RangeError(`alignToTemplate: expected 5 points (10 values), got ${landmarks5.length} and ${template.length}`);
  }
  const transform = estimateSimilarity(landmarks5, template);
  const face = warpAffineRgb(img, invertAffine(transform), size, size);
  return { face, transform };
}

/** 5-point alignment to the ArcFace 112x112 template (docs/DESIGN.md, pipeline step "Align"). */
export function alignFace112(img: RgbImage, landmarks5: Points2D): AlignedFace {
  return alignToTemplate(img, landmarks5, ARCFACE_TEMPLATE_112, ALIGNED_SIZE);
}

// ---------------------------------------------------------------------------------------
// dlib face chips (full-face baseline: dlib_face_recognition_resnet_model_v1)
// ---------------------------------------------------------------------------------------

/*
 * dlib's mean face shape: average positions of iBUG 68-point landmarks 17..67 in a unit
 * box, the constants `mean_face_shape_x/_y` of `get_face_chip_details` in
 * dlib/image_transforms/interpolation.h (github.com/davisking/dlib; Davis E. King,
 * Boost Software License 1.0). Reproduced as facts (numbers), not code.
 *
 * How dlib uses them (same file and dlib/geometry/drectangle.h), which dlibChipTransform
 * reproduces:
 *  1. chip point for landmark i = (padding + mean[i-17]) / (2 padding + 1) * size, for
 *     i in 27..54 and 60..64 (eyebrows 17..26 and lower lip 55..59, 65..67 are skipped;
 *     the jaw 0..16 is never used);
 *  2. T = find_similarity_transform(chip points -> image points) (least squares);
 *     scale s = |T(1,0) linear part|, angle = its atan2;
 *  3. rect = centered_drect(T(size/2, size/2), size*s, size*s): a drectangle whose
 *     corners lie (size*s - 1)/2 from the centre (dlib rectangles count pixels inclusively);
 *  4. the chip maps the rect's rotated corners tl, tr, br to chip pixels (0,0),
 *     (size-1, 0), (size-1, size-1) (get_mapping_to_chip / extract_image_chips).
 */
const DLIB_MEAN_FACE_SHAPE_X: readonly number[] = Object.freeze([
  0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124, 0.904991, 0.98004, 0.490127, 0.490127, 0.490127,
  0.490127, 0.36688, 0.426036, 0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825, 0.334606, 0.260918, 0.182743, 0.645647, 0.714428,
  0.793132, 0.858516, 0.79751, 0.719335, 0.254149, 0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721, 0.490127,
  0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874, 0.553364, 0.490127, 0.42689,
]);
const DLIB_MEAN_FACE_SHAPE_Y: readonly number[] = Object.freeze([
  0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915, 0.106454, 0.203352, 0.307009, 0.409805,
  0.515625, 0.587326, 0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758, 0.179852, 0.231733, 0.245099, 0.244077, 0.231733,
  0.179852, 0.178758, 0.216423, 0.244077, 0.245099, 0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805,
  0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746, 0.784792, 0.824182, 0.831803, 0.824182,
]);

/** Default chip geometry of dlib_face_recognition_resnet_model_v1 (dlib's dnn_face_recognition_ex). */
export const DLIB_CHIP_SIZE = 150;
export const DLIB_CHIP_PADDING = 0.25;

/** Landmark indices (iBUG 68) that get_face_chip_details fits: 27..54 and 60..64. */
export const DLIB_CHIP_LANDMARKS: readonly number[] = Object.freeze(
  Array.from({ length: 68 }, (_, i) => i).filter((i) => (i >= 27 && i <= 54) || (i >= 60 && i <= 64)),
);

/** dlib's mean face shape position of 68-landmark `i` (17 <= i <= 67) in the padded chip, before pixel conventions. */
function dlibMeanPoint(i: number, size: number, padding: number): [number, number] {
  const k = i - 17;
  return [
    ((padding + DLIB_MEAN_FACE_SHAPE_X[k]) / (2 * padding + 1)) * size,
    ((padding + DLIB_MEAN_FACE_SHAPE_Y[k]) / (2 * padding + 1)) * size,
  ];
}

function checkChipArgs(size: number, padding: number, where: string): void {
  if (!Number.isInteger(size) || size < 2) throw new RangeError(`${where}: size must be an integer >= 2, got ${size}`);
  if (!(padding >= 0) || !Number.isFinite(padding)) throw new RangeError(`${where}: padding must be >= 0, got ${padding}`);
}

/**
 * Source -> chip transform of dlib's `get_face_chip_details(shape, size, padding)` followed
 * by `extract_image_chip`, for a 68-point shape (interleaved x,y, source pixels). See the
 * comment above the constants for the steps reproduced.
 *
 * The result is a similarity: chip = K R(-angle) (img - centre) + (size-1)/2 with
 * K = (size-1)/(size*s-1). Not reproduced: dlib extracts chips that shrink the source by
 * more than 2x from a pyramid_down<2> image pyramid; `extractChip` samples the source
 * directly (bilinear), which aliases slightly more for large source faces.
 */
export function dlibChipTransform(landmarks68: Points2D, size: number = DLIB_CHIP_SIZE, padding: number = DLIB_CHIP_PADDING): Affine {
  if (landmarks68.length !== 136) {
    throw new RangeError(`dlibChipTransform: expected 68 points (136 values), got ${landmarks68.length}`);
  }
  checkChipArgs(size, padding, 'dlibChipTransform');
  const chipPts: number[] = [];
  const imgPts: number[] = [];
  for (const i of DLIB_CHIP_LANDMARKS) {
    const [x, y] = dlibMeanPoint(i, size, padding);
    chipPts.push(x, y);
    imgPts.push(landmarks68[2 * i], landmarks68[2 * i + 1]);
  }
  const chipToImg = estimateSimilarity(chipPts, imgPts);
  const s = Math.hypot(chipToImg[0], chipToImg[3]);
  const rectWidth = size * s; // centered_drect(centre, size*s, size*s)
  if (!(rectWidth > 1)) {
    throw new RangeError(`dlibChipTransform: face too small (chip rectangle ${rectWidth.toFixed(3)} px wide)`);
  }
  const [cx, cy] = applyAffine(chipToImg, size / 2, size / 2);
  // Rotated corners lie (rectWidth-1)/2 from the centre and map to chip pixels 0 and size-1.
  const k = (size - 1) / (rectWidth - 1);
  const cos = chipToImg[0] / s;
  const sin = chipToImg[3] / s;
  const a = k * cos,
    b = k * sin;
  const half = (size - 1) / 2;
  return [a, b, half - (a * cx + b * cy), -b, a, half - (-b * cx + a * cy)];
}

/**
 * A 5-point template (left eye centre, right eye centre, nose tip, left mouth corner, right
 * mouth corner; image left/right; interleaved x,y in chip pixels) derived from dlib's mean
 * face shape, so that `alignToTemplate(img, landmarks5, dlibChip5Template(), 150)`
 * approximates dlib's 150x150 face chips when only 5 points are available.
 *
 * Eye centres are the means of points 36..41 and 42..47, nose tip is point 30, mouth
 * corners 48 and 54 (the same definitions as DetectedFace.landmarks5). Points are mapped
 * with dlib's padded chip formula and then shifted by -0.5 px: for a source face at the
 * chip's own scale (s = 1) dlib's corner-to-pixel-centre mapping puts the mean shape
 * exactly there; for other scales dlib's mapping stretches by (size-1)s/(size s-1) about the
 * chip centre, a difference that stays under a pixel at the chip border for s >= 0.6.
 */
export function dlibChip5Template(size: number = DLIB_CHIP_SIZE, padding: number = DLIB_CHIP_PADDING): number[] {
  checkChipArgs(size, padding, 'dlibChip5Template');
  const mean = (idx: number[]): [number, number] => {
    let x = 0,
      y = 0;
    for (const i of idx) {
      const [px, py] = dlibMeanPoint(i, size, padding);
      x += px;
      y += py;
    }
    return [x / idx.length - 0.5, y / idx.length - 0.5];
  };
  return [...mean([36, 37, 38, 39, 40, 41]), ...mean([42, 43, 44, 45, 46, 47]), ...mean([30]), ...mean([48]), ...mean([54])];
}

/** Mean face shape point of landmark i (17..67) in dlib chip pixels, with the same -0.5 shift as dlibChip5Template. Exposed for tests and tools. */
export function dlibMeanShapeChipPoint(i: number, size: number = DLIB_CHIP_SIZE, padding: number = DLIB_CHIP_PADDING): [number, number] {
  if (!Number.isInteger(i) || i < 17 || i > 67) throw new RangeError(`dlibMeanShapeChipPoint: landmark ${i} has no mean position (17..67)`);
  checkChipArgs(size, padding, 'dlibMeanShapeChipPoint');
  const [x, y] = dlibMeanPoint(i, size, padding);
  return [x - 0.5, y - 0.5];
}

/** Extracts a `size` x `size` chip given the source -> chip transform (bilinear, black outside). */
export function extractChip(img: RgbImage, srcToChip: Affine, size: number): RgbImage {
  return warpAffineRgb(img, invertAffine(srcToChip), size, size);
}
