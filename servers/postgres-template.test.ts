import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { requirePostgres } from './binaries.ts';
import { runAsIdentity, startPostgresServer } from './postgres-server.ts';
import { initDataDir, templatePath } from './postgres-template.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The owner data folders are made for (root runs PostgreSQL as `nobody`). */
function owner(): { identity?: { uid: number; gid: number } } {
  const identity = runAsIdentity();
  return identity ? { identity } : {};
}

describe('PostgreSQL data folder template', () => {
  it('the first server initialises and caches the template; the next copies it instead of running initdb', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pg-template-'));
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    const first = await startPostgresServer({ name: 'template-first', templateRoot: root });
    cleanups.push(() => first.stop());
    const template = templatePath({
      bin: requirePostgres(),
      user: first.user,
      root,
      ...owner(),
    });
    expect(readFileSync(join(template, 'PG_VERSION'), 'utf8').trim()).toMatch(/^\d+$/);

    const dataDir = join(root, 'copy');
    const how = await initDataDir(
      { bin: requirePostgres(), user: first.user, root, ...owner() },
      dataDir,
      () => Promise.reject(new Error('initdb must not run when a template exists')),
    );
    expect(how).toBe('copied');
    expect(existsSync(join(dataDir, 'PG_VERSION'))).toBe(true);

    const second = await startPostgresServer({ name: 'template-second', templateRoot: root });
    cleanups.push(() => second.stop());
    const client = new pg.Client({ connectionString: second.url });
    await client.connect();
    cleanups.push(() => client.end());
    expect((await client.query<{ n: number }>('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
  });
});
