import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATH_STALL_HEADER, pathStallOf } from '../alb/protocol.ts';
import { CookieJar } from '../load/cookie-jar.ts';
import { VirtualUserHttp } from '../load/http-client.ts';
import { LatencyAggregate, LatencyRecorder } from '../metrics/latency.ts';
import { LagMonitor } from '../metrics/machine-state.ts';
import { tellStallsOnAnswers } from './stall-telling.ts';

const JOIN = 'POST /api/events/:eventId/queue';
const busyFor = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until) Math.sqrt(Math.random());
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("an app instance's answers tell the stalls that held them up", () => {
  let server: Server;
  let url: string;
  const loop = new LagMonitor();
  beforeAll(async () => {
    // A handler that holds the loop, as a garbage collection or a wait for a core does.
    server = createServer((req, res) => {
      if (req.url === '/stall') busyFor(120);
      res.end('{}');
    });
    tellStallsOnAnswers(server, loop);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    loop.stop();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('an answer held up by a stall says how long; one after it, clear of it, says nothing', async () => {
    const stalled = await fetch(`${url}/stall`);
    expect(Number(stalled.headers.get(PATH_STALL_HEADER))).toBeGreaterThanOrEqual(100);
    await sleep(100);
    const clear = await fetch(`${url}/`);
    // Not that stall (a busy machine's own hiccup of 10 ms or more may still be told).
    expect(Number(clear.headers.get(PATH_STALL_HEADER) ?? 0)).toBeLessThan(100);
  });

  it('the virtual user files the held-up sample apart, as it does one its own stall delayed', async () => {
    // The load worker's own loop is not what this is about: its watch sees no stall of its own.
    const recorder = new LatencyRecorder({ stallMs: 90, stalledWithin: () => false });
    const http = new VirtualUserHttp(url, recorder, { connections: 1 });
    await sleep(100);
    await http.call(JOIN, 'POST', '/', { jar: new CookieJar() });
    await http.call(JOIN, 'POST', '/stall', { jar: new CookieJar() });
    await http.close();
    const count = (snapshot: ReturnType<LatencyRecorder['drain']>) => {
      const merged = new LatencyAggregate();
      merged.add(snapshot);
      return merged.summary(JOIN)?.count ?? 0;
    };
    expect(count(recorder.drain())).toBe(1);
    expect(count(recorder.drainThroughStall())).toBe(1);
  });

  it('reads the longest of the stalls an answer tells, however the lines came', () => {
    expect(pathStallOf(undefined)).toBe(0);
    expect(pathStallOf('80')).toBe(80);
    expect(pathStallOf(['12', '130'])).toBe(130);
    expect(pathStallOf('70, 15')).toBe(70);
    expect(pathStallOf('garbage')).toBe(0);
  });
});
