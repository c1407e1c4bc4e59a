/**
 * The inference layer's two guards against a hung page, with fakes in place of onnxruntime and
 * of the worker: WebGPU work is serialised across models (creating a session while another model
 * ran crashed onnxruntime-web's WebGPU backend), and an error outside any request fails the
 * requests in flight instead of leaving them waiting forever.
 */
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/core/manifest.ts';
import { InferenceClient, type WorkerLike } from '../../src/inference/client.ts';
import { OrtModelRunner, type OrtModule } from '../../src/inference/modelRunner.ts';

const manifest = {
  version: 1,
  models: ['m1', 'm2'].map((id) => ({
    id,
    file: `${id}.onnx`,
    sha256: '',
    role: 'embedder',
    kind: 'fullface',
    input: {},
    output: {},
    patches: null,
    regionWeights: null,
    threshold: null,
    lfw: null,
  })),
} as unknown as Manifest;

/** onnxruntime stand-in whose session creations and runs each take a few ms, and that counts overlap. */
function fakeOrt() {
  let active = 0;
  const stats = { maxActive: 0, log: [] as string[] };
  const busy = async (what: string) => {
    active++;
    stats.maxActive = Math.max(stats.maxActive, active);
    stats.log.push(`start ${what}`);
    await new Promise((r) => setTimeout(r, 15));
    stats.log.push(`end ${what}`);
    active--;
  };
  const ort = {
    Tensor: class {
      constructor(
        readonly type: string,
        readonly data: Float32Array,
        readonly dims: number[],
      ) {}
    },
    InferenceSession: {
      create: async (bytes: Uint8Array) => {
        const id = new TextDecoder().decode(bytes);
        await busy(`create ${id}`);
        return {
          inputNames: ['x'],
          outputNames: ['y'],
          run: async (feeds: Record<string, { data: Float32Array; dims: number[] }>) => {
            await busy(`run ${id}`);
            return { y: { data: feeds.x.data, dims: feeds.x.dims } };
          },
          release: async () => undefined,
        };
      },
    },
  };
  return { ort: ort as unknown as OrtModule, stats };
}

const input = { data: new Float32Array([1, 2]), dims: [1, 2] };
const loadModelBytes = async (file: string) => new TextEncoder().encode(file.replace('.onnx', ''));

describe('OrtModelRunner', () => {
  it('with oneAtATime, never creates or runs two things at once, across models', async () => {
    const { ort, stats } = fakeOrt();
    const runner = new OrtModelRunner(ort, manifest, { loadModelBytes, oneAtATime: true });
    const out = await Promise.all([runner.run('m1', input), runner.run('m2', input), runner.session('m2'), runner.run('m1', input)]);
    expect(stats.maxActive).toBe(1);
    expect((out[0] as Record<string, { data: Float32Array }>).y.data).toEqual(input.data);
    // Strictly alternating start/end: nothing began before the previous thing ended.
    stats.log.forEach((line, i) => expect(line.startsWith(i % 2 === 0 ? 'start' : 'end'), stats.log.join('\n')).toBe(true));
  });

  it('without it (WASM), different models may overlap', async () => {
    const { ort, stats } = fakeOrt();
    const runner = new OrtModelRunner(ort, manifest, { loadModelBytes });
    await Promise.all([runner.run('m1', input), runner.run('m2', input)]);
    expect(stats.maxActive).toBe(2);
  });
});

describe('InferenceClient', () => {
  it('fails every request in flight when the worker reports an error outside any request', async () => {
    let deliver: (data: unknown) => void = () => undefined;
    const worker: WorkerLike = {
      postMessage: () => undefined,
      addEventListener: (type: string, listener: (event: MessageEvent) => void) => {
        if (type === 'message') deliver = (data) => listener({ data } as MessageEvent);
      },
      terminate: () => undefined,
    } as WorkerLike;
    const client = new InferenceClient(worker);
    const first = client.request('release', { photoId: 'x' });
    const second = client.request('release', { photoId: 'y' });
    deliver({ type: 'fatal', message: 'memory access out of bounds' });
    await expect(first).rejects.toThrow(/stopped with an error \(memory access out of bounds\).*\?ep=wasm/);
    await expect(second).rejects.toThrow(/memory access out of bounds/);
    // Later requests are answered as usual.
    const third = client.request('release', { photoId: 'z' });
    deliver({ id: 3, ok: true, result: null });
    await expect(third).resolves.toBeNull();
  });
});
