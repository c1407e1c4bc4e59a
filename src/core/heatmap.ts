/**
 * Patch geometry and colour for the explorer's heatmap: the diverging colour map, the scale
 * shared by both faces, hit-testing and keyboard navigation over patch boxes.
 * Pure: no DOM, React or runtime imports. Coordinates are aligned-face pixels (0..112).
 */
import { spreadOverBoxes } from './decompose.ts';
import type { BoxXYWH } from './types.ts';

export type Rgb = [number, number, number];

/** Diverging stops from -1 (blue: argues "different") through white (0) to +1 (red: argues "same"). */
const DIVERGING_STOPS: readonly [number, Rgb][] = [
  [-1, [5, 48, 97]],
  [-0.5, [67, 147, 195]],
  [0, [247, 247, 247]],
  [0.5, [214, 96, 77]],
  [1, [103, 0, 31]],
];

/** Colour of `value` on a diverging map centred on 0 and saturating at +-`vmax`. */
export function divergingColor(value: number, vmax: number): Rgb {
  const t = vmax > 0 && Number.isFinite(value) ? Math.max(-1, Math.min(1, value / vmax)) : 0;
  for (let k = 1; k < DIVERGING_STOPS.length; k++) {
    const [t1, c1] = DIVERGING_STOPS[k];
    if (t <= t1) {
      const [t0, c0] = DIVERGING_STOPS[k - 1];
      const f = (t - t0) / (t1 - t0);
      return [0, 1, 2].map((i) => Math.round(c0[i] + f * (c1[i] - c0[i]))) as Rgb;
    }
  }
  return [...DIVERGING_STOPS[DIVERGING_STOPS.length - 1][1]] as Rgb;
}

/** Mean box area: converts a per-pixel density back into "contribution of one patch" units. */
export function meanPatchArea(boxes: readonly BoxXYWH[]): number {
  if (boxes.length === 0) return 1;
  return boxes.reduce((s, b) => s + b[2] * b[3], 0) / boxes.length;
}

/**
 * The exact heatmap of one face, in "contribution per patch area" units: each patch's
 * contribution spread uniformly over its box (overlaps add), times the mean patch area. For a
 * tiling grid every pixel of patch i then reads c_i; in every case the map sums to
 * S * meanPatchArea, i.e. it integrates to the score. A non-finite value (the NaN of a patch
 * dropped by a hidden region) adds nothing.
 */
export function patchHeatmap(contributions: ArrayLike<number>, boxes: readonly BoxXYWH[], size = 112): Float64Array {
  const finite = Float64Array.from(contributions, (x) => (Number.isFinite(x) ? x : 0));
  const map = spreadOverBoxes(finite, boxes, size);
  const area = meanPatchArea(boxes);
  for (let i = 0; i < map.length; i++) map[i] *= area;
  return map;
}

/** One colour scale for both faces: the largest |value| over all maps (0 when all are 0). */
export function sharedScale(...maps: ArrayLike<number>[]): number {
  let m = 0;
  for (const map of maps) for (let i = 0; i < map.length; i++) m = Math.max(m, Math.abs(map[i]));
  return m;
}

/** RGBA pixels (for ImageData) of a heatmap; alpha is full, opacity is applied by the view. */
export function heatmapRgba(map: ArrayLike<number>, vmax: number): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(map.length * 4);
  for (let i = 0; i < map.length; i++) {
    const [r, g, b] = divergingColor(map[i], vmax);
    out[i * 4] = r;
    out[i * 4 + 1] = g;
    out[i * 4 + 2] = b;
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** Legend ticks from -vmax to +vmax (odd count, 0 in the middle). */
export function legendTicks(vmax: number, count = 5): number[] {
  const half = (count - 1) / 2;
  return Array.from({ length: count }, (_, k) => ((k - half) / half) * vmax);
}

/** Whether aligned pixel (x, y) lies in the box (left and top edges in, right and bottom out). */
export function boxContains([bx, by, w, h]: BoxXYWH, x: number, y: number): boolean {
  return x >= bx && y >= by && x < bx + w && y < by + h;
}

/** Whether two boxes share at least one pixel (boxes that only touch do not). */
export function boxesOverlap([x, y, w, h]: BoxXYWH, [x2, y2, w2, h2]: BoxXYWH): boolean {
  return x < x2 + w2 && x2 < x + w && y < y2 + h2 && y2 < y + h;
}

/**
 * The patch under aligned pixel (x, y), or -1. With overlapping patches, the one whose centre is
 * nearest wins (ties: lower index), so every point maps to the patch that "owns" it most.
 */
export function patchAt(boxes: readonly BoxXYWH[], x: number, y: number): number {
  let best = -1;
  let bestD = Infinity;
  boxes.forEach((box, i) => {
    if (!boxContains(box, x, y)) return;
    const [bx, by, w, h] = box;
    const d = (x - (bx + w / 2)) ** 2 + (y - (by + h / 2)) ** 2;
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  });
  return best;
}

export type Direction = 'left' | 'right' | 'up' | 'down';

/**
 * Keyboard navigation: the patch whose centre is nearest in `direction` from patch `from`
 * (mostly along the axis, little across it); `from` itself when nothing lies that way.
 */
export function neighbourPatch(boxes: readonly BoxXYWH[], from: number, direction: Direction): number {
  const c = (b: BoxXYWH) => [b[0] + b[2] / 2, b[1] + b[3] / 2];
  if (from < 0 || from >= boxes.length) return boxes.length > 0 ? 0 : -1;
  const [fx, fy] = c(boxes[from]);
  let best = from;
  let bestCost = Infinity;
  boxes.forEach((b, i) => {
    if (i === from) return;
    const [x, y] = c(b);
    const along = direction === 'left' ? fx - x : direction === 'right' ? x - fx : direction === 'up' ? fy - y : y - fy;
    const across = direction === 'left' || direction === 'right' ? Math.abs(y - fy) : Math.abs(x - fx);
    if (along <= 0) return;
    const cost = along + 2 * across;
    if (cost < bestCost) {
      bestCost = cost;
      best = i;
    }
  });
  return best;
}

/** Distinct vertical and horizontal grid-line positions (box edges inside the face). */
export function gridLines(boxes: readonly BoxXYWH[], size = 112): { xs: number[]; ys: number[] } {
  const xs = new Set<number>();
  const ys = new Set<number>();
  for (const [x, y, w, h] of boxes) {
    for (const v of [x, x + w]) if (v > 0 && v < size) xs.add(v);
    for (const v of [y, y + h]) if (v > 0 && v < size) ys.add(v);
  }
  return { xs: [...xs].sort((p, q) => p - q), ys: [...ys].sort((p, q) => p - q) };
}

/**
 * "16 patches of 28 px", or "9 overlapping patches of 56 px" when boxes overlap (stride smaller
 * than the patch), so the reader knows each pixel may belong to more than one patch.
 */
export function describePatches(boxes: readonly BoxXYWH[]): string {
  if (boxes.length === 0) return 'no patches';
  const sides = new Set(boxes.map((b) => (b[2] === b[3] ? `${b[2]} px` : `${b[2]}x${b[3]} px`)));
  const overlapping = boxes.some((a, i) => boxes.some((b, j) => j > i && boxesOverlap(a, b)));
  const noun = boxes.length === 1 ? 'patch' : 'patches';
  return `${boxes.length} ${overlapping ? 'overlapping ' : ''}${noun} of ${[...sides].join(' / ')}`;
}

/**
 * Where to draw a per-patch marker so that markers do not pile up: each patch's box shrunk,
 * about its centre, to the spacing between neighbouring patch centres (and never beyond its
 * box). For a tiling grid that is the box itself; for 56 px patches at stride 28 it is the
 * central 28x28 cell, which is also where `patchAt` picks that patch.
 */
export function markerCells(boxes: readonly BoxXYWH[]): BoxXYWH[] {
  const spacing = (axis: 0 | 1, size: 2 | 3) => {
    const centres = [...new Set(boxes.map((b) => b[axis] + b[size] / 2))].sort((p, q) => p - q);
    let gap = Infinity;
    for (let k = 1; k < centres.length; k++) gap = Math.min(gap, centres[k] - centres[k - 1]);
    return gap;
  };
  const sx = spacing(0, 2);
  const sy = spacing(1, 3);
  return boxes.map(([x, y, w, h]) => {
    const cw = Math.min(w, sx);
    const ch = Math.min(h, sy);
    return [x + (w - cw) / 2, y + (h - ch) / 2, cw, ch];
  });
}

/** How many of the other face's cells print their agreement value; see `labelledCells`. */
export const CROSS_LABELS = 16;

/**
 * Which marker cells carry a printed value. Every cell keeps its coloured outline; the numbers go
 * only on the `limit` strongest (by magnitude), because 49 six-character values in 16 px cells are
 * a wall of text in which the few that matter cannot be found. Ties keep patch order.
 */
export function labelledCells(values: ArrayLike<number>, limit = CROSS_LABELS): Set<number> {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  idx.sort((i, j) => Math.abs(values[j]) - Math.abs(values[i]) || i - j);
  return new Set(idx.slice(0, Math.max(0, limit)));
}

/** Font size (in aligned-face pixels) at which a value like "-0.123" fits inside a cell of width `cellWidth`. */
export function cellFontSize(cellWidth: number, maxSize = 4.5): number {
  // Six characters at about 0.6 em each, with a little margin.
  return Math.min(maxSize, cellWidth / 4);
}
