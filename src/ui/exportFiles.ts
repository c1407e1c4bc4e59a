/** PNG and JSON exports of the comparison on screen. */
import { toCompareJson, type CompareJson } from '../core/compareJson.ts';
import { heatmapRgba } from '../core/heatmap.ts';
import type { RgbImage } from '../core/types.ts';
import type { ExplorerResult } from '../state/selectors.ts';
import type { PanelState } from '../state/store.ts';
import { hidePreset, isNothingHidden } from '../core/regions.ts';
import { fmtScore, verdictText } from './format.ts';

/** The CLI's `compare --json` fields, plus the map shown (`view`). */
export function compareJsonOf(result: ExplorerResult, a: PanelState, b: PanelState): CompareJson & { view: string } {
  const json = toCompareJson(
    result.comparison,
    { faces: a.faces, face: a.faces[a.chosen] },
    { faces: b.faces, face: b.faces[b.chosen] },
    result.fullScore,
  );
  return { ...json, view: result.view };
}

/** One line on what the export shows: the map, and what was hidden. */
export function exportCaption(result: ExplorerResult, vmax: number): string {
  const { comparison } = result;
  const map = result.view === 'decision' ? 'decision map (margins, 0 = threshold)' : 'score map (contributions)';
  const hidden = isNothingHidden(comparison.hidden)
    ? 'nothing hidden'
    : `hidden: ${[...comparison.hidden.presets.map((id) => hidePreset(id).label), ...(comparison.hidden.cells.length ? [`${comparison.hidden.cells.length} cells`] : [])].join(', ')}; ${comparison.kept.length} of ${comparison.patches.length} patches kept`;
  const op = comparison.threshold === null ? 'no calibrated threshold' : `threshold ${comparison.threshold.toFixed(3)}`;
  return `${map}, scale ±${vmax.toFixed(3)} per patch; ${hidden}; ${op}`;
}

function rgbCanvas(img: RgbImage): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = img.width;
  c.height = img.height;
  const rgba = new Uint8ClampedArray(img.width * img.height * 4);
  for (let i = 0; i < img.width * img.height; i++) {
    rgba[i * 4] = img.data[i * 3];
    rgba[i * 4 + 1] = img.data[i * 3 + 1];
    rgba[i * 4 + 2] = img.data[i * 3 + 2];
    rgba[i * 4 + 3] = 255;
  }
  c.getContext('2d')!.putImageData(new ImageData(rgba, img.width, img.height), 0, 0);
  return c;
}

/** Both faces with their heatmaps (shared scale), the score and the verdict, as one PNG. */
export async function comparisonPng(
  result: ExplorerResult,
  faces: { a: RgbImage; b: RgbImage },
  maps: { a: Float64Array; b: Float64Array },
  vmax: number,
  opacity: number,
): Promise<Blob> {
  const scale = 3;
  const side = 112 * scale;
  const pad = 16;
  const canvas = document.createElement('canvas');
  canvas.width = pad * 3 + side * 2;
  canvas.height = pad * 2 + side + 90;
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  (['a', 'b'] as const).forEach((f, k) => {
    const x = pad + k * (side + pad);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(rgbCanvas(faces[f]), x, pad, side, side);
    const heat = document.createElement('canvas');
    heat.width = heat.height = 112;
    heat.getContext('2d')!.putImageData(new ImageData(heatmapRgba(maps[f], vmax), 112, 112), 0, 0);
    ctx.globalAlpha = opacity;
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(heat, x, pad, side, side);
    ctx.globalAlpha = 1;
    const kept = new Set(result.comparison.kept);
    ctx.fillStyle = 'rgba(110,110,110,0.6)';
    result.comparison.patches.forEach((p, i) => {
      if (!kept.has(i)) ctx.fillRect(x + p.box[0] * scale, pad + p.box[1] * scale, p.box[2] * scale, p.box[3] * scale);
    });
    ctx.strokeStyle = 'rgba(0,0,0,0.5)';
    for (const p of result.comparison.patches)
      ctx.strokeRect(x + p.box[0] * scale, pad + p.box[1] * scale, p.box[2] * scale, p.box[3] * scale);
    ctx.fillStyle = '#000';
    ctx.font = '14px sans-serif';
    ctx.fillText(`Face ${f.toUpperCase()}`, x, pad + side + 18);
  });
  const { comparison, model, baseline } = result;
  ctx.font = 'bold 18px sans-serif';
  const score = comparison.empty ? 'no patch left' : fmtScore(comparison.score);
  const verdict = comparison.same === null ? '' : `  ${verdictText(comparison.same)}`;
  ctx.fillText(`${model.id}: ${score}${verdict}`, pad, pad + side + 44);
  ctx.font = '13px sans-serif';
  const base = baseline?.score != null ? `; black-box ${baseline.model.id} ${fmtScore(baseline.score)}` : '';
  ctx.fillText(`${exportCaption(result, vmax)}${base}`, pad, pad + side + 66);
  return new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('PNG export failed'))), 'image/png'));
}

export function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
