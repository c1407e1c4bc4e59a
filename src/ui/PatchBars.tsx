/** The kept patches of one face ranked by what the map shows (margin or contribution); hovering a bar highlights its patch. */
import type { ExplorerResult } from '../state/selectors.ts';
import { useAppStore, type PanelId } from '../state/store.ts';
import { fmtContribution } from './format.ts';
import { rankKept } from './Inspector.tsx';

export function PatchBars({ result, face }: { result: ExplorerResult; face: PanelId }) {
  const hover = useAppStore((s) => s.view.hover);
  const setHover = useAppStore((s) => s.setHover);
  const values = face === 'a' ? result.valuesA : result.valuesB;
  const kept = result.comparison.kept;
  const max = Math.max(1e-12, ...kept.map((i) => Math.abs(values[i])));
  const dropped = result.comparison.patches.length - kept.length;
  return (
    <div className="bars">
      <h3>
        Face {face.toUpperCase()}: patches ranked by {result.view === 'decision' ? 'margin' : 'contribution'}
        {dropped > 0 ? ` (${dropped} dropped)` : ''}
      </h3>
      <ol data-testid={`bars-${face}`}>
        {rankKept(values, kept).map((i) => {
          const v = values[i];
          const active = hover?.face === face && hover.index === i;
          return (
            <li
              key={i}
              data-patch={i}
              className={active ? 'active' : undefined}
              onMouseEnter={() => setHover({ face, index: i })}
              onMouseLeave={() => setHover(null)}
            >
              <span className="bar-label">#{i + 1}</span>
              <span className="bar-track">
                <span className={`bar ${v >= 0 ? 'pos' : 'neg'}`} style={{ width: `${(Math.abs(v) / max) * 100}%` }} />
              </span>
              <span className="bar-value">{fmtContribution(v)}</span>
            </li>
          );
        })}
      </ol>
    </div>
  );
}
