import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatencyAggregate, LatencyRecorder } from '../metrics/latency.ts';
import { CookieJar } from './cookie-jar.ts';
import { VirtualUserHttp } from './http-client.ts';

const JOIN = 'POST /api/events/:eventId/queue';

describe('VirtualUserHttp timing', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((_req, res) => res.end('{"position":1}'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  /** A join due now, sent after the generator was busy for `stallMs`. */
  async function stalledJoin(stallMs: number, timing: { intendedAtWallMs?: number }) {
    const recorder = new LatencyRecorder();
    const http = new VirtualUserHttp(url, recorder, { connections: 1 });
    const until = Date.now() + stallMs;
    while (Date.now() < until) Math.sqrt(Math.random());
    const res = await http.call(JOIN, 'POST', '/queue', { jar: new CookieJar() }, undefined, timing);
    await http.close();
    const merged = new LatencyAggregate();
    merged.add(recorder.drain());
    return { status: res?.status, latency: merged.summary(JOIN)! };
  }

  it("counts a stalled sender's delay in the latency: timed from the open model's send time", async () => {
    const { status, latency } = await stalledJoin(300, { intendedAtWallMs: Date.now() });
    expect(status).toBe(200);
    expect(latency.count).toBe(1);
    // The answer itself took a few ms; the user waited since the join was due.
    expect(latency.maxMs).toBeGreaterThanOrEqual(300);
  });

  it('times from the send when the call has no schedule (a user’s own next step)', async () => {
    // Due in the future: nothing to add, whatever the stall before it.
    const { latency } = await stalledJoin(0, { intendedAtWallMs: Date.now() + 60_000 });
    expect(latency.count).toBe(1);
    expect(latency.maxMs).toBeLessThan(60_000);
  });
});
