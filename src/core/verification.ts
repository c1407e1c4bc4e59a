/**
 * Face-verification evaluation: LFW pairs parsing and the standard 10-fold protocol.
 *
 * Pure module: no DOM, runtime or node: imports.
 */

export interface LfwImageRef {
  name: string;
  /** 1-based image number, as in pairs.txt. */
  index: number;
}

export interface LfwPair {
  a: LfwImageRef;
  b: LfwImageRef;
  same: boolean;
  /** 0-based fold. */
  fold: number;
}

export interface LfwPairs {
  folds: number;
  pairs: LfwPair[];
}

/** Relative path of an LFW image: `Name/Name_0001.jpg`. */
export function lfwImagePath(name: string, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index > 9999) {
    throw new RangeError(`lfwImagePath: index must be an integer in 0..9999, got ${index}`);
  }
  return `${name}/${name}_${String(index).padStart(4, '0')}.jpg`;
}

function splitLines(text: string): string[] {
  return text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
}

function parseIndex(field: string, lineNo: number, what: string): number {
  if (!/^\d+$/.test(field)) {
    throw new SyntaxError(`pairs.txt line ${lineNo}: ${what} "${field}" is not a non-negative integer`);
  }
  return Number(field);
}

/**
 * Parses LFW's pairs.txt: a header `folds n` (or just `n`, meaning one set), then per fold
 * n matched pairs `name i j` followed by n mismatched pairs `name1 i name2 j`
 * (fields separated by tabs or spaces). Blank lines at the end are ignored.
 */
export function parseLfwPairs(text: string): LfwPairs {
  const lines = splitLines(text);
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  if (lines.length === 0) throw new SyntaxError('pairs.txt line 1: empty file, expected a header like "10 300"');

  const header = lines[0].trim().split(/\s+/);
  if (header.length < 1 || header.length > 2 || !header.every((f) => /^\d+$/.test(f))) {
    throw new SyntaxError(`pairs.txt line 1: expected a header "folds pairsPerClass" (e.g. "10 300"), got "${lines[0]}"`);
  }
  const folds = header.length === 2 ? Number(header[0]) : 1;
  const perClass = Number(header[header.length - 1]);
  if (folds < 1 || perClass < 1) {
    throw new SyntaxError(`pairs.txt line 1: folds and pairs per class must be >= 1, got "${lines[0]}"`);
  }
  const expected = folds * perClass * 2;
  if (lines.length - 1 !== expected) {
    throw new SyntaxError(
      `pairs.txt: header announces ${folds} folds x ${perClass} x 2 = ${expected} pairs, but the file has ${lines.length - 1} pair lines`,
    );
  }

  const pairs: LfwPair[] = [];
  for (let k = 0; k < expected; k++) {
    const lineNo = k + 2;
    const fold = Math.floor(k / (2 * perClass));
    const same = k % (2 * perClass) < perClass;
    const fields = lines[k + 1]
      .trim()
      .split(/\s+/)
      .filter((f) => f !== '');
    if (same) {
      if (fields.length !== 3) {
        throw new SyntaxError(
          `pairs.txt line ${lineNo}: expected a matched pair "name i j" (fold ${fold + 1}), got ${fields.length} fields: "${lines[k + 1]}"`,
        );
      }
      const [name, i, j] = fields;
      pairs.push({
        a: { name, index: parseIndex(i, lineNo, 'image number') },
        b: { name, index: parseIndex(j, lineNo, 'image number') },
        same,
        fold,
      });
    } else {
      if (fields.length !== 4) {
        throw new SyntaxError(
          `pairs.txt line ${lineNo}: expected a mismatched pair "name1 i name2 j" (fold ${fold + 1}), got ${fields.length} fields: "${lines[k + 1]}"`,
        );
      }
      const [n1, i, n2, j] = fields;
      pairs.push({
        a: { name: n1, index: parseIndex(i, lineNo, 'image number') },
        b: { name: n2, index: parseIndex(j, lineNo, 'image number') },
        same,
        fold,
      });
    }
  }
  return { folds, pairs };
}

export interface TsvPair {
  a: string;
  b: string;
  same: boolean;
  /** 0..9 */
  fold: number;
}

/**
 * Parses a pairs table: tab-separated, header `a  b  same  fold` (in that order),
 * `same` in {0, 1}, `fold` an integer in 0..9. Blank lines are skipped.
 */
export function parsePairsTsv(text: string): TsvPair[] {
  const lines = splitLines(text);
  const header = (lines[0] ?? '')
    .trim()
    .split('\t')
    .map((s) => s.trim());
  if (header.join(',') !== 'a,b,same,fold') {
    throw new SyntaxError(`pairs tsv line 1: expected the tab-separated header "a\tb\tsame\tfold", got "${lines[0] ?? ''}"`);
  }
  const pairs: TsvPair[] = [];
  for (let k = 1; k < lines.length; k++) {
    const line = lines[k];
    if (line.trim() === '') continue;
    const lineNo = k + 1;
    const f = line.split('\t');
    if (f.length !== 4) {
      throw new SyntaxError(`pairs tsv line ${lineNo}: expected 4 tab-separated fields, got ${f.length}: "${line}"`);
    }
    const [a, b, sameText, foldText] = f.map((s) => s.trim());
    if (a === '' || b === '') throw new SyntaxError(`pairs tsv line ${lineNo}: empty image path`);
    if (sameText !== '0' && sameText !== '1') {
      throw new SyntaxError(`pairs tsv line ${lineNo}: "same" must be 0 or 1, got "${sameText}"`);
    }
    if (!/^\d$/.test(foldText)) {
      throw new SyntaxError(`pairs tsv line ${lineNo}: "fold" must be an integer in 0..9, got "${foldText}"`);
    }
    pairs.push({ a, b, same: sameText === '1', fold: Number(foldText) });
  }
  return pairs;
}

// ---------------------------------------------------------------------------------------
// 10-fold protocol
// ---------------------------------------------------------------------------------------

export interface ThresholdChoice {
  /** "same" is predicted when score >= threshold. May be -Infinity or +Infinity. */
  threshold: number;
  /** Number of correctly classified pairs at that threshold (NaN scores are always wrong). */
  correct: number;
  /** correct / number of pairs. */
  accuracy: number;
}

function checkScores(scores: ArrayLike<number>, same: ArrayLike<boolean>, where: string): void {
  if (scores.length !== same.length) {
    throw new RangeError(`${where}: ${scores.length} scores but ${same.length} labels`);
  }
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (s === Infinity || s === -Infinity) throw new RangeError(`${where}: score ${i} is infinite (use NaN for "no face")`);
  }
}

/**
 * The threshold maximising accuracy on these pairs. Candidates: -Infinity, the midpoints
 * between consecutive distinct (non-NaN) scores, +Infinity. A NaN score (no face found)
 * counts as an error at every threshold. Ties: the lowest maximising threshold wins.
 */
export function bestThreshold(scores: ArrayLike<number>, same: ArrayLike<boolean>): ThresholdChoice {
  checkScores(scores, same, 'bestThreshold');
  const n = scores.length;
  const order: number[] = [];
  let correct = 0; // at -Infinity every non-NaN pair is predicted "same"
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(scores[i])) continue;
    order.push(i);
    if (same[i]) correct++;
  }
  order.sort((i, j) => scores[i] - scores[j]);

  let bestCorrect = correct;
  let best = -Infinity;
  for (let k = 0; k < order.length;) {
    const v = scores[order[k]];
    // Raise the threshold past every pair scoring v: they are now predicted "different".
    while (k < order.length && scores[order[k]] === v) {
      correct += same[order[k]] ? -1 : 1;
      k++;
    }
    const t = k < order.length ? (v + scores[order[k]]) / 2 : Infinity;
    if (correct > bestCorrect) {
      bestCorrect = correct;
      best = t;
    }
  }
  return { threshold: best, correct: bestCorrect, accuracy: n > 0 ? bestCorrect / n : NaN };
}

/** Accuracy of "same iff score >= threshold"; NaN scores are errors. */
export function accuracyAt(scores: ArrayLike<number>, same: ArrayLike<boolean>, threshold: number): number {
  checkScores(scores, same, 'accuracyAt');
  let correct = 0;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (Number.isNaN(s)) continue;
    if (s >= threshold === Boolean(same[i])) correct++;
  }
  return scores.length > 0 ? correct / scores.length : NaN;
}

/**
 * Area under the ROC curve (probability that a random matched pair outscores a random
 * mismatched pair, ties counting 1/2), via the Mann-Whitney rank statistic with average
 * ranks for ties. NaN scores are ranked worst case: a matched pair with NaN ranks below every
 * mismatched pair, a mismatched pair with NaN above every matched pair. NaN if either class
 * is empty.
 */
export function rocAuc(scores: ArrayLike<number>, same: ArrayLike<boolean>): number {
  checkScores(scores, same, 'rocAuc');
  const n = scores.length;
  const eff = new Float64Array(n);
  let nPos = 0;
  for (let i = 0; i < n; i++) {
    const s = scores[i];
    if (same[i]) nPos++;
    eff[i] = Number.isNaN(s) ? (same[i] ? -Infinity : Infinity) : s;
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => {
    const a = eff[i],
      b = eff[j];
    return a < b ? -1 : a > b ? 1 : 0;
  });
  let rankSumPos = 0;
  for (let k = 0; k < n;) {
    let e = k;
    while (e + 1 < n && eff[order[e + 1]] === eff[order[k]]) e++;
    const avgRank = (k + 1 + e + 1) / 2; // 1-based ranks k+1..e+1
    for (let m = k; m <= e; m++) if (same[order[m]]) rankSumPos += avgRank;
    k = e + 1;
  }
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

export interface TenFoldResult {
  /** Mean of the per-fold accuracies. */
  accuracy: number;
  /** Population standard deviation (divide by the number of folds) of the per-fold accuracies, as numpy's np.std in the usual LFW reports. */
  std: number;
  /** Accuracy on each test fold. */
  folds: number[];
  /** Threshold chosen on the other folds, per test fold. */
  thresholds: number[];
  /** Mean of the fold thresholds: the operating point to ship. */
  threshold: number;
  /** ROC AUC over all pairs (NaN scores ranked worst case). */
  auc: number;
  /** Number of pairs. */
  pairs: number;
  /** Number of pairs whose score is NaN (no face found in at least one image). */
  noFace: number;
}

/**
 * Standard LFW 10-fold protocol: for each fold k, the threshold maximising accuracy on all
 * other folds (see bestThreshold) is applied to fold k. Folds are 0..K-1, K = max(fold)+1,
 * each must hold at least one pair; K >= 2.
 */
export function tenFoldEvaluation(scores: ArrayLike<number>, same: ArrayLike<boolean>, fold: ArrayLike<number>): TenFoldResult {
  checkScores(scores, same, 'tenFoldEvaluation');
  const n = scores.length;
  if (fold.length !== n) throw new RangeError(`tenFoldEvaluation: ${n} scores but ${fold.length} fold numbers`);
  let K = 0;
  for (let i = 0; i < n; i++) {
    const f = fold[i];
    if (!Number.isInteger(f) || f < 0) throw new RangeError(`tenFoldEvaluation: pair ${i} has fold ${f}; folds are integers >= 0`);
    K = Math.max(K, f + 1);
  }
  if (K < 2) throw new RangeError(`tenFoldEvaluation: need at least 2 folds, got ${K}`);
  const counts = new Array<number>(K).fill(0);
  for (let i = 0; i < n; i++) counts[fold[i]]++;
  const empty = counts.findIndex((c) => c === 0);
  if (empty >= 0) throw new RangeError(`tenFoldEvaluation: fold ${empty} has no pairs`);

  const folds: number[] = [];
  const thresholds: number[] = [];
  for (let k = 0; k < K; k++) {
    const trainS: number[] = [],
      trainY: boolean[] = [],
      testS: number[] = [],
      testY: boolean[] = [];
    for (let i = 0; i < n; i++) {
      if (fold[i] === k) {
        testS.push(scores[i]);
        testY.push(Boolean(same[i]));
      } else {
        trainS.push(scores[i]);
        trainY.push(Boolean(same[i]));
      }
    }
    const { threshold } = bestThreshold(trainS, trainY);
    thresholds.push(threshold);
    folds.push(accuracyAt(testS, testY, threshold));
  }
  const accuracy = folds.reduce((s, v) => s + v, 0) / K;
  const std = Math.sqrt(folds.reduce((s, v) => s + (v - accuracy) ** 2, 0) / K);
  const threshold = thresholds.reduce((s, v) => s + v, 0) / K;
  let noFace = 0;
  for (let i = 0; i < n; i++) if (Number.isNaN(scores[i])) noFace++;
  return { accuracy, std, folds, thresholds, threshold, auc: rocAuc(scores, same), pairs: n, noFace };
}

// ---------------------------------------------------------------------------------------
// ROC curve and operating points at a false accept rate
// ---------------------------------------------------------------------------------------

/**
 * NaN (no face found) below every score: a system that finds no face accepts nothing, so such a
 * matched pair is a false reject at every threshold and such a mismatched pair never a false
 * accept. (rocAuc ranks NaN worst case instead, which at a false accept rate of 1e-3 on LFW would
 * leave no threshold at all: its mismatched pairs without a face outnumber the three allowed.)
 */
function effectiveScores(scores: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: scores.length }, (_, i) => (Number.isNaN(scores[i]) ? -Infinity : scores[i]));
}

/**
 * The ROC curve: for every threshold between distinct scores, the false accept rate (mismatched
 * pairs at or above it) and the true accept rate (matched pairs at or above it), from (0, 0) to
 * (1, 1). A NaN score (no face) is never accepted (see effectiveScores).
 */
export function rocCurve(scores: ArrayLike<number>, same: ArrayLike<boolean>): { far: number[]; tar: number[] } {
  checkScores(scores, same, 'rocCurve');
  const eff = effectiveScores(scores);
  const order = Array.from({ length: eff.length }, (_, i) => i).sort((i, j) => eff[j] - eff[i] || 0);
  let nPos = 0;
  for (let i = 0; i < same.length; i++) if (same[i]) nPos++;
  const nNeg = same.length - nPos;
  const far = [0];
  const tar = [0];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < order.length;) {
    const v = eff[order[k]];
    while (k < order.length && eff[order[k]] === v) {
      if (same[order[k]]) tp++;
      else fp++;
      k++;
    }
    far.push(nNeg ? fp / nNeg : 0);
    tar.push(nPos ? tp / nPos : 0);
  }
  return { far, tar };
}

/**
 * The true accept rate at the strictest threshold whose false accept rate is at most `far`: at most
 * floor(far * mismatched pairs) of them may score above the threshold, which sits at the next
 * mismatched score ("same" above it). A NaN score (no face) is never accepted.
 */
export function tarAtFar(scores: ArrayLike<number>, same: ArrayLike<boolean>, far: number): { tar: number; threshold: number } {
  checkScores(scores, same, 'tarAtFar');
  const eff = effectiveScores(scores);
  const impostors: number[] = [];
  const genuine: number[] = [];
  for (let i = 0; i < eff.length; i++) (same[i] ? genuine : impostors).push(eff[i]);
  if (!genuine.length || !impostors.length) return { tar: NaN, threshold: NaN };
  impostors.sort((a, b) => b - a);
  const allowed = Math.floor(far * impostors.length);
  const threshold = allowed >= impostors.length ? -Infinity : impostors[allowed];
  return { tar: genuine.filter((s) => s > threshold).length / genuine.length, threshold };
}
