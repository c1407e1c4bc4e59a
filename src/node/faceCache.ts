/**
 * Detection cache for batch runs (eval, training-data preparation): detecting faces is by far
 * the slowest stage (SSD at 512x512), and it does not depend on the embedding models. Entries
 * are keyed by the file's content (SHA-256 of its bytes, so a copied or re-mounted dataset with
 * new paths or timestamps still hits) and by everything detection depends on (detector and
 * landmark model checksums, options), so a changed model or photo is simply a miss.
 * Stored as JSON lines under $PATCHFACE_CACHE (default ~/.cache/patchface), outside the repo.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { appendFile, mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fivePointsFrom68 } from '../core/landmarks.ts';
import type { Manifest } from '../core/manifest.ts';
import { findModel } from '../core/manifest.ts';
import {
  DEFAULT_DETECTOR,
  DEFAULT_MIN_SCORE,
  detectFaces,
  fallbackDetectorFor,
  type DetectOptions,
  type ModelRunner,
  type PipelineOptions,
} from '../core/pipeline.ts';
import type { BoxXYWH, DetectedFace, RgbImage } from '../core/types.ts';

export const CACHE_DIR = process.env.PATCHFACE_CACHE ?? join(homedir(), '.cache/patchface');

interface StoredFace {
  box: BoxXYWH;
  score: number;
  landmarks68: number[];
}

export class FaceCache {
  private readonly entries = new Map<string, StoredFace[]>();
  private readonly file: string;

  /** The detection setting this cache holds (models and options), hashed: later caches key on it. */
  readonly signature: string;

  private constructor(file: string, signature: string) {
    this.file = file;
    this.signature = signature;
    if (existsSync(file)) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line) continue;
        try {
          const { key, faces } = JSON.parse(line) as { key: string; faces: StoredFace[] };
          this.entries.set(key, faces);
        } catch {
          // A line cut short by an interrupted run: ignore it, it will be recomputed.
        }
      }
    }
  }

  static async open(manifest: Manifest, options: DetectOptions = {}, dir = CACHE_DIR): Promise<FaceCache> {
    const detector = findModel(manifest, options.detector ?? DEFAULT_DETECTOR);
    const landmarks = findModel(manifest, 'landmarks68');
    const fallbackId = fallbackDetectorFor(options);
    const signature = JSON.stringify({
      v: 2,
      detector: detector.sha256,
      landmarks: landmarks.sha256,
      minScore: options.minScore ?? DEFAULT_MIN_SCORE,
      padRetry: options.padRetry !== false,
      // Only when there is one, so caches made without a fallback keep their name.
      ...(fallbackId === null ? {} : { fallback: findModel(manifest, fallbackId).sha256 }),
    });
    await mkdir(dir, { recursive: true });
    const name = createHash('sha256').update(signature).digest('hex').slice(0, 16);
    return new FaceCache(join(dir, `faces-${name}.jsonl`), name);
  }

  get size(): number {
    return this.entries.size;
  }

  key(fileBytes: Uint8Array): string {
    return photoKey(fileBytes);
  }

  get(key: string): DetectedFace[] | undefined {
    const faces = this.entries.get(key);
    return faces?.map((f) => {
      const landmarks68 = new Float32Array(f.landmarks68);
      return { box: f.box, score: f.score, landmarks68, landmarks5: fivePointsFrom68(landmarks68) };
    });
  }

  async set(key: string, faces: DetectedFace[]): Promise<void> {
    const stored: StoredFace[] = faces.map((f) => ({ box: f.box, score: f.score, landmarks68: Array.from(f.landmarks68) }));
    this.entries.set(key, stored);
    await appendFile(this.file, `${JSON.stringify({ key, faces: stored })}\n`);
  }
}

/** A photo's key in the caches: the SHA-256 of its bytes. Hashing a photo costs far less than detecting in it. */
export function photoKey(fileBytes: Uint8Array): string {
  return createHash('sha256').update(fileBytes).digest('hex');
}

/** detectFaces, answered from the cache when this photo was seen with the same models before. */
export async function detectFacesCached(
  fileBytes: Uint8Array,
  image: RgbImage,
  runner: ModelRunner,
  manifest: Manifest,
  pipeline: PipelineOptions,
  cache: FaceCache | null,
): Promise<DetectedFace[]> {
  const key = cache ? cache.key(fileBytes) : '';
  const hit = cache?.get(key);
  if (hit) return hit;
  const faces = await detectFaces(image, runner, manifest, pipeline);
  await cache?.set(key, faces);
  return faces;
}
