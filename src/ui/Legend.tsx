import { divergingColor, legendTicks } from '../core/heatmap.ts';
import type { HeatmapView } from '../state/store.ts';

const CAPTIONS: Record<HeatmapView, string> = {
  decision:
    'margin per patch, c − t/K: 0 is the threshold; red pushes toward "same person", blue toward "different people"; one scale for both faces',
  score:
    'contribution per patch to the score: 0 is a score of 0, not the threshold; red raises the score, blue lowers it; one scale for both faces',
};

/** The colour scale shared by both heatmaps, with numbers (value per patch area) and what 0 means. */
export function Legend({ vmax, view }: { vmax: number; view: HeatmapView }) {
  const stops = Array.from({ length: 11 }, (_, k) => {
    const [r, g, b] = divergingColor(((k - 5) / 5) * vmax, vmax);
    return `rgb(${r},${g},${b}) ${k * 10}%`;
  });
  return (
    <div className="legend" data-testid="legend" data-view={view}>
      <div className="legend-bar" style={{ background: `linear-gradient(to right, ${stops.join(', ')})` }} />
      <div className="legend-ticks">
        {legendTicks(vmax).map((t, i) => (
          <span key={i}>{(t >= 0 ? '+' : '') + t.toFixed(3)}</span>
        ))}
      </div>
      <div className="legend-caption">{CAPTIONS[view]}</div>
    </div>
  );
}
