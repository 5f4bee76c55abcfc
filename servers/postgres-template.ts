/**
 * `initdb` once per machine: its output is kept under the user's cache folder, keyed by the
 * PostgreSQL installation, the superuser and the owner, and copied into each new data folder
 * (0.05 s instead of 0.4 s and more on a busy machine).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { PostgresBinaries } from './binaries.ts';

const execFileAsync = promisify(execFile);

/** @default ~/.cache/tiketi-sim */
export const DEFAULT_TEMPLATE_ROOT = join(homedir(), '.cache', 'tiketi-sim');

export interface DataDirTemplate {
  bin: PostgresBinaries;
  user: string;
  identity?: { uid: number; gid: number };
  /** @default DEFAULT_TEMPLATE_ROOT */
  root?: string;
}

/** Where the template for this installation, superuser and owner lives (it may not exist yet). */
export function templatePath(t: DataDirTemplate): string {
  const major = /postgresql\/(\d+)\//.exec(t.bin.postgres)?.[1] ?? 'pg';
  const binary = statSync(t.bin.postgres);
  const key = createHash('sha256')
    .update(`${t.bin.postgres}|${binary.size}|${binary.mtimeMs}|${t.user}|${t.identity?.uid ?? 'self'}`)
    .digest('hex')
    .slice(0, 12);
  return join(t.root ?? DEFAULT_TEMPLATE_ROOT, `pgdata-${major}-${key}`);
}

/**
 * Fills `dataDir` (which must not exist) with a fresh cluster: a copy of the template when there
 * is one, else `initdb` (given), whose result then becomes the template.
 */
export async function initDataDir(
  t: DataDirTemplate,
  dataDir: string,
  initdb: () => Promise<void>,
): Promise<'copied' | 'initialised'> {
  const template = templatePath(t);
  if (existsSync(join(template, 'PG_VERSION'))) {
    await execFileAsync('cp', ['-a', template, dataDir]); // -a keeps owner and the 0700 mode PostgreSQL checks
    return 'copied';
  }
  await initdb();
  await keepAsTemplate(dataDir, template);
  return 'initialised';
}

/** Copies aside, then renames into place: a concurrent start sees a whole template or none. */
async function keepAsTemplate(dataDir: string, template: string): Promise<void> {
  const staging = `${template}.${process.pid}.${Date.now()}`;
  try {
    mkdirSync(join(template, '..'), { recursive: true });
    await execFileAsync('cp', ['-a', dataDir, staging]);
    renameSync(staging, template);
  } catch (err) {
    // Another start won the race (the template exists now), or the cache folder is not writable:
    // this start has its data folder either way; the next one initialises again.
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(join(template, 'PG_VERSION')))
      process.emitWarning(`PostgreSQL template not cached: ${(err as Error).message}`);
  }
}
