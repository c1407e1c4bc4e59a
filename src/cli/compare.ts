/** `patchface compare A B`: score, verdict, faces and every patch's exact contribution. */
import { basename } from 'node:path';
import { constantPartText, toCompareJson, type CompareJson } from '../core/compareJson.ts';
import { embedders, findModel, type ModelEntry } from '../core/manifest.ts';
import { compareHidden, finiteSum, type RestrictedComparison } from '../core/decision.ts';
import { channelMean } from '../core/manifest.ts';
import { detectFaces, embedFaces, noFaceError, type PipelineOptions } from '../core/pipeline.ts';
import { greyOutHidden, hidePreset, isNothingHidden, NOTHING_HIDDEN, type HiddenRegion } from '../core/regions.ts';
import { decodePhotoFile, PhotoError } from '../node/decodeImage.ts';
import { createNodeRunner, type NodeRuntime } from '../node/runtime.ts';

export interface CompareOptions {
  a: string;
  b: string;
  model?: string;
  faceA: number;
  faceB: number;
  json: boolean;
  threads?: number;
  runtime?: NodeRuntime;
  pipeline?: PipelineOptions;
  /** Regions hidden on both faces (--hide). */
  hidden?: HiddenRegion;
}

// Re-exported: the shape lives in src/core so the app's JSON export shares it.
export { toCompareJson, type CompareJson };

export function defaultCompareModel(models: ModelEntry[]): string {
  return (models.find((m) => m.id === 'rrf28') ?? models.find((m) => m.id === 'fullface') ?? models[0]).id;
}

export async function runCompare(opts: CompareOptions): Promise<number> {
  const runner = await createNodeRunner({ threads: opts.threads, runtime: opts.runtime });
  try {
    const manifest = runner.manifest;
    const model = findModel(manifest, opts.model ?? defaultCompareModel(embedders(manifest)));
    if (model.role !== 'embedder') throw new Error(`"${model.id}" is a ${model.role} model, not a face embedding model`);
    const load = async (path: string, pick: number) => {
      const { image } = await decodePhotoFile(path);
      const faces = await detectFaces(image, runner, manifest, opts.pipeline);
      if (faces.length === 0) throw new PhotoError(path, noFaceError());
      if (!Number.isInteger(pick) || pick < 1 || pick > faces.length) {
        throw new PhotoError(path, new Error(`asked for face ${pick}, but the photo has ${faces.length} face(s)`));
      }
      return { image, faces, face: faces[pick - 1] };
    };
    const a = await load(opts.a, opts.faceA);
    const b = await load(opts.b, opts.faceB);
    const hidden = opts.hidden ?? NOTHING_HIDDEN;
    const [ea, eb] = await embedFaces([a, b], model, runner, opts.pipeline);
    const full = compareHidden(model, ea, eb);
    let result = full;
    if (!isNothingHidden(hidden)) {
      if (model.kind === 'fullface') {
        // No patches to drop: fill the region with the model's mean grey and run it again.
        const grey = (x: typeof a) => ({ image: greyOutHidden(x.image, x.face.landmarks5, hidden, channelMean(model)), face: x.face });
        const [ha, hb] = await embedFaces([grey(a), grey(b)], model, runner, opts.pipeline);
        result = compareHidden(model, ha, hb, hidden);
      } else {
        result = compareHidden(model, ea, eb, hidden);
      }
    }
    const json = toCompareJson(result, a, b, full.score);
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    } else {
      process.stdout.write(formatCompare(model, result, json, opts));
    }
    return 0;
  } finally {
    await runner.dispose();
  }
}

/** The lines that say what was hidden and what it did to the score. */
function hiddenLines(model: ModelEntry, r: RestrictedComparison, fullScore: number): string[] {
  if (isNothingHidden(r.hidden)) return [];
  const names = r.hidden.presets.map((id) => `${hidePreset(id).label} (${hidePreset(id).meaning})`).join(', ');
  const lines = [`Hidden on both faces: ${names}`];
  if (model.kind === 'fullface') {
    lines.push('fullface has no patches: the hidden region was filled with its mean grey and the network run again.');
  } else {
    lines.push(
      `Kept ${r.kept.length} of ${r.patches.length} patches (every patch touching a hidden pixel is dropped): ` +
        'this is the score of the same model when it never sees the hidden pixels.',
    );
  }
  if (r.empty) {
    lines.push(
      `Every ${model.patches?.[0]?.[2] ?? ''} px patch touches the hidden region: nothing is left to compare, so there is no score.`,
    );
  } else {
    lines.push(
      `Full score ${fullScore.toFixed(4)}; with the region hidden ${r.score.toFixed(4)} (${r.score - fullScore >= 0 ? '+' : ''}${(r.score - fullScore).toFixed(4)})`,
    );
    if (!r.calibrated) lines.push('No LFW-calibrated threshold exists for this hidden region, so there is no verdict.');
  }
  return lines;
}

function formatCompare(model: ModelEntry, r: RestrictedComparison, json: CompareJson, opts: CompareOptions): string {
  const lines: string[] = [];
  const faceLine = (label: string, path: string, f: CompareJson['faces']['a'], pick: number) =>
    `${label} ${basename(path)}: ${f.found} face(s), using face ${pick} at [${f.box.join(', ')}] (detector ${f.score.toFixed(2)})`;
  lines.push(faceLine('A', opts.a, json.faces.a, opts.faceA));
  lines.push(faceLine('B', opts.b, json.faces.b, opts.faceB));
  lines.push(`Model ${model.id} (${model.kind}${model.patches ? `, ${model.patches.length} patches` : ''})`);
  lines.push(...hiddenLines(model, r, json.fullScore));
  if (r.empty) return `${lines.join('\n')}\n`;
  const calibration = isNothingHidden(r.hidden) ? model.lfw : model.hide?.[r.hidden.presets[0]];
  const verdict = r.same === null ? 'no calibrated threshold' : r.same ? 'Same person' : 'Different people';
  const op =
    r.threshold === null
      ? ''
      : `  (threshold ${r.threshold.toFixed(3)}${calibration ? `, LFW accuracy ${(calibration.accuracy * 100).toFixed(1)}%` : ''})`;
  lines.push(`Score ${r.score.toFixed(4)}  ${verdict}${op}`);
  if (r.patches.length > 0) {
    const margins = r.threshold !== null;
    lines.push('', `patch [x, y, w, h]        A contribution   B contribution${margins ? '   A margin   B margin' : ''}`);
    json.patches.forEach((p, i) => {
      const kept = r.kept.includes(i);
      const cells = kept ? p.a.toFixed(5).padStart(14) + p.b.toFixed(5).padStart(17) : 'dropped'.padStart(14) + ''.padStart(17);
      const m = margins && kept ? p.marginA!.toFixed(5).padStart(11) + p.marginB!.toFixed(5).padStart(11) : '';
      lines.push(`[${p.box.join(', ')}]`.padEnd(26) + cells + m);
    });
    const sa = finiteSum(r.patches.map((p) => p.a));
    const sb = finiteSum(r.patches.map((p) => p.b));
    lines.push(`${'sum'.padEnd(26)}${sa.toFixed(5).padStart(14)}${sb.toFixed(5).padStart(17)}  (= score ${r.score.toFixed(5)})`);
    if (margins) {
      const ma = finiteSum(json.patches.map((p) => p.marginA ?? 0));
      const mb = finiteSum(json.patches.map((p) => p.marginB ?? 0));
      lines.push(`margins sum: A ${ma.toFixed(5)}, B ${mb.toFixed(5)} (= score - threshold ${(r.score - r.threshold!).toFixed(5)})`);
    }
    if (r.constantPart !== null) lines.push(constantPartText(r.constantPart, r.score, r.kept.length));
  }
  return `${lines.join('\n')}\n`;
}
