/**
 * The page: two photo panels, the explorer, the runtime status; drop anywhere in the window (with
 * an overlay saying where the photo will go) and paste.
 */
import { useCallback, useEffect, useState } from 'react';
import { useAppStore, type PanelId } from '../state/store.ts';
import { useController } from './context.tsx';
import { Explorer } from './Explorer.tsx';
import { PhotoPanel } from './PhotoPanel.tsx';
import { RuntimeStatus } from './RuntimeStatus.tsx';

/** Where a single pasted or dropped photo goes: the focused panel, else the first empty one, else A. */
function targetPanel(): PanelId {
  const focused = document.activeElement?.closest?.('[data-panel]')?.getAttribute('data-panel');
  if (focused === 'a' || focused === 'b') return focused;
  const { panels } = useAppStore.getState();
  return panels.a.status === 'empty' || panels.b.status !== 'empty' ? 'a' : 'b';
}

export function App() {
  const controller = useController();

  /** Two photos at once fill both panels; one goes to targetPanel(). */
  const loadFiles = useCallback(
    (files: File[]) => {
      if (files.length >= 2) {
        void controller.loadPhoto('a', files[0]);
        void controller.loadPhoto('b', files[1]);
      } else if (files.length === 1) {
        void controller.loadPhoto(targetPanel(), files[0]);
      }
    },
    [controller],
  );

  useEffect(() => {
    const onPaste = (e: ClipboardEvent) => {
      const files = [...(e.clipboardData?.files ?? [])];
      if (files.length === 0) return;
      e.preventDefault();
      loadFiles(files);
    };
    document.addEventListener('paste', onPaste);
    return () => document.removeEventListener('paste', onPaste);
  }, [loadFiles]);

  const dropHint = useWindowDrop(loadFiles);

  return (
    <div className="app">
      {dropHint && (
        <div className="drop-overlay" data-testid="drop-overlay" aria-live="polite">
          <p>{dropHint}</p>
        </div>
      )}
      <header>
        <h1>PatchFace</h1>
        <p className="tagline">Face similarity as an exact sum of patch scores. Photos never leave this browser.</p>
        <RuntimeStatus />
      </header>
      <main>
        <div className="panels">
          <PhotoPanel panel="a" />
          <PhotoPanel panel="b" />
        </div>
        <Explorer />
      </main>
    </div>
  );
}

/**
 * The whole window takes dropped photos: without this a photo dropped outside the app's box makes
 * the browser open it in place of the page. Only files are taken; anything else dropped does
 * nothing. A panel that takes a single photo itself stops the event before it reaches the window.
 * Returns what the overlay says while files are dragged over the window.
 */
function useWindowDrop(onFiles: (files: File[]) => void): string | null {
  const [hint, setHint] = useState<string | null>(null);
  useEffect(() => {
    const hasFiles = (e: DragEvent) => [...(e.dataTransfer?.types ?? [])].includes('Files');
    const onDragOver = (e: DragEvent) => {
      e.preventDefault();
      if (!e.dataTransfer) return;
      if (!hasFiles(e)) {
        e.dataTransfer.dropEffect = 'none';
        setHint(null);
        return;
      }
      e.dataTransfer.dropEffect = 'copy';
      const count = e.dataTransfer.items?.length ?? 1;
      const over = (e.target as Element | null)?.closest?.('[data-panel]')?.getAttribute('data-panel');
      const panel = (over === 'a' || over === 'b' ? over : targetPanel()).toUpperCase();
      setHint(count >= 2 ? 'Drop to load the first photo into A and the second into B' : `Drop to load the photo into Photo ${panel}`);
    };
    const onDragLeave = (e: DragEvent) => {
      // Leaving the window: no element is entered next.
      if (e.relatedTarget === null) setHint(null);
    };
    const clear = () => setHint(null);
    const onDrop = (e: DragEvent) => {
      e.preventDefault();
      if (hasFiles(e)) onFiles([...(e.dataTransfer?.files ?? [])]);
    };
    window.addEventListener('dragover', onDragOver);
    window.addEventListener('dragleave', onDragLeave);
    window.addEventListener('drop', clear, true);
    window.addEventListener('dragend', clear);
    window.addEventListener('drop', onDrop);
    return () => {
      window.removeEventListener('dragover', onDragOver);
      window.removeEventListener('dragleave', onDragLeave);
      window.removeEventListener('drop', clear, true);
      window.removeEventListener('dragend', clear);
      window.removeEventListener('drop', onDrop);
    };
  }, [onFiles]);
  return hint;
}
