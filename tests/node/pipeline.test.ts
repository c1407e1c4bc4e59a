/**
 * The whole pipeline on real photos (../shared/data/samples), through the same code the CLI and
 * the app run: decoding of every supported format, EXIF orientation, multiple faces, verdicts at
 * the manifest's LFW threshold, and clear refusals of bad input.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { encode as encodeBmp } from 'bmp-ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { iou } from '../../src/core/detection.ts';
import { isPatchFaceError } from '../../src/core/errors.ts';
import { findModel } from '../../src/core/manifest.ts';
import { compareEmbeddings, detectFaces, embedFaces } from '../../src/core/pipeline.ts';
import type { DetectedFace, RgbImage } from '../../src/core/types.ts';
import { decodePhotoBytes, decodePhotoFile } from '../../src/node/decodeImage.ts';
import { createNodeRunner } from '../../src/node/runtime.ts';
import type { OrtModelRunner } from '../../src/inference/modelRunner.ts';
import { hasLfw, hasSamples, LFW, SAMPLES } from '../support/env.ts';
import { mulberry32 } from '../support/random.ts';

const ready = hasSamples();

describe.skipIf(!ready)('pipeline on the sample photos', () => {
  let runner: OrtModelRunner;
  const photo = (name: string) => join(SAMPLES, name);
  const analyse = async (image: RgbImage) => detectFaces(image, runner, runner.manifest);

  beforeAll(async () => {
    runner = await createNodeRunner();
  });
  afterAll(async () => {
    await runner?.dispose();
  });

  async function score(a: string, b: string, modelId = 'fullface') {
    const model = findModel(runner.manifest, modelId);
    const load = async (p: string) => {
      const { image } = await decodePhotoFile(photo(p));
      const [face] = await analyse(image);
      expect(face, `a face in ${p}`).toBeDefined();
      return { image, face };
    };
    const [ea, eb] = await embedFaces([await load(a), await load(b)], model, runner);
    return compareEmbeddings(model, ea, eb);
  }

  it('says "same" for the two Obama photos at the calibrated threshold', async () => {
    const r = await score('whitehouse/obama_1.jpg', 'whitehouse/obama_2.jpg');
    expect(r.threshold).not.toBeNull();
    expect(r.same).toBe(true);
  });

  it.each(['Akihiko_Hoshide', 'Andrew_Morgan', 'Christina_Koch', 'Karen_Nyberg', 'Michael_Foale', 'Nick_Hague'])(
    'says "different" for Obama vs %s',
    async (name) => {
      const r = await score('whitehouse/obama_1.jpg', `nasa/${name}.jpg`);
      expect(r.same).toBe(false);
    },
  );

  it('says "same" for Andrew Morgan portrait vs aboard the ISS', async () => {
    const r = await score('nasa/Andrew_Morgan.jpg', 'nasa/andrew_morgan_iss.jpg');
    expect(r.same).toBe(true);
  });

  it('finds both faces in the 20 MP photo, largest first', async () => {
    const { image } = await decodePhotoFile(photo('nasa/morgan_and_hague_iss_20mp.jpg'));
    expect(image.width * image.height).toBeGreaterThan(20e6);
    const faces = await analyse(image);
    expect(faces.length).toBe(2);
    const area = (f: DetectedFace) => f.box[2] * f.box[3];
    expect(area(faces[0])).toBeGreaterThanOrEqual(area(faces[1]));
    expect(iou(faces[0].box, faces[1].box)).toBe(0);
  });

  describe('formats and orientation', () => {
    let original: RgbImage;
    let reference: DetectedFace;
    const raw = () => sharp(Buffer.from(original.data), { raw: { width: original.width, height: original.height, channels: 3 } });

    beforeAll(async () => {
      ({ image: original } = await decodePhotoFile(photo('whitehouse/obama_1.jpg')));
      [reference] = await analyse(original);
    });

    const encoders: [string, () => Promise<Uint8Array>][] = [
      ['PNG', () => raw().png().toBuffer()],
      ['WebP', () => raw().webp({ quality: 95 }).toBuffer()],
      ['GIF (first frame)', () => raw().gif().toBuffer()],
      [
        'BMP',
        async () => {
          const rgba = Buffer.alloc(original.width * original.height * 4);
          // bmp-ts takes ABGR byte order.
          for (let i = 0, j = 0; i < original.data.length; i += 3, j += 4) {
            rgba[j] = 0;
            rgba[j + 1] = original.data[i + 2];
            rgba[j + 2] = original.data[i + 1];
            rgba[j + 3] = original.data[i];
          }
          return encodeBmp({ data: rgba, width: original.width, height: original.height, bitPP: 24 }).data;
        },
      ],
      // Stored rotated a quarter turn, with EXIF orientation 6 ("rotate 90 CW to display").
      ['JPEG with EXIF orientation 6', () => raw().rotate(270).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer()],
    ];

    it.each(encoders)('%s decodes upright and yields the same face', async (_label, encode) => {
      const decoded = await decodePhotoBytes(await encode());
      expect([decoded.image.width, decoded.image.height]).toEqual([original.width, original.height]);
      const [face] = await analyse(decoded.image);
      expect(face).toBeDefined();
      expect(iou(face.box, reference.box)).toBeGreaterThan(0.9);
    });
  });

  describe('bad input gets a clear, specific error', () => {
    const cases: [string, () => Promise<Uint8Array>, RegExp, string][] = [
      ['an empty file', async () => new Uint8Array(0), /empty/i, 'empty'],
      [
        'a text file',
        async () => new TextEncoder().encode('hello, this is not a photo\n'),
        /not an image|not a photo|text/i,
        'not-an-image',
      ],
      ['an SVG', async () => new TextEncoder().encode('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>'), /SVG/, 'svg'],
      [
        'a truncated JPEG',
        async () => (await readFile(photo('whitehouse/obama_1.jpg'))).subarray(0, 30_000),
        /corrupt|truncated/i,
        'truncated',
      ],
      [
        'a 50000x50000 PNG (decompression bomb)',
        async () =>
          sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } })
            .png()
            .toBuffer()
            .then(bombPng),
        /MP/,
        'too-many-pixels',
      ],
      [
        'a 16x16 image',
        async () =>
          sharp({ create: { width: 16, height: 16, channels: 3, background: '#888' } })
            .png()
            .toBuffer(),
        /16x16/,
        'too-small',
      ],
    ];
    it.each(cases)('%s', async (_label, make, message, code) => {
      const error = await decodePhotoBytes(await make()).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isPatchFaceError(error), String(error)).toBe(true);
      expect((error as Error).message).toMatch(message);
      expect((error as { code: string }).code).toBe(code);
    });

    it('a photo without a face yields no faces', async () => {
      const random = mulberry32(7);
      const noise = new Uint8Array(320 * 240 * 3).map(() => Math.floor(random() * 256));
      expect(await analyse({ width: 320, height: 240, data: noise })).toEqual([]);
    });

    // The fallback detector runs exactly when the first found nothing, so these are the
    // photos where it could invent a face: real regions of the samples with no face in them.
    it.each([
      ['Christina_Koch.jpg', { left: 0, top: 0.6, width: 1, height: 0.4 }],
      ['Nick_Hague.jpg', { left: 0, top: 0.65, width: 1, height: 0.35 }],
      ['andrew_morgan_iss.jpg', { left: 0, top: 0, width: 0.3, height: 1 }],
    ])('a faceless region of %s yields no faces, fallback detector included', async (name, f) => {
      const file = photo(`nasa/${name}`);
      const { width, height } = (await decodePhotoFile(file)).image;
      const region = {
        left: Math.round(f.left * width),
        top: Math.round(f.top * height),
        width: Math.round(f.width * width),
        height: Math.round(f.height * height),
      };
      const { image } = await decodePhotoBytes(await sharp(file).rotate().extract(region).png().toBuffer());
      expect(await analyse(image)).toEqual([]);
    });
  });
});

describe.skipIf(!hasLfw())('the fallback detector on LFW photos SSD misses', () => {
  let runner: OrtModelRunner;
  beforeAll(async () => {
    runner = await createNodeRunner();
  });
  afterAll(async () => {
    await runner?.dispose();
  });

  // SSD finds nothing in these, even on the padded copy; the tiny detector finds the face.
  it.each(['Mohammad_Fares/Mohammad_Fares_0001.jpg', 'Gerald_Calabrese/Gerald_Calabrese_0001.jpg'])('%s', async (name) => {
    const { image } = await decodePhotoFile(join(LFW, 'lfw-deepfunneled', name));
    expect(await detectFaces(image, runner, runner.manifest, { fallbackDetector: null })).toEqual([]);
    const faces = await detectFaces(image, runner, runner.manifest);
    expect(faces.length).toBeGreaterThanOrEqual(1);
    const [x, y, w, h] = faces[0].box;
    // LFW photos are centred on their subject.
    expect(x < 125 && x + w > 125 && y < 125 && y + h > 125).toBe(true);
    expect(w).toBeGreaterThan(60);
  });
});

/** Rewrites a PNG's IHDR to claim 50000x50000 pixels (and fixes its CRC), keeping the tiny body. */
function bombPng(png: Buffer): Buffer {
  const out = Buffer.from(png);
  out.writeUInt32BE(50_000, 16);
  out.writeUInt32BE(50_000, 20);
  out.writeUInt32BE(crc32(out.subarray(12, 29)), 29);
  return out;
}

function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}
