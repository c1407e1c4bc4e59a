/** The comparison once both faces are embedded: score, heatmaps, legend, controls, inspector, bars, export. */
import { useMemo } from 'react';
import { patchHeatmap, sharedScale } from '../core/heatmap.ts';
import { backgroundError, modelForPatchSize, selectResult, type ExplorerResult } from '../state/selectors.ts';
import { PANELS, useAppStore, type AppState } from '../state/store.ts';
import { compareJsonOf, comparisonPng, download } from './exportFiles.ts';
import { modelLoadingDetail } from './format.ts';
import { FaceMap } from './FaceMap.tsx';
import { HeatmapToggle } from './HeatmapToggle.tsx';
import { HideControls } from './HideControls.tsx';
import { Inspector } from './Inspector.tsx';
import { Legend } from './Legend.tsx';
import { PatchBars } from './PatchBars.tsx';
import { PatchSizeToggle } from './PatchSizeToggle.tsx';
import { ScorePanel } from './ScorePanel.tsx';

export function useExplorerResult(): ExplorerResult | null {
  const manifest = useAppStore((s) => s.inference.manifest);
  const a = useAppStore((s) => s.panels.a);
  const b = useAppStore((s) => s.panels.b);
  const size = useAppStore((s) => s.view.patchSize);
  const view = useAppStore((s) => s.view.heatmap);
  const hidden = useAppStore((s) => s.view.hidden);
  return selectResult(manifest, a, b, size, view, hidden);
}

/** What the score panel says while there is no comparison to show. */
export function waitingText(s: AppState): string {
  if (s.inference.status === 'error') return 'The face models could not be started.';
  const missing = PANELS.filter((p) => s.panels[p].status !== 'ready').map((p) => p.toUpperCase());
  if (missing.length) return `Load photo ${missing.join(' and ')} to compare.`;
  // Both faces are in, but the patch size on screen is still on its way (computed in the background).
  const size = s.view.patchSize;
  const model = s.inference.manifest ? modelForPatchSize(s.inference.manifest, size) : null;
  if (!model) return `No ${size} px patch model is available.`;
  const failed = PANELS.every((p) => s.panels[p].embeddings[model.id]) ? null : backgroundError(s);
  if (failed) return `The ${size} px patches could not be computed: ${failed}`;
  return `Computing the ${size} px patches…${modelLoadingDetail(model.id, s.inference.models[model.id])}`;
}

export function Explorer() {
  const result = useExplorerResult();
  const alignedA = useAppStore((s) => s.panels.a.aligned);
  const alignedB = useAppStore((s) => s.panels.b.aligned);
  const opacity = useAppStore((s) => s.view.opacity);
  const setOpacity = useAppStore((s) => s.setOpacity);
  const drawing = useAppStore((s) => s.view.drawing);
  const waiting = useAppStore(waitingText);
  const maps = useMemo(() => {
    if (!result) return null;
    const boxes = result.comparison.patches.map((p) => p.box);
    const a = patchHeatmap(result.valuesA, boxes);
    const b = patchHeatmap(result.valuesB, boxes);
    return { a, b, vmax: sharedScale(a, b) };
  }, [result]);

  const exportPng = async () => {
    if (!result || !maps || !alignedA || !alignedB) return;
    download(await comparisonPng(result, { a: alignedA, b: alignedB }, maps, maps.vmax, opacity), `patchface-${result.model.id}.png`);
  };
  const exportJson = () => {
    if (!result) return;
    const { a, b } = useAppStore.getState().panels;
    download(
      new Blob([`${JSON.stringify(compareJsonOf(result, a, b), null, 2)}\n`], { type: 'application/json' }),
      `patchface-${result.model.id}.json`,
    );
  };
  const decisionAvailable = !result || result.comparison.threshold !== null;

  return (
    <div className="explorer">
      <ScorePanel result={result} waiting={waiting} />
      <div className="controls">
        <PatchSizeToggle />
        <HeatmapToggle decisionAvailable={decisionAvailable} />
        <label className="opacity">
          Heatmap opacity
          <input type="range" min={0} max={1} step={0.05} value={opacity} onChange={(e) => setOpacity(Number(e.currentTarget.value))} />
        </label>
        <button type="button" onClick={() => void exportPng()} disabled={!result}>
          Export PNG
        </button>
        <button type="button" onClick={exportJson} disabled={!result}>
          Export JSON
        </button>
      </div>
      <HideControls />
      <p id="draw-help" className="hint">
        {drawing
          ? 'Drawing: click or drag on a face to hide 14 px cells on both faces (again to show them); with a face focused, Space hides the focused patch.'
          : 'A hidden region drops every patch that touches it; the score is recomputed from the stored patch features, with no new network pass.'}
      </p>
      {result && maps && alignedA && alignedB && (
        <>
          <div className="maps">
            <FaceMap panel="a" aligned={alignedA} map={maps.a} vmax={maps.vmax} result={result} />
            <Inspector result={result} />
            <FaceMap panel="b" aligned={alignedB} map={maps.b} vmax={maps.vmax} result={result} />
          </div>
          <Legend vmax={maps.vmax} view={result.view} />
          <div className="bar-charts">
            <PatchBars result={result} face="a" />
            <PatchBars result={result} face="b" />
          </div>
        </>
      )}
    </div>
  );
}
