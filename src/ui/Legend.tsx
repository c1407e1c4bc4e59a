import { divergingColor, legendTicks } from '../core/heatmap.ts';

/** The colour scale shared by both heatmaps, with numbers (contribution per patch area). */
export function Legend({ vmax }: { vmax: number }) {
  const stops = Array.from({ length: 11 }, (_, k) => {
    const [r, g, b] = divergingColor(((k - 5) / 5) * vmax, vmax);
    return `rgb(${r},${g},${b}) ${k * 10}%`;
  });
  return (
    <div className="legend" data-testid="legend">
      <div className="legend-bar" style={{ background: `linear-gradient(to right, ${stops.join(', ')})` }} />
      <div className="legend-ticks">
        {legendTicks(vmax).map((t, i) => (
          <span key={i}>{(t >= 0 ? '+' : '') + t.toFixed(3)}</span>
        ))}
      </div>
      <div className="legend-caption">contribution per patch (blue: argues different, red: argues same); one scale for both faces</div>
    </div>
  );
}
