/** The page: two photo panels, the explorer, the runtime status; page-level drop and paste. */
import { useEffect, type DragEvent } from 'react';
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

  useEffect(() => {
    const onPaste = (e: ClipboardEvent) => {
      const files = [...(e.clipboardData?.files ?? [])];
      if (files.length === 0) return;
      e.preventDefault();
      if (files.length >= 2) {
        void controller.loadPhoto('a', files[0]);
        void controller.loadPhoto('b', files[1]);
      } else {
        void controller.loadPhoto(targetPanel(), files[0]);
      }
    };
    document.addEventListener('paste', onPaste);
    return () => document.removeEventListener('paste', onPaste);
  }, [controller]);

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    const files = [...(e.dataTransfer?.files ?? [])];
    if (files.length >= 2) {
      void controller.loadPhoto('a', files[0]);
      void controller.loadPhoto('b', files[1]);
    } else if (files.length === 1) {
      void controller.loadPhoto(targetPanel(), files[0]);
    }
  };

  return (
    <div className="app" onDragOver={(e) => e.preventDefault()} onDrop={onDrop}>
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
