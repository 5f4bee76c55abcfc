import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type ForkedWorker, forkWorker } from './fork-worker.ts';
import { isAlive } from './process.ts';
import { waitUntil } from './wait-until.ts';

const ENTRY = fileURLToPath(new URL('./fixtures/test-worker.ts', import.meta.url));

const started: ForkedWorker<unknown>[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((w) => w.stop(1_000)));
});

function start(
  mode: string,
  options: { readyTimeoutMs?: number; lines?: string[]; messages?: unknown[] } = {},
) {
  return forkWorker<unknown, unknown>({
    name: `test-${mode}`,
    entry: ENTRY,
    isReady: (message) => message === 'ready',
    onMessage: (message) => options.messages?.push(message),
    init: { message: { mode } },
    readyTimeoutMs: options.readyTimeoutMs,
    log: (line) => options.lines?.push(line),
  }).then((w) => {
    started.push(w);
    return w;
  });
}

describe('forkWorker', () => {
  it('resolves once the worker says ready; messages flow both ways; output is prefixed with its name', async () => {
    const lines: string[] = [];
    const messages: unknown[] = [];
    const worker = await start('ready', { lines, messages });
    expect(isAlive(worker.pid)).toBe(true);
    expect(worker.send('hello')).toBe(true);
    await waitUntil('the echo', async () => messages.length > 0, { intervalMs: 20 });
    expect(messages).toEqual(['echo hello']);
    await waitUntil('both output lines', async () => lines.length >= 2, { intervalMs: 20 });
    expect(lines.sort()).toEqual(['[test-ready] a line on stderr', '[test-ready] started in mode ready']);
  });

  it('rejects when the worker exits before it is ready, with its code and last output', async () => {
    await expect(start('exit-early')).rejects.toThrow(
      /test-exit-early exited before it was ready \(code 3.*\)[\s\S]*started in mode exit-early/,
    );
  });

  it('rejects at the deadline and leaves no process behind', async () => {
    const error = await start('never-ready', { readyTimeoutMs: 1_500 }).catch((e: Error) => e);
    expect(String(error)).toMatch(/test-never-ready \(pid \d+\) was not ready within 1500 ms/);
    expect(isAlive(Number(/pid (\d+)/.exec(String(error))![1]))).toBe(false);
  });

  it('stops by asking, then by SIGKILL after the grace period', async () => {
    const polite = await start('ready');
    await polite.stop(10_000);
    expect(polite.running).toBe(false);
    expect((await polite.exited).signal).toBe('SIGTERM');
    const stubborn = await start('ignore-sigterm');
    await stubborn.stop(300);
    expect(stubborn.running).toBe(false);
    expect((await stubborn.exited).signal).toBe('SIGKILL');
    expect(stubborn.send('late')).toBe(false);
  });
});
