/**
 * `initdb` once per machine: a fresh cluster, its database already created, is kept under the
 * user's cache folder, keyed by the PostgreSQL installation, the superuser, the database and the
 * owner, and copied into each new data folder (0.05 s instead of 0.4 s for `initdb` and 0.3 s for
 * `CREATE DATABASE` on a quiet machine). A writer and its replica are two copies of it.
 *
 * Copying its thousand files still took 0.5–2 s on a busy two-core machine, the longest step of
 * `up`: so each start takes a spare copy made ahead (renamed into place at once) and, soon after,
 * in the background, copies spares for the next one.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { PostgresBinaries } from './binaries.ts';
import { isAlive, wrapWithParentDeathSignal } from './process.ts';
import { makeRunDir, runRoot } from './run-dir.ts';

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

/** Spare copies kept of a template. A cluster's start takes two (writer and replica). */
const SPARES = 2;
/**
 * How long after taking a copy the spares are copied: after the start has spawned its own
 * processes (spawning from a large process costs tens of ms). A copy is mostly I/O: it barely
 * competes with the run for CPU.
 */
const REFILL_DELAY_MS = 1_000;

/**
 * One template as it is now: spares are made from it, and a writer and its replica stream from
 * one another only if they come from the same one (`identity`: a template made again, at the
 * same path, is another cluster).
 */
export interface TemplateCopies {
  template: string;
  identity: string;
  /** Where its spares wait: beside the run folders, so one is renamed into place. */
  sparesDir: string;
}

/** Where the spares of every template wait, beside the run folders. */
export function sparesRoot(root = runRoot()): string {
  return join(root, 'pg-spares');
}

export function templateCopies(template: string, root = runRoot()): TemplateCopies {
  const marker = statSync(join(template, 'PG_VERSION'));
  const identity = createHash('sha256')
    .update(`${template}|${marker.ino}|${marker.mtimeMs}`)
    .digest('hex')
    .slice(0, 16);
  return { template, identity, sparesDir: join(sparesRoot(root), identity) };
}

/**
 * Fills `dataDir` (which must not exist, in a run folder) with a copy of the template: a spare
 * when one is left, else a copy made now. A start then calls {@link refillSparesSoon}.
 */
export async function copyTemplate(copies: TemplateCopies, dataDir: string): Promise<'spare' | 'copied'> {
  if (takeSpare(copies.sparesDir, dataDir)) return 'spare';
  await execFileAsync('cp', ['-a', copies.template, dataDir]); // -a keeps owner and 0700 mode
  return 'copied';
}

/** Spares for the next start, copied {@link REFILL_DELAY_MS} from now unless the process is gone. */
export function refillSparesSoon(copies: TemplateCopies): void {
  setTimeout(() => refillSpares(copies), REFILL_DELAY_MS).unref();
}

function takeSpare(sparesDir: string, dataDir: string): boolean {
  let names: string[];
  try {
    names = readdirSync(sparesDir).filter((n) => !n.startsWith('.'));
  } catch {
    return false; // none made yet
  }
  for (const name of names) {
    try {
      renameSync(join(sparesDir, name), dataDir);
      return true;
    } catch {
      // another start took it first
    }
  }
  return false;
}

/** Copies in progress, from this process. */
const refilling = new Set<string>();

/**
 * Makes spares until there are {@link SPARES}: `cp` into a staging folder
 * named after this process, then renamed. The copies die with the harness (a staging folder left
 * by a dead one is removed here).
 */
export function refillSpares(copies: TemplateCopies): void {
  const { sparesDir, template } = copies;
  try {
    // Not recursive: when the run root itself is gone (a test's), there is nothing to refill.
    for (const dir of [dirname(sparesDir), sparesDir]) mkdirIfMissing(dir);
    writeFileSync(join(sparesDir, OWNER_FILE), template);
    removeOrphanedSpares(dirname(sparesDir));
    for (const name of readdirSync(sparesDir)) {
      const pid = /^\.staging-(\d+)-/.exec(name)?.[1];
      if (pid && !isAlive(Number(pid))) rmSync(join(sparesDir, name), { recursive: true, force: true });
    }
  } catch {
    return; // no spares here: every start copies
  }
  const ready = readdirSync(sparesDir).filter((n) => !n.startsWith('.')).length;
  const mine = [...refilling].filter((p) => p.startsWith(sparesDir)).length;
  for (let i = ready + mine; i < SPARES; i++) {
    const id = `${Date.now()}-${randomBytes(3).toString('hex')}`;
    const staging = join(sparesDir, `.staging-${process.pid}-${id}`);
    refilling.add(staging);
    const wrapped = wrapWithParentDeathSignal('cp', ['-a', template, staging], 'SIGKILL', {});
    const cp = spawn(wrapped.command, wrapped.args, { stdio: 'ignore' });
    cp.unref(); // the harness may exit meanwhile: the copy dies with it
    const done = (ok: boolean) => {
      refilling.delete(staging);
      try {
        if (ok) renameSync(staging, join(sparesDir, id));
        else rmSync(staging, { recursive: true, force: true });
      } catch {
        rmSync(staging, { recursive: true, force: true });
      }
    };
    cp.once('error', () => done(false));
    cp.once('exit', (code) => done(code === 0));
  }
}

/** In a spares folder: the template its spares are copies of. */
const OWNER_FILE = '.template';

/** Spares of templates that are gone or were made again (a test's, an upgraded PostgreSQL's). */
function removeOrphanedSpares(parent: string): void {
  for (const name of readdirSync(parent)) {
    const dir = join(parent, name);
    let current: boolean;
    try {
      current =
        templateCopies(readFileSync(join(dir, OWNER_FILE), 'utf8'), dirname(parent)).identity === name;
    } catch {
      current = false;
    }
    if (!current) rmSync(dir, { recursive: true, force: true });
  }
}

function mkdirIfMissing(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

function isCluster(dir: string): boolean {
  return existsSync(join(dir, 'PG_VERSION'));
}
