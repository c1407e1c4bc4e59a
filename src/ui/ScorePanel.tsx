/**
 * The score, its verdict at the operating point of what is shown (the model, or the model with a
 * region hidden), the black-box baseline, what hiding changed, and the sum check of the map shown.
 */
import { constantPartText } from '../core/compareJson.ts';
import { describePatches } from '../core/heatmap.ts';
import { hidePreset, isNothingHidden } from '../core/regions.ts';
import { backgroundError, type ExplorerResult } from '../state/selectors.ts';
import { useAppStore } from '../state/store.ts';
import { fmtScore, fmtSigned, modelLoadingDetail, modelOperatingPoint, operatingPoint, verdictText } from './format.ts';

/** Float tolerance for "the contributions add up": float64 sums of float32-derived terms. */
const SUM_TOLERANCE = 1e-6;

export function ScorePanel({ result, waiting }: { result: ExplorerResult | null; waiting: string }) {
  return (
    <section role="status" aria-label="Similarity" className="score">
      {!result ? <p className="hint">{waiting}</p> : <ScoreBody result={result} />}
    </section>
  );
}

function hiddenNames(result: ExplorerResult): string {
  const { presets, cells } = result.comparison.hidden;
  const names = presets.map((id) => hidePreset(id).label);
  if (cells.length) names.push(`${cells.length} drawn cell${cells.length === 1 ? '' : 's'}`);
  return names.join(', ');
}

function HiddenSummary({ result }: { result: ExplorerResult }) {
  const { comparison, model, fullScore } = result;
  const P = comparison.patches.length;
  if (comparison.empty) {
    return (
      <div className="hidden-summary empty" data-testid="hidden-summary">
        Hidden: {hiddenNames(result)}. Every one of the {P} patches ({model.patches?.[0]?.[2]} px) touches a hidden pixel, so nothing is
        left to compare and there is no score. Larger patches see more of the face each, and so lose more to any hidden region; try the 28
        px patches.
      </div>
    );
  }
  return (
    <div className="hidden-summary" data-testid="hidden-summary">
      Hidden: {hiddenNames(result)}. {comparison.kept.length} of {P} patches kept: this is the score of the same model when it never sees
      the hidden pixels (full score {fmtScore(fullScore)}, change {fmtSigned(comparison.score - fullScore)}).
      {!comparison.calibrated && ' No LFW-calibrated threshold exists for this selection, so there is no verdict.'}
    </div>
  );
}

/** The black-box score, or what it is waiting for (its model's download), or why it is missing. */
function BaselineScore({ baseline }: { baseline: NonNullable<ExplorerResult['baseline']> }) {
  const id = baseline.model.id;
  const failed = useAppStore(backgroundError);
  const loading = useAppStore((s) => modelLoadingDetail(id, s.inference.models[id]));
  if (baseline.score !== null)
    return (
      <>
        <strong>{fmtScore(baseline.score)}</strong>{' '}
        <span className="operating-point">{modelOperatingPoint(baseline.model) ?? 'not calibrated'}</span>
      </>
    );
  if (failed) return <span className="failed">could not be computed: {failed}</span>;
  return <span className="computing">computing…{loading}</span>;
}

function ScoreBody({ result }: { result: ExplorerResult }) {
  const { model, comparison, baseline, sumA, sumB, view } = result;
  const hidden = !isNothingHidden(comparison.hidden);
  const calibration = hidden ? model.hide?.[comparison.hidden.presets[0]] : model.lfw;
  const op = comparison.threshold === null ? null : operatingPoint(comparison.threshold, calibration?.accuracy);
  const target = view === 'decision' ? comparison.score - comparison.threshold! : comparison.score;
  const holds = !comparison.empty && Math.abs(sumA - target) < SUM_TOLERANCE && Math.abs(sumB - target) < SUM_TOLERANCE;
  const verdictClass = comparison.same === null ? 'uncalibrated' : comparison.same ? 'same' : 'different';
  const K = comparison.kept.length;
  return (
    <>
      <div className="score-main">
        <span className="score-label">
          {model.id} ({describePatches(comparison.patches.map((p) => p.box))})
        </span>
        <span className="score-value" data-testid="score">
          {comparison.empty ? '—' : fmtScore(comparison.score)}
        </span>
        {comparison.same !== null && (
          <span className={`verdict ${verdictClass}`} data-testid="verdict">
            {verdictText(comparison.same)}
          </span>
        )}
        <span className="operating-point">
          {op ?? (hidden ? 'no calibrated threshold for this hidden region' : 'model not calibrated yet (no LFW threshold): no verdict')}
        </span>
      </div>
      {hidden && <HiddenSummary result={result} />}
      {baseline && (
        <div className="baseline" data-testid="baseline">
          Black-box score ({baseline.model.id}, whole face{hidden ? ', nothing hidden' : ''}, no explanation):{' '}
          <BaselineScore baseline={baseline} />
        </div>
      )}
      {!comparison.empty && (
        <div className={`sum-check ${holds ? 'ok' : 'bad'}`} data-testid="sum-check" data-holds={holds ? 'true' : 'false'}>
          {view === 'decision'
            ? `Σ margins = score − threshold = ${fmtSigned(target, 3)}: face A ${fmtSigned(sumA, 6)}, face B ${fmtSigned(sumB, 6)} `
            : `Σ contributions = score = ${target.toFixed(3)}: face A ${sumA.toFixed(6)}, face B ${sumB.toFixed(6)} `}
          {holds ? '✓ adds up' : '✗ does not add up'}
        </div>
      )}
      {result.view === 'score' && model.threshold == null && (
        <div className="hint" data-testid="view-note">
          Score map: this model has no LFW threshold, so there is no decision to explain.
        </div>
      )}
      {result.view === 'score' && model.threshold != null && comparison.threshold === null && !comparison.empty && (
        <div className="hint" data-testid="view-note">
          Score map: no threshold is calibrated for this hidden region, so there is no decision map.
        </div>
      )}
      {comparison.constantPart !== null && !comparison.empty && (
        <div className="constant-part" data-testid="constant-part">
          {constantPartText(comparison.constantPart, comparison.score, K)}
        </div>
      )}
    </>
  );
}
