/**
 * The ONNX conversions of face-api's networks (training/convert_faceapi.py) reproduce face-api's
 * own outputs on the sample photos: same pixels in, face-api (tfjs WASM) vs onnxruntime-web out.
 * Needs ../shared/data/samples; skipped with a message when absent, except on CI where it fails.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { iou } from '../../src/core/detection.ts';
import { detectFaces } from '../../src/core/pipeline.ts';
import type { BoxXYWH } from '../../src/core/types.ts';
import { decodePhotoFile } from '../../src/node/decodeImage.ts';
import { createNodeRunner } from '../../src/node/runtime.ts';
import { TOLERANCES, checkFaceapiConversion, loadFaceapi, type CheckSummary } from '../../scripts/check-faceapi-conversion.ts';
import { hasSamples, SAMPLES } from '../support/env.ts';

const SAMPLES_DIR = SAMPLES;
const haveData = hasSamples();

describe.runIf(haveData)('face-api -> ONNX conversion', () => {
  let s: CheckSummary;

  beforeAll(async () => {
    s = await checkFaceapiConversion({ samplesDir: SAMPLES_DIR, backend: 'wasm' });
    console.log(
      `faceapi-conversion (${s.images.length} photos): ssd box ${s.ssdBoxMaxAbs.toExponential(2)} ` +
        `score ${s.ssdScoreMaxAbs.toExponential(2)}, tiny ${s.tinyRawMaxAbs.toExponential(2)}, ` +
        `landmarks ${s.landmarkMaxPx.toExponential(2)}px, descriptor min cos ${s.descriptorMinCos.toFixed(7)}`,
    );
  }, 600_000);

  it('checks every sample photo', () => {
    expect(s.images.length).toBeGreaterThan(0);
  });

  it('SSD: decoded boxes and scores match face-api', () => {
    expect(s.ssdBoxMaxAbs).toBeLessThan(TOLERANCES.ssdBox);
    expect(s.ssdScoreMaxAbs).toBeLessThan(TOLERANCES.ssdScore);
    for (const r of s.images) expect(r.ssdDetections[1], r.file).toBe(r.ssdDetections[0]);
  });

  it('tiny face detector: raw grid matches face-api', () => {
    expect(s.tinyRawMaxAbs).toBeLessThan(TOLERANCES.tinyRaw);
  });

  it('68 landmarks: raw output matches face-api within 0.5 px of 112', () => {
    expect(s.landmarkMaxPx).toBeLessThan(TOLERANCES.landmarkPx);
  });

  it('descriptor: cosine with face-api >= 0.9999', () => {
    expect(s.descriptorMinCos).toBeGreaterThanOrEqual(TOLERANCES.descriptorCos);
  });

  it('dynamic batch: one batched ONNX run equals the single runs', () => {
    expect(s.batchMaxAbs).toBeLessThan(1e-4);
  });

  it('no tolerance failures reported', () => {
    expect(s.failures).toEqual([]);
  });

  it('the whole detection pipeline finds the faces face-api finds (IoU >= 0.99)', async () => {
    const faceapi = await loadFaceapi('wasm');
    const runner = await createNodeRunner();
    const photos = ['whitehouse', 'nasa'].flatMap((d) => readdirSync(join(SAMPLES, d)).map((f) => join(SAMPLES, d, f)));
    let worst = 1;
    try {
      for (const photo of photos) {
        const { image } = await decodePhotoFile(photo);
        const tensor = faceapi.tf.tensor3d(image.data, [image.height, image.width, 3], 'int32');
        const ref: { box: { x: number; y: number; width: number; height: number } }[] = await faceapi.detectAllFaces(
          tensor,
          new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5 }),
        );
        tensor.dispose();
        const ours = await detectFaces(image, runner, runner.manifest, { padRetry: false });
        expect(ours.length, photo).toBe(ref.length);
        for (const r of ref) {
          const refBox: BoxXYWH = [r.box.x, r.box.y, r.box.width, r.box.height];
          const best = Math.max(...ours.map((o) => iou(o.box, refBox)));
          worst = Math.min(worst, best);
          expect(best, photo).toBeGreaterThanOrEqual(0.99);
        }
      }
    } finally {
      await runner.dispose();
    }
    console.log(`pipeline vs face-api detectAllFaces on ${photos.length} photos: worst box IoU ${worst.toFixed(5)}`);
  });
});
