/**
 * Browser decoders draw a truncated JPEG as far as its data goes (grey below) instead of
 * failing, so the app checks completeness itself: after the first start-of-scan marker the file
 * must contain an end-of-image marker (FF D9). Entropy-coded data never holds FF D9 (an FF there
 * is followed by 00 or a restart marker), and markers before the scan (an EXIF thumbnail's own
 * EOI) are skipped by walking the segments. Pure: no DOM or runtime imports.
 */
import { PatchFaceError } from './errors.ts';

/** Offset just after the first SOS segment header, or -1 when the segments end before one. */
function firstScanOffset(b: Uint8Array): number {
  let p = 2;
  while (p + 4 <= b.length) {
    if (b[p] !== 0xff) return -1;
    const marker = b[p + 1];
    if (marker === 0xff) {
      p++; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      p += 2;
      continue;
    }
    const len = (b[p + 2] << 8) | b[p + 3];
    if (len < 2) return -1;
    if (marker === 0xda) return p + 2 + len;
    p += 2 + len;
  }
  return -1;
}

/** Throws PatchFaceError('truncated') when a JPEG's data stops before its end-of-image marker. */
export function assertJpegComplete(bytes: Uint8Array): void {
  const scan = firstScanOffset(bytes);
  let complete = false;
  if (scan > 0) {
    for (let i = bytes.length - 2; i >= scan; i--) {
      if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) {
        complete = true;
        break;
      }
    }
  }
  if (!complete) {
    throw new PatchFaceError(
      'truncated',
      'The JPEG file is incomplete (truncated): its image data stops before the end. It may not have finished downloading or copying.',
    );
  }
}
