import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createInferenceClient } from './inference/client.ts';
import { Controller } from './state/controller.ts';
import { useAppStore } from './state/store.ts';
import { epFromSearch, syncViewWithUrl } from './state/urlSync.ts';
import { App } from './ui/App.tsx';
import { ControllerContext } from './ui/context.tsx';
import './ui/app.css';

syncViewWithUrl();
const controller = new Controller(createInferenceClient(), {
  ep: epFromSearch(location.search),
  modelsBase: new URL('models/', new URL(import.meta.env.BASE_URL, location.href)).href,
  createObjectURL: (blob) => URL.createObjectURL(blob),
  revokeObjectURL: (url) => URL.revokeObjectURL(url),
});
// Models load on first visit, before any photo arrives.
controller.start().catch(() => undefined);
// Browser tests and the screenshot script read the store (they never write it).
(window as unknown as { __patchface?: unknown }).__patchface = { controller, store: useAppStore };

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ControllerContext.Provider value={controller}>
      <App />
    </ControllerContext.Provider>
  </StrictMode>,
);
