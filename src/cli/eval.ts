/**
 * `patchface eval`: verification accuracy with the 10-fold protocol, through the app's pipeline.
 * Each image is decoded, detected and embedded once for all requested models.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compareHidden } from '../core/decision.ts';
import { channelMean, embedders, findModel, type HiddenCalibration, type Manifest, type ModelEntry } from '../core/manifest.ts';
import { embedFaces, pickFace, type Embedding, type PipelineOptions } from '../core/pipeline.ts';
import {
  greyOutHidden,
  HIDE_PRESETS,
  hiddenTag,
  isNothingHidden,
  keptPatches,
  NOTHING_HIDDEN,
  type HiddenRegion,
  type HidePresetId,
} from '../core/regions.ts';
import {
  accuracyAt,
  bestThreshold,
  lfwImagePath,
  parseLfwPairs,
  parsePairsTsv,
  tenFoldEvaluation,
  type TenFoldResult,
} from '../core/verification.ts';
import { decodePhotoFile, readPhotoFile } from '../node/decodeImage.ts';
import { EmbeddingCache } from '../node/embeddingCache.ts';
import { detectFacesCached, FaceCache, photoKey } from '../node/faceCache.ts';
import { createNodeRunner, MANIFEST_PATH, type NodeRuntime } from '../node/runtime.ts';
import type { OrtModelRunner } from '../inference/modelRunner.ts';
import { createProgress } from './progress.ts';

export interface EvalOptions {
  kind: 'lfw' | 'pairs';
  target: string;
  root?: string;
  models?: string[];
  json: boolean;
  writeManifest: boolean;
  /** Where to write every pair's score under every model (TSV), if anywhere. */
  scoresFile?: string;
  threads?: number;
  runtime?: NodeRuntime;
  limit?: number;
  pipeline?: PipelineOptions;
  /** Reuse detections from earlier runs (default true). */
  cache?: boolean;
  /** Regions hidden on every face (--hide): the figures are those of the restricted models. */
  hidden?: HiddenRegion;
  /** Also evaluate each model with each preset region hidden alone (--presets). */
  presets?: boolean;
}

export interface EvalPair {
  a: string;
  b: string;
  same: boolean;
  fold: number;
}

export interface ModelEvalJson {
  accuracy: number;
  std: number;
  folds: number[];
  threshold: number;
  auc: number;
  pairs: number;
  noFace: number;
  /** The regions hidden (--hide), and how many patches that keeps (null: fullface, or nothing hidden). */
  hidden?: string[];
  keptPatches?: number | null;
  /** --presets: the same figures with each preset region hidden alone; null where no patch is left. */
  hide?: Record<string, (Omit<ModelEvalJson, 'hide' | 'hidden' | 'folds'> & { keptPatches: number | null }) | null>;
}

export async function loadPairs(
  opts: Pick<EvalOptions, 'kind' | 'target' | 'root' | 'limit'>,
): Promise<{ root: string; pairs: EvalPair[] }> {
  let root: string;
  let pairs: EvalPair[];
  if (opts.kind === 'lfw') {
    root = join(opts.target, 'lfw-deepfunneled');
    const parsed = parseLfwPairs(await readFile(join(opts.target, 'pairs.txt'), 'utf8'));
    pairs = parsed.pairs.map((p) => ({
      a: lfwImagePath(p.a.name, p.a.index),
      b: lfwImagePath(p.b.name, p.b.index),
      same: p.same,
      fold: p.fold,
    }));
  } else {
    root = opts.root!;
    pairs = parsePairsTsv(await readFile(opts.target, 'utf8'));
  }
  if (opts.limit) {
    // The first N matched and the first N mismatched pairs of each fold.
    const seen = new Map<string, number>();
    pairs = pairs.filter((p) => {
      const key = `${p.fold}:${p.same}`;
      const n = (seen.get(key) ?? 0) + 1;
      seen.set(key, n);
      return n <= opts.limit!;
    });
  }
  return { root, pairs };
}

/** Runs `fn` over `items` with at most `concurrency` in flight (decode overlaps inference). */
export async function forEachConcurrent<T>(items: T[], concurrency: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/**
 * One embedding of every image: a model's, of the photo as it is or, for a model without patches
 * (fullface), with a region filled with the model's mean grey. Patch models never need the second
 * kind: hiding drops patches from the features of the photo as it is.
 */
export interface EmbeddingJob {
  model: ModelEntry;
  hidden: HiddenRegion;
}

export function jobKey(model: ModelEntry, hidden: HiddenRegion): string {
  return isNothingHidden(hidden) ? model.id : `${model.id}|${hiddenTag(hidden)}`;
}

/** The jobs that evaluating `models` under every region of `settings` needs. */
export function embeddingJobs(models: ModelEntry[], settings: HiddenRegion[]): EmbeddingJob[] {
  const jobs = new Map<string, EmbeddingJob>();
  for (const model of models) {
    for (const hidden of model.kind === 'fullface' ? settings : [NOTHING_HIDDEN]) jobs.set(jobKey(model, hidden), { model, hidden });
  }
  return [...jobs.values()];
}

/** The embedding a model compares under a hidden region: its own job for fullface, the photo's as it is otherwise. */
function embeddingFor(perImage: Map<string, Embedding> | undefined, model: ModelEntry, hidden: HiddenRegion): Embedding | undefined {
  return perImage?.get(jobKey(model, model.kind === 'fullface' ? hidden : NOTHING_HIDDEN));
}

/**
 * Runs every job on every distinct image once; a failed image maps to its error message. With the
 * detection cache, each job's embeddings are cached too (EmbeddingCache): a photo that every job
 * has already embedded under the same code and settings is not even decoded.
 */
export async function embedImages(
  files: string[],
  root: string,
  jobs: EmbeddingJob[],
  runner: OrtModelRunner,
  manifest: Manifest,
  pipeline: PipelineOptions = {},
  cache: FaceCache | null = null,
  label = 'images',
  runtime: NodeRuntime = 'native',
): Promise<{ embeddings: Map<string, Map<string, Embedding>>; failures: Map<string, string>; reused: number }> {
  const embeddings = new Map<string, Map<string, Embedding>>();
  const failures = new Map<string, string>();
  const pick = (hidden: HiddenRegion) => (isNothingHidden(hidden) ? 'central' : `central, hidden in grey: ${hiddenTag(hidden)}`);
  const stored = cache
    ? await Promise.all(
        jobs.map((j) => EmbeddingCache.open(j.model, pipeline, cache.signature, pick(j.hidden), undefined, undefined, runtime)),
      )
    : null;
  let reused = 0;
  const progress = createProgress(label, files.length);
  await forEachConcurrent(files, 2, async (file) => {
    try {
      const path = join(root, file);
      const perJob = new Map<string, Embedding>();
      const read = await readPhotoFile(path);
      const key = stored ? photoKey(read) : '';
      if (stored) {
        for (const [i, c] of stored.entries()) {
          const e = await c.get(key);
          if (e) perJob.set(jobKey(jobs[i].model, jobs[i].hidden), e);
        }
        reused += perJob.size;
      }
      if (perJob.size < jobs.length) {
        const { image } = await decodePhotoFile(path, read);
        const faces = await detectFacesCached(read, image, runner, manifest, pipeline, cache);
        const face = pickFace(faces, image, 'central');
        if (!face) throw new Error('no face found');
        for (const [i, job] of jobs.entries()) {
          const k = jobKey(job.model, job.hidden);
          if (perJob.has(k)) continue;
          const shown = isNothingHidden(job.hidden) ? image : greyOutHidden(image, face.landmarks5, job.hidden, channelMean(job.model));
          const [e] = await embedFaces([{ image: shown, face }], job.model, runner, pipeline);
          await stored?.[i].set(key, e);
          perJob.set(k, e);
        }
      }
      embeddings.set(file, perJob);
    } catch (e) {
      const reason = (e as Error).message.replace(`${join(root, file)}: `, '');
      failures.set(file, reason);
      progress.note(`${file}: ${reason}`);
    }
    progress.tick();
  });
  progress.done();
  return { embeddings, failures, reused };
}

/** Every pair's score under one model with `hidden` hidden (NaN: no face, or no patch left). */
export function scorePairs(
  pairs: EvalPair[],
  model: ModelEntry,
  embeddings: Map<string, Map<string, Embedding>>,
  hidden: HiddenRegion = NOTHING_HIDDEN,
): Float64Array {
  const scores = new Float64Array(pairs.length);
  pairs.forEach((p, i) => {
    const ea = embeddingFor(embeddings.get(p.a), model, hidden);
    const eb = embeddingFor(embeddings.get(p.b), model, hidden);
    scores[i] = ea && eb ? compareHidden(model, ea, eb, hidden).score : Number.NaN;
  });
  return scores;
}

function keptCount(model: ModelEntry, hidden: HiddenRegion): number | null {
  return model.kind === 'fullface' || isNothingHidden(hidden) ? null : keptPatches(model.patches ?? [], hidden).length;
}

/** Each preset hidden alone: the ten-fold figures, or null when no patch is left to score. */
function presetEvaluations(
  pairs: EvalPair[],
  model: ModelEntry,
  embeddings: Map<string, Map<string, Embedding>>,
): NonNullable<ModelEvalJson['hide']> {
  const same = pairs.map((p) => p.same);
  const folds = pairs.map((p) => p.fold);
  const out: NonNullable<ModelEvalJson['hide']> = {};
  for (const preset of HIDE_PRESETS) {
    const hidden: HiddenRegion = { presets: [preset.id], cells: [] };
    const kept = keptCount(model, hidden);
    if (kept === 0) {
      out[preset.id] = null;
      continue;
    }
    const ev = tenFoldEvaluation(scorePairs(pairs, model, embeddings, hidden), same, folds);
    out[preset.id] = {
      accuracy: ev.accuracy,
      std: ev.std,
      threshold: ev.threshold,
      auc: ev.auc,
      pairs: ev.pairs,
      noFace: ev.noFace,
      keptPatches: kept,
    };
  }
  return out;
}

/** The occlusion table: each model's accuracy with each preset hidden alone. */
export function presetTable(result: Record<string, ModelEvalJson>): string {
  const models = Object.keys(result).filter((id) => result[id].hide);
  if (!models.length) return '';
  const cell = (id: string, preset: HidePresetId) => {
    const r = result[id].hide![preset];
    if (!r) return 'no patch left'.padStart(24);
    const kept = r.keptPatches === null ? '' : ` (${r.keptPatches} kept)`;
    return `${(r.accuracy * 100).toFixed(2)} ± ${(r.std * 100).toFixed(2)}${kept}`.padStart(24);
  };
  const lines = [`${'hidden'.padEnd(12)}${models.map((id) => id.padStart(24)).join('')}`];
  lines.push(
    `${'nothing'.padEnd(12)}${models.map((id) => `${(result[id].accuracy * 100).toFixed(2)} ± ${(result[id].std * 100).toFixed(2)}`.padStart(24)).join('')}`,
  );
  for (const p of HIDE_PRESETS) lines.push(`${p.id.padEnd(12)}${models.map((id) => cell(id, p.id)).join('')}`);
  return `${lines.join('\n')}\n`;
}

/** What an evaluation computed: the data behind `eval`'s figures and the report. */
export interface Evaluation {
  manifest: Manifest;
  runner: OrtModelRunner;
  root: string;
  pairs: EvalPair[];
  models: ModelEntry[];
  hidden: HiddenRegion;
  embeddings: Map<string, Map<string, Embedding>>;
  failures: Map<string, string>;
  cache: FaceCache | null;
  scoresByModel: Float64Array[];
  evaluations: TenFoldResult[];
}

/**
 * Embeds every image of the pairs with every model (from the caches where it can) and scores the
 * pairs under the ten-fold protocol, with `hidden` hidden. The caller disposes `runner`.
 */
export async function evaluate(opts: EvalOptions, extraSettings: HiddenRegion[] = []): Promise<Evaluation> {
  const runner = await createNodeRunner({ threads: opts.threads, runtime: opts.runtime });
  try {
    const manifest = runner.manifest;
    const models = opts.models?.length ? opts.models.map((id) => findModel(manifest, id)) : embedders(manifest);
    for (const m of models) if (m.role !== 'embedder') throw new Error(`"${m.id}" is a ${m.role} model, not a face embedding model`);
    const hidden = opts.hidden ?? NOTHING_HIDDEN;
    for (const model of models) {
      if (keptCount(model, hidden) === 0)
        throw new Error(`${model.id}: every patch touches the hidden region (${hiddenTag(hidden)}); nothing is left to score`);
    }
    const { root, pairs } = await loadPairs(opts);
    const files = [...new Set(pairs.flatMap((p) => [p.a, p.b]))];
    const jobs = embeddingJobs(models, [hidden, ...extraSettings]);
    const hiddenNote = isNothingHidden(hidden) ? '' : `, hidden: ${hiddenTag(hidden)}`;
    process.stderr.write(`${pairs.length} pairs, ${files.length} images, models: ${models.map((m) => m.id).join(', ')}${hiddenNote}\n`);
    const t0 = Date.now();
    const cache = opts.cache === false ? null : await FaceCache.open(manifest, opts.pipeline);
    if (cache?.size) process.stderr.write(`detection cache: ${cache.size} photos known (--no-cache to recompute)\n`);
    const { embeddings, failures, reused } = await embedImages(
      files,
      root,
      jobs,
      runner,
      manifest,
      opts.pipeline,
      cache,
      'images',
      opts.runtime,
    );
    if (reused) {
      process.stderr.write(
        `embedding cache: ${reused} of ${files.length * jobs.length} image embeddings reused from earlier runs of the same code and models\n`,
      );
    }
    const seconds = (Date.now() - t0) / 1000;
    process.stderr.write(
      `${files.length - failures.size}/${files.length} images yielded a face (${((100 * (files.length - failures.size)) / files.length).toFixed(2)}%); ` +
        `${(files.length / seconds).toFixed(2)} images/s\n`,
    );
    const same = pairs.map((p) => p.same);
    const folds = pairs.map((p) => p.fold);
    const scoresByModel = models.map((model) => scorePairs(pairs, model, embeddings, hidden));
    const evaluations = scoresByModel.map((scores) => tenFoldEvaluation(scores, same, folds));
    return { manifest, runner, root, pairs, models, hidden, embeddings, failures, cache, scoresByModel, evaluations };
  } catch (e) {
    await runner.dispose();
    throw e;
  }
}

export async function runEval(opts: EvalOptions): Promise<number> {
  const hidden = opts.hidden ?? NOTHING_HIDDEN;
  if (opts.writeManifest && !isNothingHidden(hidden)) throw new Error('--write-manifest stores the models as they are: leave out --hide');
  const presets = opts.presets ? HIDE_PRESETS.map((p): HiddenRegion => ({ presets: [p.id], cells: [] })) : [];
  const { runner, pairs, models, embeddings, scoresByModel, evaluations } = await evaluate(opts, presets);
  try {
    const result: Record<string, ModelEvalJson> = {};
    for (const [m, model] of models.entries()) {
      const ev = evaluations[m];
      result[model.id] = {
        accuracy: ev.accuracy,
        std: ev.std,
        folds: ev.folds,
        threshold: ev.threshold,
        auc: ev.auc,
        pairs: ev.pairs,
        noFace: ev.noFace,
        ...(isNothingHidden(hidden) ? {} : { hidden: [...hidden.presets], keptPatches: keptCount(model, hidden) }),
        ...(opts.presets ? { hide: presetEvaluations(pairs, model, embeddings) } : {}),
      };
    }
    if (opts.scoresFile) {
      const verdicts = scoresByModel.map((scores, m) => protocolVerdicts(pairs, scores, evaluations[m]));
      await writeFile(opts.scoresFile, pairScoresTsv(pairs, models, scoresByModel, verdicts));
      process.stderr.write(
        `wrote ${pairs.length} pair scores to ${opts.scoresFile}\n${pairErrors(pairs, models, scoresByModel, verdicts)}`,
      );
    }
    if (opts.writeManifest) {
      if (opts.kind !== 'lfw' || opts.limit) throw new Error('--write-manifest needs a full `eval lfw` run');
      await storeLfwResults(result);
    }
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } else {
      for (const [id, r] of Object.entries(result)) {
        process.stdout.write(
          `${id.padEnd(10)} accuracy ${(r.accuracy * 100).toFixed(2)}% ± ${(r.std * 100).toFixed(2)}  AUC ${r.auc.toFixed(4)}  ` +
            `threshold ${r.threshold.toFixed(4)}  pairs ${r.pairs}  pairs without a face ${r.noFace}` +
            (r.keptPatches != null ? `  patches kept ${r.keptPatches}` : '') +
            '\n',
        );
      }
      if (opts.presets) process.stdout.write(`\nLFW accuracy (%) with one region hidden on both faces:\n${presetTable(result)}`);
    }
    return 0;
  } finally {
    await runner.dispose();
  }
}

/** Whether the protocol got each pair right: its score against its fold's threshold, chosen on the other folds. */
export function protocolVerdicts(pairs: EvalPair[], scores: Float64Array, evaluation: TenFoldResult): boolean[] {
  return pairs.map((p, i) => accuracyAt([scores[i]], [p.same], evaluation.thresholds[p.fold]) === 1);
}

/**
 * One row per pair: fold, same (1/0), both image paths, then each model's score (NaN: no face) and
 * its protocol verdict (1 right, 0 wrong; protocolVerdicts).
 */
export function pairScoresTsv(pairs: EvalPair[], models: ModelEntry[], scoresByModel: Float64Array[], verdicts: boolean[][]): string {
  const header = ['fold', 'same', 'a', 'b', ...models.flatMap((m) => [m.id, `${m.id}.correct`])].join('\t');
  const rows = pairs.map((p, i) => {
    const perModel = scoresByModel.flatMap((s, m) => [s[i].toFixed(6), verdicts[m][i] ? 1 : 0]);
    return [p.fold, p.same ? 1 : 0, p.a, p.b, ...perModel].join('\t');
  });
  return `${header}\n${rows.join('\n')}\n`;
}

/**
 * What `--scores` also prints, a diagnostic and never a way to choose anything: each model's wrong
 * pairs under the protocol (missed matches, false matches); the most pairs one threshold gets
 * right if chosen in hindsight on every pair (when even that misses a target, no threshold or
 * calibration reaches it: the scores' order must change); and, for each two models, the pairs
 * both get wrong and those only one does.
 */
export function pairErrors(pairs: EvalPair[], models: ModelEntry[], scoresByModel: Float64Array[], verdicts: boolean[][]): string {
  const same = pairs.map((p) => p.same);
  const wrong = verdicts.map((v) => new Set(pairs.flatMap((_, i) => (v[i] ? [] : [i]))));
  const lines = models.map((model, m) => {
    const missed = [...wrong[m]].filter((i) => pairs[i].same).length;
    return (
      `${model.id}: ${pairs.length - wrong[m].size} of ${pairs.length} pairs right; wrong: ${missed} missed matches, ` +
      `${wrong[m].size - missed} false matches; one threshold chosen in hindsight on every pair: ${bestThreshold(scoresByModel[m], same).correct} right`
    );
  });
  for (let a = 0; a < models.length; a++) {
    for (let b = a + 1; b < models.length; b++) {
      const both = [...wrong[a]].filter((i) => wrong[b].has(i)).length;
      lines.push(
        `${models[a].id} and ${models[b].id}: both wrong ${both}, ${models[a].id} alone ${wrong[a].size - both}, ${models[b].id} alone ${wrong[b].size - both}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Writes each model's LFW operating point into the manifest (the only writer of these fields). */
async function storeLfwResults(result: Record<string, ModelEvalJson>): Promise<void> {
  const manifest = JSON.parse(await readFile(MANIFEST_PATH, 'utf8')) as Manifest;
  for (const [id, r] of Object.entries(result)) {
    const entry = findModel(manifest, id);
    entry.threshold = r.threshold;
    entry.lfw = { accuracy: r.accuracy, std: r.std, protocol: '10-fold, 6000 pairs', folds: r.folds, auc: r.auc, noFace: r.noFace };
    if (r.hide) {
      const hide: Record<string, HiddenCalibration> = {};
      for (const [id, h] of Object.entries(r.hide)) {
        if (h) hide[id] = { threshold: h.threshold, accuracy: h.accuracy, std: h.std, auc: h.auc, keptPatches: h.keptPatches };
      }
      entry.hide = hide;
    }
  }
  await writeFile(MANIFEST_PATH, `${JSON.stringify(manifest, null, 2)}\n`);
  process.stderr.write(`wrote LFW thresholds to ${MANIFEST_PATH}\n`);
}
