import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isPatchFaceError } from '../../src/core/errors.ts';
import { assertJpegComplete } from '../../src/core/jpegComplete.ts';
import { hasSamples, SAMPLES } from '../support/env.ts';
import { jpeg } from './headerFixtures.ts';

const truncatedError = (b: Uint8Array) => {
  try {
    assertJpegComplete(b);
    return null;
  } catch (e) {
    return e;
  }
};

describe('JPEG completeness', () => {
  it('accepts a complete JPEG, with or without an EXIF block', () => {
    expect(truncatedError(jpeg(64, 48))).toBeNull();
    expect(truncatedError(jpeg(64, 48, { orientation: 6 }))).toBeNull();
  });
  it('accepts trailing bytes after the end marker', () => {
    expect(truncatedError(new Uint8Array([...jpeg(64, 48), 0, 0, 0]))).toBeNull();
  });
  it('refuses a file cut inside the scan', () => {
    const full = jpeg(64, 48);
    expect(isPatchFaceError(truncatedError(full.subarray(0, full.length - 2)), 'truncated')).toBe(true);
  });
  it('refuses a file cut before the scan', () => {
    expect(isPatchFaceError(truncatedError(jpeg(64, 48).subarray(0, 30)), 'truncated')).toBe(true);
  });
  it.skipIf(!hasSamples())('real photos: complete passes, cut at 40% fails', () => {
    const bytes = new Uint8Array(readFileSync(join(SAMPLES, 'whitehouse/obama_1.jpg')));
    expect(truncatedError(bytes)).toBeNull();
    expect(isPatchFaceError(truncatedError(bytes.subarray(0, Math.floor(bytes.length * 0.4))), 'truncated')).toBe(true);
  });
});
