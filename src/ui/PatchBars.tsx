/** Patch contributions of one face, ranked; hovering a bar highlights its patch. */
import { rankPatches } from '../core/decompose.ts';
import type { ExplorerResult } from '../state/selectors.ts';
import { useAppStore, type PanelId } from '../state/store.ts';
import { fmtContribution } from './format.ts';

export function PatchBars({ result, face }: { result: ExplorerResult; face: PanelId }) {
  const hover = useAppStore((s) => s.view.hover);
  const setHover = useAppStore((s) => s.setHover);
  const contributions = result.comparison.patches.map((p) => p[face]);
  const max = Math.max(1e-12, ...contributions.map(Math.abs));
  return (
    <div className="bars">
      <h3>Face {face.toUpperCase()}: patches ranked</h3>
      <ol data-testid={`bars-${face}`}>
        {rankPatches(contributions).map((i) => {
          const c = contributions[i];
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
                <span className={`bar ${c >= 0 ? 'pos' : 'neg'}`} style={{ width: `${(Math.abs(c) / max) * 100}%` }} />
              </span>
              <span className="bar-value">{fmtContribution(c)}</span>
            </li>
          );
        })}
      </ol>
    </div>
  );
}
