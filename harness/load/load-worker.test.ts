import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { LatencyAggregate } from '../metrics/latency.ts';
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

  it('files a sample its own stall delayed apart from the clear ones (stallMs)', async () => {
    // The app answers at once, but holds this process (the worker's too) 300 ms before answering
    // the first join: that join's reply waits through the worker's stall. (Without a socket a
    // user also polls its place: those samples are another endpoint's.)
    let joins = 0;
    const app = createHttpServer((req, res) => {
      req.resume();
      if (req.method === 'POST' && joins++ === 0) {
        const until = performance.now() + 300;
        while (performance.now() < until) Math.sqrt(Math.random());
      }
      res.writeHead(201, { 'content-type': 'application/json' }).end('{"state":"admitted"}');
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()));
    const { port } = app.address() as { port: number };
    const sent: FromWorker[] = [];
    const worker = new LoadWorker(
      {
        type: 'init',
        workerIndex: 0,
        baseUrl: `http://127.0.0.1:${port}`,
        eventId: 'e',
        seatIds: ['A-1'],
        behaviour: behaviourSchema.parse({ socket: false, buyShare: 0 }),
        timeScale: 60,
        seed: 1,
        httpConnections: 2,
        stallMs: 200,
      },
      (m) => sent.push(m),
    );
    worker.start();
    worker.arrive([{ userId: 'u-1', token: 't' }]);
    await new Promise((r) => setTimeout(r, 500));
    worker.arrive([{ userId: 'u-2', token: 't' }]);
    await new Promise((r) => setTimeout(r, 200));
    await worker.handle({ type: 'stop' });
    await new Promise((r) => app.close(r));
    const reports = sent.filter((m): m is WorkerReport => m.type === 'report');
    const clear = new LatencyAggregate();
    const stalled = new LatencyAggregate();
    for (const r of reports) {
      clear.add(r.latency);
      stalled.add(r.latencyThroughStall ?? {});
    }
    expect(joins).toBe(2);
    expect(stalled.summary('POST /api/events/:eventId/queue')?.count).toBe(1);
    expect(stalled.summary('POST /api/events/:eventId/queue')?.maxMs).toBeGreaterThanOrEqual(300);
    expect(clear.summary('POST /api/events/:eventId/queue')?.count).toBe(1);
  });
});
