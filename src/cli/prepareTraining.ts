/**
 * `patchface prepare-training DATA_DIR --out CACHE_DIR`: runs every training photo through the
 * app's own pipeline (detect, 68 -> 5 points, ArcFace alignment) and stores, per face:
 *   - faces128.u8   the aligned face with an 8 px margin (the 112x112 alignment is its centre
 *                   crop), so training can jitter shift and scale around the real alignment;
 *   - teacher.f32   the full-face teacher's embedding of the photo (its own dlib chip) and of
 *                   the mirrored chip, [N, 2, 128];
 *   - chips.u8      the teacher's own input (its 150x150 chip) with a 20 px margin, [N, 190, 190, 3],
 *   - chipframe.f32 and where the stored face lies in it: faces128 pixels -> chips pixels, [N, 6]
 *                   (a, b, tx, c, d, ty), so that training can cut the teacher's view of the very
 *                   jittered face the student sees (train_rrf.py --teacher-view);
 *   - index.tsv     row -> photo, dataset, identity (-1 when unknown), detector score.
 * Resumable: rerunning continues after the last complete row. Caches stay outside the repo.
 */
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, open, readdir, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { ALIGNED_SIZE, ARCFACE_TEMPLATE_112, alignToTemplate, composeAffine, extractChip, invertAffine } from '../core/align.ts';
import { findModel, inputSide, type ModelEntry } from '../core/manifest.ts';
import {
  DEFAULT_FULLFACE_CROP,
  embeddingInputWithMirror,
  fullfaceChipTransform,
  pickFace,
  type ModelRunner,
  type PipelineOptions,
} from '../core/pipeline.ts';
import { detectFacesCached, FaceCache } from '../node/faceCache.ts';
import type { Affine, DetectedFace, RgbImage } from '../core/types.ts';
import { decodePhotoFile } from '../node/decodeImage.ts';
import { createNodeRunner, type NodeRuntime } from '../node/runtime.ts';
import { forEachConcurrent } from './eval.ts';
import { createProgress } from './progress.ts';

export const MARGIN = 8;
export const STORED_SIZE = ALIGNED_SIZE + 2 * MARGIN;
const TEMPLATE_WITH_MARGIN = ARCFACE_TEMPLATE_112.map((v) => v + MARGIN);
/**
 * Around the teacher's chip in chips.u8: room for the student's alignment jitter (scale down to
 * 0.92, rotation 6 degrees, shift 4 px of 112) carried into the teacher's larger view.
 */
export const CHIP_MARGIN = 20;

/**
 * The teacher's chip of `face` with CHIP_MARGIN pixels around it, and the map from the stored
 * student frame (source -> `frame`) into it. The chip's own pixels are the region's centre crop,
 * sampled at exactly the positions the teacher's input is, so an unjittered view is its input.
 */
export function teacherRegion(
  image: RgbImage,
  face: DetectedFace,
  teacher: ModelEntry,
  frame: Affine,
  pipeline?: PipelineOptions,
): { region: RgbImage; frameToRegion: Affine } {
  const crop = pipeline?.fullfaceCrop ?? DEFAULT_FULLFACE_CROP;
  if (crop === 'faceapi')
    throw new Error("teacher views need a chip that is a similarity of the photo (--fullface-crop dlib68 or dlib5), not 'faceapi'");
  const side = inputSide(teacher);
  const toRegion = composeAffine([1, 0, CHIP_MARGIN, 0, 1, CHIP_MARGIN], fullfaceChipTransform(face, side, crop));
  return { region: extractChip(image, toRegion, side + 2 * CHIP_MARGIN), frameToRegion: composeAffine(toRegion, invertAffine(frame)) };
}

interface Source {
  path: string;
  dataset: string;
  identity: number;
}

async function listSources(dataDir: string): Promise<Source[]> {
  const sources: Source[] = [];
  const celeba = join(dataDir, 'celeba/identities.tsv');
  if (existsSync(celeba)) {
    const lines = (await readFile(celeba, 'utf8')).trim().split('\n').slice(1);
    for (const line of lines) {
      const [path, identity] = line.split('\t');
      sources.push({ path: `celeba/${path}`, dataset: 'celeba', identity: Number(identity) });
    }
  }
  const utk = join(dataDir, 'utkface');
  if (existsSync(utk)) {
    for (const f of (await readdir(utk)).filter((n) => n.endsWith('.jpg')).sort()) {
      sources.push({ path: `utkface/${f}`, dataset: 'utkface', identity: -1 });
    }
  }
  return sources;
}

export async function runPrepareTraining(opts: {
  dataDir: string;
  out: string;
  threads?: number;
  runtime?: NodeRuntime;
  limit?: number;
  pipeline?: PipelineOptions;
  cache?: boolean;
}): Promise<number> {
  await mkdir(opts.out, { recursive: true });
  let sources = await listSources(opts.dataDir);
  if (opts.limit) sources = sources.slice(0, opts.limit);
  const indexPath = join(opts.out, 'index.tsv');
  const facesPath = join(opts.out, 'faces128.u8');
  const teacherPath = join(opts.out, 'teacher.f32');
  const chipsPath = join(opts.out, 'chips.u8');
  const framesPath = join(opts.out, 'chipframe.f32');
  const faceBytes = STORED_SIZE * STORED_SIZE * 3;
  const teacherBytes = 2 * 128 * 4;
  const frameBytes = 6 * 4;

  // Resume: keep complete rows only.
  const done = new Set<string>();
  let rows = 0;
  if (existsSync(indexPath)) {
    const lines = (await readFile(indexPath, 'utf8')).split('\n').filter((l) => l && !l.startsWith('row\t'));
    for (const l of lines) done.add(l.split('\t')[1]);
    rows = lines.length;
    if (existsSync(facesPath)) await truncate(facesPath, rows * faceBytes);
    if (existsSync(teacherPath)) await truncate(teacherPath, rows * teacherBytes);
    if (rows > 0 && !existsSync(framesPath)) {
      throw new Error(`${opts.out} was prepared before chips.u8 (the teacher's views) was kept: prepare into a new --out folder`);
    }
    if (existsSync(framesPath)) await truncate(framesPath, rows * frameBytes);
  }
  const failures = createWriteStream(join(opts.out, 'failures.tsv'), { flags: 'a' });
  const index = createWriteStream(indexPath, { flags: 'a' });
  if (rows === 0) index.write('row\tpath\tdataset\tidentity\tdetectorScore\n');
  const faces = await open(facesPath, 'a');
  const teacher = await open(teacherPath, 'a');
  const chips = await open(chipsPath, 'a');
  const frames = await open(framesPath, 'a');

  const runner = await createNodeRunner({ threads: opts.threads, runtime: opts.runtime });
  const manifest = runner.manifest;
  const fullface = findModel(manifest, 'fullface');
  const chipSide = inputSide(fullface) + 2 * CHIP_MARGIN;
  // chips.u8's length is only known now (the teacher's input side), so it is cut back here.
  if (existsSync(chipsPath)) await truncate(chipsPath, rows * chipSide * chipSide * 3);
  const cache = opts.cache === false ? null : await FaceCache.open(manifest, opts.pipeline);
  const todo = sources.filter((s) => !done.has(s.path));
  process.stderr.write(`${sources.length} photos, ${done.size} already prepared, ${todo.length} to go -> ${opts.out}\n`);
  const progress = createProgress('prepare', todo.length);
  // Rows go out in the photos' order, whatever order they finish in, so the same data gives the
  // same cache (training reads "the first N faces"); one chain of writes keeps the files aligned.
  const finished = new Map<number, (() => Promise<void>) | null>();
  let nextRow = 0;
  let writing = Promise.resolve();
  await forEachConcurrent(todo, 2, async (src, i) => {
    let write: (() => Promise<void>) | null = null;
    try {
      const path = join(opts.dataDir, src.path);
      const { image, bytes } = await decodePhotoFile(path);
      const found = await detectFacesCached(bytes, image, runner, manifest, opts.pipeline ?? {}, cache);
      // Training crops are centred on their subject.
      const face = pickFace(found, image, 'central');
      if (!face) throw new Error('no face found');
      const aligned = alignToTemplate(image, face.landmarks5, TEMPLATE_WITH_MARGIN, STORED_SIZE);
      const t = await teacherTargets(image, face, fullface, runner, opts.pipeline);
      const view = teacherRegion(image, face, fullface, aligned.transform, opts.pipeline);
      write = async () => {
        await faces.write(aligned.face.data);
        await teacher.write(new Uint8Array(t.buffer));
        await chips.write(view.region.data);
        await frames.write(new Uint8Array(Float32Array.from(view.frameToRegion).buffer));
        index.write(`${rows}\t${src.path}\t${src.dataset}\t${src.identity}\t${face.score.toFixed(4)}\n`);
        rows++;
      };
    } catch (e) {
      failures.write(`${src.path}\t${(e as Error).message}\n`);
    }
    finished.set(i, write);
    for (; finished.has(nextRow); nextRow++) {
      const next = finished.get(nextRow);
      finished.delete(nextRow);
      if (next) writing = writing.then(next);
    }
    await writing;
    progress.tick();
  });
  progress.done();
  await writing;
  await faces.close();
  await teacher.close();
  await chips.close();
  await frames.close();
  await new Promise((r) => index.end(r));
  await new Promise((r) => failures.end(r));
  await runner.dispose();
  process.stderr.write(`${rows} faces in ${opts.out}\n`);
  return 0;
}

/**
 * The teacher's embeddings of its own input crop and of that crop mirrored: the targets for
 * plain and horizontally flipped student inputs. One batch of two.
 */
async function teacherTargets(
  image: RgbImage,
  face: DetectedFace,
  model: ModelEntry,
  runner: ModelRunner,
  pipeline?: PipelineOptions,
): Promise<Float32Array> {
  const side = inputSide(model);
  const out = await runner.run(model.id, { data: embeddingInputWithMirror(image, face, model, pipeline), dims: [2, 3, side, side] });
  return Object.values(out)[0].data.slice(0, 256);
}
