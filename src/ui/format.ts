/** Number formats shared by the panels (one place, so tests and exports agree). */
import type { ModelEntry } from '../core/manifest.ts';

export const fmtScore = (x: number) => x.toFixed(3);
export const fmtContribution = (x: number) => (x >= 0 ? '+' : '') + x.toFixed(4);
export const fmtShare = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : 'n/a');
export const fmtMs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);
export const fmtMB = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/** "threshold 0.310, LFW accuracy 98.9%", or null when the model is not calibrated. */
export function operatingPoint(model: ModelEntry): string | null {
  if (model.threshold === null || model.threshold === undefined) return null;
  const lfw = model.lfw ? `, LFW accuracy ${(model.lfw.accuracy * 100).toFixed(1)}%` : '';
  return `threshold ${model.threshold.toFixed(3)}${lfw}`;
}

export function verdictText(same: boolean | null): string {
  return same === null ? 'Not calibrated: no verdict' : same ? 'Same person' : 'Different people';
}
