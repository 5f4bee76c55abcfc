/**
 * The TypeScript entries of the node processes the harness starts (app instances, ALB workers,
 * the fault proxy, load workers), run as esbuild bundles.
 *
 * tsx compiles as it loads: in each process, 0.2 s of CPU to start its loader, then a round trip
 * to it for every module, npm packages included. `up` starts six node processes beside itself on
 * two cores, and loading them was a third of its CPU. A bundle of an entry (its TypeScript in one
 * file, npm packages imported as usual) loads in half the time. A bundle is built on first use,
 * kept under `.tiketi-sim/bundles/`, and built again once one of its source files changes; when
 * it cannot be built or written, the entry runs through tsx as before.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Plugin } from 'esbuild';
import { bundleName, currentBundle, DEFAULT_BUNDLES_DIR, manifestPath } from './bundle-manifest.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/**
 * Builds no longer current are removed once a day old, or an hour old when newer ones number
 * {@link KEPT_BUILDS}: a process started from one loads some of its chunks on demand, later.
 */
const OLD_BUILD_MS = 24 * 3_600_000;
const SUPERSEDED_BUILD_MS = 3_600_000;
const KEPT_BUILDS = 4;

/** How to run an entry in a new node process: `node ...execArgv modulePath`. */
export interface NodeEntry {
  execArgv: string[];
  modulePath: string;
  /** Whether it runs from a bundle (else through tsx). */
  bundled: boolean;
}

/** What a build leaves beside its folder: the file to run and the sources it was made from (bundle-manifest.js). */
interface Manifest {
  main: string;
  /** Absolute path, modification time (ms) and size of each source file. */
  inputs: [string, number, number][];
}

export interface EntryBundleOptions {
  /** @default DEFAULT_BUNDLES_DIR */
  dir?: string;
}

const building = new Map<string, Promise<string | undefined>>();
const warned = new Set<string>();

/** `entry` as a bundle, built now if it has none or its sources changed; through tsx if that fails. */
export async function nodeEntry(entry: string, options: EntryBundleOptions = {}): Promise<NodeEntry> {
  const dir = options.dir ?? DEFAULT_BUNDLES_DIR;
  const bundle = currentBundle(entry, dir) ?? (await buildOnce(entry, dir));
  return bundle
    ? { execArgv: ['--enable-source-maps'], modulePath: bundle, bundled: true }
    : { execArgv: ['--import', 'tsx'], modulePath: entry, bundled: false };
}

/** Concurrent starts of the same entry (two ALB workers) share one build. */
function buildOnce(entry: string, dir: string): Promise<string | undefined> {
  const key = `${dir}|${entry}`;
  let pending = building.get(key);
  if (!pending) {
    pending = build(entry, dir)
      .catch((err: unknown) => {
        if (!warned.has(key)) {
          warned.add(key);
          process.emitWarning(
            `${relative(ROOT, entry)} runs through tsx: its bundle was not built (${(err as Error).message.split('\n')[0]})`,
          );
        }
        return undefined;
      })
      .finally(() => building.delete(key));
    building.set(key, pending);
  }
  return pending;
}

async function build(entry: string, dir: string): Promise<string> {
  const esbuild = await import('esbuild');
  const name = bundleName(entry);
  mkdirSync(dir, { recursive: true });
  // A folder per build: a process already running from an earlier one keeps its files.
  const outdir = join(dir, `${name}.${Date.now()}-${randomBytes(3).toString('hex')}`);
  const result = await esbuild.build({
    entryPoints: [entry],
    absWorkingDir: ROOT,
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    outExtension: { '.js': '.mjs' },
    metafile: true,
    logLevel: 'silent',
    plugins: [sourceLocations],
  });
  const main = join(outdir, `${basename(entry, '.ts')}.mjs`);
  const inputs = Object.keys(result.metafile.inputs).map((input): [string, number, number] => {
    const path = join(ROOT, input);
    const s = statSync(path);
    return [path, s.mtimeMs, s.size];
  });
  const manifest: Manifest = { main, inputs };
  const staging = `${manifestPath(entry, dir)}.${process.pid}.${randomBytes(3).toString('hex')}`;
  writeFileSync(staging, JSON.stringify(manifest));
  renameSync(staging, manifestPath(entry, dir)); // readers see the old manifest or the new one
  removeOldBuilds(dir, name, outdir);
  return main;
}

/**
 * Each module keeps its own `import.meta.url`: code that finds files beside itself (the app's
 * migrations, the edge's site, a worker's entry) finds them where the sources are.
 */
const IMPORT_META_URL = /\bimport\.meta\.url\b/g;

const sourceLocations: Plugin = {
  name: 'source-locations',
  setup(b) {
    // Our .ts and .js files (npm packages are not bundled). The pattern is a regular expression,
    // not the words themselves: this file is bundled too (into the CLI), and must not rewrite itself.
    b.onLoad({ filter: /\.[jt]s$/ }, ({ path }) => ({
      contents: readFileSync(path, 'utf8').replace(IMPORT_META_URL, JSON.stringify(pathToFileURL(path).href)),
      loader: path.endsWith('.ts') ? 'ts' : 'js',
    }));
  },
};

function removeOldBuilds(dir: string, name: string, current: string): void {
  const now = Date.now();
  const builds = readdirSync(dir)
    .filter((entry) => entry.startsWith(`${name}.`) && entry !== `${name}.json`)
    .map((entry) => join(dir, entry))
    .filter((path) => path !== current)
    .flatMap((path) => {
      try {
        return [{ path, ageMs: now - statSync(path).mtimeMs }];
      } catch {
        return []; // removed by another build meanwhile
      }
    })
    .sort((a, b) => a.ageMs - b.ageMs);
  builds.forEach(({ path, ageMs }, newer) => {
    if (ageMs > OLD_BUILD_MS || (newer >= KEPT_BUILDS && ageMs > SUPERSEDED_BUILD_MS))
      rmSync(path, { recursive: true, force: true });
  });
}
