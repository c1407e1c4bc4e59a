/** Number formats shared by the panels (one place, so tests and exports agree). */
import type { ModelEntry } from '../core/manifest.ts';
import type { ModelProgress } from '../state/store.ts';

export const fmtScore = (x: number) => x.toFixed(3);
export const fmtContribution = (x: number) => (x >= 0 ? '+' : '') + x.toFixed(4);
export const fmtShare = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : 'n/a');
export const fmtMs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);
export const fmtMB = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/** "2.1 of 6.5 MB" (or "2.1 MB" when the size is unknown). */
export const fmtDownloaded = (p: ModelProgress) => `${fmtMB(p.loaded)}${p.total ? ` of ${fmtMB(p.total)}` : ''}`;

/** " (downloading the rrf56 model: 2.1 of 6.5 MB)" or " (preparing the rrf56 model)" while a model loads; else "". */
export function modelLoadingDetail(modelId: string, progress: ModelProgress | undefined): string {
  if (progress?.phase === 'download') return ` (downloading the ${modelId} model: ${fmtDownloaded(progress)})`;
  return progress?.phase === 'session' ? ` (preparing the ${modelId} model)` : '';
}

export const fmtSigned = (x: number, digits = 3) => (x >= 0 ? '+' : '−') + Math.abs(x).toFixed(digits);

/** "threshold 0.310, LFW accuracy 98.9%". */
export function operatingPoint(threshold: number, lfwAccuracy?: number): string {
  const lfw = lfwAccuracy !== undefined ? `, LFW accuracy ${(lfwAccuracy * 100).toFixed(1)}%` : '';
  return `threshold ${threshold.toFixed(3)}${lfw}`;
}

/** The model's own operating point, or null when it is not calibrated. */
export function modelOperatingPoint(model: ModelEntry): string | null {
  return model.threshold == null ? null : operatingPoint(model.threshold, model.lfw?.accuracy);
}

export function verdictText(same: boolean | null): string {
  return same === null ? 'Not calibrated: no verdict' : same ? 'Same person' : 'Different people';
}
