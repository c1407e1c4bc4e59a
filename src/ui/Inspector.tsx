/** Details of the hovered patch: contribution, share of the score, rank, both crops, best match. */
import { rankPatches } from '../core/decompose.ts';
import { CROSS_LABELS } from '../core/heatmap.ts';
import type { ExplorerResult } from '../state/selectors.ts';
import { useAppStore } from '../state/store.ts';
import { fmtContribution, fmtShare } from './format.ts';
import { RgbCanvas } from './RgbCanvas.tsx';

export function Inspector({ result }: { result: ExplorerResult }) {
  const hover = useAppStore((s) => s.view.hover);
  const alignedA = useAppStore((s) => s.panels.a.aligned);
  const alignedB = useAppStore((s) => s.panels.b.aligned);
  const { comparison, matrix } = result;
  const P = comparison.patches.length;
  if (!hover || hover.index >= P) {
    return (
      <aside className="inspector" data-testid="inspector">
        <p className="hint">Hover a patch, or focus a face and use the arrow keys, to inspect it.</p>
      </aside>
    );
  }
  const { face, index } = hover;
  const contributions = comparison.patches.map((p) => p[face]);
  const c = contributions[index];
  const rank = rankPatches(contributions).indexOf(index) + 1;
  const box = comparison.patches[index].box;
  const other = face === 'a' ? 'B' : 'A';
  let best: { index: number; value: number } | null = null;
  if (matrix) {
    for (let k = 0; k < P; k++) {
      const v = face === 'a' ? matrix[index * P + k] : matrix[k * P + index];
      if (!best || v > best.value) best = { index: k, value: v };
    }
  }
  return (
    <aside className="inspector" data-testid="inspector" aria-live="polite">
      <h3>
        Patch {index + 1} of face {face.toUpperCase()} <span className="box">[{box.join(', ')}]</span>
      </h3>
      <dl>
        <dt>Contribution</dt>
        <dd data-testid="inspect-contribution">{fmtContribution(c)}</dd>
        <dt>Share of score</dt>
        <dd data-testid="inspect-share">{fmtShare(c / comparison.score)}</dd>
        <dt>Rank</dt>
        <dd data-testid="inspect-rank">
          {rank} of {P}
        </dd>
        {best && (
          <>
            <dt>Agrees most with</dt>
            <dd>
              patch {best.index + 1} of face {other} ({fmtContribution(best.value)})
            </dd>
          </>
        )}
      </dl>
      <div className="crops">
        {alignedA && <RgbCanvas image={alignedA} box={box} className="crop" label={`Face A, patch ${index + 1}`} />}
        {alignedB && <RgbCanvas image={alignedB} box={box} className="crop" label={`Face B, patch ${index + 1}`} />}
      </div>
      <p className="hint">
        {matrix
          ? `Outlines on face ${other}: how much each of its patches agrees with this one (a ${face === 'a' ? 'row' : 'column'} of the patch-to-patch matrix)${P > CROSS_LABELS ? `; values printed on its ${CROSS_LABELS} strongest` : ''}.`
          : `Region-weighted model: this region is compared only with the same region of face ${other}.`}
      </p>
    </aside>
  );
}
