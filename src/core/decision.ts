/**
 * Explaining the verdict, not only the score.
 *
 * - Decision margins: a verdict is `score >= threshold`, so what explains it is a decomposition of
 *   score - threshold. Each kept patch carries m_i = c_i - t / K (K patches kept), and the margins
 *   of each face add up to S - t exactly.
 * - Hiding regions: every patch that touches a hidden pixel is dropped and the score is that of
 *   the same model over the kept patches, S_R = cos(mean of kept a_i, mean of kept b_j) for
 *   mean-cosine models. Each patch feature sees only its own box, so no hidden pixel can move S_R
 *   and no network pass is needed. Its verdict uses the threshold calibrated for that region on
 *   LFW (manifest `hide`), or there is none.
 *
 * Pure module: no DOM, runtime or node: imports.
 */
import { patchToPatchMatrix } from './decompose.ts';
import type { ModelEntry } from './manifest.ts';
import { compareEmbeddings, type Comparison, type Embedding } from './pipeline.ts';
import { calibrationKey, isNothingHidden, keptPatches, NOTHING_HIDDEN, type HiddenRegion } from './regions.ts';

export interface RestrictedComparison extends Comparison {
  /** What was hidden. */
  hidden: HiddenRegion;
  /** Indices of the patches kept, ascending (all of them when nothing is hidden; [] for fullface). */
  kept: number[];
  /**
   * Whether `threshold` is calibrated for exactly this hidden region (nothing hidden, or one preset
   * with an LFW calibration). When false, threshold and same are null.
   */
  calibrated: boolean;
  /** True when every patch touches a hidden pixel: no score exists (score is NaN). */
  empty: boolean;
}

/** The threshold the model has for a hidden region, or null if that region is not calibrated. */
export function thresholdFor(model: ModelEntry, hidden: HiddenRegion): number | null {
  const key = calibrationKey(hidden);
  if (key === '') return model.threshold ?? null;
  if (key === null) return null;
  return model.hide?.[key]?.threshold ?? null;
}

function gather(e: Embedding, kept: readonly number[]): Embedding {
  const features = new Float32Array(kept.length * e.dim);
  kept.forEach((p, k) => features.set(e.features.subarray(p * e.dim, (p + 1) * e.dim), k * e.dim));
  return { modelId: e.modelId, features, patches: kept.length, dim: e.dim };
}

/**
 * The patch-to-patch matrix M over the kept patches only (a mean-cosine model's restricted
 * comparison), placed back in the full P x P grid with 0 for every dropped patch.
 */
export function keptPatchMatrix(ea: Embedding, eb: Embedding, kept: readonly number[]): Float64Array {
  const P = ea.patches;
  const M = new Float64Array(P * P);
  if (kept.length === 0) return M;
  const sub = patchToPatchMatrix(gather(ea, kept).features, gather(eb, kept).features, kept.length, ea.dim);
  kept.forEach((i, ki) => kept.forEach((j, kj) => (M[i * P + j] = sub[ki * kept.length + kj])));
  return M;
}

/**
 * A patch model's comparison over the patches that touch no hidden pixel. `patches` keeps every
 * patch of the model, in order; a dropped patch contributes 0 to both faces. The kept patches'
 * contributions add up to the restricted score, as the model's own do to its score. Region-weighted
 * models keep their weights over the kept regions, rescaled to sum to 1.
 *
 * fullface has no patches: its comparison is returned as is (the caller fills the hidden region
 * of its input before embedding, the black-box way), with the region's calibrated threshold.
 */
export function compareHidden(
  model: ModelEntry,
  ea: Embedding,
  eb: Embedding,
  hidden: HiddenRegion = NOTHING_HIDDEN,
): RestrictedComparison {
  const threshold = thresholdFor(model, hidden);
  const calibrated = threshold !== null;
  if (model.kind === 'fullface' || isNothingHidden(hidden)) {
    const c = compareEmbeddings({ ...model, threshold }, ea, eb);
    return { ...c, hidden, kept: c.patches.map((_, i) => i), calibrated, empty: false };
  }
  const boxes = model.patches ?? [];
  const kept = keptPatches(boxes, hidden);
  if (kept.length === 0) {
    return {
      model: model.id,
      score: Number.NaN,
      threshold,
      same: null,
      patches: boxes.map((box) => ({ box, a: 0, b: 0 })),
      constantPart: model.constant != null ? 0 : null,
      hidden,
      kept,
      calibrated,
      empty: true,
    };
  }
  let weights = model.regionWeights;
  if (model.kind === 'region-weighted' && weights) {
    const total = kept.reduce((s, i) => s + weights![i], 0);
    weights = kept.map((i) => (total > 0 ? weights![i] / total : 0));
  }
  const restricted: ModelEntry = { ...model, threshold, patches: kept.map((i) => boxes[i]), regionWeights: weights };
  const c = compareEmbeddings(restricted, gather(ea, kept), gather(eb, kept));
  const patches = boxes.map((box) => ({ box, a: 0, b: 0 }));
  kept.forEach((p, k) => {
    patches[p].a = c.patches[k].a;
    patches[p].b = c.patches[k].b;
  });
  return { ...c, patches, hidden, kept, calibrated, empty: false };
}

/**
 * Decision margins m_i = c_i - t / K over the kept patches (NaN for a dropped one): they add up
 * to score - threshold on each face. `threshold` defaults to the comparison's own (a protocol
 * fold's may be given instead). null without a threshold.
 */
export function decisionMargins(
  comparison: RestrictedComparison,
  face: 'a' | 'b',
  threshold: number | null = comparison.threshold,
): Float64Array | null {
  const t = threshold;
  if (t === null || comparison.empty) return null;
  const K = comparison.kept.length;
  const out = new Float64Array(comparison.patches.length).fill(Number.NaN);
  for (const i of comparison.kept) out[i] = comparison.patches[i][face] - t / K;
  return out;
}

/** Sum of the finite values (a dropped patch's NaN margin is skipped). */
export function finiteSum(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) s += values[i];
  return s;
}
