import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type ForkedWorker, forkWorker } from './fork-worker.ts';

const ENTRY = fileURLToPath(new URL('./fixtures/test-worker.ts', import.meta.url));

const started: ForkedWorker<unknown>[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((w) => w.stop(1_000)));
});

/** Starts the fixture in `mode`, has it close its channel and send, and returns how it ended. */
async function orphanedSend(mode: string) {
  const lines: string[] = [];
  const worker = await forkWorker<unknown, unknown>({
    name: mode,
    entry: ENTRY,
    isReady: (message) => message === 'ready',
    init: { message: { mode } },
    log: (line) => lines.push(line),
  });
  started.push(worker);
  worker.send('orphan yourself');
  const exit = await worker.exited;
  return { exit, output: lines.join('\n') };
}

describe('sendToParent', () => {
  it('drops a message to a parent that is gone and destroys the socket it carried; the process lives on', async () => {
    const { exit, output } = await orphanedSend('send-when-orphaned');
    expect(output).toContain('alive, sent false, socket destroyed true');
    expect(output).not.toMatch(/ERR_IPC_CHANNEL_CLOSED/);
    expect(exit).toEqual({ code: 0, signal: null });
  });

  it('is needed: a bare process.send there ends the process with ERR_IPC_CHANNEL_CLOSED', async () => {
    const { exit, output } = await orphanedSend('raw-send-when-orphaned');
    expect(output).toMatch(/ERR_IPC_CHANNEL_CLOSED/);
    expect(output).not.toContain('alive');
    expect(exit.code).not.toBe(0);
  });
});
