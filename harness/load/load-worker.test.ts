import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { behaviourSchema } from '../scenario/schema.ts';
import { LoadWorker } from './load-worker.ts';
import type { FromWorker, WorkerReport } from './protocol.ts';

/** A port nothing listens on: every call a user makes fails at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe('a load worker in-process', () => {
  it('says ready, runs the users it is sent, and ends with a final report', async () => {
    const sent: FromWorker[] = [];
    const worker = new LoadWorker(
      {
        type: 'init',
        workerIndex: 2,
        baseUrl: `http://127.0.0.1:${await closedPort()}`,
        eventId: 'e',
        seatIds: ['A-1'],
        behaviour: behaviourSchema.parse({ socket: false }),
        timeScale: 60,
        seed: 1,
        httpConnections: 2,
      },
      (m) => sent.push(m),
    );
    worker.start();
    expect(sent).toEqual([{ type: 'ready', workerIndex: 2 }]);
    worker.arrive([{ userId: 'u-1', token: 't' }]);
    await worker.handle({ type: 'stop' });
    const final = sent.at(-1) as WorkerReport;
    expect(final).toMatchObject({ type: 'report', workerIndex: 2, final: true, usersActive: 0 });
    expect(final.http.requests).toBeGreaterThan(0);
    expect(final.http.errors).toBe(final.http.requests);
  });
});
