/** The inspector: keyboard and hover show a patch's exact contribution, share and rank. */
import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { meanCosineCoordinatePart, meanCosineDecomposition, rankPatches } from '../../src/core/decompose.ts';
import { useAppStore } from '../../src/state/store.ts';
import { findModel } from '../../src/core/manifest.ts';
import { FEATURE_DIM, fakeManifest, fakeModelFeatures } from '../support/fakeWorker.ts';
import { photo, renderApp } from './setup.tsx';

afterEach(cleanup);

// What the fake worker answers for face 0 of a photo (rrf56 has a constant coordinate there).
const features = (file: string, model: string) => fakeModelFeatures(`${file}#0`, findModel(fakeManifest(), model));
const expected = (P: number, model: string) =>
  meanCosineDecomposition(features('alice.jpg', model), features('bob.jpg', model), P, FEATURE_DIM);

describe('patch inspector', () => {
  beforeEach(async () => {
    const user = userEvent.setup();
    renderApp();
    await user.upload(screen.getByLabelText('Photo A'), photo('alice.jpg'));
    await user.upload(screen.getByLabelText('Photo B'), photo('bob.jpg'));
    await screen.findByTestId('facemap-a');
  });

  it('arrow keys walk the patches of a face and show contribution, share and rank', async () => {
    const dec = expected(16, 'rrf28');
    const user = userEvent.setup();
    const map = screen.getByTestId('facemap-a');
    map.focus();
    await waitFor(() => expect(screen.getByText(/Patch 1 of face A/)).toBeTruthy());
    await user.keyboard('{ArrowRight}{ArrowDown}');
    // From patch 1 (top-left): right -> 2, down -> 6 (index 5).
    expect(screen.getByText(/Patch 6 of face A/)).toBeTruthy();
    const c = dec.contributionsA[5];
    expect(screen.getByTestId('inspect-contribution').textContent).toBe((c >= 0 ? '+' : '') + c.toFixed(4));
    expect(screen.getByTestId('inspect-share').textContent).toBe(`${((c / dec.score) * 100).toFixed(1)}%`);
    expect(screen.getByTestId('inspect-rank').textContent).toBe(`${rankPatches(dec.contributionsA).indexOf(5) + 1} of 16`);
    // The other face shows the matching row of the patch-to-patch matrix.
    expect(screen.getAllByTestId(/^cross-b-/)).toHaveLength(16);
    expect(screen.getByTestId('hover-a')).toBeTruthy();
    await user.keyboard('{Escape}');
    expect(screen.queryByTestId('hover-a')).toBeNull();
  });

  it('hovering a bar of the ranked chart highlights that patch', async () => {
    const dec = expected(16, 'rrf28');
    const bars = screen.getByTestId('bars-b');
    const items = within(bars).getAllByRole('listitem');
    expect(items).toHaveLength(16);
    const top = rankPatches(dec.contributionsB)[0];
    expect(items[0].getAttribute('data-patch')).toBe(String(top));
    fireEvent.mouseEnter(items[0]);
    expect(screen.getByTestId('inspect-rank').textContent).toBe('1 of 16');
    expect(screen.getByText(new RegExp(`Patch ${top + 1} of face B`))).toBeTruthy();
    expect(screen.getByTestId('hover-b')).toBeTruthy();
    expect(screen.getAllByTestId(/^cross-a-/)).toHaveLength(16);
  });

  it('mouse position is hit-tested to the patch under it', async () => {
    const map = screen.getByTestId('facemap-a');
    map.getBoundingClientRect = () => ({
      left: 0,
      top: 0,
      width: 224,
      height: 224,
      right: 224,
      bottom: 224,
      x: 0,
      y: 0,
      toJSON: () => ({}),
    });
    // (150, 70) in a 224 px view = aligned (75, 35): column 2, row 1 -> patch 7 (index 6).
    fireEvent.pointerMove(map, { clientX: 150, clientY: 70, pointerType: 'mouse' });
    expect(useAppStore.getState().view.hover).toEqual({ face: 'a', index: 6 });
    fireEvent.mouseLeave(map);
    expect(useAppStore.getState().view.hover).toBeNull();
  });

  it('the patch-size toggle switches to the 2x2 model at once, without new requests', async () => {
    const user = userEvent.setup();
    const group = screen.getByRole('radiogroup', { name: 'Patch size' });
    await user.click(within(group).getByRole('radio', { name: '56' }));
    expect(screen.getByTestId('facemap-a').getAttribute('data-patches')).toBe('4');
    expect(within(screen.getByTestId('bars-a')).getAllByRole('listitem')).toHaveLength(4);
    const dec = expected(4, 'rrf56');
    expect(screen.getByTestId('score').textContent).toBe(dec.score.toFixed(3));
    // rrf56 has no threshold in the fake manifest.
    expect(screen.getByRole('status', { name: 'Similarity' }).textContent).toMatch(/not calibrated/i);
    // ...and a constant coordinate: the score panel says how much of the score (and of each patch) it is
    const part = meanCosineCoordinatePart(features('alice.jpg', 'rrf56'), features('bob.jpg', 'rrf56'), 4, FEATURE_DIM, FEATURE_DIM - 1);
    expect(part).toBeGreaterThan(0.05);
    const text = screen.getByTestId('constant-part').textContent;
    expect(text).toContain(`Constant coordinate: ${part.toFixed(4)} of the score ${dec.score.toFixed(4)}`);
    expect(text).toContain(`the same ${(part / 4).toFixed(5)} in each of the 4 patches`);
    expect(text).toContain(`the other ${(dec.score - part).toFixed(4)} comes from the patches' pixels`);
    // rrf28 has none, and says nothing of one
    await user.click(within(group).getByRole('radio', { name: '28' }));
    expect(screen.getByTestId('facemap-a').getAttribute('data-patches')).toBe('16');
    expect(screen.queryByTestId('constant-part')).toBeNull();
  });
});
