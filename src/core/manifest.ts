/**
 * The model contract (docs/DESIGN.md): `public/models/manifest.json`, written by the export and
 * conversion scripts, read by the app, the CLI and the evaluation. Pure: no I/O here.
 */
import type { BoxXYWH } from './types.ts';

export type ModelRole = 'detector' | 'landmarks' | 'embedder';

export interface ModelInputSpec {
  name: string;
  /** Square side in pixels, or [height, width]. */
  size: number | [number, number];
  layout: 'NCHW';
  rgb: true;
  /** Subtracted from 0..255 pixels, per channel when an array. */
  mean: number | [number, number, number];
  scale: number;
}

export interface LfwResult {
  accuracy: number;
  std: number;
  protocol: string;
  folds?: number[];
  auc?: number;
  noFace?: number;
}

export interface HiddenCalibration {
  threshold: number;
  accuracy: number;
  std: number;
  auc: number;
  /** Patch models: how many patches touch no hidden pixel; null for fullface. */
  keptPatches: number | null;
}

export interface ModelEntry {
  id: string;
  file: string;
  sha256: string;
  bytes?: number;
  role: ModelRole;
  /** embedders: 'fullface' | 'mean-cosine' | 'region-weighted'; detectors: 'ssd' | 'tiny-yolo'. */
  kind: string;
  input: ModelInputSpec;
  output: Record<string, unknown> & { name?: string; dims?: (string | number)[] };
  /** Patch boxes `[x, y, w, h]` in aligned 112x112 pixels (patch models only). */
  patches: BoxXYWH[] | null;
  regionWeights: number[] | null;
  /**
   * Patch models: each patch feature averages the patch with its mirror image, computed inside
   * the graph (run as the patch at the mirrored position), so it still sees only its own patch.
   */
  mirror?: boolean;
  /** Patch models: the side each patch is resized to inside the graph before the trunk. */
  patchInputSize?: number;
  /**
   * Patch models: a number appended to every patch feature (its last coordinate), the same for
   * every patch and face. It depends on no pixel, so each feature still sees only its own patch;
   * it draws the scores of faces whose patches disagree towards a middle value. null: none.
   */
  constant?: number | null;
  /** Cosine threshold chosen on LFW (mean of the ten fold thresholds); "same" when score >= threshold. */
  threshold: number | null;
  lfw: LfwResult | null;
  /**
   * The model with one face region hidden (src/core/regions.ts presets, by id), calibrated on LFW
   * like the model itself. Patch models drop every patch that touches the region; fullface sees
   * the region filled with its mean grey.
   */
  hide?: Record<string, HiddenCalibration> | null;
  /** Detector anchors for tiny-yolo, [w, h] in grid cells. */
  anchors?: [number, number][];
  [extra: string]: unknown;
}

export interface Manifest {
  version: number;
  models: ModelEntry[];
}

export function parseManifest(json: unknown): Manifest {
  const m = json as Manifest;
  if (!m || typeof m !== 'object' || !Array.isArray(m.models)) {
    throw new Error('manifest.json: expected { "version", "models": [...] }');
  }
  for (const e of m.models) {
    for (const key of ['id', 'file', 'role', 'kind', 'input'] as const) {
      if (e[key] === undefined) throw new Error(`manifest.json: model ${e.id ?? '?'} lacks "${key}"`);
    }
  }
  return m;
}

export function findModel(manifest: Manifest, id: string): ModelEntry {
  const entry = manifest.models.find((m) => m.id === id);
  if (!entry) {
    const known = manifest.models.map((m) => m.id).join(', ');
    throw new Error(`Unknown model "${id}". Known models: ${known}.`);
  }
  return entry;
}

export function embedders(manifest: Manifest): ModelEntry[] {
  return manifest.models.filter((m) => m.role === 'embedder');
}

/** Square input side in pixels; throws for non-square inputs. */
export function inputSide(entry: ModelEntry): number {
  const s = entry.input.size;
  if (typeof s === 'number') return s;
  if (s[0] !== s[1]) throw new Error(`${entry.id}: non-square input ${s.join('x')}`);
  return s[0];
}

/** Per-channel mean as a triple. */
export function channelMean(entry: ModelEntry): [number, number, number] {
  const m = entry.input.mean;
  return typeof m === 'number' ? [m, m, m] : m;
}
