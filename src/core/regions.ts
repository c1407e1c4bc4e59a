/**
 * Face regions a user can hide, in aligned-face pixels (the 112 x 112 face every patch model
 * sees), and the patches that survive hiding them. A patch whose box touches a hidden pixel is
 * dropped; what remains is a model that never sees the hidden pixels (docs/DESIGN.md, "Hiding
 * regions").
 *
 * The presets are drawn from the 5-point template that alignment maps every face onto, so they
 * sit on the same facial parts in every aligned face. Boxes are [x, y, w, h], half-open.
 *
 * Pure module: no DOM, runtime or node: imports.
 */
import { ALIGNED_SIZE, applyAffine, ARCFACE_TEMPLATE_112, estimateSimilarity, invertAffine, type Points2D } from './align.ts';
import { boxesOverlap } from './heatmap.ts';
import type { BoxXYWH, RgbImage } from './types.ts';

export const HIDE_PRESET_IDS = ['eyes', 'nose', 'mouth', 'lower-half', 'upper-half', 'left-half', 'right-half'] as const;
export type HidePresetId = (typeof HIDE_PRESET_IDS)[number];

export interface HidePreset {
  id: HidePresetId;
  /** The control's accessible name. */
  label: string;
  /** What the region stands for. */
  meaning: string;
  rect: BoxXYWH;
}

const [eyeLx, eyeLy, eyeRx, eyeRy, noseX, noseY, mouthLx, mouthLy, mouthRx, mouthRy] = ARCFACE_TEMPLATE_112;
const eyeY = (eyeLy + eyeRy) / 2; // 51.6
const mouthY = (mouthLy + mouthRy) / 2; // 92.3
/** Halfway between the eye line and the nose tip (61.7): a face mask's upper edge, sunglasses' lower edge. */
const midY = Math.round((eyeY + noseY) / 2);
const half = ALIGNED_SIZE / 2;

/** [x0, y0, x1, y1] rounded outwards to whole pixels, as a box. */
function box(x0: number, y0: number, x1: number, y1: number): BoxXYWH {
  const l = Math.max(0, Math.floor(x0));
  const t = Math.max(0, Math.floor(y0));
  const r = Math.min(ALIGNED_SIZE, Math.ceil(x1));
  const b = Math.min(ALIGNED_SIZE, Math.ceil(y1));
  return [l, t, r - l, b - t];
}

/**
 * Eyes: both eye centres with 16 px beside them and 10 px above and below (the band sunglasses
 * cover). Nose: 12 px either side of the nose tip, from 6 px below the eye line to 8 px below the
 * tip. Mouth: the corners with 8 px beside them, 9 px above and below. The halves split at the
 * midpoint between the eye line and the nose tip (rows) or at the face's centre line (columns,
 * left and right as in the image).
 */
export const HIDE_PRESETS: readonly HidePreset[] = Object.freeze([
  {
    id: 'eyes',
    label: 'Eyes',
    meaning: 'both eyes and brows, as sunglasses cover them',
    rect: box(eyeLx - 16, eyeY - 10, eyeRx + 16, eyeY + 10),
  },
  { id: 'nose', label: 'Nose', meaning: 'the nose', rect: box(noseX - 12, eyeY + 6, noseX + 12, noseY + 8) },
  { id: 'mouth', label: 'Mouth', meaning: 'the mouth', rect: box(mouthLx - 8, mouthY - 9, mouthRx + 8, mouthY + 9) },
  {
    id: 'lower-half',
    label: 'Lower half',
    meaning: 'nose, mouth and chin, as a face mask covers them',
    rect: box(0, midY, ALIGNED_SIZE, ALIGNED_SIZE),
  },
  {
    id: 'upper-half',
    label: 'Upper half',
    meaning: 'eyes and forehead, as sunglasses and a hat cover them',
    rect: box(0, 0, ALIGNED_SIZE, midY),
  },
  { id: 'left-half', label: 'Left half', meaning: 'the left half of the image', rect: box(0, 0, half, ALIGNED_SIZE) },
  { id: 'right-half', label: 'Right half', meaning: 'the right half of the image', rect: box(half, 0, ALIGNED_SIZE, ALIGNED_SIZE) },
]);

export function hidePreset(id: HidePresetId): HidePreset {
  return HIDE_PRESETS.find((p) => p.id === id)!;
}

/** Free-form hiding works on cells of the patch stride: 8 x 8 cells of 14 px, index row * 8 + column. */
export const CELL_PX = 14;
export const CELLS_PER_SIDE = ALIGNED_SIZE / CELL_PX;

export function cellBox(cell: number): BoxXYWH {
  return [(cell % CELLS_PER_SIDE) * CELL_PX, Math.floor(cell / CELLS_PER_SIDE) * CELL_PX, CELL_PX, CELL_PX];
}

/** The cell under an aligned-face pixel, or -1 outside the face. */
export function cellAt(x: number, y: number): number {
  if (!(x >= 0 && y >= 0 && x < ALIGNED_SIZE && y < ALIGNED_SIZE)) return -1;
  return Math.floor(y / CELL_PX) * CELLS_PER_SIDE + Math.floor(x / CELL_PX);
}

/** What is hidden, on both faces at once: presets, and free-form cells. */
export interface HiddenRegion {
  presets: readonly HidePresetId[];
  cells: readonly number[];
}

export const NOTHING_HIDDEN: HiddenRegion = Object.freeze({ presets: [], cells: [] });

export function isNothingHidden(region: HiddenRegion): boolean {
  return region.presets.length === 0 && region.cells.length === 0;
}

/** The hidden pixels as boxes (they may overlap). */
export function hiddenBoxes(region: HiddenRegion): BoxXYWH[] {
  return [...region.presets.map((id) => hidePreset(id).rect), ...region.cells.map(cellBox)];
}

/** Row-major 112 x 112 mask, 1 where a pixel is hidden. */
export function hiddenMask(region: HiddenRegion, size = ALIGNED_SIZE): Uint8Array {
  const mask = new Uint8Array(size * size);
  for (const [x, y, w, h] of hiddenBoxes(region)) {
    for (let yy = y; yy < Math.min(size, y + h); yy++) mask.fill(1, yy * size + x, yy * size + Math.min(size, x + w));
  }
  return mask;
}

/** Indices of the patches that touch no hidden pixel, ascending. */
export function keptPatches(boxes: readonly BoxXYWH[], region: HiddenRegion): number[] {
  const hidden = hiddenBoxes(region);
  return boxes.flatMap((b, i) => (hidden.some((h) => boxesOverlap(b, h)) ? [] : [i]));
}

/**
 * The calibration a hidden region has: '' when nothing is hidden (the model's own threshold), the
 * preset's id when exactly one preset is hidden, null otherwise (a combination or a free-form
 * selection has no calibrated threshold, hence no verdict).
 */
export function calibrationKey(region: HiddenRegion): HidePresetId | '' | null {
  if (isNothingHidden(region)) return '';
  return region.cells.length === 0 && region.presets.length === 1 ? region.presets[0] : null;
}

/** Parses a comma-separated list of preset ids (the CLI's --hide); throws on an unknown one. */
export function parseHidePresets(text: string): HidePresetId[] {
  const ids = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const id of ids) {
    if (!(HIDE_PRESET_IDS as readonly string[]).includes(id)) {
      throw new RangeError(`unknown region "${id}"; choose from ${HIDE_PRESET_IDS.join(', ')}`);
    }
  }
  return [...new Set(ids as HidePresetId[])].sort((a, b) => HIDE_PRESET_IDS.indexOf(a) - HIDE_PRESET_IDS.indexOf(b));
}

/**
 * The black-box way to hide a region, for a model without patches (fullface): a copy of the photo
 * whose pixels that alignment maps into the hidden region are set to `grey`; the model then runs
 * again on it. The region is found through the same 5-point alignment as the patch models', so
 * both hide the same part of the face.
 */
export function greyOutHidden(
  img: RgbImage,
  landmarks5: Points2D,
  region: HiddenRegion,
  grey: readonly [number, number, number],
): RgbImage {
  const data = new Uint8Array(img.data);
  if (isNothingHidden(region)) return { width: img.width, height: img.height, data };
  const toAligned = estimateSimilarity(landmarks5, ARCFACE_TEMPLATE_112);
  const toSource = invertAffine(toAligned);
  const mask = hiddenMask(region);
  const corners = [
    [0, 0],
    [ALIGNED_SIZE, 0],
    [0, ALIGNED_SIZE],
    [ALIGNED_SIZE, ALIGNED_SIZE],
  ].map(([x, y]) => applyAffine(toSource, x, y));
  const x0 = Math.max(0, Math.floor(Math.min(...corners.map((c) => c[0]))));
  const x1 = Math.min(img.width - 1, Math.ceil(Math.max(...corners.map((c) => c[0]))));
  const y0 = Math.max(0, Math.floor(Math.min(...corners.map((c) => c[1]))));
  const y1 = Math.min(img.height - 1, Math.ceil(Math.max(...corners.map((c) => c[1]))));
  const fill = grey.map((v) => Math.round(v));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const [u, v] = applyAffine(toAligned, x, y);
      const ui = Math.round(u);
      const vi = Math.round(v);
      if (ui < 0 || vi < 0 || ui >= ALIGNED_SIZE || vi >= ALIGNED_SIZE || !mask[vi * ALIGNED_SIZE + ui]) continue;
      const k = (y * img.width + x) * 3;
      data[k] = fill[0];
      data[k + 1] = fill[1];
      data[k + 2] = fill[2];
    }
  }
  return { width: img.width, height: img.height, data };
}

/** A short name for a hidden region, for cache keys and labels: "eyes+mouth", "cells:0,9", "none". */
export function hiddenTag(region: HiddenRegion): string {
  const parts: string[] = [...region.presets];
  if (region.cells.length) parts.push(`cells:${[...region.cells].sort((a, b) => a - b).join(',')}`);
  return parts.length ? parts.join('+') : 'none';
}
