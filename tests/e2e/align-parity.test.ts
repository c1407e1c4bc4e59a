/**
 * The alignment code is shared, not duplicated: one decoded photo aligned in Node and in headless
 * Chromium gives the same 112x112 pixels (within one grey level).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignFace112 } from '../../src/core/align.ts';
import { detectFaces } from '../../src/core/pipeline.ts';
import { decodePhotoFile } from '../../src/node/decodeImage.ts';
import { createNodeRunner } from '../../src/node/runtime.ts';
import { startServedChromium, type Served } from '../support/browser.ts';
import { hasChromium, hasSamples, SAMPLES } from '../support/env.ts';

const ready = hasChromium() && hasSamples();

describe.skipIf(!ready)('alignment parity, Node vs Chromium', () => {
  let served: Served;

  beforeAll(async () => {
    served = await startServedChromium();
  });
  afterAll(() => served?.close());

  it.each(['whitehouse/obama_1.jpg', 'nasa/andrew_morgan_iss.jpg'])('%s aligns to the same pixels', async (file) => {
    const { image } = await decodePhotoFile(join(SAMPLES, file));
    const runner = await createNodeRunner();
    const [face] = await detectFaces(image, runner, runner.manifest);
    await runner.dispose();
    expect(face).toBeDefined();
    const node = alignFace112(image, face.landmarks5).face.data;

    const page = await served.browser.newPage();
    await page.goto(`${served.url}/tests/e2e/pages/align.html`);
    await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    const browserPixels: number[] = await page.evaluate(
      ({ b64, width, height, l5 }) => {
        const bin = atob(b64);
        const data = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) data[i] = bin.charCodeAt(i);
        const align = (window as unknown as { alignFace112: typeof alignFace112 }).alignFace112;
        return Array.from(align({ width, height, data }, new Float32Array(l5)).face.data);
      },
      { b64: Buffer.from(image.data).toString('base64'), width: image.width, height: image.height, l5: Array.from(face.landmarks5) },
    );
    await page.close();
    expect(browserPixels.length).toBe(112 * 112 * 3);
    let maxDiff = 0;
    for (let i = 0; i < node.length; i++) maxDiff = Math.max(maxDiff, Math.abs(node[i] - browserPixels[i]));
    expect(maxDiff).toBeLessThanOrEqual(1);
  });
});
