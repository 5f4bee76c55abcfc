/**
 * `initdb` once per machine: a fresh cluster, its database already created, is kept under the
 * user's cache folder, keyed by the PostgreSQL installation, the superuser, the database and the
 * owner, and copied into each new data folder (0.05 s instead of 0.4 s for `initdb` and 0.3 s for
 * `CREATE DATABASE` on a quiet machine). A writer and its replica are two copies of it.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { PostgresBinaries } from './binaries.ts';
import { makeRunDir } from './run-dir.ts';

const execFileAsync = promisify(execFile);

/** @default ~/.cache/tiketi-sim */
export const DEFAULT_TEMPLATE_ROOT = join(homedir(), '.cache', 'tiketi-sim');

export interface DataDirTemplate {
  bin: PostgresBinaries;
  user: string;
  /** The database the cluster is made with. */
  database: string;
  identity?: { uid: number; gid: number };
  /** @default DEFAULT_TEMPLATE_ROOT */
  root?: string;
}

/** Where the template for this installation, superuser, database and owner lives (it may not exist yet). */
export function templatePath(t: DataDirTemplate): string {
  const major = /postgresql\/(\d+)\//.exec(t.bin.postgres)?.[1] ?? 'pg';
  const binary = statSync(t.bin.postgres);
  const key = createHash('sha256')
    .update(
      `${t.bin.postgres}|${binary.size}|${binary.mtimeMs}|${t.user}|${t.database}|${t.identity?.uid ?? 'self'}`,
    )
    .digest('hex')
    .slice(0, 12);
  return join(t.root ?? DEFAULT_TEMPLATE_ROOT, `pgdata-${major}-${key}`);
}

/**
 * The template's path, made now (by `init`, into a folder that must not exist) when there is
 * none; undefined when it cannot be kept (the cache folder is not writable): then each data
 * folder is initialised on its own.
 */
export async function ensureTemplate(
  t: DataDirTemplate,
  init: (dataDir: string) => Promise<void>,
): Promise<string | undefined> {
  const template = templatePath(t);
  if (isCluster(template)) return template;
  try {
    mkdirSync(join(template, '..'), { recursive: true });
    accessSync(join(template, '..'), constants.W_OK);
  } catch (err) {
    process.emitWarning(`PostgreSQL template not cached: ${(err as Error).message}`);
    return undefined;
  }
  // Initialised in a run folder the owner can reach (the cache may sit in root's home), copied
  // aside, then renamed into place: a concurrent start sees a whole template or none.
  const run = makeRunDir('pg-template', t.identity);
  const staging = `${template}.${process.pid}.${Date.now()}`;
  try {
    await init(join(run.path, 'data'));
  } catch (err) {
    run.remove();
    throw err;
  }
  try {
    await execFileAsync('cp', ['-a', join(run.path, 'data'), staging]);
    renameSync(staging, template);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    // Another start won the race (use its template), or the cache folder refused the copy.
    if (isCluster(template)) return template;
    process.emitWarning(`PostgreSQL template not cached: ${(err as Error).message}`);
    return undefined;
  } finally {
    run.remove();
  }
  return template;
}

/** Fills `dataDir` (which must not exist) with a copy of the template. */
export async function copyTemplate(template: string, dataDir: string): Promise<void> {
  await execFileAsync('cp', ['-a', template, dataDir]); // -a keeps owner and the 0700 mode PostgreSQL checks
}

function isCluster(dir: string): boolean {
  return existsSync(join(dir, 'PG_VERSION'));
}
