/**
 * The report as one self-contained HTML file: styles inline, charts as inline SVG, images as data
 * URIs, no script but the report's own data (JSON, for tools), so it opens from disk in any
 * browser and makes no request. Charts are drawn here directly: three plain plots and a patch
 * grid do not justify shipping a charting library inside every report. The colours are the
 * explorer's own (src/core/heatmap.ts), so a map reads the same in both.
 */
import { ARCFACE_TEMPLATE_112 } from '../core/align.ts';
import { divergingColor, gridLines, patchHeatmap, sharedScale } from '../core/heatmap.ts';
import type { BoxXYWH } from '../core/types.ts';
import { MAP_GROUPS, type MapGroup, type ModelReport, type ReportData, type WorstPair } from './reportData.ts';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const pct = (x: number, d = 2) => (Number.isFinite(x) ? `${(x * 100).toFixed(d)}%` : 'n/a');
const num = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const signed = (x: number, d = 4) => (Number.isFinite(x) ? `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(d)}` : 'n/a');
const rgb = (v: number, vmax: number) => `rgb(${divergingColor(v, vmax).join(',')})`;

const GROUP_TITLES: Record<MapGroup, string> = {
  genuine: 'genuine pairs',
  impostor: 'impostor pairs',
  falseAccepts: 'false accepts',
  falseRejects: 'false rejects',
};

const CSS = `
body { font-family: system-ui, sans-serif; color: #1d1d1f; background: #fafafa; margin: 0; }
main { max-width: 1180px; margin: 0 auto; padding: 16px 20px 48px; }
h1 { font-size: 1.5rem; margin: 0 0 4px; } h2 { margin: 28px 0 8px; border-bottom: 2px solid #ddd; } h3 { margin: 16px 0 6px; font-size: 1.05rem; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; background: #fff; }
td, th { padding: 3px 10px; border: 1px solid #ddd; text-align: right; } th:first-child, td:first-child { text-align: left; }
.charts { display: flex; flex-wrap: wrap; gap: 20px; align-items: flex-start; }
figure { margin: 0; } figcaption { font-size: 0.85rem; color: #444; max-width: 520px; }
svg text { font-size: 10px; fill: #333; } .axis { stroke: #888; stroke-width: 1; } .curve { fill: none; stroke: #2166ac; stroke-width: 1.6; }
.maps { display: flex; flex-wrap: wrap; gap: 14px; } .map { text-align: center; font-size: 0.85rem; }
.legend { display: flex; align-items: center; gap: 8px; font-size: 0.8rem; margin: 6px 0; } .legend .bar { width: 260px; height: 12px; border: 1px solid #aaa; }
.worst { display: grid; grid-template-columns: repeat(auto-fill, minmax(270px, 1fr)); gap: 12px; }
.pair { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 8px; font-size: 0.8rem; }
.faces { display: flex; gap: 6px; } .face { position: relative; width: 112px; height: 112px; }
.face img { position: absolute; inset: 0; width: 112px; height: 112px; image-rendering: pixelated; } .face img.heat { opacity: 0.55; }
code { font-size: 0.75rem; word-break: break-all; background: #f0f0f0; padding: 1px 3px; display: block; margin-top: 4px; }
.note { color: #555; font-size: 0.9rem; max-width: 900px; }
`;

function rocSvg(m: ModelReport): string {
  const W = 360;
  const H = 260;
  const L = 44;
  const B = 30;
  const minLog = -4;
  const x = (far: number) => L + ((Math.log10(Math.max(far, 10 ** minLog)) - minLog) / -minLog) * (W - L - 10);
  const y = (tar: number) => H - B - tar * (H - B - 10);
  const points = m.roc.far.map((f, i) => `${x(f).toFixed(1)},${y(m.roc.tar[i]).toFixed(1)}`).join(' ');
  const ticks = [-4, -3, -2, -1, 0]
    .map(
      (e) =>
        `<line class="axis" x1="${x(10 ** e)}" x2="${x(10 ** e)}" y1="${H - B}" y2="${H - B + 4}"/><text x="${x(10 ** e) - 12}" y="${H - B + 16}">1e${e}</text>`,
    )
    .join('');
  const yTicks = [0, 0.25, 0.5, 0.75, 1].map((t) => `<text x="${L - 30}" y="${y(t) + 3}">${t.toFixed(2)}</text>`).join('');
  const marks = m.tarAtFar
    .map(
      (o) =>
        `<circle cx="${x(o.far)}" cy="${y(o.tar)}" r="3.5" fill="#b2182b"/><text x="${x(o.far) + 5}" y="${y(o.tar) + 12}">${pct(o.tar, 1)}</text>`,
    )
    .join('');
  return (
    `<svg width="${W}" height="${H}" role="img" aria-label="ROC curve of ${esc(m.id)}">` +
    `<line class="axis" x1="${L}" x2="${W - 10}" y1="${H - B}" y2="${H - B}"/><line class="axis" x1="${L}" x2="${L}" y1="10" y2="${H - B}"/>` +
    `${ticks}${yTicks}<polyline class="curve" points="${points}"/>${marks}` +
    `<text x="${W / 2 - 60}" y="${H - 2}">false accept rate (log)</text><text x="2" y="10">true accept rate</text></svg>`
  );
}

function histogramSvg(m: ModelReport): string {
  const W = 420;
  const H = 260;
  const L = 36;
  const B = 30;
  const { edges, genuine, impostor } = m.histogram;
  const bins = genuine.length;
  const max = Math.max(1, ...genuine, ...impostor);
  const lo = edges[0];
  const hi = edges[bins];
  const x = (v: number) => L + ((v - lo) / (hi - lo || 1)) * (W - L - 10);
  const y = (c: number) => H - B - (c / max) * (H - B - 14);
  const bar = (counts: number[], fill: string) =>
    counts
      .map((c, k) =>
        c
          ? `<rect x="${x(edges[k])}" y="${y(c)}" width="${Math.max(0.5, x(edges[k + 1]) - x(edges[k]) - 0.5)}" height="${H - B - y(c)}" fill="${fill}"/>`
          : '',
      )
      .join('');
  const t = m.metrics.threshold;
  // A threshold may be infinite (a fold where one class alone was best) or outside the scores: mark it at the edge.
  const tx = Number.isFinite(t) ? Math.min(W - 10, Math.max(L, x(t))) : t > 0 ? W - 10 : L;
  const thresholdMark =
    `<line x1="${tx}" x2="${tx}" y1="8" y2="${H - B}" stroke="#000" stroke-dasharray="4 3"/>` +
    `<text x="${Math.min(tx + 4, W - 110)}" y="18">threshold ${Number.isFinite(t) ? t.toFixed(3) : t > 0 ? '+∞' : '−∞'}</text>`;
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => lo + f * (hi - lo))
    .map((v) => `<text x="${x(v) - 10}" y="${H - B + 14}">${v.toFixed(2)}</text>`)
    .join('');
  return (
    `<svg width="${W}" height="${H}" role="img" aria-label="Score histograms of ${esc(m.id)}">` +
    `${bar(impostor, 'rgba(33,102,172,0.6)')}${bar(genuine, 'rgba(178,24,43,0.6)')}` +
    `<line class="axis" x1="${L}" x2="${W - 10}" y1="${H - B}" y2="${H - B}"/>${ticks}` +
    thresholdMark +
    `<text x="${L}" y="${H - 2}">score: genuine (red), impostor (blue)</text></svg>`
  );
}

/**
 * A patch map as SVG cells: between consecutive box edges the map is constant (patchHeatmap
 * spreads each patch uniformly over its box), so one rectangle per cell draws it exactly.
 */
function patchMapSvg(map: Float64Array, boxes: readonly BoxXYWH[], vmax: number, size = 168): string {
  const { xs, ys } = gridLines(boxes);
  const X = [0, ...xs, 112];
  const Y = [0, ...ys, 112];
  const cells: string[] = [];
  for (let r = 0; r + 1 < Y.length; r++) {
    for (let c = 0; c + 1 < X.length; c++) {
      const v = map[Y[r] * 112 + X[c]];
      cells.push(`<rect x="${X[c]}" y="${Y[r]}" width="${X[c + 1] - X[c]}" height="${Y[r + 1] - Y[r]}" fill="${rgb(v, vmax)}"/>`);
    }
  }
  const dots = [0, 1, 2, 3, 4]
    .map(
      (k) =>
        `<circle cx="${ARCFACE_TEMPLATE_112[2 * k]}" cy="${ARCFACE_TEMPLATE_112[2 * k + 1]}" r="1.8" fill="#111" stroke="#fff" stroke-width="0.6"/>`,
    )
    .join('');
  return `<svg width="${size}" height="${size}" viewBox="0 0 112 112" role="img">${cells.join('')}${dots}</svg>`;
}

function legend(vmax: number): string {
  const stops = Array.from({ length: 11 }, (_, k) => `${rgb(((k - 5) / 5) * vmax, vmax)} ${k * 10}%`).join(', ');
  return (
    `<div class="legend"><span>${signed(-vmax, 3)}</span><div class="bar" style="background: linear-gradient(to right, ${stops})"></div>` +
    `<span>${signed(vmax, 3)}</span><span>mean margin per patch area: 0 is the threshold; red pushes toward "same person", blue toward "different people"</span></div>`
  );
}

/** The patch whose mean margin differs most between two groups, in the direction `sign`. */
function mostDifferent(m: ModelReport, from: MapGroup, to: MapGroup, sign: 1 | -1): string {
  const maps = m.meanMaps!;
  if (!maps[from].count || !maps[to].count) return '';
  let best = -1;
  let bestDelta = -Infinity;
  maps[from].margins.forEach((v, k) => {
    const d = sign * (v - maps[to].margins[k]);
    if (Number.isFinite(d) && d > bestDelta) {
      bestDelta = d;
      best = k;
    }
  });
  return best < 0 ? '' : `patch ${best + 1} [${m.patches![best].join(', ')}] (${signed(sign * bestDelta)})`;
}

function meanMapsSection(m: ModelReport): string {
  if (!m.meanMaps || !m.patches) {
    return `<p class="note">${esc(m.id)} is a black box: its score has no exact decomposition, so it has no decision maps.</p>`;
  }
  const maps = m.meanMaps;
  // Margin per patch area, as the explorer draws it; one scale for all four.
  const drawn = Object.fromEntries(MAP_GROUPS.map((g) => [g, patchHeatmap(maps[g].margins, m.patches!)])) as Record<MapGroup, Float64Array>;
  const scale = Math.max(1e-12, sharedScale(...MAP_GROUPS.map((g) => drawn[g])));
  const faDiff = mostDifferent(m, 'falseAccepts', 'impostor', 1);
  const frDiff = mostDifferent(m, 'falseRejects', 'genuine', -1);
  return (
    `<div class="maps" id="maps-${esc(m.id)}">` +
    MAP_GROUPS.map(
      (g) =>
        `<div class="map" data-group="${g}">${patchMapSvg(drawn[g], m.patches!, scale)}<div>${GROUP_TITLES[g]} (${maps[g].count})</div></div>`,
    ).join('') +
    `</div>${legend(scale)}` +
    `<p class="note">Each map is the mean over the group's pairs (both faces) of the exact decision margins m = c − t/K at each pair's fold ` +
    `threshold, so a map adds up to the group's mean of score − threshold. Genuine pairs should be red and impostors blue; where the false ` +
    `accepts are redder than the impostors is what fooled the model into "same" (most: ${faDiff || 'n/a'}), and where the false rejects ` +
    `are bluer than the genuine pairs is what made it say "different" (most: ${frDiff || 'n/a'}). Dots: the alignment template's eyes, ` +
    `nose tip and mouth corners.</p>`
  );
}

function worstCard(w: WorstPair, falseAccept: boolean): string {
  const img = (face?: string, map?: string) =>
    `<div class="face">${face ? `<img src="${face}" alt="">` : ''}${map ? `<img class="heat" src="${map}" alt="">` : ''}</div>`;
  const pushes = w.pushes.length
    ? `<div>pushed hardest toward "${falseAccept ? 'same' : 'different'}": ${w.pushes
        .map((p) => `patch ${p.patch + 1} [${p.box.join(', ')}] ${signed(p.margin)}`)
        .join('; ')}</div>`
    : '';
  return (
    `<div class="pair" data-score="${w.score}">` +
    `<div class="faces">${img(w.images?.faceA, w.images?.mapA)}${img(w.images?.faceB, w.images?.mapB)}</div>` +
    `<div><strong>${num(w.score, 4)}</strong> against threshold ${num(w.threshold, 4)} (fold ${w.fold + 1})</div>` +
    `<div>${esc(w.a)}<br>${esc(w.b)}</div>${pushes}<code>${esc(w.command)}</code></div>`
  );
}

function modelSection(m: ModelReport): string {
  const kept = m.keptPatches === null ? '' : `, ${m.keptPatches} of ${m.patches!.length} patches kept`;
  return (
    `<section id="model-${esc(m.id)}"><h2>${esc(m.id)} <small>(${esc(m.kind)}${kept})</small></h2>` +
    `<div class="charts"><figure id="roc-${esc(m.id)}">${rocSvg(m)}<figcaption>ROC. TAR at FAR 1e-2: <strong>${pct(m.tarAtFar[0].tar)}</strong>; ` +
    `at FAR 1e-3: <strong>${pct(m.tarAtFar[1].tar)}</strong> (a pair without a face is never accepted).</figcaption></figure>` +
    `<figure id="hist-${esc(m.id)}">${histogramSvg(m)}<figcaption>Scores of genuine and impostor pairs; dashed: the threshold (mean of the ten fold thresholds).</figcaption></figure></div>` +
    `<h3>Mean decision maps</h3>${meanMapsSection(m)}` +
    `<h3 id="worst-${esc(m.id)}">Worst errors</h3>` +
    `<p class="note">The ${m.worst.falseAccepts.length} highest-scoring false accepts and the ${m.worst.falseRejects.length} lowest-scoring false rejects, ` +
    `each judged at its fold's threshold.${m.patches ? " Overlaid: each face's decision map for that pair." : ''}</p>` +
    `<h4>False accepts (different people, said same)</h4><div class="worst" data-kind="falseAccepts">${m.worst.falseAccepts.map((w) => worstCard(w, true)).join('') || '<p>none</p>'}</div>` +
    `<h4>False rejects (same person, said different)</h4><div class="worst" data-kind="falseRejects">${m.worst.falseRejects.map((w) => worstCard(w, false)).join('') || '<p>none</p>'}</div>` +
    `</section>`
  );
}

/** The report's data for tools, without the images. */
function dataJson(data: ReportData): string {
  const lean = {
    ...data,
    models: data.models.map((m) => ({
      ...m,
      worst: {
        falseAccepts: m.worst.falseAccepts.map(({ images: _images, ...w }) => w),
        falseRejects: m.worst.falseRejects.map(({ images: _images, ...w }) => w),
      },
    })),
  };
  // "<" escaped: the JSON sits inside a script element.
  return JSON.stringify(lean).replace(/</g, '\\u003c');
}

export function renderReport(data: ReportData): string {
  const hidden = data.hidden.length ? ` with ${esc(data.hidden.join(', '))} hidden on every face` : '';
  const metricsRows = data.models
    .map(
      (m) =>
        `<tr><td>${esc(m.id)}</td><td>${pct(m.metrics.accuracy)} ± ${pct(m.metrics.std)}</td><td>${num(m.metrics.auc, 4)}</td>` +
        `<td>${num(m.metrics.threshold, 4)}</td><td>${pct(m.tarAtFar[0].tar)}</td><td>${pct(m.tarAtFar[1].tar)}</td>` +
        `<td>${m.metrics.pairs}</td><td>${m.metrics.errors}</td><td>${m.metrics.noFace}</td></tr>`,
    )
    .join('');
  const agreement = data.agreement.length
    ? `<section id="agreement"><h2>Agreement with the black box</h2><table><tr><th>model</th><th>wrong where fullface is right</th>` +
      `<th>right where fullface is wrong</th><th>both wrong</th></tr>${data.agreement
        .map((a) => `<tr><td>${esc(a.model)}</td><td>${a.modelOnly}</td><td>${a.fullfaceOnly}</td><td>${a.both}</td></tr>`)
        .join('')}</table></section>`
    : '';
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>PatchFace report: ${esc(data.title)}</title><style>${CSS}</style></head><body><main>` +
    `<h1>PatchFace report: ${esc(data.title)}</h1>` +
    `<p class="note">${data.pairs} pairs, ${data.images} images${hidden}. Ten-fold protocol: each pair is judged at the threshold chosen ` +
    `on the other nine folds; a pair whose photo has no face found is an error.</p>` +
    `<section id="metrics"><h2>Metrics</h2><table><tr><th>model</th><th>accuracy (mean ± std, 10 folds)</th><th>AUC</th><th>threshold</th>` +
    `<th>TAR at FAR 1e-2</th><th>TAR at FAR 1e-3</th><th>pairs</th><th>errors</th><th>pairs without a face</th></tr>${metricsRows}</table></section>` +
    data.models.map(modelSection).join('') +
    agreement +
    `<script type="application/json" id="report-data">${dataJson(data)}</script>` +
    `</main></body></html>\n`
  );
}
