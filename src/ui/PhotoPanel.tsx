/** One photo: file picker, drop target, paste target, face picker, the aligned face, and its errors. */
import { useId, useState, type DragEvent } from 'react';
import type { PanelId } from '../state/store.ts';
import { useAppStore } from '../state/store.ts';
import { useController } from './context.tsx';
import { RgbCanvas } from './RgbCanvas.tsx';

const STATUS_TEXT = {
  empty: 'Drop a photo here, choose a file, or paste one.',
  detecting: 'Finding faces…',
  embedding: 'Embedding the face…',
  ready: '',
  error: '',
} as const;

export function PhotoPanel({ panel }: { panel: PanelId }) {
  const controller = useController();
  const p = useAppStore((s) => s.panels[panel]);
  const [dragging, setDragging] = useState(false);
  const inputId = useId();
  const label = `Photo ${panel.toUpperCase()}`;

  const onDrop = (e: DragEvent) => {
    const files = [...(e.dataTransfer?.files ?? [])];
    // Two files at once fill both panels: let the page handle it.
    if (files.length !== 1) return;
    e.preventDefault();
    e.stopPropagation();
    setDragging(false);
    void controller.loadPhoto(panel, files[0]);
  };

  return (
    <section
      className={`panel${dragging ? ' dragging' : ''}`}
      data-panel={panel}
      tabIndex={-1}
      onDragOver={(e) => {
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={onDrop}
    >
      <div className="picker">
        <label htmlFor={inputId}>{label}</label>
        <input
          id={inputId}
          type="file"
          accept="image/*"
          onChange={(e) => {
            const file = e.currentTarget.files?.[0];
            if (file) void controller.loadPhoto(panel, file);
            e.currentTarget.value = '';
          }}
        />
        {p.fileName && <span className="filename">{p.fileName}</span>}
      </div>
      {p.status !== 'ready' && p.status !== 'error' && (
        <p className="hint" aria-live="polite">
          {STATUS_TEXT[p.status]}
        </p>
      )}
      {p.status === 'error' && p.error && (
        <div role="alert" className="error">
          {p.error} Choose another photo.
        </div>
      )}
      {p.faces.length > 0 && (
        <div className="photo-row">
          <div className="photo">
            {p.photoUrl && <img src={p.photoUrl} alt={`${label} as loaded`} />}
            <svg viewBox={`0 0 ${p.width} ${p.height}`} preserveAspectRatio="none" aria-hidden="true">
              {p.faces.map((f, i) => (
                <rect
                  key={i}
                  className={i === p.chosen ? 'facebox chosen' : 'facebox'}
                  x={f.box[0]}
                  y={f.box[1]}
                  width={f.box[2]}
                  height={f.box[3]}
                  vectorEffect="non-scaling-stroke"
                  onClick={() => void controller.chooseFace(panel, i)}
                />
              ))}
            </svg>
          </div>
          <div className="aligned">
            {p.aligned ? (
              <RgbCanvas image={p.aligned} className="aligned-face" label={`${label}: aligned face, 112 by 112`} />
            ) : (
              <div className="aligned-face placeholder" />
            )}
            <span className="caption">aligned 112×112</span>
          </div>
        </div>
      )}
      {p.faces.length > 1 && (
        <div className="faces" role="group" aria-label={`Faces in ${label}`}>
          {p.faces.length} faces found; compare:
          {p.faces.map((_, i) => (
            <button key={i} type="button" aria-pressed={i === p.chosen} onClick={() => void controller.chooseFace(panel, i)}>
              Face {i + 1}
              {i === 0 ? ' (largest)' : ''}
            </button>
          ))}
        </div>
      )}
    </section>
  );
}
