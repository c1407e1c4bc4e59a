/**
 * Explaining the decision: the Heatmap radio group (decision margins or score contributions), the
 * Hide region group (presets, drawing, reset), the restricted score with its own calibration, and
 * what the maps and inspector say about dropped patches.
 */
import { cleanup, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it } from 'vitest';
import { cosine, meanCosineDecomposition, meanFeature } from '../../src/core/decompose.ts';
import { findModel } from '../../src/core/manifest.ts';
import { useAppStore } from '../../src/state/store.ts';
import { FEATURE_DIM, fakeManifest, fakeModelFeatures } from '../support/fakeWorker.ts';
import { photo, renderApp } from './setup.tsx';

afterEach(cleanup);

const features = (file: string) => fakeModelFeatures(`${file}#0`, findModel(fakeManifest(), 'rrf28'));
/** rrf28's score in the fake manifest (4x4 tiles of 28 px) over the kept patches. */
function scoreOver(kept: number[]): number {
  const pick = (f: Float32Array) => Float32Array.from(kept.flatMap((p) => Array.from(f.subarray(p * FEATURE_DIM, (p + 1) * FEATURE_DIM))));
  return cosine(
    meanFeature(pick(features('alice.jpg')), kept.length, FEATURE_DIM),
    meanFeature(pick(features('bob.jpg')), kept.length, FEATURE_DIM),
  );
}
const signed = (x: number) => (x >= 0 ? '+' : '−') + Math.abs(x).toFixed(3);
const all = (n: number) => Array.from({ length: n }, (_, i) => i);

async function loadTwo(calibrated = true) {
  const user = userEvent.setup();
  renderApp(fakeManifest(calibrated));
  await user.upload(screen.getByLabelText('Photo A'), photo('alice.jpg'));
  await user.upload(screen.getByLabelText('Photo B'), photo('bob.jpg'));
  await screen.findByTestId('facemap-a');
  return user;
}

describe('decision map', () => {
  it('is the default: the sum check reads score − threshold, and Score switches the legend', async () => {
    const user = await loadTwo();
    const group = screen.getByRole('radiogroup', { name: 'Heatmap' });
    expect(within(group).getByRole('radio', { name: 'Decision' })).toHaveProperty('checked', true);
    const S = scoreOver(all(16));
    const check = screen.getByTestId('sum-check');
    expect(check.textContent).toContain(`Σ margins = score − threshold = ${signed(S - 0.31)}`);
    expect(check.getAttribute('data-holds')).toBe('true');
    const legend = screen.getByTestId('legend');
    expect(legend.getAttribute('data-view')).toBe('decision');
    expect(legend.textContent).toMatch(/0 is the threshold; red pushes toward "same person", blue toward "different people"/);
    // Bars rank by margin m_i = c_i - t / 16.
    const dec = meanCosineDecomposition(features('alice.jpg'), features('bob.jpg'), 16, FEATURE_DIM);
    const margins = Array.from(dec.contributionsA, (c) => c - 0.31 / 16);
    const values = within(screen.getByTestId('bars-a'))
      .getAllByRole('listitem')
      .map((li) => li.querySelector('.bar-value')!.textContent);
    expect(values).toEqual([...margins].sort((x, y) => y - x).map((m) => (m >= 0 ? '+' : '') + m.toFixed(4)));

    await user.click(within(group).getByRole('radio', { name: 'Score' }));
    expect(screen.getByTestId('legend').getAttribute('data-view')).toBe('score');
    expect(screen.getByTestId('legend').textContent).toMatch(/0 is a score of 0, not the threshold/);
    expect(screen.getByTestId('sum-check').textContent).toContain(`Σ contributions = score = ${S.toFixed(3)}`);
    expect(useAppStore.getState().view.heatmap).toBe('score');
  });

  it('falls back to the score map, and says why, for a model without a threshold', async () => {
    await loadTwo(false);
    expect(screen.getByTestId('legend').getAttribute('data-view')).toBe('score');
    expect(screen.getByTestId('view-note').textContent).toMatch(/no LFW threshold, so there is no decision to explain/);
    expect(screen.getByTestId('sum-check').getAttribute('data-holds')).toBe('true');
  });
});

describe('hiding regions', () => {
  it('offers a checkbox per preset, named as documented', async () => {
    await loadTwo();
    const group = screen.getByRole('group', { name: 'Hide region' });
    expect(
      within(group)
        .getAllByRole('checkbox')
        .map((c) => c.parentElement!.textContent),
    ).toEqual(['Eyes', 'Nose', 'Mouth', 'Lower half', 'Upper half', 'Left half', 'Right half']);
  });

  it('Lower half drops the patches that touch it and judges the rest at its own threshold', async () => {
    const user = await loadTwo();
    const status = screen.getByRole('status', { name: 'Similarity' });
    const fullScore = scoreOver(all(16));
    await user.click(screen.getByRole('checkbox', { name: 'Lower half' }));
    // Rows at y 0 and 28 end above y 62; the rows at 56 and 84 touch the lower half.
    const S = scoreOver(all(8));
    expect(within(status).getByTestId('score').textContent).toBe(S.toFixed(3));
    expect(within(status).getByTestId('verdict').textContent).toBe(S >= 0.2 ? 'Same person' : 'Different people');
    expect(status.textContent).toContain('threshold 0.200, LFW accuracy 90.0%');
    expect(within(status).getByTestId('hidden-summary').textContent).toMatch(
      new RegExp(
        `Hidden: Lower half\\. 8 of 16 patches kept: this is the score of the same model when it never sees the hidden pixels \\(full score ${fullScore.toFixed(3)}`,
      ),
    );
    expect(screen.getByTestId('sum-check').textContent).toContain(`Σ margins = score − threshold = ${signed(S - 0.2)}`);
    expect(screen.getByTestId('facemap-a').getAttribute('data-kept')).toBe('8');
    expect(screen.getByTestId('dropped-a').querySelectorAll('rect')).toHaveLength(8);
    expect(within(screen.getByTestId('bars-b')).getAllByRole('listitem')).toHaveLength(8);
    expect(useAppStore.getState().view.hidden).toEqual({ presets: ['lower-half'], cells: [] });

    // Inspecting a dropped patch says so.
    screen.getByTestId('facemap-a').focus();
    await user.keyboard('{ArrowDown}{ArrowDown}');
    expect(screen.getByText(/Patch 9 of face A/)).toBeTruthy();
    expect(screen.getByTestId('inspect-dropped').textContent).toMatch(/Dropped: this patch touches a hidden pixel/);

    // Two presets together have no calibration: a score, but no verdict.
    await user.click(screen.getByRole('checkbox', { name: 'Eyes' }));
    expect(status.textContent).not.toMatch(/Same person|Different people/);
    expect(status.textContent).toMatch(/No LFW-calibrated threshold exists for this selection, so there is no verdict/);
    expect(screen.getByTestId('legend').getAttribute('data-view')).toBe('score');
    expect(screen.getByTestId('view-note').textContent).toMatch(/no threshold is calibrated for this hidden region/);

    await user.click(screen.getByRole('button', { name: 'Show all' }));
    expect(within(status).getByTestId('score').textContent).toBe(fullScore.toFixed(3));
    expect(screen.queryByTestId('hidden-summary')).toBeNull();
  });

  it('draws free-form cells from the keyboard, and says when nothing is left', async () => {
    const user = await loadTwo();
    await user.click(screen.getByRole('button', { name: 'Draw to hide' }));
    expect(screen.getByRole('button', { name: 'Draw to hide' }).getAttribute('aria-pressed')).toBe('true');
    screen.getByTestId('facemap-b').focus();
    await user.keyboard(' ');
    // The focused patch (top-left, 28 px) covers cells 0, 1, 8, 9: only it touches them.
    expect(useAppStore.getState().view.hidden.cells).toEqual([0, 1, 8, 9]);
    const status = screen.getByRole('status', { name: 'Similarity' });
    expect(within(status).getByTestId('score').textContent).toBe(scoreOver(all(16).slice(1)).toFixed(3));
    expect(status.textContent).toMatch(/Hidden: 4 drawn cells\. 15 of 16 patches kept/);
    expect(status.textContent).not.toMatch(/Same person|Different people/);
    await user.keyboard(' ');
    expect(useAppStore.getState().view.hidden.cells).toEqual([]);

    // Every 56 px patch of the 2x2 grid touches the upper half.
    await user.click(screen.getByRole('checkbox', { name: 'Upper half' }));
    await user.click(within(screen.getByRole('radiogroup', { name: 'Patch size' })).getByRole('radio', { name: '56' }));
    await waitFor(() =>
      expect(screen.getByTestId('hidden-summary').textContent).toMatch(
        /Every one of the 4 patches \(56 px\) touches a hidden pixel, so nothing is left to compare/,
      ),
    );
    expect(within(status).getByTestId('score').textContent).toBe('—');
  });
});
