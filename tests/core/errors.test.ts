import { describe, expect, it } from 'vitest';
import { DEFAULT_ERROR_MESSAGES, isPatchFaceError, PatchFaceError, type PatchFaceErrorCode } from '../../src/core/errors.ts';

const CODES: PatchFaceErrorCode[] = [
  'empty',
  'not-an-image',
  'svg',
  'unsupported-format',
  'truncated',
  'too-many-pixels',
  'too-small',
  'decode-failed',
  'no-face',
];

describe('PatchFaceError', () => {
  it.each(CODES)('%s has a default, user-facing message', (code) => {
    const e = new PatchFaceError(code);
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('PatchFaceError');
    expect(e.code).toBe(code);
    expect(e.message).toBe(DEFAULT_ERROR_MESSAGES[code]);
    expect(e.message).toMatch(/^[A-Z].*\.$/);
  });

  it('keeps a specific message verbatim', () => {
    const e = new PatchFaceError('too-many-pixels', 'The image is 12000x9000 = 108 MP; the limit is 40 MP.');
    expect(e.message).toBe('The image is 12000x9000 = 108 MP; the limit is 40 MP.');
    expect(String(e)).toBe('PatchFaceError: The image is 12000x9000 = 108 MP; the limit is 40 MP.');
  });

  it('isPatchFaceError narrows by code', () => {
    const e: unknown = new PatchFaceError('svg');
    expect(isPatchFaceError(e)).toBe(true);
    expect(isPatchFaceError(e, 'svg')).toBe(true);
    expect(isPatchFaceError(e, 'empty')).toBe(false);
    expect(isPatchFaceError(new Error('x'))).toBe(false);
  });
});
