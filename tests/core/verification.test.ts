import { describe, expect, it } from 'vitest';
import {
  accuracyAt,
  bestThreshold,
  lfwImagePath,
  parseLfwPairs,
  parsePairsTsv,
  rocAuc,
  rocCurve,
  tarAtFar,
  tenFoldEvaluation,
} from '../../src/core/verification';
import { mulberry32 } from '../support/random';

describe('lfwImagePath', () => {
  it.each([
    ['Aaron_Peirsol', 1, 'Aaron_Peirsol/Aaron_Peirsol_0001.jpg'],
    ['George_W_Bush', 12, 'George_W_Bush/George_W_Bush_0012.jpg'],
    ['George_W_Bush', 530, 'George_W_Bush/George_W_Bush_0530.jpg'],
    ['X', 1234, 'X/X_1234.jpg'],
  ] as const)('%s %i -> %s', (name, i, path) => {
    expect(lfwImagePath(name, i)).toBe(path);
  });
  it('rejects bad indices', () => {
    expect(() => lfwImagePath('X', 1.5)).toThrow(/index/);
    expect(() => lfwImagePath('X', 10000)).toThrow(/index/);
  });
});

describe('parseLfwPairs', () => {
  const small = [
    '2\t2',
    'Abel_Pacheco\t1\t4',
    'Akhmed_Zakayev\t1\t3',
    'Abdel_Madi_Shabneh\t1\tDean_Barker\t1',
    'Abdel_Madi_Shabneh\t1\tGiancarlo_Fisichella\t1',
    'Adam_Sandler 2 3', // spaces work too
    'Alan_Greenspan\t1\t5',
    'Abdul_Majeed_Shobokshi\t1\tCharles_Cope\t1',
    'Abdullah\t1\tIvana_Trump\t12',
    '',
  ].join('\n');

  it('parses folds, matched and mismatched pairs', () => {
    const { folds, pairs } = parseLfwPairs(small);
    expect(folds).toBe(2);
    expect(pairs.length).toBe(8);
    expect(pairs.map((p) => p.same)).toEqual([true, true, false, false, true, true, false, false]);
    expect(pairs.map((p) => p.fold)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(pairs[0]).toEqual({ a: { name: 'Abel_Pacheco', index: 1 }, b: { name: 'Abel_Pacheco', index: 4 }, same: true, fold: 0 });
    expect(pairs[7]).toEqual({ a: { name: 'Abdullah', index: 1 }, b: { name: 'Ivana_Trump', index: 12 }, same: false, fold: 1 });
    expect(pairs[4].b).toEqual({ name: 'Adam_Sandler', index: 3 });
  });

  it('accepts CRLF line endings and a BOM', () => {
    const { pairs } = parseLfwPairs('\uFEFF' + small.replace(/\n/g, '\r\n'));
    expect(pairs.length).toBe(8);
    expect(pairs[2].b.name).toBe('Dean_Barker');
  });

  it('accepts a single-number header as one set (pairsDevTrain style)', () => {
    const { folds, pairs } = parseLfwPairs('1\nA 1 2\nB 1 C 2\n');
    expect(folds).toBe(1);
    expect(pairs.map((p) => [p.same, p.fold])).toEqual([
      [true, 0],
      [false, 0],
    ]);
  });

  it('has the full-size shape for a synthetic 10 x 300 file', () => {
    const lines = ['10\t300'];
    for (let f = 0; f < 10; f++) {
      for (let k = 0; k < 300; k++) lines.push(`P${f}_${k}\t1\t2`);
      for (let k = 0; k < 300; k++) lines.push(`P${f}_${k}\t1\tQ${f}_${k}\t3`);
    }
    const { folds, pairs } = parseLfwPairs(lines.join('\n') + '\n');
    expect(folds).toBe(10);
    expect(pairs.length).toBe(6000);
    expect(pairs.filter((p) => p.same).length).toBe(3000);
    expect(pairs[5999].fold).toBe(9);
    expect(pairs[300].same).toBe(false);
    expect(pairs[600]).toMatchObject({ same: true, fold: 1 });
  });

  it.each([
    ['empty file', '', /line 1: empty/],
    ['bad header', 'ten folds\nA 1 2', /line 1: expected a header/],
    ['zero header', '0 300', /line 1: .*>= 1/],
    ['too few lines', '1 2\nA 1 2\nB 1 2\nC 1 D 1', /announces 1 folds x 2 x 2 = 4 pairs, but the file has 3/],
    ['mismatched line where a matched one is due', '1 1\nA 1 B 2\nC 1 D 1', /line 2: expected a matched pair/],
    ['matched line where a mismatched one is due', '1 1\nA 1 2\nC 1 2', /line 3: expected a mismatched pair/],
    ['non-numeric index', '1 1\nA 1 x\nC 1 D 1', /line 2: image number "x"/],
    ['negative index', '1 1\nA 1 2\nC -1 D 1', /line 3: image number "-1"/],
  ])('rejects %s', (_, text, msg) => {
    expect(() => parseLfwPairs(text)).toThrow(msg);
  });
});

describe('parsePairsTsv', () => {
  it('parses a valid table', () => {
    const text = 'a\tb\tsame\tfold\nx/1.jpg\tx/2.jpg\t1\t0\n\ny/1.jpg\tz/1.jpg\t0\t9\n';
    expect(parsePairsTsv(text)).toEqual([
      { a: 'x/1.jpg', b: 'x/2.jpg', same: true, fold: 0 },
      { a: 'y/1.jpg', b: 'z/1.jpg', same: false, fold: 9 },
    ]);
  });

  it('accepts CRLF', () => {
    expect(parsePairsTsv('a\tb\tsame\tfold\r\np\tq\t0\t3\r\n')).toEqual([{ a: 'p', b: 'q', same: false, fold: 3 }]);
  });

  it.each([
    ['wrong header', 'a\tb\tlabel\tfold\n', /line 1: expected the tab-separated header/],
    ['space-separated header', 'a b same fold\n', /line 1/],
    ['same = 2', 'a\tb\tsame\tfold\np\tq\t2\t0', /line 2: "same" must be 0 or 1/],
    ['same = true', 'a\tb\tsame\tfold\np\tq\t0\t1\np\tq\ttrue\t1', /line 3: "same"/],
    ['fold 10', 'a\tb\tsame\tfold\np\tq\t1\t10', /line 2: "fold" must be an integer in 0..9/],
    ['fold -1', 'a\tb\tsame\tfold\np\tq\t1\t-1', /line 2: "fold"/],
    ['three fields', 'a\tb\tsame\tfold\n\np\tq\t1', /line 3: expected 4 tab-separated fields, got 3/],
    ['empty path', 'a\tb\tsame\tfold\n\tq\t1\t0', /line 2: empty image path/],
  ])('rejects %s', (_, text, msg) => {
    expect(() => parsePairsTsv(text)).toThrow(msg);
  });
});

describe('bestThreshold', () => {
  const T = true,
    F = false;
  it.each([
    ['separable', [0.1, 0.2, 0.8, 0.9], [F, F, T, T], 0.5, 4],
    ['unsorted input', [0.9, 0.1, 0.8, 0.2], [T, F, T, F], 0.5, 4],
    ['all matched -> -inf', [0.3, 0.5], [T, T], -Infinity, 2],
    ['all mismatched -> +inf', [0.3, 0.5], [F, F], Infinity, 2],
    ['one tie group', [0.5, 0.5, 0.5], [T, F, T], -Infinity, 2],
    ['tied accuracies: lowest threshold wins', [0.1, 0.2, 0.3, 0.4, 0.5], [F, T, F, T, T], 0.15, 4],
    ['NaN is always wrong', [NaN, 0.2, 0.8], [T, F, T], 0.5, 2],
    ['NaN mismatched is wrong too', [NaN, 0.2, 0.8], [F, F, T], 0.5, 2],
    ['all NaN', [NaN, NaN], [T, F], -Infinity, 0],
    ['ties at the boundary go to "same"', [0.2, 0.5, 0.5, 0.9], [F, T, F, T], 0.35, 3],
    ['negative scores', [-0.9, -0.3, 0.1], [F, T, T], -0.6, 3],
  ] as const)('%s', (_, scores, same, threshold, correct) => {
    const r = bestThreshold(scores, same);
    if (Number.isFinite(threshold)) expect(r.threshold).toBeCloseTo(threshold, 12);
    else expect(r.threshold).toBe(threshold);
    expect(r.correct).toBe(correct);
    expect(r.accuracy).toBeCloseTo(correct / scores.length, 15);
    expect(accuracyAt(scores, same, r.threshold)).toBeCloseTo(r.accuracy, 15);
  });

  it('agrees with brute force over every candidate on random data with ties and NaNs', () => {
    const rnd = mulberry32(5);
    for (let trial = 0; trial < 50; trial++) {
      const n = 1 + Math.floor(rnd() * 40);
      const scores = Array.from({ length: n }, () => (rnd() < 0.1 ? NaN : Math.round(rnd() * 10) / 10));
      const same = Array.from({ length: n }, () => rnd() < 0.5);
      const distinct = [...new Set(scores.filter((s) => !Number.isNaN(s)))].sort((x, y) => x - y);
      const cands = [-Infinity, ...distinct.slice(1).map((v, i) => (distinct[i] + v) / 2), Infinity];
      let bestAcc = -1,
        bestT = NaN;
      for (const t of cands) {
        const acc = accuracyAt(scores, same, t);
        if (acc > bestAcc) {
          bestAcc = acc;
          bestT = t;
        }
      }
      const r = bestThreshold(scores, same);
      expect(r.accuracy).toBeCloseTo(bestAcc, 15);
      expect(r.threshold).toBe(bestT);
    }
  });

  it('rejects infinite scores and length mismatches', () => {
    expect(() => bestThreshold([Infinity], [true])).toThrow(/infinite/);
    expect(() => bestThreshold([0.1, 0.2], [true])).toThrow(/2 scores but 1 labels/);
  });
});

describe('rocAuc', () => {
  const T = true,
    F = false;
  it.each([
    ['perfect', [0.9, 0.8, 0.2, 0.1], [T, T, F, F], 1],
    ['reversed', [0.1, 0.2, 0.8, 0.9], [T, T, F, F], 0],
    ['hand-checked 3/4', [0.9, 0.8, 0.7, 0.1], [T, F, T, F], 0.75],
    ['tie counts 1/2', [0.5, 0.5], [T, F], 0.5],
    ['ties in a group', [0.5, 0.5, 0.5, 0.9], [T, F, F, T], (0.5 + 0.5 + 1 + 1) / 4],
    ['NaN matched ranks below all mismatched', [NaN, 0.9, 0.1], [T, T, F], 0.5],
    ['NaN mismatched ranks above all matched', [0.9, NaN], [T, F], 0],
    ['NaN on both sides: counted wrong', [NaN, NaN], [T, F], 0],
    ['no negatives', [0.1, 0.2], [T, T], NaN],
  ] as const)('%s', (_, scores, same, auc) => {
    if (Number.isNaN(auc)) expect(rocAuc(scores, same)).toBeNaN();
    else expect(rocAuc(scores, same)).toBeCloseTo(auc, 14);
  });

  it('equals the pairwise definition on random data with ties', () => {
    const rnd = mulberry32(9);
    const n = 300;
    const scores = Array.from({ length: n }, () => Math.round(rnd() * 20) / 20);
    const same = Array.from({ length: n }, () => rnd() < 0.4);
    let wins = 0,
      total = 0;
    for (let i = 0; i < n; i++)
      if (same[i])
        for (let j = 0; j < n; j++)
          if (!same[j]) {
            total++;
            wins += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
          }
    expect(rocAuc(scores, same)).toBeCloseTo(wins / total, 12);
  });
});

describe('tenFoldEvaluation', () => {
  // Fold k: matched scores 0.6 + 0.01k and 0.7, mismatched 0.1 and 0.3 + 0.01k: separable.
  function separable() {
    const scores: number[] = [],
      same: boolean[] = [],
      fold: number[] = [];
    for (let k = 0; k < 10; k++) {
      for (const [s, y] of [
        [0.6 + 0.01 * k, true],
        [0.7, true],
        [0.1, false],
        [0.3 + 0.01 * k, false],
      ] as const) {
        scores.push(s);
        same.push(y);
        fold.push(k);
      }
    }
    return { scores, same, fold };
  }

  it('hand-checked separable folds: thresholds from the other nine folds', () => {
    const { scores, same, fold } = separable();
    const r = tenFoldEvaluation(Float64Array.from(scores), same, fold);
    expect(r.accuracy).toBe(1);
    expect(r.std).toBe(0);
    expect(r.folds).toEqual(new Array(10).fill(1));
    // k=0: (0.39 + 0.61)/2; k=9: (0.38 + 0.60)/2; otherwise (0.39 + 0.60)/2.
    const expected = [0.5, 0.495, 0.495, 0.495, 0.495, 0.495, 0.495, 0.495, 0.495, 0.49];
    r.thresholds.forEach((t, k) => expect(t).toBeCloseTo(expected[k], 12));
    expect(r.threshold).toBeCloseTo(0.495, 12);
    expect(r.auc).toBe(1);
    expect(r.pairs).toBe(40);
    expect(r.noFace).toBe(0);
  });

  it('a NaN (no face) pair is an error in its test fold and ranks worst in the AUC', () => {
    const { scores, same, fold } = separable();
    scores[12] = NaN; // fold 3, matched pair
    const r = tenFoldEvaluation(Float64Array.from(scores), same, fold);
    expect(r.folds[3]).toBe(0.75);
    expect(r.folds.filter((a) => a === 1).length).toBe(9);
    expect(r.accuracy).toBeCloseTo(0.975, 14);
    expect(r.std).toBeCloseTo(0.075, 14); // population std: sqrt((9 * 0.025^2 + 0.225^2) / 10)
    expect(r.thresholds[0]).toBeCloseTo(0.5, 12);
    expect(r.auc).toBeCloseTo(19 / 20, 14);
    expect(r.noFace).toBe(1);
  });

  it('hand-checked 2-fold case where the chosen thresholds fail on the test folds', () => {
    // Fold 0: 0.4 matched, 0.6 mismatched. Fold 1: 0.3 mismatched, 0.7 matched.
    const r = tenFoldEvaluation([0.4, 0.6, 0.3, 0.7], [true, false, false, true], [0, 0, 1, 1]);
    expect(r.thresholds).toEqual([0.5, -Infinity]); // fold 0's scores: -inf and +inf tie at 1/2, lowest wins
    expect(r.folds).toEqual([0, 0.5]);
    expect(r.accuracy).toBe(0.25);
    expect(r.std).toBe(0.25);
    expect(r.threshold).toBe(-Infinity);
    expect(r.auc).toBe(0.75);
  });

  it.each([
    ['length mismatch', [0.1, 0.2], [true], [0, 1], /2 scores but 1 labels/],
    ['fold length mismatch', [0.1, 0.2], [true, false], [0], /2 scores but 1 fold/],
    ['single fold', [0.1, 0.2], [true, false], [0, 0], /at least 2 folds/],
    ['missing fold', [0.1, 0.2], [true, false], [0, 2], /fold 1 has no pairs/],
    ['fractional fold', [0.1, 0.2], [true, false], [0, 0.5], /fold 0.5/],
    ['infinite score', [0.1, -Infinity], [true, false], [0, 1], /infinite/],
  ] as const)('rejects %s', (_, s, y, f, msg) => {
    expect(() => tenFoldEvaluation(s, y, f)).toThrow(msg);
  });
});

describe('rocCurve and tarAtFar', () => {
  // Matched: 0.9, 0.8, 0.4, NaN; mismatched: 0.7, 0.3, 0.2, 0.1, NaN.
  const scores = [0.9, 0.8, 0.4, NaN, 0.7, 0.3, 0.2, 0.1, NaN];
  const same = [true, true, true, true, false, false, false, false, false];

  it('walks from (0, 0) to (1, 1); a pair without a face is never accepted', () => {
    const { far, tar } = rocCurve(scores, same);
    // Both NaN pairs come last, together, as the lowest threshold accepts everything.
    expect(far).toEqual([0, 0, 0, 0.2, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(tar).toEqual([0, 0.25, 0.5, 0.5, 0.75, 0.75, 0.75, 0.75, 1]);
  });

  it('takes the strictest threshold whose false accept rate is at most the target', () => {
    // 5 mismatched: FAR 0.2 lets one score above the threshold (0.7), which then sits at 0.3.
    expect(tarAtFar(scores, same, 0.2)).toEqual({ tar: 0.75, threshold: 0.3 });
    // FAR 0.1 allows none: the threshold sits at the highest mismatched score.
    expect(tarAtFar(scores, same, 0.1)).toEqual({ tar: 0.5, threshold: 0.7 });
    // The matched pair without a face is rejected even when every mismatched pair is allowed.
    expect(tarAtFar(scores, same, 1)).toEqual({ tar: 0.75, threshold: -Infinity });
    expect(tarAtFar([0.5], [true], 0.1).tar).toBeNaN();
  });
});
