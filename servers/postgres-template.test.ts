import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { requirePostgres } from './binaries.ts';
import { runAsIdentity, startPostgresServer } from './postgres-server.ts';
import {
  copyTemplate,
  ensureTemplate,
  refillSpares,
  templateCopies,
  templatePath,
} from './postgres-template.ts';
import { waitUntil } from './wait-until.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The owner data folders are made for (root runs PostgreSQL as `nobody`). */
function owner(): { identity?: { uid: number; gid: number } } {
  const identity = runAsIdentity();
  return identity ? { identity } : {};
}

function sparesOf(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((n) => !n.startsWith('.')) : [];
}

/** Makes the template in `root` as a server's start does, and stops that server. */
async function makeTemplate(root: string): Promise<string> {
  const server = await startPostgresServer({ name: 'template-source', templateRoot: root });
  await server.stop();
  return templatePath({
    bin: requirePostgres(),
    user: server.user,
    database: server.database,
    root,
    ...owner(),
  });
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
    const copies = templateCopies(template, root);
    const dataDir = join(root, 'copy');
    expect(await copyTemplate(copies, dataDir)).toBe('copied');
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

  it('a start takes a spare copy made ahead, and only one of the same template', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pg-template-'));
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    const template = await makeTemplate(root);
    const copies = templateCopies(template, root);
    refillSpares(copies);
    await waitUntil('two spares', async () => sparesOf(copies.sparesDir).length === 2, { timeoutMs: 20_000 });
    expect(await copyTemplate(copies, join(root, 'first'))).toBe('spare');
    expect(await copyTemplate(copies, join(root, 'second'))).toBe('spare');
    expect(await copyTemplate(copies, join(root, 'third'))).toBe('copied');
    for (const d of ['first', 'second', 'third']) expect(existsSync(join(root, d, 'PG_VERSION'))).toBe(true);

    // The template made again at the same path is another cluster: its copies share no spares.
    refillSpares(copies);
    await waitUntil('two spares', async () => sparesOf(copies.sparesDir).length === 2, { timeoutMs: 20_000 });
    rmSync(template, { recursive: true });
    const again = await makeTemplate(root);
    expect(again).toBe(template);
    const remade = templateCopies(again, root);
    expect(remade.identity).not.toBe(copies.identity);
    expect(await copyTemplate(remade, join(root, 'fourth'))).toBe('copied');
    refillSpares(remade);
    expect(existsSync(copies.sparesDir)).toBe(false); // the old template's spares are gone
    await waitUntil('two spares', async () => sparesOf(remade.sparesDir).length === 2, { timeoutMs: 20_000 });
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
