/**
 * The one pipeline (docs/DESIGN.md): detect -> landmarks -> 5 points -> align -> embed -> decompose.
 *
 * Pure orchestration over a `ModelRunner`, so the browser worker, the CLI, the evaluation and
 * the training-data preparation all run exactly this code; only the runner differs.
 */
import { alignFace112, dlibChip5Template, dlibChipTransform, estimateSimilarity, extractChip } from './align.ts';
import { cosine, meanCosineCoordinatePart, meanCosineDecomposition, regionWeightedDecomposition } from './decompose.ts';
import { decodeSsdBoxes, decodeTinyYolo, ssdDetections } from './detection.ts';
import { PatchFaceError } from './errors.ts';
import { cropRgb, letterboxToTensor, mirrorRgb, padImage, resizeBilinearRgb, toPlanarTensor } from './image.ts';
import { faceApiAlignedBox, fivePointsFrom68, landmarkInput, landmarksToSource } from './landmarks.ts';
import type { Manifest, ModelEntry } from './manifest.ts';
import { channelMean, findModel, inputSide } from './manifest.ts';
import type { Affine, BoxXYWH, DetectedFace, Detection, RgbImage, Tensor } from './types.ts';

export interface ModelRunner {
  run(modelId: string, input: Tensor): Promise<Record<string, Tensor>>;
}

export interface DetectOptions {
  /** Detector confidence threshold (face-api's SSD default is 0.5). */
  minScore?: number;
  /** Retry on a padded copy when nothing is found: faces that fill the frame lack the context SSD expects. */
  padRetry?: boolean;
  /** Detector model id: 'ssd' (SSD-MobileNetV1) or 'tiny' (tiny YOLOv2). */
  detector?: string;
  /**
   * A second detector, tried (with its own padded retry) only when the first found nothing.
   * Default: 'tiny' after 'ssd' (on LFW it finds 16 of the 21 faces SSD misses), none after
   * 'tiny'; null turns it off.
   */
  fallbackDetector?: string | null;
}

export const DEFAULT_DETECTOR = 'ssd';

/** The fallback detector these options resolve to, or null. */
export function fallbackDetectorFor(options: DetectOptions): string | null {
  if (options.fallbackDetector !== undefined) return options.fallbackDetector;
  return (options.detector ?? DEFAULT_DETECTOR) === 'ssd' ? 'tiny' : null;
}

export const DEFAULT_MIN_SCORE = 0.5;
/** The padded retry works on a copy at most this large (a 20 MP photo would otherwise need 80 MP). */
const PAD_RETRY_MAX_SIDE = 1024;

/** Finds every face, largest first, with 68 and 5 landmarks in source pixels. */
export async function detectFaces(
  img: RgbImage,
  runner: ModelRunner,
  manifest: Manifest,
  options: DetectOptions = {},
): Promise<DetectedFace[]> {
  const minScore = options.minScore ?? DEFAULT_MIN_SCORE;
  const padRetry = options.padRetry !== false;
  const primary = options.detector ?? DEFAULT_DETECTOR;
  let detections = await detectWith(img, findModel(manifest, primary), runner, minScore, padRetry);
  const fallback = fallbackDetectorFor(options);
  if (detections.length === 0 && fallback !== null && fallback !== primary) {
    detections = await detectWith(img, findModel(manifest, fallback), runner, minScore, padRetry);
  }
  if (detections.length === 0) return [];
  const landmarkModel = findModel(manifest, 'landmarks68');
  const faces = await locateLandmarks(img, detections, landmarkModel, runner);
  return faces.sort((a, b) => b.box[2] * b.box[3] - a.box[2] * a.box[3]);
}

/** One detector on the photo, then on a padded copy when nothing was found. */
async function detectWith(
  img: RgbImage,
  detector: ModelEntry,
  runner: ModelRunner,
  minScore: number,
  padRetry: boolean,
): Promise<Detection[]> {
  const found = await runDetector(img, detector, runner, minScore);
  return found.length === 0 && padRetry ? detectOnPaddedCopy(img, detector, runner, minScore) : found;
}

async function runDetector(img: RgbImage, detector: ModelEntry, runner: ModelRunner, minScore: number): Promise<Detection[]> {
  const size = inputSide(detector);
  // Both detectors, like face-api, see the photo top-left in a zero-padded square.
  const letterbox = letterboxToTensor(img, size, { center: false, mean: channelMean(detector), scale: detector.input.scale });
  const out = await runner.run(detector.id, { data: letterbox.tensor, dims: [1, 3, size, size] });
  if (detector.kind === 'tiny-yolo') {
    const grid = out.grid;
    const found = decodeTinyYolo(grid.data, grid.dims, detector.anchors ?? [], { letterbox, minScore });
    return found.map((d) => ({ ...d, box: clipBox(d.box, img) })).filter((d) => d.box[2] > 1 && d.box[3] > 1);
  }
  const boxes = decodeSsdBoxes(out.boxEncodings.data, out.anchors.data);
  return ssdDetections(boxes, out.scores.data, letterbox, { minScore });
}

async function detectOnPaddedCopy(img: RgbImage, detector: ModelEntry, runner: ModelRunner, minScore: number): Promise<Detection[]> {
  const shrink = Math.min(1, PAD_RETRY_MAX_SIDE / Math.max(img.width, img.height));
  const base = shrink < 1 ? resizeBilinearRgb(img, Math.round(img.width * shrink), Math.round(img.height * shrink)) : img;
  const padX = Math.round(base.width / 2);
  const padY = Math.round(base.height / 2);
  const padded = padImage(base, padX, padY);
  const found = await runDetector(padded, detector, runner, minScore);
  const sx = img.width / base.width;
  const sy = img.height / base.height;
  return found
    .map((d) => ({ score: d.score, box: clipBox([(d.box[0] - padX) * sx, (d.box[1] - padY) * sy, d.box[2] * sx, d.box[3] * sy], img) }))
    .filter((d) => d.box[2] > 1 && d.box[3] > 1);
}

function clipBox([x, y, w, h]: BoxXYWH, img: RgbImage): BoxXYWH {
  const x0 = Math.max(0, x);
  const y0 = Math.max(0, y);
  const x1 = Math.min(img.width, x + w);
  const y1 = Math.min(img.height, y + h);
  return [x0, y0, x1 - x0, y1 - y0];
}

async function locateLandmarks(img: RgbImage, detections: Detection[], model: ModelEntry, runner: ModelRunner): Promise<DetectedFace[]> {
  const side = inputSide(model);
  const per = 3 * side * side;
  const inputs = detections.map((d) => landmarkInput(img, d.box, { mean: channelMean(model), scale: model.input.scale, size: side }));
  const batch = new Float32Array(per * inputs.length);
  inputs.forEach((inp, i) => batch.set(inp.tensor, i * per));
  const out = await runner.run(model.id, { data: batch, dims: [inputs.length, 3, side, side] });
  return detections.map((d, i) => {
    // 'geometric' inverts our own crop exactly; face-api's own mapping can be off by a pixel.
    const landmarks68 = landmarksToSource(out.landmarks.data.subarray(i * 136, (i + 1) * 136), inputs[i].crop, 'geometric');
    return { ...d, landmarks68, landmarks5: fivePointsFrom68(landmarks68) };
  });
}

/**
 * How the full-face baseline's 150x150 input is cut:
 * - 'dlib68': dlib's own face chip (get_face_chip_details(shape, 150, 0.25)) from the 68 landmarks,
 *   the crop dlib's ResNet was trained on;
 * - 'dlib5': the same chip approximated from the 5 points;
 * - 'faceapi': face-api's unrotated square box around the landmarks, padded and resized.
 */
export type FullfaceCrop = 'dlib68' | 'dlib5' | 'faceapi';
export const DEFAULT_FULLFACE_CROP: FullfaceCrop = 'dlib68';

export interface EmbedOptions {
  fullfaceCrop?: FullfaceCrop;
  /**
   * fullface only: the descriptor is the mean of those of the chip and of its mirror image
   * (default true; on LFW it lifts 10-fold accuracy by about 0.3 points). Patch models are never
   * flipped here: the flipped face's patch i holds another patch's pixels. A patch model that
   * averages with the mirror image does it inside its graph, patch by patch (manifest `mirror`).
   */
  fullfaceFlip?: boolean;
}

export type PipelineOptions = DetectOptions & EmbedOptions;

/** The input of an embedding model for one face: the normalised tensor and the pixels it shows. */
export function embeddingInput(
  img: RgbImage,
  face: DetectedFace,
  model: ModelEntry,
  options: EmbedOptions = {},
): { pixels: RgbImage; tensor: Float32Array } {
  const side = inputSide(model);
  const mean = channelMean(model);
  const scale = model.input.scale;
  if (model.kind !== 'fullface') {
    const pixels = alignFace112(img, face.landmarks5).face;
    if (pixels.width !== side) throw new Error(`${model.id}: expected a ${side}px input, the aligned face is ${pixels.width}px`);
    return { pixels, tensor: toPlanarTensor(pixels, mean, scale) };
  }
  const crop = options.fullfaceCrop ?? DEFAULT_FULLFACE_CROP;
  if (crop === 'faceapi') {
    const pixels = cropRgb(img, faceApiAlignedBox(face.landmarks68, { useDlibAlignment: true }));
    return { pixels, tensor: letterboxToTensor(pixels, side, { center: true, mean, scale }).tensor };
  }
  const pixels = extractChip(img, fullfaceChipTransform(face, side, crop), side);
  return { pixels, tensor: toPlanarTensor(pixels, mean, scale) };
}

/**
 * Source pixels -> the full-face baseline's `side` x `side` chip, for the two crops that are a
 * similarity of the photo ('dlib68', 'dlib5'). Training cuts the teacher's views with it too.
 */
export function fullfaceChipTransform(face: DetectedFace, side: number, crop: Exclude<FullfaceCrop, 'faceapi'>): Affine {
  return crop === 'dlib68' ? dlibChipTransform(face.landmarks68, side) : estimateSimilarity(face.landmarks5, dlibChip5Template(side));
}

/**
 * The model's input for one face followed by that input mirrored left to right, as one batch of
 * two ([2, 3, side, side]): the full-face flip average, and plain plus flipped teacher targets.
 */
export function embeddingInputWithMirror(img: RgbImage, face: DetectedFace, model: ModelEntry, options: EmbedOptions = {}): Float32Array {
  const { pixels, tensor } = embeddingInput(img, face, model, options);
  const batch = new Float32Array(2 * tensor.length);
  batch.set(tensor, 0);
  batch.set(toPlanarTensor(mirrorRgb(pixels), channelMean(model), model.input.scale), tensor.length);
  return batch;
}

export interface Embedding {
  modelId: string;
  /** fullface: [D]; patch models: [P * D] row-major. */
  features: Float32Array;
  patches: number;
  dim: number;
}

/** Embeds one or more faces with one model, batched. */
export async function embedFaces(
  items: { image: RgbImage; face: DetectedFace }[],
  model: ModelEntry,
  runner: ModelRunner,
  options: EmbedOptions = {},
): Promise<Embedding[]> {
  if (items.length === 0) return [];
  const side = inputSide(model);
  const per = 3 * side * side;
  const copies = model.kind === 'fullface' && options.fullfaceFlip !== false ? 2 : 1;
  const batch = new Float32Array(per * items.length * copies);
  items.forEach((it, i) => {
    const rows =
      copies === 2 ? embeddingInputWithMirror(it.image, it.face, model, options) : embeddingInput(it.image, it.face, model, options).tensor;
    batch.set(rows, i * copies * per);
  });
  const out = await runner.run(model.id, { data: batch, dims: [items.length * copies, 3, side, side] });
  const t = Object.values(out)[0];
  const [n, p, d] = t.dims.length === 3 ? t.dims : [t.dims[0], 1, t.dims[1]];
  if (n !== items.length * copies) throw new Error(`${model.id}: batch ${n} != ${items.length * copies}`);
  const size = p * d;
  return items.map((_, i) => {
    const features = t.data.slice(i * copies * size, (i * copies + 1) * size);
    if (copies === 2) {
      const mirrored = t.data.subarray((i * copies + 1) * size, (i * copies + 2) * size);
      for (let k = 0; k < size; k++) features[k] = (features[k] + mirrored[k]) / 2;
    }
    return { modelId: model.id, features, patches: p, dim: d };
  });
}

export interface PatchContribution {
  box: BoxXYWH;
  /** Contribution of this patch of face A (c_i); sums to score over patches. */
  a: number;
  /** Contribution of this patch of face B (d_j); sums to score over patches. */
  b: number;
}

export interface Comparison {
  model: string;
  score: number;
  threshold: number | null;
  same: boolean | null;
  patches: PatchContribution[];
  /**
   * Models with a constant coordinate (manifest `constant`): the part of the score it carries,
   * already inside the patch contributions as the same constantPart / P in every patch of both
   * faces. It depends on no pixel; the rest of the score, on each patch's own pixels. null
   * for models without one.
   */
  constantPart: number | null;
}

/** Scores two embeddings of one model, with the exact per-patch decomposition for patch models. */
export function compareEmbeddings(model: ModelEntry, ea: Embedding, eb: Embedding): Comparison {
  let score: number;
  let patches: PatchContribution[] = [];
  let constantPart: number | null = null;
  if (model.kind === 'fullface') {
    score = cosine(ea.features, eb.features);
  } else {
    const boxes = model.patches ?? [];
    if (boxes.length !== ea.patches) throw new Error(`${model.id}: manifest lists ${boxes.length} patches, model gave ${ea.patches}`);
    const dec =
      model.kind === 'region-weighted'
        ? regionWeightedDecomposition(ea.features, eb.features, ea.patches, ea.dim, model.regionWeights ?? [])
        : meanCosineDecomposition(ea.features, eb.features, ea.patches, ea.dim);
    score = dec.score;
    patches = boxes.map((box, i) => ({ box, a: dec.contributionsA[i], b: dec.contributionsB[i] }));
    if (model.constant != null && model.kind === 'mean-cosine') {
      // the graph appends the constant as each patch feature's last coordinate
      constantPart = meanCosineCoordinatePart(ea.features, eb.features, ea.patches, ea.dim, ea.dim - 1);
    }
  }
  const threshold = model.threshold;
  return { model: model.id, score, threshold, same: threshold === null ? null : score >= threshold, patches, constantPart };
}

/** Throws the user-facing "no face" error. */
export function noFaceError(): PatchFaceError {
  return new PatchFaceError('no-face', 'No face was found in this photo. Try a photo where the face is larger, frontal and well lit.');
}

/**
 * Chooses a face: 'largest' (the app's default), or 'central' for datasets such as LFW whose
 * subject is centred: the largest face whose box holds the image centre, else the largest.
 */
export function pickFace(faces: DetectedFace[], img: RgbImage, rule: 'largest' | 'central'): DetectedFace | undefined {
  if (rule === 'central') {
    const cx = img.width / 2;
    const cy = img.height / 2;
    const central = faces.find(({ box: [x, y, w, h] }) => cx >= x && cx <= x + w && cy >= y && cy <= y + h);
    if (central) return central;
  }
  return faces[0];
}

/** Wraps a runner and records wall time per model, for per-stage timings (CLI bench, app status). */
export class TimedRunner implements ModelRunner {
  readonly ms = new Map<string, number>();
  constructor(private readonly inner: ModelRunner) {}
  async run(modelId: string, input: Tensor): Promise<Record<string, Tensor>> {
    const t0 = performance.now();
    try {
      return await this.inner.run(modelId, input);
    } finally {
      this.ms.set(modelId, (this.ms.get(modelId) ?? 0) + performance.now() - t0);
    }
  }
  reset(): void {
    this.ms.clear();
  }
}
