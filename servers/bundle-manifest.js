// Plain JavaScript, typed by bundle-manifest.d.ts: bin/tiketi-sim.js reads bundles before any
// TypeScript can load. The bundles themselves are built by entry-bundle.ts.
import { readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Inside the project, so a bundle's `import 'pg'` finds the project's node_modules. */
export const DEFAULT_BUNDLES_DIR = join(ROOT, '.tiketi-sim', 'bundles');

/** @param {string} entry */
export function bundleName(entry) {
  return relative(ROOT, entry)
    .replace(/\.ts$/, '')
    .replace(/[^A-Za-z0-9_-]+/g, '_');
}

/**
 * @param {string} entry
 * @param {string} dir
 */
export function manifestPath(entry, dir) {
  return join(dir, `${bundleName(entry)}.json`);
}

/**
 * @param {string} entry
 * @param {string} [dir]
 * @returns {string | undefined}
 */
export function currentBundle(entry, dir = DEFAULT_BUNDLES_DIR) {
  /** @type {{ main: string; inputs: [string, number, number][] }} */
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath(entry, dir), 'utf8'));
  } catch {
    return undefined; // never built here
  }
  for (const [path, mtimeMs, size] of manifest.inputs) {
    try {
      const s = statSync(path);
      if (s.mtimeMs !== mtimeMs || s.size !== size) return undefined;
    } catch {
      return undefined; // a source is gone
    }
  }
  try {
    statSync(manifest.main);
  } catch {
    return undefined; // its build was removed
  }
  return manifest.main;
}
