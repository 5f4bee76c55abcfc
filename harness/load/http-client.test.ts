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

describe('VirtualUserHttp request gaps', () => {
  let server: Server;
  let url: string;
  let failing = true;
  beforeAll(async () => {
    server = createServer((_req, res) => res.writeHead(failing ? 502 : 200).end('{}'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const gapMs = (http: VirtualUserHttp) => http.longestGap!.toWallMs - http.longestGap!.fromWallMs;

  it('runs from the first failure to the next success while the user keeps trying', async () => {
    const http = new VirtualUserHttp(url, new LatencyRecorder(), { connections: 1 });
    const caller = { jar: new CookieJar() };
    failing = true;
    await http.call(JOIN, 'POST', '/queue', caller);
    await http.call(JOIN, 'POST', '/queue', caller);
    // One caller in a failing stretch, however many of its calls failed: the pacer holds the clock.
    expect(http.failingCallers).toBe(1);
    await sleep(200);
    failing = false;
    await http.call(JOIN, 'POST', '/queue', caller);
    expect(http.failingCallers).toBe(0);
    expect(gapMs(http)).toBeGreaterThanOrEqual(190);
    await http.close();
  });

  it('ends at the last failure when the user rests (a think time is not an outage)', async () => {
    const http = new VirtualUserHttp(url, new LatencyRecorder(), { connections: 1 });
    const caller = { jar: new CookieJar() };
    failing = true;
    await http.call(JOIN, 'POST', '/queue', caller);
    http.rest(caller);
    expect(http.failingCallers).toBe(0);
    await sleep(200);
    failing = false;
    await http.call(JOIN, 'POST', '/queue', caller);
    expect(gapMs(http)).toBeLessThan(100);
    await http.close();
  });
});
