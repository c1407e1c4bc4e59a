/**
 * What a report holds (computed by report.ts, drawn by reportHtml.ts), and the one computation
 * both the report and its tests check: the mean decision maps.
 */
import type { BoxXYWH } from '../core/types.ts';
import type { EvalPair } from './eval.ts';

export const MAP_GROUPS = ['genuine', 'impostor', 'falseAccepts', 'falseRejects'] as const;
export type MapGroup = (typeof MAP_GROUPS)[number];

export interface MeanMap {
  /** Pairs averaged. */
  count: number;
  /** Mean margin of each patch over both faces of every pair in the group (NaN: empty group or dropped patch). */
  margins: number[];
}

export interface WorstPair {
  a: string;
  b: string;
  fold: number;
  score: number;
  /** The threshold of the pair's fold (chosen on the other nine). */
  threshold: number;
  /** Patch models: the three patches that pushed hardest toward the wrong verdict (margin summed over both faces). */
  pushes: { patch: number; box: BoxXYWH; margin: number }[];
  command: string;
  /** Data URIs: both aligned faces, and for patch models their decision maps. */
  images?: { faceA: string; faceB: string; mapA?: string; mapB?: string };
}

export interface ModelReport {
  id: string;
  kind: string;
  patches: BoxXYWH[] | null;
  /** Patches kept with the hidden region dropped (null: fullface or nothing hidden). */
  keptPatches: number | null;
  metrics: {
    accuracy: number;
    std: number;
    auc: number;
    threshold: number;
    /** Each fold's threshold, chosen on the other folds: what its pairs are judged at. */
    foldThresholds: number[];
    pairs: number;
    noFace: number;
    errors: number;
  };
  roc: { far: number[]; tar: number[] };
  tarAtFar: { far: number; tar: number }[];
  histogram: { edges: number[]; genuine: number[]; impostor: number[] };
  meanMaps: Record<MapGroup, MeanMap> | null;
  /** Highest-scoring false accepts and lowest-scoring false rejects, worst first. */
  worst: { falseAccepts: WorstPair[]; falseRejects: WorstPair[] };
}

export interface ReportData {
  title: string;
  pairs: number;
  images: number;
  hidden: string[];
  models: ModelReport[];
  /** Each patch model against fullface: pairs only one of them gets wrong, and pairs both get wrong. */
  agreement: { model: string; modelOnly: number; fullfaceOnly: number; both: number }[];
}

/**
 * Mean margins per group: genuine and impostor pairs, false accepts and false rejects (wrong at
 * their fold's threshold, a face found in both photos). Each pair adds both faces' margins.
 */
export function meanMaps(
  pairs: EvalPair[],
  margins: ({ a: Float64Array; b: Float64Array } | null)[],
  verdicts: boolean[],
  P: number,
): Record<MapGroup, MeanMap> {
  const sums = Object.fromEntries(MAP_GROUPS.map((g) => [g, { count: 0, sum: new Float64Array(P) }])) as Record<
    MapGroup,
    { count: number; sum: Float64Array }
  >;
  pairs.forEach((p, i) => {
    const m = margins[i];
    if (!m) return;
    const groups: MapGroup[] = [p.same ? 'genuine' : 'impostor'];
    if (!verdicts[i]) groups.push(p.same ? 'falseRejects' : 'falseAccepts');
    for (const g of groups) {
      sums[g].count++;
      for (let k = 0; k < P; k++) sums[g].sum[k] += (m.a[k] + m.b[k]) / 2;
    }
  });
  return Object.fromEntries(
    MAP_GROUPS.map((g) => [
      g,
      { count: sums[g].count, margins: Array.from(sums[g].sum, (s) => (sums[g].count ? s / sums[g].count : NaN)) },
    ]),
  ) as Record<MapGroup, MeanMap>;
}
