/**
 * `patchface` command line: compare two photos, evaluate on LFW or on any pair list.
 * Every number comes from the same pipeline as the browser app (src/core/pipeline.ts).
 */
import { parseArgs } from 'node:util';
import { runCompare } from './compare.ts';
import { runEval } from './eval.ts';
import { runBench } from './bench.ts';
import { runReport } from './report.ts';
import { runPrepareTraining } from './prepareTraining.ts';
import type { FullfaceCrop, PipelineOptions } from '../core/pipeline.ts';
import { NODE_RUNTIMES, type NodeRuntime } from '../node/runtime.ts';
import { HIDE_PRESET_IDS, parseHidePresets, type HiddenRegion } from '../core/regions.ts';

const USAGE = `patchface - locally additive face similarity

Usage:
  patchface compare A B [--model ID] [--face-a N] [--face-b N] [--hide REGIONS] [--json]
  patchface eval lfw DIR [--model ID ...] [--hide REGIONS] [--presets] [--json] [--write-manifest] [--scores FILE]
  patchface eval pairs FILE --root DIR [--model ID ...] [--hide REGIONS] [--presets] [--json] [--scores FILE]
  patchface report lfw DIR --out FILE.html [--model ID ...] [--hide REGIONS] [--worst K] [--limit N]
  patchface report pairs FILE --root DIR --out FILE.html [same options]
  patchface bench [PHOTO ...] [--runs N] [--json]
  patchface prepare-training DATA_DIR --out CACHE_DIR   (training data for training/)

Options:
  --model ID        embedding model (see public/models/manifest.json); eval: repeatable,
                    default every embedding model; compare: default rrf28 if present, else fullface
  --face-a N        which face of photo A to use, 1 = largest (default 1)
  --hide REGIONS    hide face regions on both faces, comma-separated: ${HIDE_PRESET_IDS.join(', ')};
                    a patch model drops every patch that touches them (no new network pass),
                    fullface sees them filled with its mean grey
  --presets         (eval) also evaluate every model with each region above hidden alone
  --json            machine-readable output on stdout
  --write-manifest  (eval lfw) store each model's LFW threshold and accuracy in the manifest,
                    and those with each region hidden (implies --presets)
  --scores FILE     (eval) also write every pair's score under every model to FILE (TSV),
                    with whether the protocol got it right; a pair without a face scores NaN
  --threads N       inference threads (default: all cores)
  --runtime R       native (default: onnxruntime-node) or wasm (onnxruntime-web's WASM
                    backend, the browser's fallback)
  --no-cache        (eval, prepare-training) recompute detections, and for eval each model's
                    embeddings, instead of reusing those cached under ~/.cache/patchface
                    (PATCHFACE_CACHE) by earlier runs of the same models, options and code;
                    a stopped eval resumes from its cached embeddings
  --limit N         (eval, report) only the first N matched and N mismatched pairs of each fold
  --out FILE        (report) where to write the HTML report
  --worst K         (report) how many of the worst false accepts and false rejects to show (12)
  --detector ID     face detector: ssd (default) or tiny
  --fallback-detector ID|none
                    detector tried when the first finds nothing (default: tiny after ssd)
  --fullface-crop C fullface input crop: dlib68 (default), dlib5 or faceapi
  --no-fullface-flip
                    fullface descriptor of the chip alone, not averaged with its mirror image
`;

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        model: { type: 'string', multiple: true },
        json: { type: 'boolean', default: false },
        root: { type: 'string' },
        'face-a': { type: 'string' },
        'face-b': { type: 'string' },
        'write-manifest': { type: 'boolean', default: false },
        scores: { type: 'string' },
        hide: { type: 'string' },
        presets: { type: 'boolean', default: false },
        'no-cache': { type: 'boolean', default: false },
        threads: { type: 'string' },
        runtime: { type: 'string' },
        runs: { type: 'string' },
        out: { type: 'string' },
        worst: { type: 'string' },
        limit: { type: 'string' },
        detector: { type: 'string' },
        'fallback-detector': { type: 'string' },
        'fullface-crop': { type: 'string' },
        'no-fullface-flip': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 2;
  }
  const threads = values.threads ? Number(values.threads) : undefined;
  const runtime = values.runtime as NodeRuntime | undefined;
  if (runtime !== undefined && !NODE_RUNTIMES.includes(runtime)) {
    process.stderr.write(`patchface: --runtime must be ${NODE_RUNTIMES.join(' or ')}\n`);
    return 2;
  }
  const crop = values['fullface-crop'];
  if (crop !== undefined && !['dlib68', 'dlib5', 'faceapi'].includes(crop)) {
    process.stderr.write(`patchface: --fullface-crop must be dlib68, dlib5 or faceapi\n`);
    return 2;
  }
  let hidden: HiddenRegion | undefined;
  try {
    hidden = values.hide === undefined ? undefined : { presets: parseHidePresets(values.hide), cells: [] };
  } catch (e) {
    process.stderr.write(`patchface: --hide: ${(e as Error).message}\n`);
    return 2;
  }
  const fallback = values['fallback-detector'];
  const pipeline: PipelineOptions = {
    detector: values.detector,
    fallbackDetector: fallback === 'none' ? null : fallback,
    fullfaceCrop: crop as FullfaceCrop | undefined,
    fullfaceFlip: !values['no-fullface-flip'],
  };
  try {
    if (command === 'compare') {
      if (rest.length !== 2) throw new UsageError('compare needs two photo paths');
      return await runCompare({
        a: rest[0],
        b: rest[1],
        model: values.model?.[0],
        faceA: values['face-a'] ? Number(values['face-a']) : 1,
        faceB: values['face-b'] ? Number(values['face-b']) : 1,
        json: values.json,
        threads,
        runtime,
        pipeline,
        hidden,
      });
    }
    /** eval and report read the same pairs with the same models and pipeline. */
    const pairSource = () => {
      const [kind, target] = rest;
      if (kind !== 'lfw' && kind !== 'pairs') throw new UsageError(`${command} needs "lfw DIR" or "pairs FILE --root DIR"`);
      if (!target) throw new UsageError(`${command} ${kind} needs a ${kind === 'lfw' ? 'directory' : 'pair file'}`);
      if (kind === 'pairs' && !values.root) throw new UsageError(`${command} pairs needs --root DIR`);
      return {
        kind,
        target,
        root: values.root,
        models: values.model,
        hidden,
        threads,
        runtime,
        pipeline,
        cache: !values['no-cache'],
        limit: values.limit ? Number(values.limit) : undefined,
      } as const;
    };
    if (command === 'eval') {
      return await runEval({
        ...pairSource(),
        json: values.json,
        writeManifest: values['write-manifest'],
        scoresFile: values.scores,
        presets: values.presets || values['write-manifest'],
      });
    }
    if (command === 'report') {
      const source = pairSource();
      if (!values.out) throw new UsageError('report needs --out FILE.html');
      const worst = values.worst === undefined ? 12 : Number(values.worst);
      if (!Number.isInteger(worst) || worst < 0) throw new UsageError('--worst must be a whole number');
      return await runReport({ ...source, json: false, writeManifest: false, out: values.out, worst });
    }
    if (command === 'bench') {
      return await runBench({ photos: rest, runs: values.runs ? Number(values.runs) : 5, threads, runtime, json: values.json, pipeline });
    }
    if (command === 'prepare-training') {
      if (rest.length !== 1 || !values.out) throw new UsageError('prepare-training needs DATA_DIR and --out CACHE_DIR');
      return await runPrepareTraining({
        dataDir: rest[0],
        out: values.out,
        threads,
        runtime,
        limit: values.limit ? Number(values.limit) : undefined,
        pipeline,
        cache: !values['no-cache'],
      });
    }
    throw new UsageError(`unknown command "${command}"`);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`patchface: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    process.stderr.write(`patchface: ${(e as Error).message}\n`);
    return 1;
  }
}

export class UsageError extends Error {}
