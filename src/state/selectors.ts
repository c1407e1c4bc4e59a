/** Derived values: which model a patch size means, and the comparison of the two loaded faces. */
import { compareHidden, decisionMargins, finiteSum, keptPatchMatrix, type RestrictedComparison } from '../core/decision.ts';
import type { Manifest, ModelEntry } from '../core/manifest.ts';
import { compareEmbeddings, type Embedding } from '../core/pipeline.ts';
import type { HiddenRegion } from '../core/regions.ts';
import { PANELS, type AppState, type HeatmapView, type PanelState, type PatchSize } from './store.ts';

/** Patch embedders (mean-cosine or region-weighted) in the manifest. */
export function patchModels(manifest: Manifest): ModelEntry[] {
  return manifest.models.filter((m) => m.role === 'embedder' && m.kind !== 'fullface' && (m.patches?.length ?? 0) > 0);
}

/** The patch model for a patch side: the conventional id (rrf28/rrf56) or the first whose boxes have that side. */
export function modelForPatchSize(manifest: Manifest, size: PatchSize): ModelEntry | null {
  const models = patchModels(manifest);
  return models.find((m) => m.id === `rrf${size}`) ?? models.find((m) => m.patches![0][2] === size) ?? null;
}

export function fullfaceModel(manifest: Manifest): ModelEntry | null {
  return manifest.models.find((m) => m.role === 'embedder' && m.kind === 'fullface') ?? null;
}

/** Every embedder the app computes when a face is chosen, so the patch-size toggle is instant. */
export function embedderIds(manifest: Manifest): string[] {
  const ids = patchModels(manifest).map((m) => m.id);
  const full = fullfaceModel(manifest);
  if (full) ids.push(full.id);
  return ids;
}

/** Why a panel's background models failed (the first such panel's message), or null. */
export function backgroundError(s: AppState): string | null {
  return PANELS.map((p) => s.panels[p].backgroundError).find((e) => e) ?? null;
}

/**
 * The order a chosen face is embedded in: first the patch model of the size on screen (its verdict
 * and maps need nothing else), then the full-face baseline shown beside that verdict, then the
 * other patch models.
 */
export function embedderPlan(manifest: Manifest, size: PatchSize): { first: string[]; later: string[] } {
  const full = fullfaceModel(manifest)?.id;
  const first = [modelForPatchSize(manifest, size)?.id ?? full].filter((id): id is string => !!id);
  const rest = embedderIds(manifest).filter((id) => !first.includes(id));
  return { first, later: [...rest.filter((id) => id === full), ...rest.filter((id) => id !== full)] };
}

export interface ExplorerResult {
  model: ModelEntry;
  /** The comparison over the kept patches (all of them when nothing is hidden). */
  comparison: RestrictedComparison;
  /** The score with nothing hidden. */
  fullScore: number;
  /**
   * What the maps, bars and inspector show per patch: decision margins m_i = c_i - t / K, or the
   * contributions c_i; NaN for a dropped patch. The view asked for, unless the model has no
   * threshold for this hidden region (then 'score').
   */
  view: HeatmapView;
  valuesA: Float64Array;
  valuesB: Float64Array;
  /** Row-major P x P (mean-cosine only): M_ij = agreement of patch i of A with patch j of B; 0 for a dropped patch. */
  matrix: Float64Array | null;
  /** The black-box score beside the verdict; score null while its embeddings are still coming. */
  baseline: { model: ModelEntry; score: number | null } | null;
  /** Sums of valuesA / valuesB over the kept patches: the score, or score - threshold. */
  sumA: number;
  sumB: number;
}

let memo: { key: unknown[]; value: ExplorerResult | null } | null = null;

/** The comparison shown, or null until both faces are embedded. Memoised on its inputs' identities. */
export function selectResult(
  manifest: Manifest | null,
  a: PanelState,
  b: PanelState,
  size: PatchSize,
  view: HeatmapView = 'decision',
  hidden: HiddenRegion = { presets: [], cells: [] },
): ExplorerResult | null {
  const key = [manifest, a.embeddings, b.embeddings, size, view, hidden];
  if (memo && memo.key.every((k, i) => k === key[i])) return memo.value;
  const value = computeResult(manifest, a.embeddings, b.embeddings, size, view, hidden);
  memo = { key, value };
  return value;
}

function computeResult(
  manifest: Manifest | null,
  ea: Record<string, Embedding>,
  eb: Record<string, Embedding>,
  size: PatchSize,
  requested: HeatmapView,
  hidden: HiddenRegion,
): ExplorerResult | null {
  if (!manifest) return null;
  const model = modelForPatchSize(manifest, size);
  if (!model || !ea[model.id] || !eb[model.id]) return null;
  const comparison = compareHidden(model, ea[model.id], eb[model.id], hidden);
  const fullScore =
    comparison.kept.length === comparison.patches.length ? comparison.score : compareHidden(model, ea[model.id], eb[model.id]).score;
  const marginsA = requested === 'decision' ? decisionMargins(comparison, 'a') : null;
  const marginsB = requested === 'decision' ? decisionMargins(comparison, 'b') : null;
  const view: HeatmapView = marginsA && marginsB ? 'decision' : 'score';
  const kept = new Set(comparison.kept);
  const contributions = (face: 'a' | 'b') => Float64Array.from(comparison.patches, (p, i) => (kept.has(i) ? p[face] : Number.NaN));
  const valuesA = marginsA && marginsB ? marginsA : contributions('a');
  const valuesB = marginsA && marginsB ? marginsB : contributions('b');
  const matrix = model.kind === 'mean-cosine' ? keptPatchMatrix(ea[model.id], eb[model.id], comparison.kept) : null;
  const full = fullfaceModel(manifest);
  const baseline = full && {
    model: full,
    score: ea[full.id] && eb[full.id] ? compareEmbeddings(full, ea[full.id], eb[full.id]).score : null,
  };
  return { model, comparison, fullScore, view, valuesA, valuesB, matrix, baseline, sumA: finiteSum(valuesA), sumB: finiteSum(valuesB) };
}
