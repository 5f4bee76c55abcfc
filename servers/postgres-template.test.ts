import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { requirePostgres } from './binaries.ts';
import { runAsIdentity, startPostgresServer } from './postgres-server.ts';
import { copyTemplate, ensureTemplate, templatePath } from './postgres-template.ts';

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
  it('the first server initialises and caches the template, its database in it; the next copies it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pg-template-'));
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    const first = await startPostgresServer({ name: 'template-first', templateRoot: root });
    cleanups.push(() => first.stop());
    const t = { bin: requirePostgres(), user: first.user, database: first.database, root, ...owner() };
    const template = templatePath(t);
    expect(readFileSync(join(template, 'PG_VERSION'), 'utf8').trim()).toMatch(/^\d+$/);

    const found = await ensureTemplate(t, () => Promise.reject(new Error('initdb must not run again')));
    expect(found).toBe(template);
    const dataDir = join(root, 'copy');
    await copyTemplate(template, dataDir);
    expect(existsSync(join(dataDir, 'PG_VERSION'))).toBe(true);

    // The second server's database comes with the copy: nothing creates it at start.
    const second = await startPostgresServer({ name: 'template-second', templateRoot: root });
    cleanups.push(() => second.stop());
    const client = new pg.Client({ connectionString: second.url });
    await client.connect();
    cleanups.push(() => client.end());
    expect((await client.query<{ db: string }>('SELECT current_database() AS db')).rows).toEqual([
      { db: 'tiketi' },
    ]);
  });

  it('a template is kept per database: another name gets a cluster of its own', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pg-template-'));
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    const other = await startPostgresServer({
      name: 'template-other',
      database: 'other_db',
      templateRoot: root,
    });
    cleanups.push(() => other.stop());
    const client = new pg.Client({ connectionString: other.url });
    await client.connect();
    cleanups.push(() => client.end());
    expect((await client.query<{ db: string }>('SELECT current_database() AS db')).rows).toEqual([
      { db: 'other_db' },
    ]);
  });
});
