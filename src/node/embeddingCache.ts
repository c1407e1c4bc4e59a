/**
 * Embedding cache for `eval`. On two cores an LFW run of one patch model takes an hour or more,
 * nearly all of it in the network, and a session may end before it does. What a model gives for a
 * photo depends only on the photo's bytes, the model file, the detections, the pipeline options
 * and the code that turns pixels into the network's input. All of them key the cache, the code by
 * its fingerprint (codeFingerprint.ts: the files an embedding runs and the versions of the packages
 * they import), so a change to what runs is a miss, never a stale number, while an edit elsewhere
 * (a view, a metric, a report) keeps every cached embedding. A stopped run then resumes
 * where it stopped, and an eval of three models after one of them changed recomputes only that one.
 *
 * One file per photo under a folder per model and setting: the features as float32 behind a
 * header of two uint32 (patches, dim), written under a temporary name and renamed, so a write cut
 * short is never read back. Stored under $PATCHFACE_CACHE (default ~/.cache/patchface), outside
 * the repository, beside the detection cache.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelEntry } from '../core/manifest.ts';
import type { Embedding, PipelineOptions } from '../core/pipeline.ts';
import { codeFingerprint } from './codeFingerprint.ts';
import { CACHE_DIR } from './faceCache.ts';

const HEADER_BYTES = 8;

/** Each write's temporary name is its own: two files of a dataset may hold the same photo. */
let writes = 0;

export class EmbeddingCache {
  private constructor(
    readonly model: ModelEntry,
    private readonly dir: string,
  ) {}

  /**
   * The cache of one model's embeddings under one setting: ``detections`` names the detection
   * cache the faces come from (its models and options), ``pick`` the rule that chose the face.
   */
  static async open(
    model: ModelEntry,
    pipeline: PipelineOptions,
    detections: string,
    pick: string,
    dir = CACHE_DIR,
    code = codeFingerprint(),
    runtime = 'native',
  ): Promise<EmbeddingCache> {
    const signature = JSON.stringify({
      v: 1,
      model: model.id,
      sha256: model.sha256,
      pipeline: Object.fromEntries(Object.entries(pipeline).sort(([a], [b]) => a.localeCompare(b))),
      detections,
      pick,
      code,
      // Only when not the default, so the default's caches keep their name.
      ...(runtime === 'native' ? {} : { runtime }),
    });
    const name = createHash('sha256').update(signature).digest('hex').slice(0, 16);
    const folder = join(dir, `embeddings-${model.id}-${name}`);
    await mkdir(folder, { recursive: true });
    return new EmbeddingCache(model, folder);
  }

  private path(key: string): string {
    return join(this.dir, `${key}.f32`);
  }

  async get(key: string): Promise<Embedding | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.path(key));
    } catch {
      return undefined;
    }
    if (bytes.length < HEADER_BYTES) return undefined;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const patches = view.getUint32(0, true);
    const dim = view.getUint32(4, true);
    if (bytes.length !== HEADER_BYTES + 4 * patches * dim) return undefined;
    // A copy: the Buffer may share a pool whose offset is not 4-aligned.
    const features = new Float32Array(patches * dim);
    new Uint8Array(features.buffer).set(bytes.subarray(HEADER_BYTES));
    return { modelId: this.model.id, features, patches, dim };
  }

  async set(key: string, e: Embedding): Promise<void> {
    const out = new Uint8Array(HEADER_BYTES + e.features.byteLength);
    const view = new DataView(out.buffer);
    view.setUint32(0, e.patches, true);
    view.setUint32(4, e.dim, true);
    out.set(new Uint8Array(e.features.buffer, e.features.byteOffset, e.features.byteLength), HEADER_BYTES);
    const tmp = `${this.path(key)}.${process.pid}-${writes++}.tmp`;
    await writeFile(tmp, out);
    await rename(tmp, this.path(key));
  }
}
