/** Shared rendering for component tests: the real App, store and client over a fake worker. */
import { render } from '@testing-library/react';
import { FakeWorker } from '../support/fakeWorker.ts';
import { InferenceClient } from '../../src/inference/client.ts';
import { Controller } from '../../src/state/controller.ts';
import { resetAppStore } from '../../src/state/store.ts';
import { App } from '../../src/ui/App.tsx';
import { ControllerContext } from '../../src/ui/context.tsx';
import type { Manifest } from '../../src/core/manifest.ts';

// jsdom has no canvas: components must cope with a null 2D context.
HTMLCanvasElement.prototype.getContext = (() => null) as typeof HTMLCanvasElement.prototype.getContext;

export function renderApp(manifest?: Manifest) {
  resetAppStore();
  const worker = new FakeWorker(manifest);
  const controller = new Controller(new InferenceClient(worker), {
    ep: 'wasm',
    modelsBase: '/models/',
    createObjectURL: () => 'blob:fake',
    revokeObjectURL: () => undefined,
  });
  const view = render(
    <ControllerContext.Provider value={controller}>
      <App />
    </ControllerContext.Provider>,
  );
  return { ...view, worker, controller };
}

export const photo = (name: string) => new File([new Uint8Array([0xff, 0xd8, 0xff, 0xe0])], name, { type: 'image/jpeg' });
