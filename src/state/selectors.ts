/** Derived values: which model a patch size means, and the comparison of the two loaded faces. */
import { patchToPatchMatrix } from '../core/decompose.ts';
import type { Manifest, ModelEntry } from '../core/manifest.ts';
import { compareEmbeddings, type Comparison, type Embedding } from '../core/pipeline.ts';
import type { PanelState, PatchSize } from './store.ts';

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

export interface ExplorerResult {
  model: ModelEntry;
  comparison: Comparison;
  /** Row-major P x P (mean-cosine only): M_ij = agreement of patch i of A with patch j of B. */
  matrix: Float64Array | null;
  baseline: { model: ModelEntry; score: number } | null;
  sumA: number;
  sumB: number;
}

let memo: { key: unknown[]; value: ExplorerResult | null } | null = null;

/** The comparison shown, or null until both faces are embedded. Memoised on its inputs' identities. */
export function selectResult(manifest: Manifest | null, a: PanelState, b: PanelState, size: PatchSize): ExplorerResult | null {
  const key = [manifest, a.embeddings, b.embeddings, size];
  if (memo && memo.key.every((k, i) => k === key[i])) return memo.value;
  const value = computeResult(manifest, a.embeddings, b.embeddings, size);
  memo = { key, value };
  return value;
}

function computeResult(
  manifest: Manifest | null,
  ea: Record<string, Embedding>,
  eb: Record<string, Embedding>,
  size: PatchSize,
): ExplorerResult | null {
  if (!manifest) return null;
  const model = modelForPatchSize(manifest, size);
  if (!model || !ea[model.id] || !eb[model.id]) return null;
  const comparison = compareEmbeddings(model, ea[model.id], eb[model.id]);
  const matrix = model.kind === 'mean-cosine' ? patchToPatchMatrix(ea[model.id].features, eb[model.id].features, ea[model.id].patches, ea[model.id].dim) : null;
  const full = fullfaceModel(manifest);
  const baseline =
    full && ea[full.id] && eb[full.id] ? { model: full, score: compareEmbeddings(full, ea[full.id], eb[full.id]).score } : null;
  const sumA = comparison.patches.reduce((s, p) => s + p.a, 0);
  const sumB = comparison.patches.reduce((s, p) => s + p.b, 0);
  return { model, comparison, matrix, baseline, sumA, sumB };
}
