/**
 * One aligned face with its exact heatmap. Three layers: the face, the heatmap canvas (redrawn
 * only when its map or scale change; opacity is CSS), and an SVG layer for grid, hidden and
 * dropped patches, hover and the other face's patch-to-patch agreement. Hit-testing is the pure
 * `patchAt` / `cellAt`.
 *
 * Pointer: hovering inspects a patch; a tap (touch, pen) or a click pins it. With "Draw to hide"
 * on, a click or a drag hides 14 px cells (or shows them again when the first cell was hidden).
 * Keyboard: arrows move between patches, Space or Enter (drawing) hides the focused patch, Escape
 * clears the inspection.
 */
import { useEffect, useRef, type KeyboardEvent, type PointerEvent } from 'react';
import {
  cellFontSize,
  divergingColor,
  gridLines,
  heatmapRgba,
  labelledCells,
  markerCells,
  neighbourPatch,
  patchAt,
  type Direction,
} from '../core/heatmap.ts';
import { cellAt, cellBox, CELLS_PER_SIDE, hiddenBoxes } from '../core/regions.ts';
import type { BoxXYWH, RgbImage } from '../core/types.ts';
import type { ExplorerResult } from '../state/selectors.ts';
import { useAppStore, type PanelId } from '../state/store.ts';
import { RgbCanvas } from './RgbCanvas.tsx';

const SIZE = 112;
const KEYS: Record<string, Direction> = { ArrowLeft: 'left', ArrowRight: 'right', ArrowUp: 'up', ArrowDown: 'down' };

function HeatmapCanvas({ map, vmax }: { map: Float64Array; vmax: number }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const opacity = useAppStore((s) => s.view.opacity);
  useEffect(() => {
    const ctx = ref.current?.getContext('2d');
    if (!ctx) return;
    ctx.putImageData(new ImageData(heatmapRgba(map, vmax), SIZE, SIZE), 0, 0);
  }, [map, vmax]);
  return <canvas ref={ref} width={SIZE} height={SIZE} className="layer heat" style={{ opacity }} aria-hidden="true" />;
}

/** Agreement of every patch of this face with the patch hovered on the other face (row or column of M). */
function crossValues(result: ExplorerResult, panel: PanelId, otherIndex: number): number[] | null {
  const P = result.comparison.patches.length;
  if (result.matrix) {
    return Array.from({ length: P }, (_, k) => (panel === 'b' ? result.matrix![otherIndex * P + k] : result.matrix![k * P + otherIndex]));
  }
  // Region-weighted: a region agrees only with the same region of the other face.
  return Array.from({ length: P }, (_, k) => (k === otherIndex ? result.comparison.patches[k][panel] : 0));
}

/** The 14 px cells inside a patch box. */
function cellsOf([x, y, w, h]: BoxXYWH): number[] {
  const out: number[] = [];
  for (let c = 0; c < CELLS_PER_SIDE * CELLS_PER_SIDE; c++) {
    const [cx, cy] = cellBox(c);
    if (cx >= x && cy >= y && cx < x + w && cy < y + h) out.push(c);
  }
  return out;
}

export function FaceMap({
  panel,
  aligned,
  map,
  vmax,
  result,
}: {
  panel: PanelId;
  aligned: RgbImage;
  map: Float64Array;
  vmax: number;
  result: ExplorerResult;
}) {
  const hover = useAppStore((s) => s.view.hover);
  const setHover = useAppStore((s) => s.setHover);
  const drawing = useAppStore((s) => s.view.drawing);
  const hidden = useAppStore((s) => s.view.hidden);
  const setCells = useAppStore((s) => s.setCells);
  const drag = useRef<{ hide: boolean; pointer: number } | null>(null);
  const boxes: BoxXYWH[] = result.comparison.patches.map((p) => p.box);
  const kept = new Set(result.comparison.kept);
  const { xs, ys } = gridLines(boxes, SIZE);
  // Overlapping patches would stack their outlines; each gets the cell around its centre instead.
  const cells = markerCells(boxes);
  const label = `Face ${panel.toUpperCase()} heatmap`;
  const own = hover?.face === panel ? hover.index : -1;
  const cross = hover && hover.face !== panel ? crossValues(result, panel, hover.index) : null;
  const crossMax = cross ? Math.max(1e-12, ...cross.map(Math.abs)) : 1;
  const labelled = cross ? labelledCells(cross) : null;
  const hiddenRects = hiddenBoxes(hidden);

  const facePoint = (e: PointerEvent<HTMLDivElement>): [number, number] | null => {
    const r = e.currentTarget.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return null;
    return [((e.clientX - r.left) / r.width) * SIZE, ((e.clientY - r.top) / r.height) * SIZE];
  };
  const inspectAt = (p: [number, number] | null) => {
    const i = p ? patchAt(boxes, p[0], p[1]) : -1;
    setHover(i >= 0 ? { face: panel, index: i } : null);
  };
  const onPointerDown = (e: PointerEvent<HTMLDivElement>) => {
    const p = facePoint(e);
    if (!p) return;
    if (drawing) {
      const cell = cellAt(p[0], p[1]);
      if (cell < 0) return;
      e.preventDefault();
      const hide = !hidden.cells.includes(cell);
      drag.current = { hide, pointer: e.pointerId };
      e.currentTarget.setPointerCapture?.(e.pointerId);
      setCells([cell], hide);
    } else {
      inspectAt(p);
    }
  };
  const onPointerMove = (e: PointerEvent<HTMLDivElement>) => {
    const p = facePoint(e);
    if (drag.current && drag.current.pointer === e.pointerId) {
      const cell = p ? cellAt(p[0], p[1]) : -1;
      if (cell >= 0 && hidden.cells.includes(cell) !== drag.current.hide) setCells([cell], drag.current.hide);
      return;
    }
    if (e.pointerType === 'mouse') inspectAt(p);
  };
  const endDrag = () => {
    drag.current = null;
  };
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const dir = KEYS[e.key];
    if (dir) {
      e.preventDefault();
      setHover({ face: panel, index: own < 0 ? 0 : neighbourPatch(boxes, own, dir) });
    } else if (e.key === 'Escape') {
      setHover(null);
    } else if (drawing && own >= 0 && (e.key === ' ' || e.key === 'Enter')) {
      e.preventDefault();
      const inside = cellsOf(boxes[own]);
      setCells(inside, !inside.every((c) => hidden.cells.includes(c)));
    }
  };

  return (
    <figure className="facemap">
      <div
        className={`stack${drawing ? ' drawing' : ''}`}
        role="group"
        aria-label={label}
        aria-roledescription="patch heatmap"
        aria-describedby={drawing ? 'draw-help' : undefined}
        tabIndex={0}
        data-testid={`facemap-${panel}`}
        data-patches={boxes.length}
        data-kept={result.comparison.kept.length}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={endDrag}
        onPointerCancel={endDrag}
        onMouseLeave={() => !drag.current && setHover(null)}
        onFocus={() => own < 0 && setHover({ face: panel, index: 0 })}
        onKeyDown={onKeyDown}
      >
        <RgbCanvas image={aligned} className="layer base" label={`Face ${panel.toUpperCase()}, aligned`} />
        <HeatmapCanvas map={map} vmax={vmax} />
        <svg className="layer overlay" viewBox={`0 0 ${SIZE} ${SIZE}`} aria-hidden="true">
          <defs>
            <pattern id={`hatch-${panel}`} width={4} height={4} patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
              <line x1={0} y1={0} x2={0} y2={4} className="hatch" />
            </pattern>
          </defs>
          {/* One group at one opacity: overlapping dropped boxes grey out evenly. */}
          <g className="dropped" data-testid={`dropped-${panel}`}>
            {boxes.map((b, i) => (kept.has(i) ? null : <rect key={i} x={b[0]} y={b[1]} width={b[2]} height={b[3]} />))}
          </g>
          {hiddenRects.map(([x, y, w, h], k) => (
            <rect key={`h${k}`} x={x} y={y} width={w} height={h} fill={`url(#hatch-${panel})`} className="hidden-region" />
          ))}
          {xs.map((x) => (
            <line key={`x${x}`} x1={x} x2={x} y1={0} y2={SIZE} className="grid" />
          ))}
          {ys.map((y) => (
            <line key={`y${y}`} y1={y} y2={y} x1={0} x2={SIZE} className="grid" />
          ))}
          {cross &&
            cells.map(([x, y, w, h], k) => {
              if (!kept.has(k)) return null;
              const [r, g, b] = divergingColor(cross[k], crossMax);
              return (
                <g key={k} data-testid={`cross-${panel}-${k}`}>
                  <rect
                    x={x + 1}
                    y={y + 1}
                    width={w - 2}
                    height={h - 2}
                    fill="none"
                    stroke={`rgb(${r},${g},${b})`}
                    strokeWidth={0.5 + (2.5 * Math.abs(cross[k])) / crossMax}
                  />
                  {labelled!.has(k) && (
                    <text
                      x={x + w / 2}
                      y={y + h / 2}
                      className="cross-value"
                      fontSize={cellFontSize(w)}
                      data-testid={`cross-value-${panel}-${k}`}
                    >
                      {cross[k].toFixed(3)}
                    </text>
                  )}
                </g>
              );
            })}
          {own >= 0 && (
            <rect
              x={boxes[own][0]}
              y={boxes[own][1]}
              width={boxes[own][2]}
              height={boxes[own][3]}
              className="hover-box"
              data-testid={`hover-${panel}`}
            />
          )}
        </svg>
      </div>
      <figcaption>Face {panel.toUpperCase()}</figcaption>
    </figure>
  );
}
