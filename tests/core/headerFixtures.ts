/** Tiny synthetic image headers for the sniffing tests (no real photos). */

const enc = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
const be16 = (v: number) => [(v >> 8) & 0xff, v & 0xff];
const le16 = (v: number) => [v & 0xff, (v >> 8) & 0xff];
const be32 = (v: number) => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const le24 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff];

/** A TIFF block whose IFD0 holds an Orientation tag (plus a dummy tag before it). */
export function tiff(orientation: number, littleEndian = true, type = 3): number[] {
  const u16 = littleEndian ? le16 : be16;
  const u32 = littleEndian ? le32 : be32;
  const value = type === 3 ? [...u16(orientation), 0, 0] : u32(orientation);
  return [
    ...(littleEndian ? enc('II') : enc('MM')),
    ...u16(42),
    ...u32(8),
    ...u16(2),
    // ImageWidth (0x0100) LONG 1 = 7, to make sure we look past the first entry
    ...u16(0x0100),
    ...u16(4),
    ...u32(1),
    ...u32(7),
    ...u16(0x0112),
    ...u16(type),
    ...u32(1),
    ...value,
    ...u32(0),
  ];
}

export interface JpegOpts {
  orientation?: number;
  bigEndian?: boolean;
  sof?: number;
  /** Insert fill bytes (0xFF 0xFF) before the SOF marker. */
  fill?: boolean;
}

/** SOI, APP0 JFIF, [APP1 Exif], DQT, DHT, SOFn, SOS, a little scan data, EOI. */
export function jpeg(w: number, h: number, o: JpegOpts = {}): Uint8Array {
  const seg = (marker: number, payload: number[]) => [0xff, marker, ...be16(payload.length + 2), ...payload];
  const parts: number[] = [0xff, 0xd8];
  parts.push(...seg(0xe0, [...enc('JFIF'), 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]));
  if (o.orientation !== undefined) parts.push(...seg(0xe1, [...enc('Exif'), 0, 0, ...tiff(o.orientation, !o.bigEndian)]));
  parts.push(...seg(0xdb, [0, ...new Array(64).fill(1)]));
  // DHT (0xC4) lies in the SOF range and must be skipped; give it bytes that would parse as dims.
  parts.push(...seg(0xc4, [0x00, 0x00, 0x09, 0x00, 0x09, ...new Array(16).fill(0)]));
  if (o.fill) parts.push(0xff, 0xff);
  parts.push(...seg(o.sof ?? 0xc0, [8, ...be16(h), ...be16(w), 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]));
  parts.push(...seg(0xda, [3, 1, 0, 2, 0x11, 3, 0x11, 0, 0x3f, 0]));
  parts.push(0x12, 0x34, 0xff, 0x00, 0x56, 0xff, 0xd9);
  return Uint8Array.from(parts);
}

/** Index just past the SOF width field of `jpeg(...)`: every shorter prefix is a truncated header. */
export function jpegHeaderLength(bytes: Uint8Array): number {
  for (let i = 2; i < bytes.length - 1; i++) {
    if (bytes[i] === 0xff && bytes[i + 1] >= 0xc0 && bytes[i + 1] <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(bytes[i + 1])) {
      return i + 9;
    }
  }
  throw new Error('no SOF');
}

function crc32(bytes: number[]): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

function pngChunk(type: string, data: number[]): number[] {
  const td = [...enc(type), ...data];
  return [...be32(data.length), ...td, ...be32(crc32(td))];
}

export function png(w: number, h: number, o: { exifOrientation?: number } = {}): Uint8Array {
  const parts = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  parts.push(...pngChunk('IHDR', [...be32(w), ...be32(h), 8, 2, 0, 0, 0]));
  parts.push(...pngChunk('sRGB', [0]));
  if (o.exifOrientation !== undefined) parts.push(...pngChunk('eXIf', tiff(o.exifOrientation, false)));
  parts.push(...pngChunk('IDAT', [0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]));
  parts.push(...pngChunk('IEND', []));
  return Uint8Array.from(parts);
}

export function gif(w: number, h: number, version = '89a'): Uint8Array {
  return Uint8Array.from([...enc('GIF' + version), ...le16(w), ...le16(h), 0, 0, 0, 0x3b]);
}

function riff(chunks: number[]): Uint8Array {
  return Uint8Array.from([...enc('RIFF'), ...le32(chunks.length + 4), ...enc('WEBP'), ...chunks]);
}

function webpChunk(fourcc: string, data: number[]): number[] {
  return [...enc(fourcc), ...le32(data.length), ...data, ...(data.length & 1 ? [0] : [])];
}

export function webpLossy(w: number, h: number): Uint8Array {
  // frame tag (keyframe), start code, 14-bit dims with 2-bit scale in the top bits (set here, must be masked)
  return riff(webpChunk('VP8 ', [0x50, 0x01, 0x00, 0x9d, 0x01, 0x2a, ...le16(w | 0x4000), ...le16(h | 0x8000), 0, 0]));
}

export function webpLossless(w: number, h: number): Uint8Array {
  const bits = ((w - 1) & 0x3fff) | (((h - 1) & 0x3fff) << 14) | (1 << 28);
  return riff(webpChunk('VP8L', [0x2f, ...le32(bits >>> 0), 0, 0, 0]));
}

export function webpExtended(w: number, h: number, o: { exifOrientation?: number; exifPrefix?: boolean } = {}): Uint8Array {
  const hasExif = o.exifOrientation !== undefined;
  const flags = (hasExif ? 0x08 : 0) | 0x10; // EXIF, ALPHA
  const chunks = webpChunk('VP8X', [flags, 0, 0, 0, ...le24(w - 1), ...le24(h - 1)]);
  chunks.push(...webpChunk('ALPH', [0, 1, 2]));
  chunks.push(...webpChunk('VP8L', [0x2f, ...le32((((w - 1) & 0x3fff) | (((h - 1) & 0x3fff) << 14)) >>> 0), 0]));
  if (hasExif) chunks.push(...webpChunk('EXIF', [...(o.exifPrefix ? [...enc('Exif'), 0, 0] : []), ...tiff(o.exifOrientation!)]));
  return riff(chunks);
}

export function bmp(w: number, h: number, o: { core?: boolean } = {}): Uint8Array {
  const dib = o.core
    ? [...le32(12), ...le16(w), ...le16(h), ...le16(1), ...le16(24)]
    : [
        ...le32(40),
        ...le32(w),
        ...le32(h),
        ...le16(1),
        ...le16(24),
        ...le32(0),
        ...le32(0),
        ...le32(2835),
        ...le32(2835),
        ...le32(0),
        ...le32(0),
      ];
  const pixels = new Array(4 * Math.abs(h)).fill(0);
  const size = 14 + dib.length + pixels.length;
  return Uint8Array.from([...enc('BM'), ...le32(size), 0, 0, 0, 0, ...le32(14 + dib.length), ...dib, ...pixels]);
}

export const text = (s: string) => new TextEncoder().encode(s);

export function utf16le(s: string, bom = true): Uint8Array {
  const out: number[] = bom ? [0xff, 0xfe] : [];
  for (const ch of s) out.push(ch.charCodeAt(0) & 0xff, ch.charCodeAt(0) >> 8);
  return Uint8Array.from(out);
}

export function bytes(...parts: (number[] | string)[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? enc(p) : p)));
}
