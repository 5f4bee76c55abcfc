import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FAILURE_TAIL_LINES, KEPT_LOG_FOLDERS, ServerLogs } from './server-logs.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'server-logs-'));
  dirs.push(d);
  return d;
}

describe('ServerLogs', () => {
  it('keeps the newest run folders and removes older ones, leaving anything else alone', async () => {
    const root = tempDir();
    const old = Array.from(
      { length: KEPT_LOG_FOLDERS + 2 },
      (_, i) => `2026-01-${String(i + 1).padStart(2, '0')}T10-00-00`,
    );
    for (const name of [...old, 'notes']) mkdirSync(join(root, name));
    const logs = ServerLogs.inRunFolder(root, { verbose: false, stderr: () => {} });
    await logs.close();
    const left = readdirSync(root).sort();
    expect(left).toContain('notes');
    expect(left.filter((n) => n !== 'notes')).toEqual([...old.slice(3), logs.dir.split('/').at(-1)]);
  });

  it('writes each server to its own file, not the terminal, and keeps the last lines for an error', async () => {
    const dir = join(tempDir(), 'run');
    const stderr: string[] = [];
    const logs = new ServerLogs(dir, { verbose: false, stderr: (l) => stderr.push(l) });
    logs.sink('[redis-primary az-a] Ready to accept connections');
    logs.sink('[app-1 az-a] listening');
    for (let i = 0; i < FAILURE_TAIL_LINES + 5; i++) logs.sink(`[aurora-writer az-a] line ${i}`);
    await logs.close();
    expect(stderr).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual([
      'app-1-az-a.log',
      'aurora-writer-az-a.log',
      'redis-primary-az-a.log',
    ]);
    expect(readFileSync(join(dir, 'redis-primary-az-a.log'), 'utf8')).toBe(
      '[redis-primary az-a] Ready to accept connections\n',
    );
    const failure = logs.failureLines();
    expect(failure[0]).toContain(dir);
    expect(failure).toHaveLength(FAILURE_TAIL_LINES + 1);
    expect(failure.at(-1)).toBe(`  [aurora-writer az-a] line ${FAILURE_TAIL_LINES + 4}`);
  });

  it('--verbose streams the lines to stderr as well', async () => {
    const stderr: string[] = [];
    const logs = new ServerLogs(tempDir(), { verbose: true, stderr: (l) => stderr.push(l) });
    logs.sink('[redis-sentinel-1 az-a] +monitor master');
    await logs.close();
    expect(stderr).toEqual(['[redis-sentinel-1 az-a] +monitor master']);
  });
});
