import { describe, expect, it } from 'vitest';
import { PatchFaceError, type PatchFaceErrorCode } from '../../src/core/errors.ts';
import { assertPixelBound, MAX_PIXELS, MIN_SIDE, readTiffOrientation, sniffImage } from '../../src/core/imageHeader.ts';
import {
  bmp,
  bytes,
  gif,
  jpeg,
  jpegHeaderLength,
  png,
  text,
  tiff,
  utf16le,
  webpExtended,
  webpLossless,
  webpLossy,
} from './headerFixtures.ts';

function codeOf(fn: () => unknown): { code: PatchFaceErrorCode; message: string } {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PatchFaceError);
    return { code: (e as PatchFaceError).code, message: (e as PatchFaceError).message };
  }
  throw new Error('expected a PatchFaceError, nothing was thrown');
}

describe('sniffImage: formats and dimensions', () => {
  const cases: [
    string,
    Uint8Array,
    { format: string; width: number; height: number; orientation: number; storedWidth: number; storedHeight: number },
  ][] = [
    ['baseline JPEG', jpeg(640, 480), { format: 'jpeg', width: 640, height: 480, orientation: 1, storedWidth: 640, storedHeight: 480 }],
    [
      'progressive JPEG (SOF2)',
      jpeg(1, 65535, { sof: 0xc2 }),
      { format: 'jpeg', width: 1, height: 65535, orientation: 1, storedWidth: 1, storedHeight: 65535 },
    ],
    [
      'lossless JPEG (SOF3)',
      jpeg(300, 200, { sof: 0xc3 }),
      { format: 'jpeg', width: 300, height: 200, orientation: 1, storedWidth: 300, storedHeight: 200 },
    ],
    [
      'arithmetic JPEG (SOF9)',
      jpeg(33, 44, { sof: 0xc9 }),
      { format: 'jpeg', width: 33, height: 44, orientation: 1, storedWidth: 33, storedHeight: 44 },
    ],
    [
      'JPEG with fill bytes before SOF',
      jpeg(50, 60, { fill: true }),
      { format: 'jpeg', width: 50, height: 60, orientation: 1, storedWidth: 50, storedHeight: 60 },
    ],
    [
      'JPEG EXIF orientation 3 (no swap)',
      jpeg(640, 480, { orientation: 3 }),
      { format: 'jpeg', width: 640, height: 480, orientation: 3, storedWidth: 640, storedHeight: 480 },
    ],
    [
      'JPEG EXIF orientation 6 (swap)',
      jpeg(4032, 3024, { orientation: 6 }),
      { format: 'jpeg', width: 3024, height: 4032, orientation: 6, storedWidth: 4032, storedHeight: 3024 },
    ],
    [
      'JPEG EXIF orientation 8, big-endian TIFF',
      jpeg(400, 300, { orientation: 8, bigEndian: true }),
      { format: 'jpeg', width: 300, height: 400, orientation: 8, storedWidth: 400, storedHeight: 300 },
    ],
    [
      'JPEG EXIF orientation 5 (swap)',
      jpeg(10, 20, { orientation: 5 }),
      { format: 'jpeg', width: 20, height: 10, orientation: 5, storedWidth: 10, storedHeight: 20 },
    ],
    [
      'JPEG EXIF orientation 4 (no swap)',
      jpeg(10, 20, { orientation: 4 }),
      { format: 'jpeg', width: 10, height: 20, orientation: 4, storedWidth: 10, storedHeight: 20 },
    ],
    [
      'JPEG invalid orientation 9 -> 1',
      jpeg(10, 20, { orientation: 9 }),
      { format: 'jpeg', width: 10, height: 20, orientation: 1, storedWidth: 10, storedHeight: 20 },
    ],
    [
      'JPEG invalid orientation 0 -> 1',
      jpeg(10, 20, { orientation: 0 }),
      { format: 'jpeg', width: 10, height: 20, orientation: 1, storedWidth: 10, storedHeight: 20 },
    ],
    ['PNG', png(800, 600), { format: 'png', width: 800, height: 600, orientation: 1, storedWidth: 800, storedHeight: 600 }],
    [
      'PNG with eXIf orientation 6',
      png(800, 600, { exifOrientation: 6 }),
      { format: 'png', width: 600, height: 800, orientation: 6, storedWidth: 800, storedHeight: 600 },
    ],
    [
      'PNG large dims (u32)',
      png(100000, 3),
      { format: 'png', width: 100000, height: 3, orientation: 1, storedWidth: 100000, storedHeight: 3 },
    ],
    ['GIF89a', gif(320, 240), { format: 'gif', width: 320, height: 240, orientation: 1, storedWidth: 320, storedHeight: 240 }],
    ['GIF87a', gif(65535, 1, '87a'), { format: 'gif', width: 65535, height: 1, orientation: 1, storedWidth: 65535, storedHeight: 1 }],
    [
      'WebP lossy (scale bits masked)',
      webpLossy(1024, 768),
      { format: 'webp', width: 1024, height: 768, orientation: 1, storedWidth: 1024, storedHeight: 768 },
    ],
    [
      'WebP lossless',
      webpLossless(16384, 1),
      { format: 'webp', width: 16384, height: 1, orientation: 1, storedWidth: 16384, storedHeight: 1 },
    ],
    [
      'WebP extended, no EXIF',
      webpExtended(20000, 300),
      { format: 'webp', width: 20000, height: 300, orientation: 1, storedWidth: 20000, storedHeight: 300 },
    ],
    [
      'WebP extended, EXIF orientation 6',
      webpExtended(640, 480, { exifOrientation: 6 }),
      { format: 'webp', width: 480, height: 640, orientation: 6, storedWidth: 640, storedHeight: 480 },
    ],
    [
      'WebP extended, "Exif\\0\\0"-prefixed EXIF 7',
      webpExtended(640, 480, { exifOrientation: 7, exifPrefix: true }),
      { format: 'webp', width: 480, height: 640, orientation: 7, storedWidth: 640, storedHeight: 480 },
    ],
    ['BMP bottom-up', bmp(123, 45), { format: 'bmp', width: 123, height: 45, orientation: 1, storedWidth: 123, storedHeight: 45 }],
    [
      'BMP top-down (negative height)',
      bmp(123, -45),
      { format: 'bmp', width: 123, height: 45, orientation: 1, storedWidth: 123, storedHeight: 45 },
    ],
    [
      'BMP OS/2 core header',
      bmp(70, 80, { core: true }),
      { format: 'bmp', width: 70, height: 80, orientation: 1, storedWidth: 70, storedHeight: 80 },
    ],
  ];
  it.each(cases)('%s', (_name, input, expected) => {
    expect(sniffImage(input)).toEqual(expected);
  });

  it('accepts a subarray view with a non-zero byteOffset', () => {
    const inner = jpeg(77, 88, { orientation: 6 });
    const outer = new Uint8Array(inner.length + 10);
    outer.set(inner, 5);
    expect(sniffImage(outer.subarray(5, 5 + inner.length))).toMatchObject({ width: 88, height: 77, orientation: 6 });
  });

  it('ignores a broken EXIF block instead of failing the photo', () => {
    const good = jpeg(64, 48, { orientation: 6 });
    // Corrupt the TIFF magic (42) inside the APP1 segment.
    const i = good.findIndex((_, k) => good[k] === 0x49 && good[k + 1] === 0x49 && good[k + 2] === 42);
    const bad = good.slice();
    bad[i + 2] = 43;
    expect(sniffImage(bad)).toMatchObject({ width: 64, height: 48, orientation: 1 });
  });
});

describe('readTiffOrientation', () => {
  it.each([
    ['LE short', tiff(6, true), 6],
    ['BE short', tiff(8, false), 8],
    ['LE long (tolerated)', tiff(5, true, 4), 5],
    ['out of range', tiff(12, true), 1],
    ['cut before the tag', tiff(6, true).slice(0, 20), 1],
    ['not TIFF', [1, 2, 3, 4, 5, 6, 7, 8, 9], 1],
  ] as [string, number[], number][])('%s', (_n, t, expected) => {
    expect(readTiffOrientation(Uint8Array.from(t), 0)).toBe(expected);
  });
});

describe('sniffImage: refusals', () => {
  const svgBody = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>';
  const cases: [string, Uint8Array, PatchFaceErrorCode, RegExp][] = [
    ['empty file', new Uint8Array(0), 'empty', /empty/],
    ['SVG', text(svgBody), 'svg', /SVG \(vector\)/],
    ['SVG with BOM and leading whitespace', text('\uFEFF \n\t ' + svgBody), 'svg', /SVG/],
    [
      'SVG with XML declaration and doctype',
      text('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x">\n' + svgBody),
      'svg',
      /SVG/,
    ],
    ['SVG with a comment first', text('<!-- made by hand -->\n' + svgBody), 'svg', /SVG/],
    ['uppercase <SVG', text('  <SVG width="1"></SVG>'), 'svg', /SVG/],
    ['UTF-16 LE SVG with BOM', utf16le('<?xml version="1.0"?><svg></svg>'), 'svg', /SVG/],
    ['HTML page', text('<!DOCTYPE html><html><body><img src="a.jpg"></body></html>'), 'not-an-image', /web page \(HTML\)/],
    ['XML (not SVG)', text('<?xml version="1.0"?><note>hi</note>'), 'not-an-image', /XML/],
    ['plain text', text('hello, this is not a photo\n'), 'not-an-image', /text file/],
    ['JSON', text('{"a": 1}'), 'not-an-image', /JSON/],
    ['PDF', text('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj'), 'not-an-image', /PDF document/],
    ['ZIP', bytes([0x50, 0x4b, 0x03, 0x04, 20, 0, 0, 0, 8, 0]), 'not-an-image', /ZIP archive/],
    ['gzip', bytes([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), 'not-an-image', /gzip/],
    ['ELF executable', bytes([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), 'not-an-image', /program/],
    ['random binary', bytes([0x00, 0x13, 0x37, 0x00, 0x99, 0x01, 0x02, 0x03, 0x04]), 'not-an-image', /not an image/],
    ['WAV (RIFF, not WebP)', bytes('RIFF', [36, 0, 0, 0], 'WAVEfmt ', [16, 0, 0, 0]), 'not-an-image', /RIFF "WAVE"/],
    ['MP4', bytes([0, 0, 0, 0x18], 'ftypisom', [0, 0, 2, 0], 'isomiso2'), 'not-an-image', /video/],
    ['HEIC', bytes([0, 0, 0, 0x18], 'ftypheic', [0, 0, 0, 0], 'mif1heic'), 'unsupported-format', /HEIC/],
    ['HEIF (mif1)', bytes([0, 0, 0, 0x18], 'ftypmif1', [0, 0, 0, 0], 'mif1heic'), 'unsupported-format', /HEIC/],
    ['AVIF', bytes([0, 0, 0, 0x1c], 'ftypavif', [0, 0, 0, 0], 'avifmif1miaf'), 'unsupported-format', /AVIF/],
    ['TIFF little-endian', bytes('II', [42, 0, 8, 0, 0, 0]), 'unsupported-format', /TIFF/],
    ['TIFF big-endian', bytes('MM', [0, 42, 0, 0, 0, 8]), 'unsupported-format', /TIFF/],
    ['PSD', bytes('8BPS', [0, 1, 0, 0, 0, 0]), 'unsupported-format', /Photoshop/],
    ['JPEG XL codestream', bytes([0xff, 0x0a, 0xfa, 0x7f]), 'unsupported-format', /JPEG XL/],
    ['ICO', bytes([0, 0, 1, 0, 1, 0, 16, 16, 0, 0]), 'unsupported-format', /icon/],
    ['JPEG whose scan starts before the frame header', bytes([0xff, 0xd8, 0xff, 0xda, 0, 2, 0xff, 0xd9]), 'decode-failed', /SOS/],
    ['JPEG with only SOI/EOI', bytes([0xff, 0xd8, 0xff, 0xd9]), 'decode-failed', /EOI/],
    ['JPEG with a zero-width frame', jpeg(0, 10), 'decode-failed', /width is 0/],
    ['JPEG with DNL height', jpeg(10, 0), 'decode-failed', /DNL/],
    ['PNG with 0 width', png(0, 10), 'decode-failed', /0x10/],
    [
      'PNG whose first chunk is not IHDR',
      bytes([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13], 'IDAT', new Array(12).fill(0)),
      'decode-failed',
      /IHDR/,
    ],
    [
      'WebP with an unknown first chunk',
      bytes('RIFF', [30, 0, 0, 0], 'WEBPABCD', [8, 0, 0, 0], new Array(10).fill(0)),
      'decode-failed',
      /ABCD/,
    ],
    [
      'WebP lossy without start code',
      bytes('RIFF', [30, 0, 0, 0], 'WEBPVP8 ', [10, 0, 0, 0], new Array(10).fill(0)),
      'decode-failed',
      /start code/,
    ],
    ['BMP with zero width', bmp(0, 10), 'decode-failed', /0x10/],
  ];
  it.each(cases)('%s', (_name, input, code, message) => {
    const e = codeOf(() => sniffImage(input));
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
  });

  it('names the accepted formats in the SVG message', () => {
    expect(codeOf(() => sniffImage(text('<svg></svg>'))).message).toBe(
      'This is an SVG (vector) file; PatchFace needs a photo (JPEG, PNG, WebP, GIF or BMP).',
    );
  });
});

describe('sniffImage: every truncation of a header is reported as truncated', () => {
  const fixtures: [string, Uint8Array, number][] = [
    ['JPEG with EXIF', jpeg(640, 480, { orientation: 6 }), -1],
    ['JPEG plain', jpeg(640, 480), -1],
    ['PNG', png(640, 480), 24],
    ['GIF', gif(640, 480), 10],
    ['WebP lossy', webpLossy(640, 480), 30],
    ['WebP lossless', webpLossless(640, 480), 25],
    ['WebP extended', webpExtended(640, 480), 30],
    ['BMP', bmp(640, 480), 26],
    ['BMP core', bmp(640, 480, { core: true }), 22],
  ];
  it.each(fixtures)('%s', (_name, full, headerLength) => {
    const n = headerLength > 0 ? headerLength : jpegHeaderLength(full);
    // The complete header parses...
    expect(sniffImage(full.subarray(0, n))).toMatchObject({ storedWidth: 640, storedHeight: 480 });
    // ...and every proper prefix of it is "truncated", with a message saying so.
    for (let len = 1; len < n; len++) {
      const e = codeOf(() => sniffImage(full.subarray(0, len)));
      expect(e.code, `prefix of ${len} bytes`).toBe('truncated');
      expect(e.message).toMatch(/truncated|too short/);
    }
  });
});

describe('assertPixelBound', () => {
  it('exports the documented defaults', () => {
    expect(MAX_PIXELS).toBe(40_000_000);
    expect(MIN_SIDE).toBe(32);
  });

  it.each([
    [8000, 5000, undefined],
    [32, 32, undefined],
    [32, 1_250_000, undefined],
    [100, 100, { maxPixels: 10_000 }],
    [16, 16, { minSide: 16 }],
  ] as [number, number, { maxPixels?: number; minSide?: number } | undefined][])('%i x %i passes', (w, h, opts) => {
    expect(() => assertPixelBound(w, h, opts)).not.toThrow();
  });

  it.each([
    [12000, 9000, undefined, 'too-many-pixels', 'The image is 12000x9000 = 108 MP; the limit is 40 MP.'],
    [8000, 5001, undefined, 'too-many-pixels', 'The image is 8000x5001 = 40.01 MP; the limit is 40 MP.'],
    [3000, 2000, { maxPixels: 5_000_000 }, 'too-many-pixels', 'The image is 3000x2000 = 6 MP; the limit is 5 MP.'],
    [2001, 1000, { maxPixels: 2_000_000 }, 'too-many-pixels', 'The image is 2001x1000 = 2.001 MP; the limit is 2 MP.'],
    [31, 500, undefined, 'too-small', 'The image is 31x500 pixels; each side must be at least 32 pixels'],
    [500, 20, undefined, 'too-small', 'The image is 500x20 pixels'],
    [40, 40, { minSide: 64 }, 'too-small', 'at least 64 pixels'],
    [0, 100, undefined, 'decode-failed', 'invalid dimensions 0x100'],
    [Number.NaN, 100, undefined, 'decode-failed', 'invalid dimensions'],
  ] as [number, number, { maxPixels?: number; minSide?: number } | undefined, PatchFaceErrorCode, string][])(
    '%i x %i -> %s',
    (w, h, opts, code, message) => {
      const e = codeOf(() => assertPixelBound(w, h, opts));
      expect(e.code).toBe(code);
      expect(e.message).toContain(message);
    },
  );

  it('checks the pixel count before the minimum side (a 1 x 50M strip is a bomb, not "small")', () => {
    expect(codeOf(() => assertPixelBound(1, 50_000_000)).code).toBe('too-many-pixels');
  });
});
