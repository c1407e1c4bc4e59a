/**
 * The `patchface` command as a user runs it (bin/patchface.js in a child process): exit codes,
 * JSON shapes, file errors named with their reason, and `eval pairs` on a user pair list.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, unlink, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readManifest } from '../../src/node/runtime.ts';
import { copySamples, hasSamples, PAIR_PHOTOS, PROJECT_ROOT, SAMPLES } from '../support/env.ts';
import { COMPARE_JSON_KEYS } from '../support/compareJsonKeys.ts';

const run = promisify(execFile);
const BIN = join(PROJECT_ROOT, 'bin/patchface.js');
// Keep the detection cache of these runs away from the user's own.
let cacheDir = join(tmpdir(), 'patchface-cli-cache');

async function patchface(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      cwd: PROJECT_ROOT,
      maxBuffer: 1 << 24,
      env: { ...process.env, PATCHFACE_CACHE: cacheDir },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('patchface usage', () => {
  it('prints usage and exits 2 on a missing command', async () => {
    const r = await patchface();
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/patchface compare A B/);
  });
  it('names an unknown command', async () => {
    const r = await patchface('frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command "frobnicate"/);
  });
});

describe.skipIf(!hasSamples())('patchface on the sample photos', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'patchface-cli-'));
    cacheDir = join(dir, 'cache');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('compare --json has the documented shape and says "same" for Obama vs Obama', async () => {
    const r = await patchface(
      'compare',
      join(SAMPLES, 'whitehouse/obama_1.jpg'),
      join(SAMPLES, 'whitehouse/obama_2.jpg'),
      '--model',
      'fullface',
      '--json',
    );
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(Object.keys(json).sort()).toEqual(COMPARE_JSON_KEYS);
    expect(json.model).toBe('fullface');
    expect(json).toMatchObject({ hide: [], cells: [], kept: [] });
    expect(json.fullScore).toBe(json.score);
    expect(json.same).toBe(true);
    expect(json.patches).toEqual([]);
    expect(json.constantPart).toBeNull();
    for (const side of ['a', 'b']) {
      expect(json.faces[side].box).toHaveLength(4);
      expect(json.faces[side].landmarks5).toHaveLength(10);
    }
  });

  it("compare with a patch model prints every contribution, their sums, and the constant coordinate's part", async () => {
    const entry = (await readManifest()).models.find((m) => m.id === 'rrf56')!;
    const args = [join(SAMPLES, 'whitehouse/obama_1.jpg'), join(SAMPLES, 'nasa/Christina_Koch.jpg'), '--model', 'rrf56'];
    const j = await patchface('compare', ...args, '--json');
    expect(j.code, j.stderr).toBe(0);
    const json = JSON.parse(j.stdout) as { score: number; patches: { a: number; b: number }[]; constantPart: number | null };
    expect(json.patches).toHaveLength(entry.patches!.length);
    expect(Math.abs(json.patches.reduce((s, p) => s + p.a, 0) - json.score)).toBeLessThan(1e-6);
    const t = await patchface('compare', ...args);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toContain(`(= score ${json.score.toFixed(5)})`);
    if (entry.constant != null) {
      // c² / (|A| |B|) > 0
      expect(json.constantPart).toBeGreaterThan(0);
      expect(t.stdout).toContain(`Constant coordinate: ${json.constantPart!.toFixed(4)} of the score ${json.score.toFixed(4)}`);
    } else {
      expect(json.constantPart).toBeNull();
      expect(t.stdout).not.toContain('Constant coordinate');
    }
  });

  it('compare --hide drops the patches that touch the region, with margins that add up to S - t', async () => {
    const manifest = await readManifest();
    const entry = manifest.models.find((m) => m.id === 'rrf28')!;
    const args = [join(SAMPLES, 'whitehouse/obama_1.jpg'), join(SAMPLES, 'nasa/Christina_Koch.jpg'), '--model', 'rrf28'];
    const full = JSON.parse((await patchface('compare', ...args, '--json')).stdout);
    expect(full.kept).toHaveLength(49);
    const sumMargins = (ps: { marginA: number | null }[]) => ps.reduce((s, p) => s + (p.marginA ?? 0), 0);
    expect(sumMargins(full.patches)).toBeCloseTo(full.score - full.threshold, 9);
    const r = await patchface('compare', ...args, '--hide', 'lower-half', '--json');
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.hide).toEqual(['lower-half']);
    expect(json.kept).toEqual(Array.from({ length: 21 }, (_, i) => i));
    expect(json.fullScore).toBeCloseTo(full.score, 12);
    expect(Math.abs(json.score - full.score)).toBeGreaterThan(1e-3);
    const calibrated = entry.hide?.['lower-half']?.threshold ?? null;
    expect(json.threshold).toBe(calibrated);
    expect(json.same).toBe(calibrated === null ? null : json.score >= calibrated);
    for (const [i, p] of json.patches.entries()) {
      if (i >= 21) expect(p).toMatchObject({ a: 0, b: 0, marginA: null, marginB: null });
    }
    expect(json.patches.reduce((s: number, p: { a: number }) => s + p.a, 0)).toBeCloseTo(json.score, 9);
    if (calibrated !== null) expect(sumMargins(json.patches)).toBeCloseTo(json.score - calibrated, 9);
    const t = await patchface('compare', ...args, '--hide', 'lower-half');
    expect(t.stdout).toMatch(/Kept 21 of 49 patches/);
    expect(t.stdout).toContain(`with the region hidden ${json.score.toFixed(4)}`);
    // Every 56 px patch touches the eyes: the command says there is nothing left, not a number.
    const none = await patchface('compare', ...args.slice(0, 2), '--model', 'rrf56', '--hide', 'eyes', '--json');
    expect(none.code, none.stderr).toBe(0);
    expect(JSON.parse(none.stdout)).toMatchObject({ score: null, same: null, kept: [] });
    const bad = await patchface('compare', ...args, '--hide', 'chin');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown region "chin"; choose from eyes/);
  });

  it('compare names the file and the reason when a photo cannot be decoded', async () => {
    const bad = join(dir, 'notes.jpg');
    await writeFile(bad, 'just some text\n');
    const r = await patchface('compare', bad, join(SAMPLES, 'whitehouse/obama_1.jpg'), '--model', 'fullface');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('notes.jpg');
    expect(r.stderr).toMatch(/not an image|not a photo|text/i);
  });

  it('compare can pick the second face of the two-face photo', async () => {
    const photo = join(SAMPLES, 'nasa/morgan_and_hague_iss_20mp.jpg');
    const r = await patchface('compare', photo, photo, '--face-b', '2', '--model', 'fullface', '--json');
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.faces.a.found).toBe(2);
    expect(json.faces.a.box).not.toEqual(json.faces.b.box);
    expect(json.same).toBe(false);
  });

  it("prepare-training keeps each face, its teacher targets and the teacher's view, row for row, and resumes", async () => {
    const data = join(dir, 'train');
    await mkdir(join(data, 'utkface'), { recursive: true });
    for (const name of ['obama_1.jpg', 'obama_2.jpg']) await copyFile(join(SAMPLES, 'whitehouse', name), join(data, 'utkface', name));
    const out = join(dir, 'prepared');
    const first = await patchface('prepare-training', data, '--out', out);
    expect(first.code, first.stderr).toBe(0);
    const rows = (await readFile(join(out, 'index.tsv'), 'utf8')).trim().split('\n').slice(1);
    expect(rows.map((r) => r.split('\t')[1])).toEqual(['utkface/obama_1.jpg', 'utkface/obama_2.jpg']);
    const sizes = async () =>
      Promise.all(['faces128.u8', 'teacher.f32', 'chips.u8', 'chipframe.f32'].map(async (f) => (await stat(join(out, f))).size));
    // 128 px faces, two 128-d targets, the 150 px chip with 20 px around it, a 2x3 frame map.
    const twoRows = [128 * 128 * 3, 2 * 128 * 4, 190 * 190 * 3, 6 * 4].map((b) => 2 * b);
    expect(await sizes()).toEqual(twoRows);
    // Both faces fill the ArcFace frame alike, so the frame -> chip map is a similarity a little
    // larger than 1 (the chip sees more of the head) that puts the stored face's centre near the chip's.
    const frame = new Float32Array((await readFile(join(out, 'chipframe.f32'))).buffer.slice(0, 24));
    const scale = Math.hypot(frame[0], frame[3]);
    expect(scale).toBeGreaterThan(1);
    expect(scale).toBeLessThan(2);
    expect(Math.abs(frame[0] * 63.5 + frame[1] * 63.5 + frame[2] - 94.5)).toBeLessThan(15);
    const again = await patchface('prepare-training', data, '--out', out);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/2 already prepared, 0 to go/);
    expect(await sizes()).toEqual(twoRows);
    // A cache from before the teacher's views were kept cannot be extended row for row.
    await unlink(join(out, 'chipframe.f32'));
    const old = await patchface('prepare-training', data, '--out', out);
    expect(old.code).toBe(1);
    expect(old.stderr).toMatch(/prepared before chips.u8 .* prepare into a new --out folder/);
  });

  it('eval pairs reports metrics, counts an unreadable file as an error, and names it', async () => {
    await copySamples(dir, PAIR_PHOTOS.slice(0, 6));
    await writeFile(join(dir, 'broken.jpg'), new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16]));
    const rows = [
      ['obama_1.jpg', 'obama_2.jpg', 1],
      ['Andrew_Morgan.jpg', 'andrew_morgan_iss.jpg', 1],
      ['obama_1.jpg', 'Nick_Hague.jpg', 0],
      ['Karen_Nyberg.jpg', 'Andrew_Morgan.jpg', 0],
      ['broken.jpg', 'obama_1.jpg', 1],
    ];
    // Two folds, each with matched and mismatched pairs.
    const tsv = ['a\tb\tsame\tfold', ...rows.map((r, i) => `${r[0]}\t${r[1]}\t${r[2]}\t${i % 2}`)].join('\n');
    await writeFile(join(dir, 'pairs.tsv'), tsv);
    const evalPairs = (...args: string[]) => patchface('eval', 'pairs', join(dir, 'pairs.tsv'), '--root', dir, ...args);
    const r = await evalPairs('--model', 'fullface', '--json');
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(Object.keys(json.fullface).sort()).toEqual(['accuracy', 'auc', 'folds', 'noFace', 'pairs', 'std', 'threshold']);
    expect(json.fullface.pairs).toBe(5);
    expect(json.fullface.noFace).toBe(1);
    expect(json.fullface.folds).toHaveLength(2);
    expect(r.stderr).toMatch(/broken\.jpg: .*(truncated|corrupt)/i);
    expect(r.stderr).toMatch(/images:/);
    expect(r.stderr).not.toMatch(/embedding cache/);

    // The same run again reads each embedding back instead of running the model, and scores the same.
    // --scores writes every pair's score: a row per pair in input order, NaN where a photo had no face.
    const scoresFile = join(dir, 'scores.tsv');
    const again = await evalPairs('--model', 'fullface', '--json', '--scores', scoresFile);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/embedding cache: 6 of 7 image embeddings reused/);
    expect(again.stderr).toMatch(/broken\.jpg: .*(truncated|corrupt)/i);
    expect(JSON.parse(again.stdout)).toEqual(json);
    const [header, ...lines] = (await readFile(scoresFile, 'utf8')).trimEnd().split('\n');
    expect(header).toBe('fold\tsame\ta\tb\tfullface\tfullface.correct');
    const scored = lines.map((l) => l.split('\t'));
    expect(scored.map((c) => c.slice(0, 4))).toEqual(rows.map((r, i) => [String(i % 2), String(r[2]), r[0], r[1]]));
    const scores = scored.map((c) => Number(c[4]));
    expect(scores[4]).toBeNaN();
    // The per-pair verdicts are the protocol's: per fold, they give its accuracy.
    const correct = scored.map((c) => Number(c[5]));
    expect(correct[4]).toBe(0);
    const right = correct.reduce((a, b) => a + b, 0);
    expect(again.stderr).toMatch(
      new RegExp(
        `fullface: ${right} of 5 pairs right; wrong: ${1 - correct[0] + (1 - correct[1]) + 1} missed matches, ` +
          `${1 - correct[2] + (1 - correct[3])} false matches; one threshold chosen in hindsight on every pair: 4 right`,
      ),
    );
    for (const k of [0, 1]) {
      const inFold = correct.filter((_, i) => i % 2 === k);
      expect(inFold.reduce((a, b) => a + b, 0) / inFold.length).toBeCloseTo(json.fullface.folds[k], 12);
    }
    // The same person scores above both pairs of different people.
    for (const same of scores.slice(0, 2)) for (const other of scores.slice(2, 4)) expect(same).toBeGreaterThan(other);

    // --presets: every model with each region hidden alone; a patch model reuses its features
    // (no new embedding), fullface runs again on the photo with the region in grey.
    const presets = await evalPairs('--model', 'rrf56', '--model', 'fullface', '--presets', '--json');
    expect(presets.code, presets.stderr).toBe(0);
    const pj = JSON.parse(presets.stdout);
    expect(Object.keys(pj.rrf56.hide)).toEqual(['eyes', 'nose', 'mouth', 'lower-half', 'upper-half', 'left-half', 'right-half']);
    expect(pj.rrf56.hide.eyes).toBeNull();
    expect(pj.rrf56.hide['lower-half'].keptPatches).toBe(5);
    expect(pj.fullface.hide['lower-half'].keptPatches).toBeNull();
    expect(pj.fullface.accuracy).toBe(json.fullface.accuracy);
    // 6 photos x (rrf56 + fullface + fullface with each of 7 regions in grey) = 54 embeddings; 6 fullface ones were cached.
    expect(presets.stderr).toMatch(/embedding cache: 6 of 63 image embeddings reused/);
    const hidden = await evalPairs('--model', 'rrf56', '--model', 'fullface', '--hide', 'lower-half', '--json');
    expect(hidden.code, hidden.stderr).toBe(0);
    const hj = JSON.parse(hidden.stdout);
    expect(hj.rrf56).toMatchObject({ hidden: ['lower-half'], keptPatches: 5, accuracy: pj.rrf56.hide['lower-half'].accuracy });
    expect(hj.fullface.accuracy).toBe(pj.fullface.hide['lower-half'].accuracy);
    expect(hidden.stderr).toMatch(/embedding cache: 12 of 14 image embeddings reused/);
  });
});
