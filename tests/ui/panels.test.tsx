/** Photo panels: loading, face choice, and errors that stay in the panel they belong to. */
import { cleanup, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it } from 'vitest';
import { useAppStore } from '../../src/state/store.ts';
import { fakeManifest } from '../support/fakeWorker.ts';
import { photo, renderApp } from './setup.tsx';

afterEach(cleanup);

const panel = (id: 'a' | 'b') => document.querySelector(`[data-panel="${id}"]`) as HTMLElement;

describe('photo panels', () => {
  it('loads two photos and shows the score with a verdict at the operating point', async () => {
    const user = userEvent.setup();
    renderApp();
    await user.upload(screen.getByLabelText('Photo A'), photo('alice.jpg'));
    await user.upload(screen.getByLabelText('Photo B'), photo('bob.jpg'));
    const status = await screen.findByRole('status', { name: 'Similarity' });
    await waitFor(() => expect(within(status).getByTestId('score').textContent).toMatch(/^-?\d\.\d{3}$/));
    expect(status.textContent).toMatch(/Same person|Different people/);
    expect(status.textContent).toContain('threshold 0.310, LFW accuracy 98.9%');
    expect(within(status).getByTestId('sum-check').getAttribute('data-holds')).toBe('true');
    await waitFor(() => expect(within(status).getByTestId('baseline').textContent).toMatch(/Black-box score \(fullface.*\d\.\d{3}/));
    expect(screen.getByText(/Backend:/).textContent).toContain('WASM, 2 threads');
  });

  it('shows the verdict before the black-box baseline, which says it is computing until it arrives', async () => {
    const user = userEvent.setup();
    const { worker } = renderApp();
    worker.holdBackground = true;
    await user.upload(screen.getByLabelText('Photo A'), photo('alice.jpg'));
    await user.upload(screen.getByLabelText('Photo B'), photo('bob.jpg'));
    const status = await screen.findByRole('status', { name: 'Similarity' });
    await waitFor(() => expect(within(status).getByTestId('verdict').textContent).toMatch(/Same person|Different people/));
    expect(within(status).getByTestId('baseline').textContent).toMatch(/Black-box score \(fullface.*computing…/);
    expect(useAppStore.getState().panels.a.embeddings.fullface).toBeUndefined();
    worker.releaseBackground();
    await waitFor(() => expect(within(status).getByTestId('baseline').textContent).toMatch(/Black-box score \(fullface.*\d\.\d{3}/));
    expect(within(status).getByTestId('baseline').textContent).not.toMatch(/computing/);
  });

  it('says why the black-box baseline is missing when its background work fails, and keeps the verdict', async () => {
    const user = userEvent.setup();
    const { worker } = renderApp();
    worker.failBackground = 'The fullface model could not be downloaded.';
    await user.upload(screen.getByLabelText('Photo A'), photo('alice.jpg'));
    await user.upload(screen.getByLabelText('Photo B'), photo('bob.jpg'));
    const status = await screen.findByRole('status', { name: 'Similarity' });
    await waitFor(() =>
      expect(within(status).getByTestId('baseline').textContent).toMatch(
        /could not be computed: The fullface model could not be downloaded\./,
      ),
    );
    expect(within(status).getByTestId('verdict').textContent).toMatch(/Same person|Different people/);
  });

  it('shows the photo as loaded with its first result, not while its face is embedded', async () => {
    const user = userEvent.setup();
    renderApp();
    const early: string[] = [];
    const unsubscribe = useAppStore.subscribe(({ panels: { a } }) => {
      if (a.photoUrl && a.status !== 'ready') early.push(a.status);
    });
    await user.upload(screen.getByLabelText('Photo A'), photo('alice.jpg'));
    expect(await within(panel('a')).findByRole('img', { name: 'Photo A as loaded' })).toBeTruthy();
    unsubscribe();
    expect(early).toEqual([]);
    expect(useAppStore.getState().panels.a.status).toBe('ready');
  });

  it('says "not calibrated" instead of a verdict when the model has no threshold', async () => {
    const user = userEvent.setup();
    renderApp(fakeManifest(false));
    await user.upload(screen.getByLabelText('Photo A'), photo('alice.jpg'));
    await user.upload(screen.getByLabelText('Photo B'), photo('bob.jpg'));
    const status = await screen.findByRole('status', { name: 'Similarity' });
    await waitFor(() => expect(status.textContent).toMatch(/not calibrated/i));
    expect(status.textContent).not.toMatch(/Same person|Different people/);
  });

  it('an error in one panel leaves the other panel and its result intact', async () => {
    const user = userEvent.setup();
    renderApp();
    await user.upload(screen.getByLabelText('Photo A'), photo('alice.jpg'));
    await waitFor(() => expect(useAppStore.getState().panels.a.status).toBe('ready'));
    const alignedA = useAppStore.getState().panels.a.aligned;
    await user.upload(screen.getByLabelText('Photo B'), photo('bad.txt'));
    const alert = await within(panel('b')).findByRole('alert');
    expect(alert.textContent).toMatch(/not an image/);
    expect(within(panel('a')).queryByRole('alert')).toBeNull();
    expect(useAppStore.getState().panels.a.aligned).toBe(alignedA);
    expect(within(panel('a')).getByRole('img', { name: 'Photo A: aligned face, 112 by 112' })).toBeTruthy();

    await user.upload(screen.getByLabelText('Photo B'), photo('noface.jpg'));
    await waitFor(() => expect(within(panel('b')).getByRole('alert').textContent).toMatch(/No face was found/));
    expect(useAppStore.getState().panels.a.status).toBe('ready');

    // A good photo clears the error.
    await user.upload(screen.getByLabelText('Photo B'), photo('bob.jpg'));
    await waitFor(() => expect(useAppStore.getState().panels.b.status).toBe('ready'));
    expect(within(panel('b')).queryByRole('alert')).toBeNull();
  });

  it('offers every face of a group photo, largest preselected, and embeds the one clicked', async () => {
    const user = userEvent.setup();
    const { worker } = renderApp();
    await user.upload(screen.getByLabelText('Photo A'), photo('two-people.jpg'));
    const group = await screen.findByRole('group', { name: 'Faces in Photo A' });
    const buttons = within(group).getAllByRole('button');
    expect(buttons).toHaveLength(2);
    await waitFor(() => expect(buttons[0].getAttribute('aria-pressed')).toBe('true'));
    await user.click(buttons[1]);
    await waitFor(() => expect(useAppStore.getState().panels.a.chosen).toBe(1));
    await waitFor(() => expect(useAppStore.getState().panels.a.status).toBe('ready'));
    // What the screen shows first (28 px patches), then the full-face baseline and the other size in the background.
    await waitFor(() => expect(useAppStore.getState().panels.a.embeddings.rrf56).toBeDefined());
    const embeds = worker.received
      .filter((r) => r.type === 'embed')
      .map((r) => r.payload as { faceIndex: number; models: string[]; background?: boolean });
    expect(embeds.slice(-2)).toEqual([
      { photoId: expect.any(String), faceIndex: 1, models: ['rrf28'] },
      { photoId: expect.any(String), faceIndex: 1, models: ['fullface', 'rrf56'], background: true },
    ]);
  });

  it('two files dropped anywhere in the window fill both panels, with an overlay saying where they go', async () => {
    renderApp();
    const files = [photo('alice.jpg'), photo('bob.jpg')];
    const fire = (type: string, dataTransfer: object) => {
      const event = new Event(type, { bubbles: true, cancelable: true });
      Object.defineProperty(event, 'dataTransfer', { value: dataTransfer });
      document.documentElement.dispatchEvent(event);
      return event;
    };
    // Outside the app's box: the <html> element itself.
    const over = fire('dragover', { types: ['Files'], items: files, dropEffect: 'none' });
    expect(over.defaultPrevented).toBe(true);
    expect((await screen.findByTestId('drop-overlay')).textContent).toMatch(/first photo into A and the second into B/);
    // Something that is not a file: no overlay, nothing loaded, and the browser may not open it.
    fire('dragover', { types: ['text/uri-list'], items: [{}], dropEffect: 'copy' });
    await waitFor(() => expect(screen.queryByTestId('drop-overlay')).toBeNull());
    const text = fire('drop', { types: ['text/plain'], files: [] });
    expect(text.defaultPrevented).toBe(true);
    expect(useAppStore.getState().panels.a.status).toBe('empty');
    fire('drop', { types: ['Files'], files });
    await waitFor(() => {
      const { a, b } = useAppStore.getState().panels;
      expect([a.fileName, b.fileName]).toEqual(['alice.jpg', 'bob.jpg']);
      expect([a.status, b.status]).toEqual(['ready', 'ready']);
    });
  });

  it('a single file dropped on panel B loads into panel B only', async () => {
    renderApp();
    const event = new Event('drop', { bubbles: true, cancelable: true });
    Object.defineProperty(event, 'dataTransfer', { value: { files: [photo('bob.jpg')] } });
    panel('b').dispatchEvent(event);
    await waitFor(() => expect(useAppStore.getState().panels.b.status).toBe('ready'));
    expect(useAppStore.getState().panels.b.fileName).toBe('bob.jpg');
    expect(useAppStore.getState().panels.a.status).toBe('empty');
  });

  it('a pasted photo goes to the focused panel', async () => {
    renderApp();
    panel('b').focus();
    const event = new Event('paste', { bubbles: true, cancelable: true });
    Object.defineProperty(event, 'clipboardData', { value: { files: [photo('alice.jpg')] } });
    document.dispatchEvent(event);
    await waitFor(() => expect(useAppStore.getState().panels.b.status).toBe('ready'));
    expect(useAppStore.getState().panels.b.fileName).toBe('alice.jpg');
    expect(useAppStore.getState().panels.a.status).toBe('empty');
  });
});
