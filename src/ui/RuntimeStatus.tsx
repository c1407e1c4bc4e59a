/** Backend, model loading progress, and per-stage timings of the last comparison. */
import { useAppStore } from '../state/store.ts';
import { fmtDownloaded, fmtMs } from './format.ts';

export function RuntimeStatus() {
  const inf = useAppStore((s) => s.inference);
  const a = useAppStore((s) => s.panels.a);
  const b = useAppStore((s) => s.panels.b);
  const backend =
    inf.status === 'error'
      ? 'unavailable'
      : inf.backend === 'webgpu'
        ? `WebGPU${inf.adapter ? ` (${inf.adapter})` : ''}`
        : inf.backend === 'wasm'
          ? `WASM, ${inf.threads} thread${inf.threads === 1 ? '' : 's'}`
          : 'starting…';
  const loading = Object.entries(inf.models).filter(([, m]) => m.phase !== 'ready');
  const both = a.status === 'ready' && b.status === 'ready';
  return (
    <section className="runtime" aria-label="Runtime">
      <div data-testid="backend">
        Backend: <strong>{backend}</strong>
      </div>
      {inf.error && (
        <div role="alert" className="error">
          {inf.error}
        </div>
      )}
      {loading.length > 0 && (
        <ul className="progress" aria-label="Model loading">
          {loading.map(([id, m]) => (
            <li key={id}>
              {id}: {m.phase === 'download' ? fmtDownloaded(m) : 'preparing…'}
              <progress max={m.total || 1} value={m.phase === 'download' ? m.loaded : undefined} />
            </li>
          ))}
        </ul>
      )}
      {both && (
        <details className="timings" data-testid="timings">
          <summary>
            Last comparison: {fmtMs(Math.max(a.readyAt, b.readyAt) - Math.max(a.startedAt, b.startedAt))} from photo to heatmap
          </summary>
          <table>
            <thead>
              <tr>
                <th>stage</th>
                <th>A</th>
                <th>B</th>
              </tr>
            </thead>
            <tbody>
              {[...new Set([...Object.keys(a.timings), ...Object.keys(b.timings)])].map((k) => (
                <tr key={k}>
                  <td>{k}</td>
                  <td>{a.timings[k] !== undefined ? fmtMs(a.timings[k]) : '–'}</td>
                  <td>{b.timings[k] !== undefined ? fmtMs(b.timings[k]) : '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
    </section>
  );
}
