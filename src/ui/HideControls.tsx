/**
 * Hiding face regions on both faces: a checkbox per preset, free-form drawing on the faces, and
 * a reset. The score updates from the stored patch features; no network runs.
 */
import { HIDE_PRESETS, isNothingHidden, NOTHING_HIDDEN } from '../core/regions.ts';
import { useAppStore } from '../state/store.ts';

export function HideControls() {
  const hidden = useAppStore((s) => s.view.hidden);
  const drawing = useAppStore((s) => s.view.drawing);
  const togglePreset = useAppStore((s) => s.togglePreset);
  const setHidden = useAppStore((s) => s.setHidden);
  const setDrawing = useAppStore((s) => s.setDrawing);
  return (
    <fieldset className="hide-controls" role="group" aria-label="Hide region">
      <legend>Hide region</legend>
      {HIDE_PRESETS.map((p) => (
        <label key={p.id} title={`Hides ${p.meaning}: every patch touching it is dropped`}>
          <input type="checkbox" checked={hidden.presets.includes(p.id)} onChange={() => togglePreset(p.id)} />
          {p.label}
        </label>
      ))}
      <button
        type="button"
        aria-pressed={drawing}
        onClick={() => setDrawing(!drawing)}
        title="Click or drag on a face to hide 14 px cells; with a face focused, Space hides the focused patch"
      >
        Draw to hide
      </button>
      <button type="button" onClick={() => setHidden(NOTHING_HIDDEN)} disabled={isNothingHidden(hidden)}>
        Show all
      </button>
    </fieldset>
  );
}
