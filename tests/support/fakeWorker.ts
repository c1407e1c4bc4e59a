/**
 * A fake inference worker for component tests: speaks the real protocol (so the real client and
 * controller run) but answers with tiny deterministic embeddings instead of running models.
 * Photos are steered by file name: "bad*" -> not-an-image error, "noface*" -> no face,
 * "two*" -> two faces.
 */
import type { Manifest, ModelEntry } from '../../src/core/manifest.ts';
import type { Embedding } from '../../src/core/pipeline.ts';
import type { BoxXYWH } from '../../src/core/types.ts';
import type { WorkerLike } from '../../src/inference/client.ts';
import type { FaceInfo, Request, WorkerMessage } from '../../src/inference/protocol.ts';

const grid = (side: number): BoxXYWH[] => {
  const boxes: BoxXYWH[] = [];
  for (let y = 0; y < 112; y += side) for (let x = 0; x < 112; x += side) boxes.push([x, y, side, side]);
  return boxes;
};

const input = { name: 'faces', size: 112, layout: 'NCHW', rgb: true, mean: 127.5, scale: 1 / 128 } as const;
function model(id: string, kind: string, patches: BoxXYWH[] | null, threshold: number | null, constant: number | null = null): ModelEntry {
  return {
    constant,
    id,
    file: `${id}.onnx`,
    sha256: '',
    role: 'embedder',
    kind,
    input: { ...input, size: kind === 'fullface' ? 150 : 112 },
    output: {},
    patches,
    regionWeights: null,
    threshold,
    lfw: threshold === null ? null : { accuracy: 0.989, std: 0.004, protocol: '10-fold' },
  };
}

export function fakeManifest(calibrated = true): Manifest {
  return {
    version: 1,
    models: [
      {
        ...model('rrf28', 'mean-cosine', grid(28), calibrated ? 0.31 : null),
        // A region's own calibration, as `eval lfw --write-manifest` stores it.
        hide: calibrated ? { 'lower-half': { threshold: 0.2, accuracy: 0.9, std: 0.01, auc: 0.95, keptPatches: 8 } } : null,
      },
      model('rrf56', 'mean-cosine', grid(56), null, FAKE_RRF56_CONSTANT),
      model('fullface', 'fullface', null, calibrated ? 0.6 : null),
    ],
  };
}

export const FEATURE_DIM = 4;
/** rrf56's constant coordinate in the fake manifest, as the real rrf56 has one. */
const FAKE_RRF56_CONSTANT = 0.4;

/**
 * Deterministic features: a hash of (photo, face, patch, k), mostly positive; with a constant,
 * each patch feature's last coordinate is that constant, as the real graphs append it.
 */
function fakeFeatures(seed: string, patches: number, constant: number | null = null): Float32Array {
  const out = new Float32Array(patches * FEATURE_DIM);
  let h = 2166136261;
  for (const c of seed) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  for (let i = 0; i < out.length; i++) {
    h = Math.imul(h ^ i, 16777619) >>> 0;
    out[i] = constant !== null && i % FEATURE_DIM === FEATURE_DIM - 1 ? constant : 0.5 + (h % 1000) / 1000 - 0.3;
  }
  return out;
}

/** The features the fake worker answers for one face ("<file name>#<face>") and one model. */
export function fakeModelFeatures(face: string, entry: ModelEntry): Float32Array {
  return fakeFeatures(`${face}/${entry.id}`, entry.patches?.length ?? 1, entry.constant ?? null);
}

export class FakeWorker implements WorkerLike {
  readonly received: Request[] = [];
  terminated = false;
  /** While true, background embed requests wait in `held` until `releaseBackground()`. */
  holdBackground = false;
  /** When set, background embed requests fail with this message. */
  failBackground: string | null = null;
  private readonly held: Request[] = [];
  private readonly listeners: ((e: MessageEvent) => void)[] = [];
  private readonly names = new Map<string, string>();

  constructor(private readonly manifest: Manifest = fakeManifest()) {}

  addEventListener(type: string, listener: (e: never) => void): void {
    if (type === 'message') this.listeners.push(listener as (e: MessageEvent) => void);
  }

  terminate(): void {
    this.terminated = true;
  }

  emit(message: WorkerMessage): void {
    for (const l of this.listeners) l({ data: message } as MessageEvent);
  }

  postMessage(message: unknown): void {
    const req = message as Request;
    this.received.push(req);
    const background = req.type === 'embed' && (req.payload as { background?: boolean }).background;
    if (background && this.holdBackground) this.held.push(req);
    else if (background && this.failBackground)
      setTimeout(() => this.emit({ id: req.id, ok: false, error: { message: this.failBackground! } }), 0);
    else setTimeout(() => this.emit(this.answer(req)), 0);
  }

  releaseBackground(): void {
    this.holdBackground = false;
    for (const req of this.held.splice(0)) setTimeout(() => this.emit(this.answer(req)), 0);
  }

  private answer(req: Request): WorkerMessage {
    const { id } = req;
    switch (req.type) {
      case 'init':
        return { id, ok: true, result: { backend: 'wasm', threads: 2, manifest: this.manifest, adapter: null } };
      case 'analyse': {
        const { photoId, file } = req.payload as { photoId: string; file: File };
        const name = file.name ?? '';
        this.names.set(photoId, name);
        if (name.startsWith('bad'))
          return { id, ok: false, error: { code: 'not-an-image', message: 'This file is not an image PatchFace recognises.' } };
        const face = (x: number): FaceInfo => ({ box: [x, 40, 120, 120], score: 0.9, landmarks5: new Float32Array(10) });
        const faces = name.startsWith('noface') ? [] : name.startsWith('two') ? [face(20), face(200)] : [face(20)];
        return { id, ok: true, result: { width: 400, height: 300, faces, timings: { decode: 5, detect: 20, landmarks: 3 } } };
      }
      case 'embed': {
        const { photoId, faceIndex, models } = req.payload as { photoId: string; faceIndex: number; models: string[] };
        const seed = `${this.names.get(photoId)}#${faceIndex}`;
        const embeddings: Embedding[] = models.map((m) => {
          const entry = this.manifest.models.find((e) => e.id === m)!;
          return { modelId: m, features: fakeModelFeatures(seed, entry), patches: entry.patches?.length ?? 1, dim: FEATURE_DIM };
        });
        const aligned = { width: 112, height: 112, data: new Uint8Array(112 * 112 * 3).fill(128) };
        return { id, ok: true, result: { aligned, embeddings, timings: { align: 1, 'embed:rrf28': 10 } } };
      }
      case 'release':
        return { id, ok: true, result: null };
    }
  }
}
