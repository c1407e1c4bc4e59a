import { describe, expect, it } from 'vitest';
import {
  boxContains,
  boxesOverlap,
  cellFontSize,
  CROSS_LABELS,
  describePatches,
  divergingColor,
  gridLines,
  labelledCells,
  legendTicks,
  markerCells,
  neighbourPatch,
  patchAt,
  patchHeatmap,
  sharedScale,
} from '../../src/core/heatmap.ts';
import type { BoxXYWH } from '../../src/core/types.ts';

const grid = (side: number, stride = side): BoxXYWH[] => {
  const boxes: BoxXYWH[] = [];
  for (let y = 0; y + side <= 112; y += stride) for (let x = 0; x + side <= 112; x += stride) boxes.push([x, y, side, side]);
  return boxes;
};

describe('diverging colour map', () => {
  it.each([
    [0, [247, 247, 247]],
    [1, [103, 0, 31]],
    [-1, [5, 48, 97]],
    [5, [103, 0, 31]],
    [Number.NaN, [247, 247, 247]],
  ])('value %s of vmax 1 -> %j', (v, rgb) => expect(divergingColor(v, 1)).toEqual(rgb));
  it('is white everywhere when the scale is 0', () => expect(divergingColor(0.3, 0)).toEqual([247, 247, 247]));
  it('legend ticks are symmetric around 0', () => expect(legendTicks(0.2)).toEqual([-0.2, -0.1, 0, 0.1, 0.2]));
});

describe('exact heatmap', () => {
  it('a tiling grid reads each patch contribution on its pixels and integrates to the score', () => {
    const c = Array.from({ length: 16 }, (_, i) => (i - 5) / 100);
    const map = patchHeatmap(c, grid(28));
    expect(map[0]).toBeCloseTo(c[0], 12);
    expect(map[111 * 112 + 111]).toBeCloseTo(c[15], 12);
    const total = map.reduce((s, v) => s + v, 0) / (28 * 28);
    expect(total).toBeCloseTo(
      c.reduce((s, v) => s + v, 0),
      12,
    );
  });
  it('overlapping patches still integrate to the score', () => {
    const boxes = grid(56, 28); // 3x3 overlapping
    const c = boxes.map((_, i) => 0.01 * (i + 1));
    const map = patchHeatmap(c, boxes);
    expect(map.reduce((s, v) => s + v, 0) / (56 * 56)).toBeCloseTo(
      c.reduce((s, v) => s + v, 0),
      12,
    );
  });
  it('one scale for both faces is the largest magnitude', () => expect(sharedScale([0.1, -0.3], [0.2])).toBe(0.3));
});

describe('hit-testing and keyboard navigation', () => {
  const boxes = grid(28);
  it.each([
    [0, 0, 0],
    [27.9, 0, 0],
    [28, 0, 1],
    [111, 111, 15],
    [75, 35, 6],
    [-1, 5, -1],
    [112, 5, -1],
  ])('(%s, %s) -> patch %s', (x, y, i) => expect(patchAt(boxes, x, y)).toBe(i));
  it('overlapping boxes: nearest centre wins', () => {
    const o = grid(56, 28);
    expect(patchAt(o, 56, 56)).toBe(4); // the centre box
  });
  it.each([
    [0, 'right', 1],
    [0, 'down', 4],
    [0, 'left', 0],
    [0, 'up', 0],
    [5, 'up', 1],
    [15, 'left', 14],
  ] as const)('from %s going %s -> %s', (from, dir, to) => expect(neighbourPatch(boxes, from, dir)).toBe(to));
  it('grid lines are the inner box edges', () => expect(gridLines(grid(56))).toEqual({ xs: [56], ys: [56] }));
});

describe('patch description', () => {
  it('names a tiling grid plainly', () => {
    expect(describePatches(grid(28))).toBe('16 patches of 28 px');
    expect(describePatches(grid(56))).toBe('4 patches of 56 px');
  });
  it('says when patches overlap', () => expect(describePatches(grid(56, 28))).toBe('9 overlapping patches of 56 px'));
  it('boxes that only touch do not overlap', () =>
    expect(
      describePatches([
        [0, 0, 56, 56],
        [56, 0, 56, 56],
      ]),
    ).toBe('2 patches of 56 px'));
  it('copes with a single or no patch', () => {
    expect(describePatches([[0, 0, 112, 112]])).toBe('1 patch of 112 px');
    expect(describePatches([])).toBe('no patches');
  });
});

describe('marker cells', () => {
  it('are the boxes themselves for a tiling grid', () => {
    expect(markerCells(grid(28))).toEqual(grid(28));
    expect(markerCells(grid(56))).toEqual(grid(56));
  });
  it('shrink overlapping boxes to the cell around their centre, where patchAt picks them', () => {
    const boxes = grid(56, 28);
    const cells = markerCells(boxes);
    expect(cells[0]).toEqual([14, 14, 28, 28]);
    expect(cells[4]).toEqual([42, 42, 28, 28]);
    cells.forEach(([x, y, w, h], i) => {
      expect(patchAt(boxes, x + 1, y + 1)).toBe(i);
      expect(patchAt(boxes, x + w - 1, y + h - 1)).toBe(i);
    });
    // Cells do not overlap one another.
    expect(describePatches(cells)).toBe('9 patches of 28 px');
  });
  it('a single box keeps its size', () => expect(markerCells([[0, 0, 112, 112]])).toEqual([[0, 0, 112, 112]]));
});

describe('box geometry', () => {
  it('boxContains takes the left and top edges, not the right and bottom ones', () => {
    const box: BoxXYWH = [28, 14, 28, 28];
    expect([
      boxContains(box, 28, 14),
      boxContains(box, 55, 41),
      boxContains(box, 56, 20),
      boxContains(box, 30, 42),
      boxContains(box, 27, 20),
    ]).toEqual([true, true, false, false, false]);
  });

  it('boxesOverlap: sharing a pixel overlaps, touching does not', () => {
    expect(boxesOverlap([0, 0, 28, 28], [14, 14, 28, 28])).toBe(true);
    expect(boxesOverlap([0, 0, 28, 28], [28, 0, 28, 28])).toBe(false);
    expect(boxesOverlap([0, 0, 28, 28], [0, 28, 28, 28])).toBe(false);
    expect(boxesOverlap([0, 0, 56, 56], [28, 28, 56, 56])).toBe(true);
  });
});

describe('printed agreement values', () => {
  it('label every cell when there are few, and only the strongest by magnitude when there are many', () => {
    expect([...labelledCells([0.1, -0.3, 0.2])].sort()).toEqual([0, 1, 2]);
    const values = Array.from({ length: 49 }, (_, i) => (i % 2 ? -1 : 1) * i * 0.001);
    const shown = labelledCells(values);
    expect(shown.size).toBe(CROSS_LABELS);
    // The strongest 16 are patches 33..48, whatever their sign.
    expect([...shown].sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, k) => 33 + k));
    expect(labelledCells(values, 3)).toEqual(new Set([48, 47, 46]));
  });
  it('break ties by patch order, so the choice is stable between renders', () => {
    expect([...labelledCells([0.5, -0.5, 0.5, 0.1], 2)]).toEqual([0, 1]);
  });
  it('fit a six-character value inside the cell', () => {
    expect(cellFontSize(28)).toBe(4.5);
    // 7x7 grid at stride 14: 16 px cells; six glyphs of ~0.6 em must stay inside.
    const size = cellFontSize(16);
    expect(6 * 0.6 * size).toBeLessThan(16);
    expect(size).toBeGreaterThan(3);
  });
});
