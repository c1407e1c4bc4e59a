/**
 * The JSON shape of `patchface compare --json`, shared by the CLI and the app's JSON export so
 * that both always write the same fields. Pure: no DOM, runtime or node: imports.
 */
import type { Comparison } from './pipeline.ts';
import type { DetectedFace } from './types.ts';

export interface CompareJson {
  model: string;
  score: number;
  threshold: number | null;
  same: boolean | null;
  faces: Record<'a' | 'b', { box: number[]; landmarks5: number[]; score: number; found: number }>;
  patches: { box: number[]; a: number; b: number }[];
  /** The part of the score from the model's constant coordinate (in every patch alike); null without one. */
  constantPart: number | null;
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

export function toCompareJson(result: Comparison, a: ChosenFace, b: ChosenFace): CompareJson {
  const face = (f: ChosenFace) => ({
    box: f.face.box.map((v) => round(v)),
    landmarks5: Array.from(f.face.landmarks5, (v) => round(v)),
    score: round(f.face.score, 4),
    found: f.faces.length,
  });
  return {
    model: result.model,
    score: result.score,
    threshold: result.threshold,
    same: result.same,
    faces: { a: face(a), b: face(b) },
    patches: result.patches.map((p) => ({ box: [...p.box], a: p.a, b: p.b })),
    constantPart: result.constantPart,
  };
}
