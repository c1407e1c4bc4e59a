/** The score, its verdict at the model's operating point, the black-box baseline and the sum check. */
import { constantPartText } from '../core/compareJson.ts';
import { describePatches } from '../core/heatmap.ts';
import type { ExplorerResult } from '../state/selectors.ts';
import { fmtScore, operatingPoint, verdictText } from './format.ts';

/** Float tolerance for "the contributions add up": float64 sums of float32-derived terms. */
const SUM_TOLERANCE = 1e-6;

export function ScorePanel({ result, waiting }: { result: ExplorerResult | null; waiting: string }) {
  return (
    <section role="status" aria-label="Similarity" className="score">
      {!result ? (
        <p className="hint">{waiting}</p>
      ) : (
        <ScoreBody result={result} />
      )}
    </section>
  );
}

function ScoreBody({ result }: { result: ExplorerResult }) {
  const { model, comparison, baseline, sumA, sumB } = result;
  const op = operatingPoint(model);
  const holds = Math.abs(sumA - comparison.score) < SUM_TOLERANCE && Math.abs(sumB - comparison.score) < SUM_TOLERANCE;
  return (
    <>
      <div className="score-main">
        <span className="score-label">
          {model.id} ({describePatches(comparison.patches.map((p) => p.box))})
        </span>
        <span className="score-value" data-testid="score">
          {fmtScore(comparison.score)}
        </span>
        <span className={`verdict ${comparison.same === null ? 'uncalibrated' : comparison.same ? 'same' : 'different'}`} data-testid="verdict">
          {verdictText(comparison.same)}
        </span>
        <span className="operating-point">{op ?? 'model not calibrated yet (no LFW threshold)'}</span>
      </div>
      {baseline && (
        <div className="baseline" data-testid="baseline">
          Black-box score ({baseline.model.id}, whole face, no explanation): <strong>{fmtScore(baseline.score)}</strong>
          {' '}
          <span className="operating-point">{operatingPoint(baseline.model) ?? 'not calibrated'}</span>
        </div>
      )}
      <div className={`sum-check ${holds ? 'ok' : 'bad'}`} data-testid="sum-check" data-holds={holds ? 'true' : 'false'}>
        Sum of patch contributions: face A {sumA.toFixed(6)}, face B {sumB.toFixed(6)}; score {comparison.score.toFixed(6)}{' '}
        {holds ? '✓ adds up' : '✗ does not add up'}
      </div>
      {comparison.constantPart !== null && (
        <div className="constant-part" data-testid="constant-part">
          {constantPartText(comparison.constantPart, comparison.score, comparison.patches.length)}
        </div>
      )}
    </>
  );
}
