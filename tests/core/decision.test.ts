/**
 * Hiding regions and decision margins: which patches each preset drops on both shipped grids,
 * the restricted score as the cosine of the kept patches' means, margins that add up to S - t,
 * and the case where nothing is left.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compareHidden, decisionMargins, finiteSum, thresholdFor } from '../../src/core/decision.ts';
import { cosine, meanFeature } from '../../src/core/decompose.ts';
import { parseManifest, type ModelEntry } from '../../src/core/manifest.ts';
import type { Embedding } from '../../src/core/pipeline.ts';
import {
  calibrationKey,
  cellAt,
  cellBox,
  HIDE_PRESET_IDS,
  hiddenMask,
  keptPatches,
  NOTHING_HIDDEN,
  parseHidePresets,
  type HiddenRegion,
  type HidePresetId,
} from '../../src/core/regions.ts';
import { mulberry32 } from '../support/random.ts';

const manifest = parseManifest(JSON.parse(readFileSync(new URL('../../public/models/manifest.json', import.meta.url), 'utf8')));
const rrf28 = manifest.models.find((m) => m.id === 'rrf28')!;
const rrf56 = manifest.models.find((m) => m.id === 'rrf56')!;
const only = (...presets: HidePresetId[]): HiddenRegion => ({ presets, cells: [] });

/** Patch indices of a row-major grid: the given rows and columns. */
function grid(side: number, rows: number[], cols: number[]): number[] {
  return rows.flatMap((r) => cols.map((c) => r * side + c)).sort((a, b) => a - b);
}
const all = (n: number) => Array.from({ length: n }, (_, i) => i);

function embedding(model: ModelEntry, seed: number, D = 16): Embedding {
  const rnd = mulberry32(seed);
  const P = model.patches!.length;
  return { modelId: model.id, patches: P, dim: D, features: Float32Array.from({ length: P * D }, () => rnd() * 2 - 1 + 0.3) };
}

describe('preset geometry', () => {
  // Worked out by hand from the rectangles in src/core/regions.ts (boxes [x, y, w, h], stride 14).
  it.each<[HidePresetId, number[], number[]]>([
    ['eyes', grid(7, [0, 5, 6], all(7)), []],
    ['nose', all(49).filter((i) => !grid(7, [3, 4, 5], [2, 3, 4]).includes(i)), grid(5, [0], all(5))],
    ['mouth', all(49).filter((i) => !grid(7, [4, 5, 6], [1, 2, 3, 4, 5]).includes(i)), grid(5, [0, 1], all(5))],
    ['lower-half', grid(7, [0, 1, 2], all(7)), grid(5, [0], all(5))],
    ['upper-half', grid(7, [5, 6], all(7)), []],
    ['left-half', grid(7, all(7), [4, 5, 6]), grid(5, all(5), [4])],
    ['right-half', grid(7, all(7), [0, 1, 2]), grid(5, all(5), [0])],
  ])('%s keeps the right patches of rrf28 (7x7) and rrf56 (5x5)', (id, kept28, kept56) => {
    expect(keptPatches(rrf28.patches!, only(id))).toEqual(kept28);
    expect(keptPatches(rrf56.patches!, only(id))).toEqual(kept56);
  });

  it('keeps every patch when nothing is hidden, and hides whole 14 px cells', () => {
    expect(keptPatches(rrf28.patches!, NOTHING_HIDDEN)).toEqual(all(49));
    expect(cellBox(9)).toEqual([14, 14, 14, 14]);
    expect(cellAt(20, 15)).toBe(9);
    expect(cellAt(112, 0)).toBe(-1);
    // Cell 0 is the top-left corner: only the one 28 px patch at [0, 0] touches it.
    expect(keptPatches(rrf28.patches!, { presets: [], cells: [0] })).toEqual(all(49).slice(1));
    const mask = hiddenMask({ presets: [], cells: [9] });
    expect(mask.reduce((s, v) => s + v, 0)).toBe(14 * 14);
    expect(mask[14 * 112 + 14]).toBe(1);
    expect(mask[14 * 112 + 13]).toBe(0);
  });

  it('parses --hide lists and refuses unknown regions', () => {
    expect(parseHidePresets('mouth, eyes,mouth')).toEqual(['eyes', 'mouth']);
    expect(parseHidePresets('')).toEqual([]);
    expect(() => parseHidePresets('chin')).toThrow(/unknown region "chin"; choose from eyes, nose/);
    expect(HIDE_PRESET_IDS).toHaveLength(7);
  });

  it('calibrates nothing hidden and single presets only', () => {
    expect(calibrationKey(NOTHING_HIDDEN)).toBe('');
    expect(calibrationKey(only('mouth'))).toBe('mouth');
    expect(calibrationKey(only('mouth', 'eyes'))).toBeNull();
    expect(calibrationKey({ presets: ['mouth'], cells: [3] })).toBeNull();
  });
});

describe('compareHidden', () => {
  const model: ModelEntry = {
    ...rrf28,
    threshold: 0.5,
    hide: { 'lower-half': { threshold: 0.4, accuracy: 0.9, std: 0.01, auc: 0.95, keptPatches: 21 } },
  };
  const ea = embedding(model, 1);
  const eb = embedding(model, 2);

  it("is the cosine of the kept patches' means, and their contributions add up to it", () => {
    const r = compareHidden(model, ea, eb, only('lower-half'));
    const kept = grid(7, [0, 1, 2], all(7));
    expect(r.kept).toEqual(kept);
    const pick = (e: Embedding) => Float32Array.from(kept.flatMap((p) => Array.from(e.features.subarray(p * 16, (p + 1) * 16))));
    const expected = cosine(meanFeature(pick(ea), kept.length, 16), meanFeature(pick(eb), kept.length, 16));
    expect(r.score).toBeCloseTo(expected, 12);
    expect(finiteSum(r.patches.map((p) => p.a))).toBeCloseTo(r.score, 12);
    expect(finiteSum(r.patches.map((p) => p.b))).toBeCloseTo(r.score, 12);
    for (const i of all(49).filter((i) => !kept.includes(i))) expect(r.patches[i]).toMatchObject({ a: 0, b: 0 });
    expect(r.score).not.toBeCloseTo(compareHidden(model, ea, eb).score, 6);
    // The region's own calibration decides.
    expect(r.threshold).toBe(0.4);
    expect(r.calibrated).toBe(true);
    expect(r.same).toBe(r.score >= 0.4);
  });

  it('has no threshold and no verdict for a combination or a free-form selection', () => {
    for (const hidden of [only('lower-half', 'eyes'), { presets: [], cells: [0, 1] }]) {
      const r = compareHidden(model, ea, eb, hidden);
      expect(r).toMatchObject({ threshold: null, same: null, calibrated: false, empty: false });
      expect(Number.isFinite(r.score)).toBe(true);
      expect(decisionMargins(r, 'a')).toBeNull();
    }
    expect(thresholdFor(model, only('eyes'))).toBeNull();
  });

  it('says so when every patch is dropped', () => {
    const r = compareHidden({ ...rrf56, threshold: 0.5 }, embedding(rrf56, 3), embedding(rrf56, 4), only('eyes'));
    expect(r).toMatchObject({ kept: [], empty: true, same: null });
    expect(r.score).toBeNaN();
    expect(decisionMargins(r, 'a')).toBeNull();
  });

  it('decision margins add up to score - threshold on each face, full and restricted', () => {
    for (const hidden of [NOTHING_HIDDEN, only('lower-half')]) {
      const r = compareHidden(model, ea, eb, hidden);
      for (const face of ['a', 'b'] as const) {
        const m = decisionMargins(r, face)!;
        expect(finiteSum(m)).toBeCloseTo(r.score - r.threshold!, 12);
        expect(m.filter(Number.isFinite)).toHaveLength(r.kept.length);
        r.kept.forEach((i) => expect(m[i]).toBeCloseTo(r.patches[i][face] - r.threshold! / r.kept.length, 14));
      }
    }
  });

  it('rescales region weights over the kept regions', () => {
    const weighted: ModelEntry = { ...rrf56, kind: 'region-weighted', regionWeights: all(25).map(() => 1 / 25), constant: null };
    const r = compareHidden(weighted, embedding(rrf56, 5), embedding(rrf56, 6), only('left-half'));
    expect(r.kept).toEqual(grid(5, all(5), [4]));
    const ea5 = embedding(rrf56, 5);
    const eb5 = embedding(rrf56, 6);
    const mean =
      r.kept.reduce((s, p) => s + cosine(ea5.features.subarray(p * 16, p * 16 + 16), eb5.features.subarray(p * 16, p * 16 + 16)), 0) / 5;
    expect(r.score).toBeCloseTo(mean, 12);
  });
});
