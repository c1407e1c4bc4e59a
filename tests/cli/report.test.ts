/**
 * `patchface report` on a small pair list built from the sample photos, with two pairs labelled
 * wrongly on purpose so that there are errors to list: every section is there, the mean maps are
 * the mean of the per-pair margins (recomputed here from `compare --json`), the worst-error lists
 * are ordered and hold only errors, and the file references nothing on the network.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReportData } from '../../src/cli/reportData.ts';
import { copySamples, hasSamples, PAIR_PHOTOS, PROJECT_ROOT } from '../support/env.ts';

const run = promisify(execFile);
const BIN = join(PROJECT_ROOT, 'bin/patchface.js');
// [a, b, same, fold]; the last two are labelled against the truth.
const PAIRS: [string, string, number, number][] = [
  ['obama_1.jpg', 'obama_2.jpg', 1, 0],
  ['Andrew_Morgan.jpg', 'andrew_morgan_iss.jpg', 1, 1],
  ['obama_1.jpg', 'Nick_Hague.jpg', 0, 0],
  ['Karen_Nyberg.jpg', 'Andrew_Morgan.jpg', 0, 1],
  ['Christina_Koch.jpg', 'Karen_Nyberg.jpg', 0, 0],
  ['Akihiko_Hoshide.jpg', 'obama_2.jpg', 0, 1],
  ['Christina_Koch.jpg', 'Akihiko_Hoshide.jpg', 1, 0],
  ['obama_2.jpg', 'andrew_morgan_iss.jpg', 1, 1],
];

describe.skipIf(!hasSamples())('patchface report', () => {
  let dir: string;
  let html: string;
  let data: ReportData;
  let stderr: string;
  const env = () => ({ ...process.env, PATCHFACE_CACHE: join(dir, 'cache') });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'patchface-report-'));
    await copySamples(dir, PAIR_PHOTOS);
    await writeFile(join(dir, 'pairs.tsv'), ['a\tb\tsame\tfold', ...PAIRS.map((p) => p.join('\t'))].join('\n'));
    const out = join(dir, 'report.html');
    const r = await run(process.execPath, [BIN, 'report', 'pairs', join(dir, 'pairs.tsv'), '--root', dir, '--out', out, '--worst', '2'], {
      cwd: PROJECT_ROOT,
      env: env(),
      maxBuffer: 1 << 24,
    });
    stderr = r.stderr;
    html = await readFile(out, 'utf8');
    const json = /<script type="application\/json" id="report-data">([^]*?)<\/script>/.exec(html)![1];
    data = JSON.parse(json) as ReportData;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('holds every section for every model, and shows its progress', () => {
    expect(data.models.map((m) => m.id)).toEqual(['fullface', 'rrf28', 'rrf56']);
    for (const id of [
      'metrics',
      'agreement',
      'model-rrf28',
      'roc-rrf28',
      'hist-rrf28',
      'maps-rrf28',
      'worst-rrf28',
      'maps-rrf56',
      'roc-fullface',
    ]) {
      expect(html).toContain(`id="${id}"`);
    }
    expect(html).toContain('fullface is a black box');
    for (const g of ['genuine', 'impostor', 'falseAccepts', 'falseRejects']) expect(html).toContain(`data-group="${g}"`);
    expect(html).toMatch(/TAR at FAR 1e-2/);
    expect(stderr).toMatch(/images: 8/);
    expect(stderr).toMatch(/report: rrf28: margins, curves and the worst errors/);
    expect(stderr).toMatch(/wrote .*report\.html: \d+\.\d\d MB, \d+\.\d s/);
    const rrf28 = data.models[1];
    expect(rrf28.metrics.pairs).toBe(8);
    expect(rrf28.tarAtFar.map((t) => t.far)).toEqual([1e-2, 1e-3]);
    expect(data.agreement.map((a) => a.model)).toEqual(['rrf28', 'rrf56']);
  });

  it('references nothing on the network: images are data URIs, styles inline', () => {
    expect(html).not.toMatch(/https?:/i);
    expect(html).not.toMatch(/<link\b|<script\b(?![^>]*application\/json)/i);
    expect(html).toMatch(/src="data:image\/jpeg;base64,/);
  });

  it('lists only errors, worst first, at most --worst of each', () => {
    let listed = 0;
    for (const m of data.models) {
      const { falseAccepts, falseRejects } = m.worst;
      expect(falseAccepts.length).toBeLessThanOrEqual(2);
      expect(falseRejects.length).toBeLessThanOrEqual(2);
      for (const w of falseAccepts) {
        expect(PAIRS.find((p) => p[0] === w.a && p[1] === w.b)![2]).toBe(0);
        expect(w.score).toBeGreaterThanOrEqual(w.threshold);
      }
      for (const w of falseRejects) {
        expect(PAIRS.find((p) => p[0] === w.a && p[1] === w.b)![2]).toBe(1);
        expect(w.score).toBeLessThan(w.threshold);
      }
      for (let k = 1; k < falseAccepts.length; k++) expect(falseAccepts[k - 1].score).toBeGreaterThanOrEqual(falseAccepts[k].score);
      for (let k = 1; k < falseRejects.length; k++) expect(falseRejects[k - 1].score).toBeLessThanOrEqual(falseRejects[k].score);
      expect(falseAccepts.length + falseRejects.length).toBe(Math.min(2, falseAccepts.length) + Math.min(2, falseRejects.length));
      listed += falseAccepts.length + falseRejects.length;
      for (const w of [...falseAccepts, ...falseRejects]) {
        expect(w.command).toContain(`--model ${m.id}`);
        if (m.patches) expect(w.pushes).toHaveLength(3);
      }
    }
    // The two wrong labels make errors to list: the test cannot pass on empty lists.
    expect(listed).toBeGreaterThan(0);
  });

  it('mean maps are the mean of the per-pair decision margins at each fold threshold', async () => {
    const m = data.models.find((x) => x.id === 'rrf28')!;
    const P = m.patches!.length;
    const thresholds = m.metrics.foldThresholds;
    expect(thresholds).toHaveLength(2);
    const expected = { genuine: new Float64Array(P), impostor: new Float64Array(P) };
    const counts = { genuine: 0, impostor: 0 };
    for (const [a, b, same, fold] of PAIRS) {
      const { stdout } = await run(process.execPath, [BIN, 'compare', join(dir, a), join(dir, b), '--model', 'rrf28', '--json'], {
        cwd: PROJECT_ROOT,
        env: env(),
        maxBuffer: 1 << 24,
      });
      const json = JSON.parse(stdout) as { score: number; patches: { a: number; b: number }[] };
      const t = thresholds[fold];
      const group = same ? 'genuine' : 'impostor';
      counts[group]++;
      json.patches.forEach((p, k) => (expected[group][k] += (p.a - t / P + (p.b - t / P)) / 2));
    }
    for (const g of ['genuine', 'impostor'] as const) {
      expect(m.meanMaps![g].count).toBe(counts[g]);
      m.meanMaps![g].margins.forEach((v, k) => expect(v).toBeCloseTo(expected[g][k] / counts[g], 5));
    }
    // Each listed error sits at its own fold's threshold.
    for (const w of [...m.worst.falseAccepts, ...m.worst.falseRejects]) expect(w.threshold).toBe(thresholds[w.fold]);
  });
});
