import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { currentBundle } from './bundle-manifest.js';
import { type NodeEntry, nodeEntry } from './entry-bundle.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ENTRY = fileURLToPath(new URL('./fixtures/bundle/entry.ts', import.meta.url));
const IMPORTED = fileURLToPath(new URL('./fixtures/bundle/where.ts', import.meta.url));
const BUNDLER = fileURLToPath(new URL('./fixtures/bundle/bundler.ts', import.meta.url));

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A bundles folder inside the project: a bundle finds npm packages from where it lies. */
function bundlesDir(): string {
  const dir = mkdtempSync(join(ROOT, '.tiketi-sim', 'test-bundles-'));
  dirs.push(dir);
  return dir;
}

function run(entry: NodeEntry, args: string[] = []): unknown {
  return JSON.parse(
    execFileSync(process.execPath, [...entry.execArgv, entry.modulePath, ...args], { encoding: 'utf8' }),
  );
}

describe('entry bundles', () => {
  it('runs an entry from a bundle whose modules keep their sources’ locations', async () => {
    const dir = bundlesDir();
    const entry = await nodeEntry(ENTRY, { dir });
    expect(entry.bundled).toBe(true);
    expect(entry.modulePath.startsWith(dir)).toBe(true);
    expect(run(entry)).toEqual({ entry: ENTRY, imported: IMPORTED });
  });

  it('builds again once a source changes, and not before', async () => {
    const dir = bundlesDir();
    const first = await nodeEntry(ENTRY, { dir });
    expect(currentBundle(ENTRY, dir)).toBe(first.modulePath);
    expect((await nodeEntry(ENTRY, { dir })).modulePath).toBe(first.modulePath);
    const later = new Date(Date.now() + 1_000);
    utimesSync(IMPORTED, later, later);
    expect(currentBundle(ENTRY, dir)).toBeUndefined();
    const second = await nodeEntry(ENTRY, { dir });
    expect(second.modulePath).not.toBe(first.modulePath);
    expect(currentBundle(ENTRY, dir)).toBe(second.modulePath);
  });

  it('a bundled bundler (the CLI) makes bundles that keep their sources’ locations too', async () => {
    const dir = bundlesDir();
    const bundler = await nodeEntry(BUNDLER, { dir });
    const made = run(bundler, [ENTRY, dir]) as NodeEntry;
    expect(made.bundled).toBe(true);
    expect(run(made)).toEqual({ entry: ENTRY, imported: IMPORTED });
  });
});
