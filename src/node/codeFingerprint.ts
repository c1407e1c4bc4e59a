/**
 * The fingerprint of the code that turns a photo into an embedding, which keys the embedding
 * cache. An LFW run costs an hour, so the key holds what can change an embedding and nothing
 * else:
 * - the source files reachable by import from the entry points below (decoding, the runtime,
 *   the pipeline), not whole folders: a view helper, a metric or a report is never reached, so
 *   editing one keeps every cached embedding;
 * - each file as esbuild prints it without types, comments or layout, so reformatting or a
 *   comment is not a change while any edit to what runs is;
 * - the locked version of every package those files import (onnxruntime, sharp, ...), and
 *   esbuild's own, since its printing defines "the same code".
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformSync, version as esbuildVersion } from 'esbuild';

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where an embedding is computed: every file these import, directly or not, is fingerprinted. */
export const EMBEDDING_ENTRY_POINTS = ['src/node/decodeImage.ts', 'src/node/runtime.ts', 'src/core/pipeline.ts'];

/** Static imports and re-exports (type-only ones are erased, so never followed), side-effect and dynamic imports. */
const IMPORT =
  /\b(?:import|export)\s+(type\s+)?[\w*{}\s,$]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function specifiers(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(IMPORT)) {
    if (m[1]) continue;
    out.push(m[2] ?? m[3] ?? m[4]);
  }
  return out;
}

function resolveLocal(fromFile: string, spec: string): string {
  const base = resolve(dirname(fromFile), spec);
  const found = [base, `${base}.ts`, `${base}.tsx`, join(base, 'index.ts')].find((f) => existsSync(f) && statSync(f).isFile());
  if (!found) throw new Error(`codeFingerprint: cannot resolve "${spec}" imported by ${fromFile}`);
  return found;
}

/** The package a bare specifier names: `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`. */
export function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Every local file reachable from the entry points (sorted, relative to root) and every package imported. */
export function importClosure(root: string, entryPoints: readonly string[]): { files: string[]; packages: string[] } {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const stack = entryPoints.map((f) => resolve(root, f));
  while (stack.length) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('.')) stack.push(resolveLocal(file, spec));
      else if (!spec.startsWith('node:')) packages.add(packageName(spec));
    }
  }
  return { files: [...seen].map((f) => relative(root, f)).sort(), packages: [...packages].sort() };
}

/** The code as it runs: types, comments and layout removed, so only a change in behaviour changes it. */
export function normalisedCode(source: string, file: string): string {
  return transformSync(source, { loader: file.endsWith('.tsx') ? 'tsx' : 'ts', minifyWhitespace: true, legalComments: 'none' }).code;
}

function lockedVersion(lock: { packages?: Record<string, { version?: string }> }, name: string): string {
  return lock.packages?.[`node_modules/${name}`]?.version ?? 'unlocked';
}

let projectFingerprint: string | null = null;

/** SHA-256 over the normalised code of the embedding's import closure and the locked versions of its packages. */
export function codeFingerprint(root = PROJECT_ROOT, entryPoints: readonly string[] = EMBEDDING_ENTRY_POINTS): string {
  const isProject = root === PROJECT_ROOT && entryPoints === EMBEDDING_ENTRY_POINTS;
  if (isProject && projectFingerprint) return projectFingerprint;
  const { files, packages } = importClosure(root, entryPoints);
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  const hash = createHash('sha256').update(`esbuild ${esbuildVersion}\0`);
  for (const file of files) {
    hash
      .update(`${file}\0`)
      .update(normalisedCode(readFileSync(join(root, file), 'utf8'), file))
      .update('\0');
  }
  for (const name of packages) hash.update(`${name}@${lockedVersion(lock, name)}\0`);
  const digest = hash.digest('hex');
  if (isProject) projectFingerprint = digest;
  return digest;
}
