import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { buildAppBundle } from './app-build.ts';

const run = promisify(execFile);
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('the app build instances run', () => {
  it('is one bundled module that starts without node_modules (and reads its config first)', async () => {
    // Outside the repository, so nothing can resolve from a node_modules folder above it.
    const dir = mkdtempSync(join(tmpdir(), 'tiketi-app-build-'));
    dirs.push(dir);
    buildAppBundle(dir);
    expect(readdirSync(dir).sort()).toEqual(['BUILD', 'main.mjs', 'migrations']);
    expect(readdirSync(join(dir, 'migrations')).length).toBeGreaterThan(0);
    const started = await run(process.execPath, [join(dir, 'main.mjs')], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '' },
      timeout: 30_000,
    }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    // Every import resolved and the app got as far as its configuration check.
    expect(started.code).toBe(2);
    expect(started.stderr).toContain('invalid configuration');
    expect(started.stderr).toContain('DATABASE_URL');
    expect(started.stderr).not.toMatch(/Cannot find (module|package)/);
  }, 60_000);
});
