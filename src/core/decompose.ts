/**
 * The exact decompositions of docs/DESIGN.md ("Decompositions"). Every number returned here
 * adds up to the score it explains, to float64 precision. All arithmetic is float64, whatever
 * the precision of the inputs.
 *
 * Feature layout: `a` and `b` are row-major P x D (patch i's feature at [i*D, (i+1)*D)).
 *
 * Pure module: no DOM, runtime or node: imports.
 */
import type { BoxXYWH } from './types';

export type Features = ArrayLike<number>;

export interface Decomposition {
  /** S(x, y). */
  score: number;
  /** Contribution of each patch of face x (c_i); sums to `score`. */
  contributionsA: Float64Array;
  /** Contribution of each patch of face y (d_j); sums to `score`. */
  contributionsB: Float64Array;
}

function checkShape(a: Features, b: Features, P: number, D: number, where: string): void {
  if (!Number.isInteger(P) || P <= 0 || !Number.isInteger(D) || D <= 0) {
    throw new RangeError(`${where}: P and D must be positive integers, got P=${P}, D=${D}`);
  }
  if (a.length !== P * D || b.length !== P * D) {
    throw new RangeError(`${where}: expected ${P}x${D} = ${P * D} values per face, got ${a.length} and ${b.length}`);
  }
}

function dotRange(a: Features, aOff: number, b: Features, bOff: number, n: number): number {
  let s = 0;
  for (let k = 0; k < n; k++) s += a[aOff + k] * b[bOff + k];
  return s;
}

/** Cosine similarity in float64; 0 when either vector has zero norm (no direction to compare). */
export function cosine(a: Features, b: Features): number {
  if (a.length !== b.length) throw new RangeError(`cosine: lengths differ (${a.length} vs ${b.length})`);
  return cosineRange(a, 0, b, 0, a.length);
}

function cosineRange(a: Features, aOff: number, b: Features, bOff: number, n: number): number {
  let ab = 0,
    aa = 0,
    bb = 0;
  for (let k = 0; k < n; k++) {
    const x = a[aOff + k];
    const y = b[bOff + k];
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  const denom = Math.sqrt(aa) * Math.sqrt(bb);
  return denom > 0 ? ab / denom : 0;
}

/** Mean of the P patch features (float64, length D). */
export function meanFeature(a: Features, P: number, D: number): Float64Array {
  const m = new Float64Array(D);
  for (let i = 0; i < P; i++) {
    const off = i * D;
    for (let k = 0; k < D; k++) m[k] += a[off + k];
  }
  for (let k = 0; k < D; k++) m[k] /= P;
  return m;
}

function norm(v: Float64Array): number {
  let s = 0;
  for (let k = 0; k < v.length; k++) s += v[k] * v[k];
  return Math.sqrt(s);
}

/**
 * RRFNet (mean-cosine) decomposition: S = cos(mean_i a_i, mean_j b_j),
 * c_i = <a_i, B> / (P |A| |B|), d_j = <A, b_j> / (P |A| |B|).
 * If a mean descriptor is zero, S is taken as 0 and all contributions are 0.
 */
export function meanCosineDecomposition(a: Features, b: Features, P: number, D: number): Decomposition {
  checkShape(a, b, P, D, 'meanCosineDecomposition');
  const A = meanFeature(a, P, D);
  const B = meanFeature(b, P, D);
  const denom = P * norm(A) * norm(B);
  const contributionsA = new Float64Array(P);
  const contributionsB = new Float64Array(P);
  if (!(denom > 0)) return { score: 0, contributionsA, contributionsB };
  for (let i = 0; i < P; i++) {
    contributionsA[i] = dotRange(a, i * D, B, 0, D) / denom;
    contributionsB[i] = dotRange(A, 0, b, i * D, D) / denom;
  }
  const score = (P * dotRange(A, 0, B, 0, D)) / denom;
  return { score, contributionsA, contributionsB };
}

/**
 * The part of a mean-cosine score carried by feature coordinate k: A_k B_k / (|A| |B|), of which
 * patch i of face x holds a_ik B_k / (P |A| |B|). For a coordinate that is the same constant in
 * every patch feature (a model's `constant`), every patch of either face holds the same 1/P of
 * it, whatever the pixels. 0 when a mean descriptor is zero, as for the score.
 */
export function meanCosineCoordinatePart(a: Features, b: Features, P: number, D: number, k: number): number {
  checkShape(a, b, P, D, 'meanCosineCoordinatePart');
  if (!Number.isInteger(k) || k < 0 || k >= D) throw new RangeError(`meanCosineCoordinatePart: coordinate ${k} is not in 0..${D - 1}`);
  const A = meanFeature(a, P, D);
  const B = meanFeature(b, P, D);
  const denom = norm(A) * norm(B);
  return denom > 0 ? (A[k] * B[k]) / denom : 0;
}

/**
 * Patch-to-patch matrix, row-major P x P: M_ij = <a_i, b_j> / (P^2 |A| |B|).
 * Rows sum to c_i, columns to d_j, everything to S. All zeros if a mean descriptor is zero.
 */
export function patchToPatchMatrix(a: Features, b: Features, P: number, D: number): Float64Array {
  checkShape(a, b, P, D, 'patchToPatchMatrix');
  const nA = norm(meanFeature(a, P, D));
  const nB = norm(meanFeature(b, P, D));
  const denom = P * P * nA * nB;
  const M = new Float64Array(P * P);
  if (!(denom > 0)) return M;
  for (let i = 0; i < P; i++) {
    for (let j = 0; j < P; j++) M[i * P + j] = dotRange(a, i * D, b, j * D, D) / denom;
  }
  return M;
}

/**
 * Region-weighted decomposition: S = sum_r w_r cos(e_r(x), e_r(y)), region r's feature
 * being row r of `a` / `b`. The contribution w_r cos(...) belongs to region r of both faces,
 * so `contributionsA` and `contributionsB` hold the same values (separate arrays).
 * Weights must be finite and >= 0; they are used as given (the model's weights sum to 1).
 */
export function regionWeightedDecomposition(a: Features, b: Features, P: number, D: number, weights: ArrayLike<number>): Decomposition {
  checkShape(a, b, P, D, 'regionWeightedDecomposition');
  if (weights.length !== P) {
    throw new RangeError(`regionWeightedDecomposition: expected ${P} weights, got ${weights.length}`);
  }
  const contributionsA = new Float64Array(P);
  let score = 0;
  for (let r = 0; r < P; r++) {
    const w = weights[r];
    if (!Number.isFinite(w) || w < 0) {
      throw new RangeError(`regionWeightedDecomposition: weight ${r} is ${w}; weights must be finite and >= 0`);
    }
    contributionsA[r] = w * cosineRange(a, r * D, b, r * D, D);
    score += contributionsA[r];
  }
  return { score, contributionsA, contributionsB: Float64Array.from(contributionsA) };
}

/**
 * Heatmap (row-major size x size) in which each patch's contribution is spread uniformly
 * over its box; overlapping boxes add up. The map sums to sum(contributions).
 * Boxes are [x, y, w, h] in integer pixels and must lie inside the map (a clipped box would
 * lose part of its contribution).
 */
export function spreadOverBoxes(contributions: ArrayLike<number>, boxes: readonly BoxXYWH[], size = 112): Float64Array {
  if (contributions.length !== boxes.length) {
    throw new RangeError(`spreadOverBoxes: ${contributions.length} contributions but ${boxes.length} boxes`);
  }
  if (!Number.isInteger(size) || size <= 0) throw new RangeError(`spreadOverBoxes: invalid size ${size}`);
  const map = new Float64Array(size * size);
  for (let p = 0; p < boxes.length; p++) {
    const [x, y, w, h] = boxes[p];
    if (![x, y, w, h].every(Number.isInteger) || w <= 0 || h <= 0 || x < 0 || y < 0 || x + w > size || y + h > size) {
      throw new RangeError(`spreadOverBoxes: box ${p} [${x}, ${y}, ${w}, ${h}] is not an integer box inside ${size}x${size}`);
    }
    const v = contributions[p] / (w * h);
    for (let yy = y; yy < y + h; yy++) {
      const row = yy * size;
      for (let xx = x; xx < x + w; xx++) map[row + xx] += v;
    }
  }
  return map;
}

/** Patch indices ordered by contribution, largest first (ties: lower index first). */
export function rankPatches(contributions: ArrayLike<number>): number[] {
  const idx = Array.from({ length: contributions.length }, (_, i) => i);
  idx.sort((i, j) => contributions[j] - contributions[i] || i - j);
  return idx;
}

/**
 * Share of the score carried by each patch: c_i / score (sums to 1; a negative share
 * means the patch argues against the score's sign). NaN everywhere when score is 0,
 * where shares are undefined.
 */
export function shares(contributions: ArrayLike<number>, score: number): Float64Array {
  const out = new Float64Array(contributions.length);
  for (let i = 0; i < out.length; i++) out[i] = score === 0 ? NaN : contributions[i] / score;
  return out;
}
