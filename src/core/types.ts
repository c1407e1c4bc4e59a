/**
 * Types shared by every stage of the pipeline. Pure data: no DOM, React or runtime imports.
 *
 * Coordinate spaces are named in field names: `sourcePx` = pixels of the decoded photo
 * (after EXIF orientation), `alignedPx` = pixels of the 112x112 aligned face.
 */

/** A decoded photo, EXIF orientation already applied: RGB, 8 bits, row-major, no alpha. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** length = width * height * 3 */
  readonly data: Uint8Array;
}

/** Axis-aligned box `[x, y, width, height]`. */
export type BoxXYWH = [number, number, number, number];

export interface Detection {
  /** In source pixels. */
  box: BoxXYWH;
  /** Detector confidence in 0..1. */
  score: number;
}

export interface DetectedFace extends Detection {
  /** 68 landmarks, interleaved x,y in source pixels (iBUG 300-W order). */
  landmarks68: Float32Array;
  /** 5 points, interleaved x,y in source pixels: left eye centre, right eye centre, nose tip, left mouth corner, right mouth corner (image left/right). */
  landmarks5: Float32Array;
}

/** A 2x3 affine matrix `[a, b, tx, c, d, ty]`: x' = a x + b y + tx, y' = c x + d y + ty. */
export type Affine = [number, number, number, number, number, number];

/** A float tensor as the inference layer passes it around. */
export interface Tensor {
  data: Float32Array;
  dims: number[];
}
