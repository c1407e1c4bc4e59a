/** `patchface compare A B`: score, verdict, faces and every patch's exact contribution. */
import { basename } from 'node:path';
import { constantPartText, toCompareJson, type CompareJson } from '../core/compareJson.ts';
import { embedders, findModel, type ModelEntry } from '../core/manifest.ts';
import { compareEmbeddings, detectFaces, embedFaces, noFaceError, type Comparison, type PipelineOptions } from '../core/pipeline.ts';
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
    const [ea, eb] = await embedFaces([a, b], model, runner, opts.pipeline);
    const result = compareEmbeddings(model, ea, eb);
    const json = toCompareJson(result, a, b);
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

function formatCompare(model: ModelEntry, r: Comparison, json: CompareJson, opts: CompareOptions): string {
  const lines: string[] = [];
  const faceLine = (label: string, path: string, f: CompareJson['faces']['a'], pick: number) =>
    `${label} ${basename(path)}: ${f.found} face(s), using face ${pick} at [${f.box.join(', ')}] (detector ${f.score.toFixed(2)})`;
  lines.push(faceLine('A', opts.a, json.faces.a, opts.faceA));
  lines.push(faceLine('B', opts.b, json.faces.b, opts.faceB));
  lines.push(`Model ${model.id} (${model.kind}${model.patches ? `, ${model.patches.length} patches` : ''})`);
  const verdict = r.same === null ? 'no calibrated threshold' : r.same ? 'Same person' : 'Different people';
  const op = r.threshold === null ? '' : `  (threshold ${r.threshold.toFixed(3)}${model.lfw ? `, LFW accuracy ${(model.lfw.accuracy * 100).toFixed(1)}%` : ''})`;
  lines.push(`Score ${r.score.toFixed(4)}  ${verdict}${op}`);
  if (r.patches.length > 0) {
    lines.push('', 'patch [x, y, w, h]        A contribution   B contribution');
    for (const p of r.patches) {
      lines.push(`[${p.box.join(', ')}]`.padEnd(26) + p.a.toFixed(5).padStart(14) + p.b.toFixed(5).padStart(17));
    }
    const sa = r.patches.reduce((s, p) => s + p.a, 0);
    const sb = r.patches.reduce((s, p) => s + p.b, 0);
    lines.push(`${'sum'.padEnd(26)}${sa.toFixed(5).padStart(14)}${sb.toFixed(5).padStart(17)}  (= score ${r.score.toFixed(5)})`);
    if (r.constantPart !== null) lines.push(constantPartText(r.constantPart, r.score, r.patches.length));
  }
  return `${lines.join('\n')}\n`;
}

