/**
 * `patchface report lfw DIR --out report.html` (or `report pairs FILE --root DIR`): where a model
 * looks and where it fails, over a whole benchmark, as one self-contained HTML file. It runs the
 * same evaluation as `eval` (same models, caches, protocol, --limit, --hide), so from warm caches
 * it costs seconds; then it adds up the exact decision margins of every pair, finds the worst
 * errors, and draws them (reportHtml.ts).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { alignFace112 } from '../core/align.ts';
import { compareHidden, decisionMargins } from '../core/decision.ts';
import { patchHeatmap, sharedScale, heatmapRgba } from '../core/heatmap.ts';
import type { ModelEntry } from '../core/manifest.ts';
import { pickFace, type Embedding } from '../core/pipeline.ts';
import { hiddenTag, isNothingHidden, keptPatches, type HiddenRegion } from '../core/regions.ts';
import { rocCurve, tarAtFar, type TenFoldResult } from '../core/verification.ts';
import { decodePhotoFile, readPhotoFile } from '../node/decodeImage.ts';
import { detectFacesCached } from '../node/faceCache.ts';
import { evaluate, protocolVerdicts, type EvalOptions, type EvalPair, type Evaluation } from './eval.ts';
import { meanMaps, type ModelReport, type ReportData, type WorstPair } from './reportData.ts';
import { renderReport } from './reportHtml.ts';

export interface ReportOptions extends EvalOptions {
  out: string;
  /** How many of the worst false accepts and false rejects to show per model. */
  worst: number;
}

/** The margins of one pair at its fold's threshold, both faces; null when a photo had no face. */
function pairMargins(model: ModelEntry, ea: Embedding | undefined, eb: Embedding | undefined, hidden: HiddenRegion, t: number) {
  if (!ea || !eb) return null;
  const c = compareHidden(model, ea, eb, hidden);
  const a = decisionMargins(c, 'a', t);
  const b = decisionMargins(c, 'b', t);
  return a && b ? { a, b } : null;
}

const embeddingOf = (ev: Evaluation, file: string, model: ModelEntry) => ev.embeddings.get(file)?.get(model.id);

function histogram(scores: Float64Array, pairs: EvalPair[], bins = 40): ModelReport['histogram'] {
  const finite = Array.from(scores).filter(Number.isFinite);
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  const width = (hi - lo) / bins || 1;
  const edges = Array.from({ length: bins + 1 }, (_, k) => lo + k * width);
  const genuine = new Array<number>(bins).fill(0);
  const impostor = new Array<number>(bins).fill(0);
  pairs.forEach((p, i) => {
    if (!Number.isFinite(scores[i])) return;
    const k = Math.min(bins - 1, Math.floor((scores[i] - lo) / width));
    (p.same ? genuine : impostor)[k]++;
  });
  return { edges, genuine, impostor };
}

/** The ROC curve thinned to at most `max` points (it is drawn, not read). */
function thinned(curve: { far: number[]; tar: number[] }, max = 600): { far: number[]; tar: number[] } {
  if (curve.far.length <= max) return curve;
  const step = curve.far.length / max;
  const keep = new Set(Array.from({ length: max }, (_, k) => Math.floor(k * step)).concat(curve.far.length - 1));
  return { far: curve.far.filter((_, i) => keep.has(i)), tar: curve.tar.filter((_, i) => keep.has(i)) };
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

async function jpegUri(rgb: Uint8Array, side: number): Promise<string> {
  const buf = await sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), { raw: { width: side, height: side, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
  return `data:image/jpeg;base64,${buf.toString('base64')}`;
}

async function pngUri(rgba: Uint8ClampedArray, side: number): Promise<string> {
  const buf = await sharp(Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength), { raw: { width: side, height: side, channels: 4 } })
    .png()
    .toBuffer();
  return `data:image/png;base64,${buf.toString('base64')}`;
}

/** One photo's aligned face, as the evaluation chose it (detections from the cache). */
async function alignedFace(ev: Evaluation, file: string, opts: ReportOptions): Promise<Uint8Array> {
  const path = join(ev.root, file);
  const read = await readPhotoFile(path);
  const { image } = await decodePhotoFile(path, read);
  const faces = await detectFacesCached(read, image, ev.runner, ev.manifest, opts.pipeline ?? {}, ev.cache);
  const face = pickFace(faces, image, 'central');
  if (!face) throw new Error(`${file}: no face found`);
  return alignFace112(image, face.landmarks5).face.data;
}

function worstPairs(
  ev: Evaluation,
  m: number,
  verdicts: boolean[],
  margins: ({ a: Float64Array; b: Float64Array } | null)[] | null,
  opts: ReportOptions,
) {
  const model = ev.models[m];
  const scores = ev.scoresByModel[m];
  const evaluation: TenFoldResult = ev.evaluations[m];
  const hide = isNothingHidden(ev.hidden) ? '' : ` --hide ${ev.hidden.presets.join(',')}`;
  const make = (i: number): WorstPair => {
    const p = ev.pairs[i];
    const pushes: WorstPair['pushes'] = [];
    const mm = margins?.[i];
    if (mm && model.patches) {
      // Toward "same" for a false accept, toward "different" for a false reject.
      const sign = p.same ? -1 : 1;
      const total = model.patches.map((box, k) => ({ patch: k, box, margin: mm.a[k] + mm.b[k] })).filter((x) => Number.isFinite(x.margin));
      total.sort((x, y) => sign * (y.margin - x.margin));
      pushes.push(...total.slice(0, 3));
    }
    const command = `npx patchface compare ${shellQuote(join(ev.root, p.a))} ${shellQuote(join(ev.root, p.b))} --model ${model.id}${hide}`;
    return { a: p.a, b: p.b, fold: p.fold, score: scores[i], threshold: evaluation.thresholds[p.fold], pushes, command };
  };
  const wrong = ev.pairs.map((_, i) => i).filter((i) => !verdicts[i] && Number.isFinite(scores[i]));
  const falseAccepts = wrong.filter((i) => !ev.pairs[i].same).sort((i, j) => scores[j] - scores[i]);
  const falseRejects = wrong.filter((i) => ev.pairs[i].same).sort((i, j) => scores[i] - scores[j]);
  return {
    falseAccepts: falseAccepts.slice(0, opts.worst).map((i) => ({ i, pair: make(i) })),
    falseRejects: falseRejects.slice(0, opts.worst).map((i) => ({ i, pair: make(i) })),
  };
}

/** Computes everything the report shows, without writing it. */
export async function buildReport(ev: Evaluation, opts: ReportOptions): Promise<ReportData> {
  const models: ModelReport[] = [];
  const verdictsByModel = ev.models.map((_, m) => protocolVerdicts(ev.pairs, ev.scoresByModel[m], ev.evaluations[m]));
  const faceCache = new Map<string, Promise<Uint8Array>>();
  const face = (file: string) => {
    if (!faceCache.has(file)) faceCache.set(file, alignedFace(ev, file, opts));
    return faceCache.get(file)!;
  };
  for (const [m, model] of ev.models.entries()) {
    process.stderr.write(`report: ${model.id}: margins, curves and the worst errors\n`);
    const scores = ev.scoresByModel[m];
    const evaluation = ev.evaluations[m];
    const verdicts = verdictsByModel[m];
    const same = ev.pairs.map((p) => p.same);
    const isPatch = model.kind !== 'fullface' && !!model.patches;
    const margins = isPatch
      ? ev.pairs.map((p) =>
          pairMargins(model, embeddingOf(ev, p.a, model), embeddingOf(ev, p.b, model), ev.hidden, evaluation.thresholds[p.fold]),
        )
      : null;
    const worst = worstPairs(ev, m, verdicts, margins, opts);
    for (const { i, pair } of [...worst.falseAccepts, ...worst.falseRejects]) {
      const [fa, fb] = await Promise.all([face(pair.a), face(pair.b)]);
      pair.images = { faceA: await jpegUri(fa, 112), faceB: await jpegUri(fb, 112) };
      const mm = margins?.[i];
      if (mm && model.patches) {
        const mapA = patchHeatmap(mm.a, model.patches);
        const mapB = patchHeatmap(mm.b, model.patches);
        const vmax = sharedScale(mapA, mapB);
        pair.images.mapA = await pngUri(heatmapRgba(mapA, vmax), 112);
        pair.images.mapB = await pngUri(heatmapRgba(mapB, vmax), 112);
      }
    }
    const kept = isPatch && !isNothingHidden(ev.hidden) ? keptPatches(model.patches!, ev.hidden).length : null;
    models.push({
      id: model.id,
      kind: model.kind,
      patches: model.patches,
      keptPatches: kept,
      metrics: {
        accuracy: evaluation.accuracy,
        std: evaluation.std,
        auc: evaluation.auc,
        threshold: evaluation.threshold,
        foldThresholds: evaluation.thresholds,
        pairs: evaluation.pairs,
        noFace: evaluation.noFace,
        errors: verdicts.filter((v) => !v).length,
      },
      roc: thinned(rocCurve(scores, same)),
      tarAtFar: [1e-2, 1e-3].map((far) => ({ far, tar: tarAtFar(scores, same, far).tar })),
      histogram: histogram(scores, ev.pairs),
      meanMaps: isPatch ? meanMaps(ev.pairs, margins!, verdicts, model.patches!.length) : null,
      worst: { falseAccepts: worst.falseAccepts.map((w) => w.pair), falseRejects: worst.falseRejects.map((w) => w.pair) },
    });
  }
  const full = ev.models.findIndex((m) => m.kind === 'fullface');
  const agreement =
    full < 0
      ? []
      : ev.models.flatMap((model, m) => {
          if (m === full) return [];
          const mine = verdictsByModel[m];
          const theirs = verdictsByModel[full];
          let modelOnly = 0;
          let fullfaceOnly = 0;
          let both = 0;
          mine.forEach((right, i) => {
            if (!right && theirs[i]) modelOnly++;
            else if (right && !theirs[i]) fullfaceOnly++;
            else if (!right && !theirs[i]) both++;
          });
          return [{ model: model.id, modelOnly, fullfaceOnly, both }];
        });
  const files = new Set(ev.pairs.flatMap((p) => [p.a, p.b]));
  const title = opts.kind === 'lfw' ? `LFW (${opts.target})` : `pairs of ${opts.target}`;
  return { title, pairs: ev.pairs.length, images: files.size, hidden: [...ev.hidden.presets], models, agreement };
}

export async function runReport(opts: ReportOptions): Promise<number> {
  const t0 = Date.now();
  const ev = await evaluate(opts);
  try {
    const data = await buildReport(ev, opts);
    const html = renderReport(data);
    await writeFile(opts.out, html);
    const hidden = isNothingHidden(ev.hidden) ? '' : ` with ${hiddenTag(ev.hidden)} hidden`;
    process.stderr.write(
      `wrote ${opts.out}${hidden}: ${(Buffer.byteLength(html) / 1e6).toFixed(2)} MB, ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
    );
    return 0;
  } finally {
    await ev.runner.dispose();
  }
}
