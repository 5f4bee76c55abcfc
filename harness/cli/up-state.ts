/** Where a running `up` says how to reach it, for `tiketi-sim status` and `chaos` in the same folder. */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

const STATE_FILE = '.tiketi-sim/up.json';

export interface UpState {
  controlUrl: string;
  pid: number;
}

export function writeStateFile(state: UpState): void {
  mkdirSync('.tiketi-sim', { recursive: true });
  writeFileSync(STATE_FILE, JSON.stringify(state));
}

export function removeStateFile(): void {
  rmSync(STATE_FILE, { force: true });
}

export function readStateFile(): UpState | undefined {
  try {
    return JSON.parse(readFileSync(STATE_FILE, 'utf8')) as UpState;
  } catch {
    return undefined; // no topology is up from this folder
  }
}
