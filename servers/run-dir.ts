/**
 * Temporary folders for a run's server data, under `<tmp>/tiketi-sim/`. Each records the pid of
 * the harness that made it, so a later start removes the folders of harnesses that were killed
 * before they could clean up.
 */
import { chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive } from './process.ts';

const OWNER_FILE = '.owner-pid';

export function runRoot(): string {
  return join(tmpdir(), 'tiketi-sim');
}

/** Removes folders left by harness processes that no longer exist. */
export function sweepStaleRunDirs(root = runRoot()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return removed; // no root yet: nothing to sweep
  }
  for (const name of names) {
    const dir = join(root, name);
    let ownerPid: number;
    try {
      ownerPid = Number.parseInt(readFileSync(join(dir, OWNER_FILE), 'utf8'), 10);
    } catch {
      continue; // not one of ours, or still being created
    }
    if (Number.isFinite(ownerPid) && !isAlive(ownerPid)) {
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    }
  }
  return removed;
}

export interface RunDir {
  path: string;
  remove(): void;
}

/** A new folder owned by this process; `owner` makes it writable by that user (for PostgreSQL). */
export function makeRunDir(prefix: string, owner?: { uid: number; gid: number }): RunDir {
  const root = runRoot();
  mkdirSync(root, { recursive: true, mode: 0o1777 });
  const path = mkdtempSync(join(root, `${prefix.replace(/[^A-Za-z0-9_.-]+/g, '-')}-`));
  writeFileSync(join(path, OWNER_FILE), String(process.pid));
  if (owner) chownSync(path, owner.uid, owner.gid);
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
