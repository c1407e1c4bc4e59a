/** Details of the hovered patch: margin or contribution, share, rank, both crops, best match; or why it is dropped. */
import { rankPatches } from '../core/decompose.ts';
import { CROSS_LABELS } from '../core/heatmap.ts';
import type { ExplorerResult } from '../state/selectors.ts';
import { useAppStore } from '../state/store.ts';
import { fmtContribution, fmtShare } from './format.ts';
import { RgbCanvas } from './RgbCanvas.tsx';

/** Patch indices of the kept patches ranked by value, largest first. */
export function rankKept(values: Float64Array, kept: readonly number[]): number[] {
  const ranked = rankPatches(kept.map((i) => values[i]));
  return ranked.map((k) => kept[k]);
}

export function Inspector({ result }: { result: ExplorerResult }) {
  const hover = useAppStore((s) => s.view.hover);
  const alignedA = useAppStore((s) => s.panels.a.aligned);
  const alignedB = useAppStore((s) => s.panels.b.aligned);
  const { comparison, matrix, view } = result;
  const P = comparison.patches.length;
  if (!hover || hover.index >= P) {
    return (
      <aside className="inspector" data-testid="inspector">
        <p className="hint">Hover or tap a patch, or focus a face and use the arrow keys, to inspect it.</p>
      </aside>
    );
  }
  const { face, index } = hover;
  const box = comparison.patches[index].box;
  const crops = (
    <div className="crops">
      {alignedA && <RgbCanvas image={alignedA} box={box} className="crop" label={`Face A, patch ${index + 1}`} />}
      {alignedB && <RgbCanvas image={alignedB} box={box} className="crop" label={`Face B, patch ${index + 1}`} />}
    </div>
  );
  const heading = (
    <h3>
      Patch {index + 1} of face {face.toUpperCase()} <span className="box">[{box.join(', ')}]</span>
    </h3>
  );
  if (!comparison.kept.includes(index)) {
    return (
      <aside className="inspector" data-testid="inspector" aria-live="polite">
        {heading}
        <p data-testid="inspect-dropped">
          Dropped: this patch touches a hidden pixel, so it takes no part in the score. Its box is greyed out on both faces.
        </p>
        {crops}
      </aside>
    );
  }
  const values = face === 'a' ? result.valuesA : result.valuesB;
  const c = comparison.patches[index][face];
  const rank = rankKept(values, comparison.kept).indexOf(index) + 1;
  const other = face === 'a' ? 'B' : 'A';
  let best: { index: number; value: number } | null = null;
  if (matrix) {
    for (const k of comparison.kept) {
      const v = face === 'a' ? matrix[index * P + k] : matrix[k * P + index];
      if (!best || v > best.value) best = { index: k, value: v };
    }
  }
  const margin = values[index];
  return (
    <aside className="inspector" data-testid="inspector" aria-live="polite">
      {heading}
      <dl>
        {view === 'decision' && (
          <>
            <dt>Margin</dt>
            <dd data-testid="inspect-margin">
              {fmtContribution(margin)} ({margin >= 0 ? 'pushes toward same person' : 'pushes toward different people'})
            </dd>
          </>
        )}
        <dt>Contribution</dt>
        <dd data-testid="inspect-contribution">{fmtContribution(c)}</dd>
        <dt>Share of score</dt>
        <dd data-testid="inspect-share">{fmtShare(c / comparison.score)}</dd>
        <dt>Rank</dt>
        <dd data-testid="inspect-rank">
          {rank} of {comparison.kept.length}
          {comparison.kept.length < P ? ` kept (${P - comparison.kept.length} dropped)` : ''}
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
      {crops}
      <p className="hint">
        {matrix
          ? `Outlines on face ${other}: how much each of its patches agrees with this one (a ${face === 'a' ? 'row' : 'column'} of the patch-to-patch matrix)${P > CROSS_LABELS ? `; values printed on its ${CROSS_LABELS} strongest` : ''}.`
          : `Region-weighted model: this region is compared only with the same region of face ${other}.`}
      </p>
    </aside>
  );
}
