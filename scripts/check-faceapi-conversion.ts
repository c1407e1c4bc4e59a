/**
 * Checks the ONNX conversions of face-api's networks (training/convert_faceapi.py) against
 * face-api itself: for every sample photo, identical input pixels go through face-api (tfjs,
 * WASM backend by default) and through our ONNX files (onnxruntime-web, WASM backend), and the
 * outputs are compared.
 *
 *   npx tsx scripts/check-faceapi-conversion.ts [samplesDir] [--backend wasm|cpu]
 *
 * SSD encodings are decoded with the pipeline's own decodeSsdBoxes (src/core/detection.ts), so that
 * decoder is checked against face-api too. Exits 1 when a tolerance is exceeded;
 * tests/models/faceapi-conversion.test.ts runs the same check.
 */
import { readFile, readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-web';
import sharp from 'sharp';
// the pipeline's own decoder (face-api's outputLayer.ts formulas), checked here against face-api
import { cosine } from '../src/core/decompose.ts';
import { decodeSsdBoxes } from '../src/core/detection.ts';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_SAMPLES_DIR = resolve(PROJECT_ROOT, '../shared/data/samples');
const MODELS_DIR = join(PROJECT_ROOT, 'public/models');
const FACEAPI_DIR = join(PROJECT_ROOT, 'node_modules/@vladmandic/face-api');

/**
 * How closely the ONNX conversion must match face-api's own outputs: descriptorCos is the least
 * cosine accepted; each other entry is a bound the largest absolute difference must stay below.
 * SSD limits are on decoded boxes in 0..1 units.
 */
export const TOLERANCES = {
  tinyRaw: 1e-3,
  ssdBox: 1e-3,
  ssdScore: 1e-3,
  landmarkPx: 0.5,
  descriptorCos: 0.9999,
};

/** The tiny detector is also checked at this input size (besides the manifest default). */
const TINY_ALT_SIZE = 320;

export interface ImageResult {
  file: string;
  ssdBoxMaxAbs: number;
  /** over anchors face-api scores above 0.5 */
  ssdBoxMaxAbsConfident: number;
  ssdScoreMaxAbs: number;
  ssdDetections: [number, number];
  /** max over the default input size and TINY_ALT_SIZE */
  tinyRawMaxAbs: number;
  landmarkMaxPx: number;
  descriptorCos: number;
  descriptorMaxAbs: number;
}

export interface CheckSummary {
  backend: string;
  images: ImageResult[];
  ssdBoxMaxAbs: number;
  ssdBoxMaxAbsConfident: number;
  ssdScoreMaxAbs: number;
  tinyRawMaxAbs: number;
  landmarkMaxPx: number;
  descriptorMinCos: number;
  descriptorMaxAbs: number;
  batchMaxAbs: number;
  failures: string[];
}

interface Rgb {
  data: Uint8Array;
  width: number;
  height: number;
}

export async function listSamples(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && /\.jpe?g$/i.test(e.name)) out.push(join(e.parentPath ?? (e as any).path, e.name));
  }
  return out.sort();
}

async function decode(file: string): Promise<Rgb> {
  const { data, info } = await sharp(file).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

/** face-api's detector input: the image at the top-left, zero padding bottom/right, size x size. */
async function letterbox(img: Rgb, size: number): Promise<Rgb> {
  const s = size / Math.max(img.width, img.height);
  const w = Math.min(size, Math.round(img.width * s));
  const h = Math.min(size, Math.round(img.height * s));
  const data = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(w, h, { fit: 'fill' })
    .extend({ top: 0, left: 0, bottom: size - h, right: size - w, background: { r: 0, g: 0, b: 0 } })
    .raw()
    .toBuffer();
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: size, height: size };
}

/** A square crop around a box (in image pixels), resized to size x size; black outside. */
async function squareCrop(img: Rgb, box: { x: number; y: number; w: number; h: number }, size: number): Promise<Rgb> {
  const side = Math.round(Math.max(box.w, box.h) * 1.1);
  const left = Math.round(box.x + box.w / 2 - side / 2);
  const top = Math.round(box.y + box.h / 2 - side / 2);
  const padL = Math.max(0, -left);
  const padT = Math.max(0, -top);
  const padR = Math.max(0, left + side - img.width);
  const padB = Math.max(0, top + side - img.height);
  const data = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .extend({ top: padT, left: padL, bottom: padB, right: padR, background: { r: 0, g: 0, b: 0 } })
    .extract({ left: left + padL, top: top + padT, width: side, height: side })
    .resize(size, size, { fit: 'fill' })
    .raw()
    .toBuffer();
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: size, height: size };
}

/** NCHW float32 batch, x = (pixel - mean[c]) * scale, exactly what the manifest says. */
function toNchw(imgs: Rgb[], mean: number | number[], scale: number): ort.Tensor {
  const { width: w, height: h } = imgs[0];
  const m = typeof mean === 'number' ? [mean, mean, mean] : mean;
  const out = new Float32Array(imgs.length * 3 * h * w);
  imgs.forEach((img, n) => {
    for (let c = 0; c < 3; c++) {
      const base = (n * 3 + c) * h * w;
      for (let i = 0; i < h * w; i++) out[base + i] = (img.data[i * 3 + c] - m[c]) * scale;
    }
  });
  return new ort.Tensor('float32', out, [imgs.length, 3, h, w]);
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function confidentBoxDiff(a: Float32Array, b: Float32Array, scores: Float32Array, min: number): number {
  let m = 0;
  for (let i = 0; i < scores.length; i++) {
    if (scores[i] <= min) continue;
    for (let k = 0; k < 4; k++) m = Math.max(m, Math.abs(a[i * 4 + k] - b[i * 4 + k]));
  }
  return m;
}

function nhwcFromNchw(x: Float32Array, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let k = 0; k < c; k++) for (let i = 0; i < h * w; i++) out[i * c + k] = x[k * h * w + i];
  return out;
}

export async function loadFaceapi(backend: string): Promise<any> {
  const require = createRequire(import.meta.url);
  const faceapi = require(join(FACEAPI_DIR, 'dist/face-api.node-wasm.js'));
  await faceapi.tf.setBackend(backend);
  await faceapi.tf.ready();
  const dir = join(FACEAPI_DIR, 'model');
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(dir);
  await faceapi.nets.tinyFaceDetector.loadFromDisk(dir);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(dir);
  await faceapi.nets.faceRecognitionNet.loadFromDisk(dir);
  return faceapi;
}

async function session(file: string): Promise<ort.InferenceSession> {
  const bytes = await readFile(join(MODELS_DIR, file));
  return ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
}

export async function checkFaceapiConversion(
  opts: { samplesDir?: string; backend?: string; log?: (line: string) => void } = {},
): Promise<CheckSummary> {
  const samplesDir = opts.samplesDir ?? DEFAULT_SAMPLES_DIR;
  const backend = opts.backend ?? 'wasm';
  const log = opts.log ?? (() => {});
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';

  const manifest = JSON.parse(await readFile(join(MODELS_DIR, 'manifest.json'), 'utf8'));
  const entry = (id: string) => {
    const e = manifest.models.find((m: any) => m.id === id);
    if (!e) throw new Error(`manifest.json has no model "${id}"`);
    return e;
  };
  const ssdE = entry('ssd');
  const tinyE = entry('tiny');
  const lmE = entry('landmarks68');
  const recE = entry('fullface');
  const [ssd, tiny, lm, rec] = await Promise.all([ssdE, tinyE, lmE, recE].map((e) => session(e.file)));
  const faceapi = await loadFaceapi(backend);
  const tf = faceapi.tf;
  const tensorOf = (img: Rgb) => tf.tensor4d(Float32Array.from(img.data), [1, img.height, img.width, 3]);

  const files = await listSamples(samplesDir);
  if (files.length === 0) throw new Error(`no .jpg samples under ${samplesDir}`);
  const images: ImageResult[] = [];
  const faces112: Rgb[] = [];
  const faces150: Rgb[] = [];
  const refLandmarks: Float32Array[] = [];
  const refDescriptors: Float32Array[] = [];
  const oursLandmarks: Float32Array[] = [];
  const oursDescriptors: Float32Array[] = [];

  for (const file of files) {
    const img = await decode(file);

    // --- SSD ---
    const ssdIn = await letterbox(img, ssdE.input.size);
    const fx = tensorOf(ssdIn);
    const ref = await faceapi.nets.ssdMobilenetv1.forward(fx);
    const refBoxes = ref.boxes[0].dataSync() as Float32Array;
    const refScores = ref.scores[0].dataSync() as Float32Array;
    ref.boxes.forEach((t: any) => t.dispose());
    ref.scores.forEach((t: any) => t.dispose());
    fx.dispose();
    const so = await ssd.run({ [ssdE.input.name]: toNchw([ssdIn], ssdE.input.mean, ssdE.input.scale) });
    const ourBoxes = decodeSsdBoxes(so.boxEncodings.data as Float32Array, so.anchors.data as Float32Array);
    const ourScores = so.scores.data as Float32Array;
    const det = (s: Float32Array) => s.reduce((k, v) => k + (v > 0.5 ? 1 : 0), 0);

    // best face (face-api's own scores) -> square crop in image pixels for landmarks / descriptor
    let best = 0;
    for (let i = 1; i < refScores.length; i++) if (refScores[i] > refScores[best]) best = i;
    const k = Math.max(img.width, img.height); // letterbox: 0..1 of the padded square
    const [ymin, xmin, ymax, xmax] = Array.from(refBoxes.subarray(best * 4, best * 4 + 4)).map((v) => Math.min(1, Math.max(0, v)) * k);
    const box = refScores[best] > 0.3 ? { x: xmin, y: ymin, w: xmax - xmin, h: ymax - ymin } : { x: 0, y: 0, w: img.width, h: img.height };

    // --- tiny detector ---
    const [th, tw] = Array.isArray(tinyE.input.size) ? tinyE.input.size : [tinyE.input.size, tinyE.input.size];
    const tinyIn = await letterbox(img, th);
    const tx = tensorOf(tinyIn);
    const tRef = await faceapi.nets.tinyFaceDetector.forward(tx, tw);
    const tinyRef = tRef.dataSync() as Float32Array;
    tRef.dispose();
    tx.dispose();
    const to = await tiny.run({ [tinyE.input.name]: toNchw([tinyIn], tinyE.input.mean, tinyE.input.scale) });
    const [, gc, gh, gw] = to.grid.dims;
    const tinyOurs = nhwcFromNchw(to.grid.data as Float32Array, gc, gh, gw);
    // a second input size: the graph's H, W are dynamic (multiples of 32)
    const tinyIn2 = await letterbox(img, TINY_ALT_SIZE);
    const tx2 = tensorOf(tinyIn2);
    const tRef2 = await faceapi.nets.tinyFaceDetector.forward(tx2, TINY_ALT_SIZE);
    const tinyRef2 = tRef2.dataSync() as Float32Array;
    tRef2.dispose();
    tx2.dispose();
    const to2 = await tiny.run({ [tinyE.input.name]: toNchw([tinyIn2], tinyE.input.mean, tinyE.input.scale) });
    const [, gc2, gh2, gw2] = to2.grid.dims;
    const tinyOurs2 = nhwcFromNchw(to2.grid.data as Float32Array, gc2, gh2, gw2);

    // --- landmarks (raw net output) ---
    const f112 = await squareCrop(img, box, lmE.input.size);
    const lx = tensorOf(f112);
    const ni = await faceapi.toNetInput(lx);
    const lRef = faceapi.nets.faceLandmark68Net.runNet(ni);
    const lmRef = Float32Array.from(lRef.dataSync());
    lRef.dispose();
    lx.dispose();
    const lo = await lm.run({ [lmE.input.name]: toNchw([f112], lmE.input.mean, lmE.input.scale) });
    const lmOurs = lo.landmarks.data as Float32Array;

    // --- descriptor ---
    const f150 = await squareCrop(img, box, recE.input.size);
    const rx = tensorOf(f150);
    const dRef = await faceapi.nets.faceRecognitionNet.forward(rx);
    const descRef = Float32Array.from(dRef.dataSync());
    dRef.dispose();
    rx.dispose();
    const ro = await rec.run({ [recE.input.name]: toNchw([f150], recE.input.mean, recE.input.scale) });
    const descOurs = ro.embedding.data as Float32Array;

    faces112.push(f112);
    faces150.push(f150);
    refLandmarks.push(lmRef);
    refDescriptors.push(descRef);
    oursLandmarks.push(lmOurs);
    oursDescriptors.push(descOurs);

    const r: ImageResult = {
      file: relative(samplesDir, file),
      ssdBoxMaxAbs: maxAbs(ourBoxes, refBoxes),
      ssdBoxMaxAbsConfident: confidentBoxDiff(ourBoxes, refBoxes, refScores, 0.5),
      ssdScoreMaxAbs: maxAbs(ourScores, refScores),
      ssdDetections: [det(refScores), det(ourScores)],
      tinyRawMaxAbs: Math.max(maxAbs(tinyOurs, tinyRef), maxAbs(tinyOurs2, tinyRef2)),
      landmarkMaxPx: maxAbs(lmOurs, lmRef) * lmE.input.size,
      descriptorCos: cosine(descOurs, descRef),
      descriptorMaxAbs: maxAbs(descOurs, descRef),
    };
    images.push(r);
    log(
      `${r.file.padEnd(36)} ssd box ${r.ssdBoxMaxAbs.toExponential(2)} (>0.5: ${r.ssdBoxMaxAbsConfident.toExponential(2)}) score ${r.ssdScoreMaxAbs.toExponential(2)} ` +
        `dets ${r.ssdDetections.join('/')} | tiny ${r.tinyRawMaxAbs.toExponential(2)} | ` +
        `lm ${r.landmarkMaxPx.toExponential(2)}px | desc cos ${r.descriptorCos.toFixed(7)} max ${r.descriptorMaxAbs.toExponential(2)}`,
    );
  }

  // dynamic batch: all faces in one ONNX run must give the per-image results
  const lb = await lm.run({ [lmE.input.name]: toNchw(faces112, lmE.input.mean, lmE.input.scale) });
  const rb = await rec.run({ [recE.input.name]: toNchw(faces150, recE.input.mean, recE.input.scale) });
  const concat = (xs: Float32Array[]) => {
    const out = new Float32Array(xs.reduce((s, x) => s + x.length, 0));
    let o = 0;
    for (const x of xs) {
      out.set(x, o);
      o += x.length;
    }
    return out;
  };
  const batchMaxAbs = Math.max(
    maxAbs(lb.landmarks.data as Float32Array, concat(oursLandmarks)),
    maxAbs(rb.embedding.data as Float32Array, concat(oursDescriptors)),
  );

  const max = (f: (r: ImageResult) => number) => Math.max(...images.map(f));
  const summary: CheckSummary = {
    backend,
    images,
    ssdBoxMaxAbs: max((r) => r.ssdBoxMaxAbs),
    ssdBoxMaxAbsConfident: max((r) => r.ssdBoxMaxAbsConfident),
    ssdScoreMaxAbs: max((r) => r.ssdScoreMaxAbs),
    tinyRawMaxAbs: max((r) => r.tinyRawMaxAbs),
    landmarkMaxPx: max((r) => r.landmarkMaxPx),
    descriptorMinCos: Math.min(...images.map((r) => r.descriptorCos)),
    descriptorMaxAbs: max((r) => r.descriptorMaxAbs),
    batchMaxAbs,
    failures: [],
  };
  const f = summary.failures;
  if (!(summary.ssdBoxMaxAbs < TOLERANCES.ssdBox)) f.push(`SSD boxes differ by ${summary.ssdBoxMaxAbs}`);
  if (!(summary.ssdScoreMaxAbs < TOLERANCES.ssdScore)) f.push(`SSD scores differ by ${summary.ssdScoreMaxAbs}`);
  if (!(summary.tinyRawMaxAbs < TOLERANCES.tinyRaw)) f.push(`tiny raw output differs by ${summary.tinyRawMaxAbs}`);
  if (!(summary.landmarkMaxPx < TOLERANCES.landmarkPx)) f.push(`landmarks differ by ${summary.landmarkMaxPx}px`);
  if (!(summary.descriptorMinCos >= TOLERANCES.descriptorCos)) f.push(`descriptor cosine ${summary.descriptorMinCos}`);
  if (!(summary.batchMaxAbs < 1e-4)) f.push(`batched ONNX run differs from single runs by ${summary.batchMaxAbs}`);
  for (const r of images) {
    if (r.ssdDetections[0] !== r.ssdDetections[1]) f.push(`${r.file}: SSD detections above 0.5: ${r.ssdDetections.join(' vs ')}`);
  }
  return summary;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const bi = args.indexOf('--backend');
  const backend = bi >= 0 ? args.splice(bi, 2)[1] : 'wasm';
  const samplesDir = args[0] ? resolve(args[0]) : DEFAULT_SAMPLES_DIR;
  const s = await checkFaceapiConversion({ samplesDir, backend, log: (l) => console.log(l) });
  console.log(`\nface-api (tfjs ${backend}) vs ONNX (onnxruntime-web wasm), ${s.images.length} photos:`);
  console.log(
    `  ssd   decoded boxes max |d| ${s.ssdBoxMaxAbs.toExponential(3)} (all anchors; ${s.ssdBoxMaxAbsConfident.toExponential(3)} where score > 0.5), scores max |d| ${s.ssdScoreMaxAbs.toExponential(3)}`,
  );
  console.log(`  tiny  raw grid max |d| ${s.tinyRawMaxAbs.toExponential(3)} (inputs 416 and ${TINY_ALT_SIZE})`);
  console.log(`  lm68  raw landmarks max |d| ${s.landmarkMaxPx.toExponential(3)} px (of 112)`);
  console.log(`  desc  min cosine ${s.descriptorMinCos.toFixed(8)}, max |d| ${s.descriptorMaxAbs.toExponential(3)}`);
  console.log(`  batch (N=${s.images.length}) vs single ONNX runs max |d| ${s.batchMaxAbs.toExponential(3)}`);
  if (s.failures.length) {
    console.error(`\nFAILED:\n  ${s.failures.join('\n  ')}`);
    process.exit(1);
  }
  console.log('\nOK: all within tolerance');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
