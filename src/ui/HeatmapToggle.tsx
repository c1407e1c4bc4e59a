/** Which map the faces show: decision margins (centred on the threshold) or score contributions. */
import { useAppStore, type HeatmapView } from '../state/store.ts';

const OPTIONS: { value: HeatmapView; label: string }[] = [
  { value: 'decision', label: 'Decision' },
  { value: 'score', label: 'Score' },
];

export function HeatmapToggle({ decisionAvailable }: { decisionAvailable: boolean }) {
  const view = useAppStore((s) => s.view.heatmap);
  const setView = useAppStore((s) => s.setHeatmap);
  return (
    <fieldset className="toggle" role="radiogroup" aria-label="Heatmap">
      <legend>Heatmap</legend>
      {OPTIONS.map((o) => (
        <label key={o.value} className={o.value === 'decision' && !decisionAvailable ? 'unavailable' : undefined}>
          <input type="radio" name="heatmap" value={o.value} checked={view === o.value} onChange={() => setView(o.value)} />
          {o.label}
        </label>
      ))}
    </fieldset>
  );
}
