/**
 * Header sniffing: identify a photo's format, size and EXIF orientation from its first bytes,
 * without decoding pixels. Used by the browser and by Node before any decoder allocates, so a
 * pixel bomb, an SVG or a PDF is refused with the same clear message everywhere.
 *
 * Pure: no DOM, no Node imports.
 */
import { PatchFaceError } from './errors.ts';

export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'bmp';

export interface ImageHeader {
  format: ImageFormat;
  /** Displayed width, i.e. after EXIF orientation (swapped for orientations 5-8). */
  width: number;
  /** Displayed height, after EXIF orientation. */
  height: number;
  /** Width as stored in the file, before orientation. */
  storedWidth: number;
  /** Height as stored in the file, before orientation. */
  storedHeight: number;
  /** EXIF orientation 1-8; 1 when absent or unreadable. */
  orientation: number;
}

/** Default upper bound on decoded pixels (40 MP: beyond any phone camera, far below a bomb). */
export const MAX_PIXELS = 40_000_000;
/** A side shorter than this cannot hold a face the detectors would find. */
export const MIN_SIDE = 32;

const FORMAT_NAMES: Record<ImageFormat, string> = {
  jpeg: 'JPEG',
  png: 'PNG',
  webp: 'WebP',
  gif: 'GIF',
  bmp: 'BMP',
};

const CONVERT_HINT = 'PatchFace reads JPEG, PNG, WebP, GIF and BMP; please convert it to JPEG or PNG.';

function truncated(format: ImageFormat, what = 'header'): PatchFaceError {
  return new PatchFaceError(
    'truncated',
    `The ${FORMAT_NAMES[format]} file is truncated: it ends before its ${what} is complete. It may not have finished downloading or copying.`,
  );
}

function damaged(format: ImageFormat, why: string): PatchFaceError {
  return new PatchFaceError('decode-failed', `The ${FORMAT_NAMES[format]} file is damaged: ${why}.`);
}

// ---------------------------------------------------------------------------------------------
// Byte helpers (all bounds-checked by the callers).

const u16be = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];
const u16le = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8);
const u24le = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8) | (b[o + 2] << 16);
const u32be = (b: Uint8Array, o: number) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
const u32le = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
const i32le = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24);

function ascii(b: Uint8Array, o: number, n: number): string {
  let s = '';
  for (let i = o; i < o + n && i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

function startsWith(b: Uint8Array, sig: readonly number[], at = 0): boolean {
  if (b.length < at + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (b[at + i] !== sig[i]) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// EXIF (TIFF structure) orientation. A broken EXIF block never fails the file: browsers and
// libvips ignore it too, so we report orientation 1.

/** Orientation from a TIFF header starting at `start`, reading no further than `end`. */
export function readTiffOrientation(b: Uint8Array, start: number, end: number = b.length): number {
  end = Math.min(end, b.length);
  if (start + 8 > end) return 1;
  let le: boolean;
  if (b[start] === 0x49 && b[start + 1] === 0x49) le = true;
  else if (b[start] === 0x4d && b[start + 1] === 0x4d) le = false;
  else return 1;
  const r16 = (o: number) => (le ? u16le(b, o) : u16be(b, o));
  const r32 = (o: number) => (le ? u32le(b, o) : u32be(b, o));
  if (r16(start + 2) !== 42) return 1;
  const ifd = start + r32(start + 4);
  if (ifd + 2 > end || ifd < start + 8) return 1;
  const count = r16(ifd);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > end) return 1;
    if (r16(e) === 0x0112) {
      const type = r16(e + 2);
      // SHORT is the only legal type; a LONG would be an encoder bug we tolerate.
      const v = type === 3 ? r16(e + 8) : type === 4 ? r32(e + 8) : 0;
      return v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}

const EXIF_PREFIX = [0x45, 0x78, 0x69, 0x66, 0x00, 0x00]; // "Exif\0\0"

// ---------------------------------------------------------------------------------------------
// Per-format parsers. Each returns stored dimensions + orientation.

interface Raw {
  w: number;
  h: number;
  orientation: number;
}

function isJpegSof(m: number): boolean {
  // SOF0-SOF15, except DHT (C4), JPG (C8) and DAC (CC), which share the range.
  return m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
}

function parseJpeg(b: Uint8Array): Raw {
  let orientation = 1;
  let pos = 2;
  const n = b.length;
  for (;;) {
    // Tolerate garbage between segments as libjpeg does: find the next 0xFF, skip fill bytes.
    while (pos < n && b[pos] !== 0xff) pos++;
    while (pos < n && b[pos] === 0xff) pos++;
    if (pos >= n) throw truncated('jpeg');
    const marker = b[pos];
    pos++;
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01 || marker === 0xd8 || marker === 0x00) continue;
    if (marker === 0xd9) throw damaged('jpeg', 'it ends (EOI marker) before any image frame');
    if (marker === 0xda) throw damaged('jpeg', 'image data (SOS) starts before the frame header (SOF)');
    if (pos + 2 > n) throw truncated('jpeg');
    const len = u16be(b, pos);
    if (len < 2) throw damaged('jpeg', `segment 0x${marker.toString(16).toUpperCase()} has an invalid length ${len}`);
    const data = pos + 2;
    const segEnd = pos + len;
    if (isJpegSof(marker)) {
      if (data + 5 > n) throw truncated('jpeg');
      const h = u16be(b, data + 1);
      const w = u16be(b, data + 3);
      if (w === 0) throw damaged('jpeg', 'the frame header says the width is 0');
      if (h === 0) throw damaged('jpeg', 'the height is defined after the image data (DNL), which is not supported');
      return { w, h, orientation };
    }
    if (marker === 0xe1 && orientation === 1 && startsWith(b, EXIF_PREFIX, data)) {
      orientation = readTiffOrientation(b, data + 6, segEnd);
    }
    pos = segEnd;
  }
}

const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function parsePng(b: Uint8Array): Raw {
  if (b.length < 24) throw truncated('png');
  if (ascii(b, 12, 4) !== 'IHDR') throw damaged('png', 'its first chunk is not IHDR');
  const w = u32be(b, 16);
  const h = u32be(b, 20);
  if (w === 0 || h === 0) throw damaged('png', `the header says the image is ${w}x${h}`);
  // An eXIf chunk, if any, must precede IDAT. Walk the chunk list up to there.
  let orientation = 1;
  let pos = 8;
  while (pos + 8 <= b.length) {
    const len = u32be(b, pos);
    const type = ascii(b, pos + 4, 4);
    if (type === 'IDAT' || type === 'IEND') break;
    if (type === 'eXIf') {
      orientation = readTiffOrientation(b, pos + 8, pos + 8 + len);
      break;
    }
    pos += 12 + len;
  }
  return { w, h, orientation };
}

function parseGif(b: Uint8Array): Raw {
  if (b.length < 10) throw truncated('gif');
  const w = u16le(b, 6);
  const h = u16le(b, 8);
  if (w === 0 || h === 0) throw damaged('gif', `the header says the image is ${w}x${h}`);
  return { w, h, orientation: 1 };
}

function parseWebp(b: Uint8Array): Raw {
  if (b.length < 20) throw truncated('webp');
  const fourcc = ascii(b, 12, 4);
  let w: number;
  let h: number;
  let orientation = 1;
  if (fourcc === 'VP8 ') {
    if (b.length < 30) throw truncated('webp');
    if (!startsWith(b, [0x9d, 0x01, 0x2a], 23)) throw damaged('webp', 'the VP8 frame has no start code');
    w = u16le(b, 26) & 0x3fff;
    h = u16le(b, 28) & 0x3fff;
  } else if (fourcc === 'VP8L') {
    if (b.length < 25) throw truncated('webp');
    if (b[20] !== 0x2f) throw damaged('webp', 'the lossless (VP8L) stream has no signature');
    const bits = u32le(b, 21);
    w = (bits & 0x3fff) + 1;
    h = ((bits >>> 14) & 0x3fff) + 1;
  } else if (fourcc === 'VP8X') {
    if (b.length < 30) throw truncated('webp');
    w = u24le(b, 24) + 1;
    h = u24le(b, 27) + 1;
    const hasExif = (b[20] & 0x08) !== 0;
    if (hasExif) {
      let pos = 20 + u32le(b, 16);
      pos += pos & 1;
      while (pos + 8 <= b.length) {
        const size = u32le(b, pos + 4);
        if (ascii(b, pos, 4) === 'EXIF') {
          let start = pos + 8;
          // The spec says raw TIFF, but some writers keep the JPEG-style "Exif\0\0" prefix.
          if (startsWith(b, EXIF_PREFIX, start)) start += 6;
          orientation = readTiffOrientation(b, start, pos + 8 + size);
          break;
        }
        pos += 8 + size + (size & 1);
      }
    }
  } else {
    throw damaged('webp', `its first chunk "${fourcc}" is not VP8, VP8L or VP8X`);
  }
  if (w === 0 || h === 0) throw damaged('webp', `the header says the image is ${w}x${h}`);
  return { w, h, orientation };
}

function parseBmp(b: Uint8Array): Raw {
  if (b.length < 18) throw truncated('bmp');
  const dibSize = u32le(b, 14);
  let w: number;
  let h: number;
  if (dibSize === 12) {
    // BITMAPCOREHEADER (OS/2 1.x): unsigned 16-bit dimensions.
    if (b.length < 22) throw truncated('bmp');
    w = u16le(b, 18);
    h = u16le(b, 20);
  } else if (dibSize >= 16 && dibSize <= 124) {
    // BITMAPINFOHEADER and successors: signed 32-bit; negative height = top-down rows.
    if (b.length < 26) throw truncated('bmp');
    w = i32le(b, 18);
    h = Math.abs(i32le(b, 22));
  } else {
    throw damaged('bmp', `its info header has an unknown size (${dibSize} bytes)`);
  }
  if (w <= 0 || h <= 0) throw damaged('bmp', `the header says the image is ${w}x${h}`);
  return { w, h, orientation: 1 };
}

// ---------------------------------------------------------------------------------------------
// Recognising what a non-image is, so the message can say so.

function textHead(b: Uint8Array, max = 4096): string | null {
  // Byte-order marks: UTF-8, UTF-16 LE, UTF-16 BE. For UTF-16 read only the low byte of each
  // unit, which is enough to recognise ASCII markup such as "<svg".
  let start = 0;
  let step = 1;
  if (startsWith(b, [0xef, 0xbb, 0xbf])) start = 3;
  else if (startsWith(b, [0xff, 0xfe])) [start, step] = [2, 2];
  else if (startsWith(b, [0xfe, 0xff])) [start, step] = [3, 2];
  const end = Math.min(b.length, start + max * step);
  let s = '';
  let control = 0;
  for (let i = start; i < end; i += step) {
    const c = b[i];
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x0c) control++;
    s += String.fromCharCode(c);
  }
  // Text has (almost) no control bytes; UTF-8 multibyte sequences are >= 0x80 and fine.
  return control / Math.max(1, s.length) < 0.01 ? s : null;
}

function notAnImage(what: string): PatchFaceError {
  return new PatchFaceError('not-an-image', `This is ${what}, not an image. PatchFace needs a photo (JPEG, PNG, WebP, GIF or BMP).`);
}

function classifyUnknown(b: Uint8Array): PatchFaceError {
  // Raster formats we recognise but do not decode.
  if (startsWith(b, [0x49, 0x49, 0x2a, 0x00]) || startsWith(b, [0x4d, 0x4d, 0x00, 0x2a])) {
    return new PatchFaceError('unsupported-format', `This is a TIFF image (or a camera RAW file). ${CONVERT_HINT}`);
  }
  if (ascii(b, 4, 4) === 'ftyp') {
    const brand = ascii(b, 8, 4);
    if (/^(heic|heix|hevc|hevx|heim|heis|hevm|hevs|mif1|msf1)$/.test(brand)) {
      return new PatchFaceError(
        'unsupported-format',
        `This is a HEIC/HEIF photo (the iPhone default). ${CONVERT_HINT} (On an iPhone: Settings > Camera > Formats > Most Compatible.)`,
      );
    }
    if (brand === 'avif' || brand === 'avis') {
      return new PatchFaceError('unsupported-format', `This is an AVIF image. ${CONVERT_HINT}`);
    }
    return notAnImage('a video or other media file (MP4/QuickTime container)');
  }
  if (startsWith(b, [0xff, 0x0a]) || startsWith(b, [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20])) {
    return new PatchFaceError('unsupported-format', `This is a JPEG XL image. ${CONVERT_HINT}`);
  }
  if (startsWith(b, [0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20]) || startsWith(b, [0xff, 0x4f, 0xff, 0x51])) {
    return new PatchFaceError('unsupported-format', `This is a JPEG 2000 image. ${CONVERT_HINT}`);
  }
  if (ascii(b, 0, 4) === '8BPS') {
    return new PatchFaceError('unsupported-format', `This is a Photoshop (PSD) document. ${CONVERT_HINT}`);
  }
  if (startsWith(b, [0, 0, 1, 0]) && b.length >= 6 && u16le(b, 4) > 0) {
    return new PatchFaceError('unsupported-format', `This is an icon (ICO) file. ${CONVERT_HINT}`);
  }
  if (ascii(b, 0, 4) === 'RIFF') return notAnImage(`a RIFF "${ascii(b, 8, 4).trim()}" file (audio or video)`);
  if (ascii(b, 0, 5) === '%PDF-') return notAnImage('a PDF document');
  if (startsWith(b, [0x50, 0x4b, 0x03, 0x04]) || startsWith(b, [0x50, 0x4b, 0x05, 0x06])) {
    return notAnImage('a ZIP archive (or an Office document, which is one)');
  }
  if (startsWith(b, [0x1f, 0x8b])) return notAnImage('a gzip-compressed file');
  if (ascii(b, 0, 4) === 'Rar!') return notAnImage('a RAR archive');
  if (startsWith(b, [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c])) return notAnImage('a 7-Zip archive');
  if (startsWith(b, [0x7f, 0x45, 0x4c, 0x46]) || ascii(b, 0, 2) === 'MZ') return notAnImage('a program (executable)');

  const text = textHead(b);
  if (text !== null) {
    const t = text.replace(/^[\s\u00a0]+/, '');
    const lower = t.toLowerCase();
    if (/<svg[\s>/]/.test(lower) || lower.startsWith('<svg')) {
      return new PatchFaceError('svg', 'This is an SVG (vector) file; PatchFace needs a photo (JPEG, PNG, WebP, GIF or BMP).');
    }
    if (lower.startsWith('<!doctype html') || lower.startsWith('<html') || /<(head|body)[\s>]/.test(lower)) {
      return notAnImage('a web page (HTML). If you saved it from a browser, save the picture itself instead (right-click > Save image as)');
    }
    if (lower.startsWith('<?xml')) return notAnImage('an XML document');
    if (lower.startsWith('{') || lower.startsWith('[')) return notAnImage('a text (JSON) file');
    return notAnImage('a text file');
  }
  return new PatchFaceError(
    'not-an-image',
    'This file is not an image PatchFace recognises. It needs a photo (JPEG, PNG, WebP, GIF or BMP).',
  );
}

// ---------------------------------------------------------------------------------------------

/**
 * Identifies a photo from its header bytes. Throws `PatchFaceError` for empty files, SVGs,
 * non-images, unsupported formats, truncated or self-contradictory headers.
 * Only the header is read: a file whose pixel data is cut short still passes here and fails
 * in the decoder.
 */
export function sniffImage(bytes: Uint8Array): ImageHeader {
  if (bytes.length === 0) throw new PatchFaceError('empty', 'The file is empty (0 bytes).');
  let format: ImageFormat;
  let raw: Raw;
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) {
    format = 'jpeg';
    raw = parseJpeg(bytes);
  } else if (startsWith(bytes, PNG_SIG)) {
    format = 'png';
    raw = parsePng(bytes);
  } else if (ascii(bytes, 0, 6) === 'GIF87a' || ascii(bytes, 0, 6) === 'GIF89a') {
    format = 'gif';
    raw = parseGif(bytes);
  } else if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WEBP') {
    format = 'webp';
    raw = parseWebp(bytes);
  } else if (ascii(bytes, 0, 2) === 'BM' && isPlausibleBmp(bytes)) {
    format = 'bmp';
    raw = parseBmp(bytes);
  } else if (isPrefixOfSignature(bytes)) {
    throw new PatchFaceError(
      'truncated',
      `The file is only ${bytes.length} byte${bytes.length === 1 ? '' : 's'} long: too short to hold an image header. It may not have finished downloading or copying.`,
    );
  } else {
    throw classifyUnknown(bytes);
  }
  const swap = raw.orientation >= 5;
  return {
    format,
    width: swap ? raw.h : raw.w,
    height: swap ? raw.w : raw.h,
    storedWidth: raw.w,
    storedHeight: raw.h,
    orientation: raw.orientation,
  };
}

/** "BM" alone also starts plain text; require the DIB header size to be a known one. */
function isPlausibleBmp(b: Uint8Array): boolean {
  if (b.length < 18) return true; // too short to tell; parseBmp reports it truncated
  const dib = u32le(b, 14);
  return dib === 12 || (dib >= 16 && dib <= 124);
}

/** True when the whole file is a proper prefix of a known signature (cut off very early). */
function isPrefixOfSignature(b: Uint8Array): boolean {
  const sigs: (number | null)[][] = [
    [0xff, 0xd8, 0xff],
    PNG_SIG,
    [...'GIF89a'].map((c) => c.charCodeAt(0)),
    [...'GIF87a'].map((c) => c.charCodeAt(0)),
    [...'RIFF????WEBP'].map((c) => (c === '?' ? null : c.charCodeAt(0))),
    [0x42, 0x4d],
  ];
  return sigs.some((sig) => b.length < sig.length && Array.from(b).every((v, i) => sig[i] === null || sig[i] === v));
}

function formatMegapixels(pixels: number, mustExceed?: number): string {
  const v = pixels / 1e6;
  let digits = v >= 10 ? 0 : 1;
  const show = (d: number) => {
    const f = 10 ** d;
    return Math.round(v * f) / f;
  };
  // Never print "40 MP; the limit is 40 MP": add digits until the excess is visible.
  while (mustExceed !== undefined && show(digits) <= mustExceed / 1e6 && digits < 6) digits++;
  return String(show(digits));
}

/**
 * Refuses images whose pixel count exceeds `maxPixels` (default MAX_PIXELS) or whose shorter
 * side is below `minSide` (default MIN_SIDE). Call it on the header's dimensions, before decoding.
 */
export function assertPixelBound(width: number, height: number, opts: { maxPixels?: number; minSide?: number } = {}): void {
  const maxPixels = opts.maxPixels ?? MAX_PIXELS;
  const minSide = opts.minSide ?? MIN_SIDE;
  if (!Number.isFinite(width) || !Number.isFinite(height) || width < 1 || height < 1) {
    throw new PatchFaceError('decode-failed', `The image has invalid dimensions ${width}x${height}.`);
  }
  const pixels = width * height;
  if (pixels > maxPixels) {
    throw new PatchFaceError(
      'too-many-pixels',
      `The image is ${width}x${height} = ${formatMegapixels(pixels, maxPixels)} MP; the limit is ${formatMegapixels(maxPixels)} MP. Please downscale it.`,
    );
  }
  if (Math.min(width, height) < minSide) {
    throw new PatchFaceError(
      'too-small',
      `The image is ${width}x${height} pixels; each side must be at least ${minSide} pixels for a face to be found.`,
    );
  }
}
