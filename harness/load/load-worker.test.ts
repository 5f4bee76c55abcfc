import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { Server } from 'socket.io';
import { describe, expect, it } from 'vitest';
import { RELAY_DELAY_HEADER } from '../alb/protocol.ts';
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

/** A worker with a stall limit of 200 ms, sending its users to `port`; what it sends lands in `sent`. */
function stallJudgingWorker(port: number, socket: boolean, sent: FromWorker[]): LoadWorker {
  return new LoadWorker(
    {
      type: 'init',
      workerIndex: 0,
      baseUrl: `http://127.0.0.1:${port}`,
      eventId: 'e',
      seatIds: ['A-1'],
      behaviour: behaviourSchema.parse({ socket, buyShare: 0 }),
      timeScale: 60,
      seed: 1,
      httpConnections: 2,
      stallMs: 200,
    },
    (m) => sent.push(m),
  );
}

/** The samples a worker's reports filed clear and through a stall. */
function filed(sent: FromWorker[]): { clear: LatencyAggregate; stalled: LatencyAggregate } {
  const clear = new LatencyAggregate();
  const stalled = new LatencyAggregate();
  for (const r of sent.filter((m): m is WorkerReport => m.type === 'report')) {
    clear.add(r.latency);
    stalled.add(r.latencyThroughStall ?? {});
  }
  return { clear, stalled };
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
    const worker = stallJudgingWorker(port, false, sent);
    worker.start();
    worker.arrive([{ userId: 'u-1', token: 't' }]);
    await new Promise((r) => setTimeout(r, 500));
    worker.arrive([{ userId: 'u-2', token: 't' }]);
    await new Promise((r) => setTimeout(r, 200));
    await worker.handle({ type: 'stop' });
    await new Promise((r) => app.close(r));
    const { clear, stalled } = filed(sent);
    expect(joins).toBe(2);
    expect(stalled.summary('POST /api/events/:eventId/queue')?.count).toBe(1);
    expect(stalled.summary('POST /api/events/:eventId/queue')?.maxMs).toBeGreaterThanOrEqual(300);
    expect(clear.summary('POST /api/events/:eventId/queue')?.count).toBe(1);
  });

  it('files apart a join whose user reached it late and a connect the emulator’s relay held up', async () => {
    // Nothing here stalls; the runner's hand-overs were late: one user reaches the worker 300 ms
    // after its time, and the first WebSocket's answer says the relay held it 300 ms
    // (RELAY_DELAY_HEADER, as the ALB emulator's control process tells it).
    const app = createHttpServer((req, res) => {
      req.resume();
      // Both wait in the queue, their sockets open, until the worker stops.
      res.writeHead(201, { 'content-type': 'application/json' }).end('{"state":"queued","position":1}');
    });
    const realtime = new Server(app, { transports: ['websocket'] });
    let upgrades = 0;
    realtime.engine.on('headers', (headers: Record<string, string>) => {
      headers[RELAY_DELAY_HEADER] = upgrades++ === 0 ? '300' : '3';
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()));
    const { port } = app.address() as { port: number };
    const sent: FromWorker[] = [];
    const worker = stallJudgingWorker(port, true, sent);
    worker.start();
    worker.arrive([{ userId: 'u-1', token: 't', dueAtWallMs: Date.now() - 300 }]);
    await new Promise((r) => setTimeout(r, 300));
    worker.arrive([{ userId: 'u-2', token: 't', dueAtWallMs: Date.now() + 20 }]);
    await new Promise((r) => setTimeout(r, 300));
    await worker.handle({ type: 'stop' });
    await new Promise((r) => realtime.close(() => r(undefined)));
    const { clear, stalled } = filed(sent);
    expect(upgrades).toBe(2);
    expect(stalled.summary('POST /api/events/:eventId/queue')?.count).toBe(1);
    expect(stalled.summary('POST /api/events/:eventId/queue')?.maxMs).toBeGreaterThanOrEqual(300);
    expect(clear.summary('POST /api/events/:eventId/queue')?.count).toBe(1);
    expect(stalled.summary('socket.connect')?.count).toBe(1);
    expect(clear.summary('socket.connect')?.count).toBe(1);
  });
});
