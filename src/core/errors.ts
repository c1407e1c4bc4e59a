/**
 * The one error type the pipeline throws for problems the user can act on. `message` is shown
 * verbatim in the app and the CLI, so it must say what is wrong with *this* file and, where it
 * helps, what to do instead. `code` is for programs (tests, UI branching, telemetry-free stats).
 */

export type PatchFaceErrorCode =
  /** The file has zero bytes. */
  | 'empty'
  /** Text, PDF, archive, executable... anything that is not a raster image. */
  | 'not-an-image'
  /** An SVG (vector) file; we need a photo. */
  | 'svg'
  /** A real image, but in a format we do not decode (HEIC, AVIF, TIFF, ICO, ...). */
  | 'unsupported-format'
  /** The file ends before its header (or its data) is complete. */
  | 'truncated'
  /** More pixels than the configured bound (decompression bombs, panoramas). */
  | 'too-many-pixels'
  /** Too small to contain a detectable face. */
  | 'too-small'
  /** The header looked fine but the decoder failed, or the header is self-contradictory. */
  | 'decode-failed'
  /** No face was found in the photo. */
  | 'no-face';

/** Generic fallbacks, used only when a caller has nothing more specific to say. */
export const DEFAULT_ERROR_MESSAGES: Readonly<Record<PatchFaceErrorCode, string>> = {
  empty: 'The file is empty (0 bytes).',
  'not-an-image': 'This file is not an image. PatchFace needs a photo (JPEG, PNG, WebP, GIF or BMP).',
  svg: 'This is an SVG (vector) file; PatchFace needs a photo (JPEG, PNG, WebP, GIF or BMP).',
  'unsupported-format': 'This image format is not supported; please convert it to JPEG or PNG.',
  truncated: 'The image file is incomplete (truncated); it may not have finished downloading or copying.',
  'too-many-pixels': 'The image has too many pixels.',
  'too-small': 'The image is too small to contain a recognisable face.',
  'decode-failed': 'The image could not be decoded; the file looks damaged.',
  'no-face': 'No face was found in this photo. Try a photo where the face is clearly visible, upright and not too small.',
};

export class PatchFaceError extends Error {
  override readonly name = 'PatchFaceError';
  readonly code: PatchFaceErrorCode;

  constructor(code: PatchFaceErrorCode, message: string = DEFAULT_ERROR_MESSAGES[code]) {
    super(message);
    this.code = code;
  }
}

export function isPatchFaceError(e: unknown, code?: PatchFaceErrorCode): e is PatchFaceError {
  return e instanceof PatchFaceError && (code === undefined || e.code === code);
}
