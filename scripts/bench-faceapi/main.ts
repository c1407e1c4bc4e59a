/**
 * face-api's own pipeline, for `npm run bench:browser` only (never part of the app's build):
 * SSD MobileNet v1, 68 landmarks and the descriptor on tfjs's WASM backend, one photo after
 * another as they are chosen. Each change of the file input is one job; its timings (from the
 * change event, and on the page's clock, whose zero is the navigation) land in
 * `window.__faceapiBench`.
 */
// The package's build without tfjs inside, on the npm tfjs packages (the same 4.22.0).
import * as faceapi from '@vladmandic/face-api/dist/face-api.esm-nobundle.js';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

interface Job {
  files: number;
  start: number;
  end: number;
  faces: number;
}
const bench: { ready: number; jobs: Job[]; error: string | null } = { ready: 0, jobs: [], error: null };
(window as unknown as { __faceapiBench: typeof bench }).__faceapiBench = bench;

// The bundled tfjs (with its WASM backend) is typed narrowly by face-api.
const tf = faceapi.tf as unknown as {
  setWasmPaths(prefix: string): void;
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
};

const ready = (async () => {
  setWasmPaths(new URL('wasm/', location.href).href);
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs could not start its WASM backend');
  await tf.ready();
  const model = new URL('model/', location.href).href;
  await Promise.all([
    faceapi.nets.ssdMobilenetv1.loadFromUri(model),
    faceapi.nets.faceLandmark68Net.loadFromUri(model),
    faceapi.nets.faceRecognitionNet.loadFromUri(model),
  ]);
  bench.ready = performance.now();
})();
ready.catch((e: Error) => (bench.error = e.message));

/** Decodes a photo as the app does (EXIF orientation applied) onto a canvas face-api reads. */
async function toCanvas(file: Blob): Promise<HTMLCanvasElement> {
  const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  canvas.getContext('2d')!.drawImage(bitmap, 0, 0);
  bitmap.close();
  return canvas;
}

let queue: Promise<unknown> = Promise.resolve();
document.getElementById('photos')!.addEventListener('change', (event) => {
  const start = performance.now();
  const files = [...((event.target as HTMLInputElement).files ?? [])];
  queue = queue.then(async () => {
    await ready;
    let faces = 0;
    for (const file of files) {
      const canvas = await toCanvas(file);
      const result = await faceapi
        .detectSingleFace(canvas, new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5 }))
        .withFaceLandmarks()
        .withFaceDescriptor();
      if (result) faces++;
    }
    bench.jobs.push({ files: files.length, start, end: performance.now(), faces });
    document.getElementById('log')!.textContent = JSON.stringify(bench.jobs);
  });
  queue = queue.catch((e: Error) => (bench.error = e.message));
});
