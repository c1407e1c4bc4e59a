/**
 * The JSON shape of `patchface compare --json`, shared by the CLI and the app's JSON export so
 * that both always write the same fields. Pure: no DOM, runtime or node: imports.
 */
import { decisionMargins, type RestrictedComparison } from './decision.ts';
import type { DetectedFace } from './types.ts';

export interface CompareJson {
  model: string;
  /** The score with the hidden regions' patches dropped (null when none is left). */
  score: number | null;
  /** The threshold calibrated for exactly this hidden region, or null (then no verdict). */
  threshold: number | null;
  same: boolean | null;
  faces: Record<'a' | 'b', { box: number[]; landmarks5: number[]; score: number; found: number }>;
  /** Every patch; a dropped one contributes 0 and has null margins. marginA/B: c_i - t / K (null without a threshold). */
  patches: { box: number[]; a: number; b: number; marginA: number | null; marginB: number | null }[];
  /** The part of the score from the model's constant coordinate (in every patch alike); null without one. */
  constantPart: number | null;
  /** Hidden presets (src/core/regions.ts ids), and free-form hidden 14 px cells. */
  hide: string[];
  cells: number[];
  /** Indices of the patches kept. */
  kept: number[];
  /** The score with nothing hidden. */
  fullScore: number;
}

/**
 * One sentence on the constant coordinate's part of a score (Comparison.constantPart), for the
 * CLI and the app alike: it sits in every patch's contribution alike, so a reader of the
 * heatmap must know how much of each patch's number no pixel moves.
 */
export function constantPartText(part: number, score: number, patches: number): string {
  return (
    `Constant coordinate: ${part.toFixed(4)} of the score ${score.toFixed(4)}, the same ${(part / patches).toFixed(5)} ` +
    `in each of the ${patches} patches of both faces, whatever their pixels; the other ${(score - part).toFixed(4)} ` +
    `comes from the patches' pixels.`
  );
}

/** The faces a photo offered and the one compared. */
export interface ChosenFace {
  faces: readonly Pick<DetectedFace, 'box' | 'score' | 'landmarks5'>[];
  face: Pick<DetectedFace, 'box' | 'score' | 'landmarks5'>;
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

const finiteOrNull = (x: number) => (Number.isFinite(x) ? x : null);

export function toCompareJson(result: RestrictedComparison, a: ChosenFace, b: ChosenFace, fullScore: number): CompareJson {
  const face = (f: ChosenFace) => ({
    box: f.face.box.map((v) => round(v)),
    landmarks5: Array.from(f.face.landmarks5, (v) => round(v)),
    score: round(f.face.score, 4),
    found: f.faces.length,
  });
  const marginA = decisionMargins(result, 'a');
  const marginB = decisionMargins(result, 'b');
  return {
    model: result.model,
    score: finiteOrNull(result.score),
    threshold: result.threshold,
    same: result.same,
    faces: { a: face(a), b: face(b) },
    patches: result.patches.map((p, i) => ({
      box: [...p.box],
      a: p.a,
      b: p.b,
      marginA: marginA ? finiteOrNull(marginA[i]) : null,
      marginB: marginB ? finiteOrNull(marginB[i]) : null,
    })),
    constantPart: result.constantPart,
    hide: [...result.hidden.presets],
    cells: [...result.hidden.cells],
    kept: [...result.kept],
    fullScore,
  };
}
