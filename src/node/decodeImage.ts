/**
 * Node photo decoding: bytes -> RgbImage with EXIF orientation applied.
 *
 * The header is sniffed by the same pure core code the browser uses, so both refuse the same
 * files with the same messages (SVG, non-images, pixel bombs) before any decoder allocates.
 * JPEG, PNG, WebP and GIF (first frame) go through sharp (libvips); BMP, which libvips does
 * not read, through bmp-ts.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import sharp from 'sharp';
import { decode as decodeBmp } from 'bmp-ts';
import { PatchFaceError } from '../core/errors.ts';
import { assertPixelBound, MAX_PIXELS, sniffImage } from '../core/imageHeader.ts';
import { rgbaToRgb } from '../core/image.ts';
import type { RgbImage } from '../core/types.ts';

export interface DecodedPhoto {
  image: RgbImage;
  format: string;
  /** EXIF orientation found in the file (1 = none); already applied to `image`. */
  orientation: number;
}

/** Wraps any failure with the file name, so batch tools can report "file: reason". */
export class PhotoError extends Error {
  override readonly name = 'PhotoError';
  constructor(
    readonly file: string,
    override readonly cause: Error,
  ) {
    super(`${file}: ${cause.message}`);
  }
}

/** A decoded file, with the bytes it was decoded from (the detection cache keys on them). */
export interface DecodedPhotoFile extends DecodedPhoto {
  bytes: Uint8Array;
}

/** The file's bytes; a file that cannot be read is a PhotoError naming it and the reason. */
export async function readPhotoFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new PhotoError(basename(path), new Error(`cannot read the file (${(e as NodeJS.ErrnoException).code ?? e})`));
  }
}

/** The photo at ``path``; ``read``: its bytes when the caller has already read them (readPhotoFile). */
export async function decodePhotoFile(path: string, read?: Uint8Array): Promise<DecodedPhotoFile> {
  const bytes = read ?? (await readPhotoFile(path));
  try {
    return { ...(await decodePhotoBytes(bytes)), bytes };
  } catch (e) {
    throw new PhotoError(path, e as Error);
  }
}

export async function decodePhotoBytes(bytes: Uint8Array): Promise<DecodedPhoto> {
  const header = sniffImage(bytes);
  assertPixelBound(header.width, header.height);
  if (header.format === 'bmp') {
    let bmp;
    try {
      bmp = decodeBmp(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { toRGBA: true });
    } catch (e) {
      throw new PatchFaceError('decode-failed', `The BMP file could not be decoded (${(e as Error).message}).`);
    }
    return { image: rgbaToRgb(bmp.data, bmp.width, bmp.height), format: 'bmp', orientation: 1 };
  }
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: MAX_PIXELS, failOn: 'error', pages: 1 })
      .autoOrient()
      .flatten({ background: '#ffffff' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`unexpected channel count ${info.channels}`);
    return {
      image: { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) },
      format: header.format,
      orientation: header.orientation,
    };
  } catch (e) {
    if (e instanceof PatchFaceError) throw e;
    const reason = (e as Error).message.split('\n')[0];
    throw new PatchFaceError(
      /premature|truncat|corrupt|end of/i.test(reason) ? 'truncated' : 'decode-failed',
      `The ${header.format.toUpperCase()} file could not be decoded: it looks corrupt or truncated (${reason}).`,
    );
  }
}
