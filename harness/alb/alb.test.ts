import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { Server as SocketServer } from 'socket.io';
import { io } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { designTopology } from '../../infra/topology.ts';
import { ManualClock } from '../clock/clock.ts';
import { isAlive } from '../run/process-tree.ts';
import { type StartedAlb, startAlb } from './alb.ts';
import { CLIENT_TURN_HEADER } from './protocol.ts';

const INTERVAL_MS = designTopology.loadBalancer.healthCheck.intervalSeconds * 1_000;
const DRAIN_MS = designTopology.loadBalancer.deregistrationDelaySeconds * 1_000;

interface TestTarget {
  id: string;
  url: string;
  healthy: boolean;
  server: Server;
  hits: number;
}

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function target(id: string, options: { socketIo?: boolean } = {}): Promise<TestTarget> {
  const t: TestTarget = { id, url: '', healthy: true, server: createServer(), hits: 0 };
  t.server.on('request', (req, res) => {
    if (req.url?.startsWith('/socket.io/')) return; // socket.io handles its own path
    if (req.url === '/health') return void res.writeHead(t.healthy ? 200 : 503).end();
    t.hits++;
    if (req.url === '/slow') return void setTimeout(() => res.end(`slow from ${id}`), 1_500);
    res.setHeader('x-target', id);
    res.end(id);
  });
  const sockets = options.socketIo ? new SocketServer(t.server) : undefined;
  sockets?.on('connection', (s) => s.emit('hello', id));
  await new Promise<void>((r) => t.server.listen(0, '127.0.0.1', () => r()));
  t.url = `http://127.0.0.1:${(t.server.address() as { port: number }).port}`;
  cleanups.push(() => {
    sockets?.disconnectSockets(true);
    t.server.closeAllConnections();
    return new Promise((r) => t.server.close(r));
  });
  return t;
}

async function alb(clock: ManualClock, workers = 2): Promise<StartedAlb> {
  const started = await startAlb({ topology: designTopology, clock, workers });
  cleanups.push(() => started.stop());
  return started;
}

async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Health checks run on the clock; each interval's checks finish in real time. */
async function passIntervals(clock: ManualClock, n: number) {
  for (let i = 0; i < n; i++) {
    clock.advance(INTERVAL_MS);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function healthyAlb(clock: ManualClock, targets: TestTarget[], workers = 2) {
  const lb = await alb(clock, workers);
  for (const t of targets) lb.registerTarget({ id: t.id, url: t.url, az: 'a' });
  await passIntervals(clock, designTopology.loadBalancer.healthCheck.healthyThresholdCount);
  await eventually(() => lb.targetHealth().every((t) => t.state === 'healthy'));
  await new Promise((r) => setTimeout(r, 50)); // workers have the table
  return lb;
}

describe('ALB emulator: health checks and stickiness', () => {
  it('a new target is initial until 3 checks pass; 2 failures make it unhealthy; 3 successes healthy again', async () => {
    const clock = new ManualClock(0);
    const t = await target('t1');
    const lb = await alb(clock);
    lb.registerTarget({ id: 't1', url: t.url, az: 'a' });
    expect(lb.targetHealth()[0]).toMatchObject({ state: 'initial', reason: 'Elb.RegistrationInProgress' });
    await passIntervals(clock, 2);
    expect(lb.health('t1')).toBe('initial');
    await passIntervals(clock, 1);
    await eventually(() => lb.health('t1') === 'healthy');
    t.healthy = false;
    await passIntervals(clock, 1);
    expect(lb.health('t1')).toBe('healthy');
    await passIntervals(clock, 1);
    await eventually(() => lb.health('t1') === 'unhealthy');
    expect(lb.targetHealth()[0]?.reason).toBe('Target.FailedHealthChecks');
    t.healthy = true;
    await passIntervals(clock, 2);
    expect(lb.health('t1')).toBe('unhealthy');
    await passIntervals(clock, 1);
    await eventually(() => lb.health('t1') === 'healthy');
    // Every change is in the history, at the simulated time of the check that made it.
    const interval = designTopology.loadBalancer.healthCheck.intervalSeconds * 1_000;
    expect(lb.healthHistory.map(({ from, to, reason, atMs }) => ({ from, to, reason, atMs }))).toEqual([
      { from: 'unused', to: 'initial', reason: 'Elb.RegistrationInProgress', atMs: 0 },
      { from: 'initial', to: 'healthy', reason: undefined, atMs: 3 * interval },
      { from: 'healthy', to: 'unhealthy', reason: 'Target.FailedHealthChecks', atMs: 5 * interval },
      { from: 'unhealthy', to: 'healthy', reason: undefined, atMs: 8 * interval },
    ]);
  });

  it('a target’s checks fall at its own phase of the interval', async () => {
    const clock = new ManualClock(0);
    const t = await target('t1');
    const lb = await startAlb({ topology: designTopology, clock, workers: 1, healthCheckPhase: () => 0.25 });
    cleanups.push(() => lb.stop());
    lb.registerTarget({ id: 't1', url: t.url, az: 'a' });
    const interval = designTopology.loadBalancer.healthCheck.intervalSeconds * 1_000;
    for (let i = 0; i < 3; i++) {
      clock.advance(i === 0 ? interval / 4 : interval);
      await new Promise((r) => setTimeout(r, 100));
    }
    await eventually(() => lb.health('t1') === 'healthy');
    // Three checks, at a quarter interval, then one and two intervals later.
    expect(lb.healthHistory.at(-1)).toMatchObject({ to: 'healthy', atMs: interval / 4 + 2 * interval });
  });

  it('a warm target (serving before the simulation began) passes its threshold of checks at once, clock stopped', async () => {
    const clock = new ManualClock(0);
    const lb = await alb(clock);
    const up = await target('a');
    const down = await target('b');
    down.healthy = false;
    lb.registerTarget({ id: 'a', url: up.url, az: 'a' }, { warm: true });
    lb.registerTarget({ id: 'b', url: down.url, az: 'a' }, { warm: true });
    await eventually(() => lb.health('a') === 'healthy');
    expect(lb.health('b')).not.toBe('healthy');
    const cold = await target('c');
    lb.registerTarget({ id: 'c', url: cold.url, az: 'a' });
    await new Promise((r) => setTimeout(r, 300));
    expect(lb.health('c')).toBe('initial');
  });

  it('sticks with the AWSALB cookie, spreads without it, and re-sticks when the target goes unhealthy', async () => {
    const clock = new ManualClock(0);
    const [a, b] = [await target('a'), await target('b')];
    const lb = await healthyAlb(clock, [a, b]);
    const first = await fetch(`${lb.url}/x`);
    const cookies = first.headers.getSetCookie();
    expect(
      cookies.some(
        (c) =>
          c.startsWith('AWSALB=') &&
          c.includes(`Max-Age=${designTopology.loadBalancer.stickiness.durationSeconds}`),
      ),
    ).toBe(true);
    expect(cookies.some((c) => c.startsWith('AWSALBCORS='))).toBe(true);
    const sticky = cookies.find((c) => c.startsWith('AWSALB='))!.split(';')[0]!;
    const stuckTo = await first.text();
    for (let i = 0; i < 10; i++)
      expect(await (await fetch(`${lb.url}/x`, { headers: { cookie: sticky } })).text()).toBe(stuckTo);
    const spread = new Set<string>();
    for (let i = 0; i < 10; i++) spread.add(await (await fetch(`${lb.url}/x`)).text());
    expect(spread).toEqual(new Set(['a', 'b']));

    (stuckTo === 'a' ? a : b).healthy = false;
    await passIntervals(clock, 2);
    await eventually(() => lb.health(stuckTo) === 'unhealthy');
    await new Promise((r) => setTimeout(r, 50));
    const moved = await fetch(`${lb.url}/x`, { headers: { cookie: sticky } });
    expect(await moved.text()).not.toBe(stuckTo);
    expect(moved.headers.getSetCookie().some((c) => c.startsWith('AWSALB='))).toBe(true);
  });
});

describe('ALB emulator: a client’s round-robin turn', () => {
  it('sends a client without stickiness to the routable target of its turn, whichever worker and connection it reaches', async () => {
    const clock = new ManualClock(0);
    const [a, b] = [await target('a'), await target('b')];
    const lb = await healthyAlb(clock, [a, b]);
    const landed = async (turn: number) => {
      // A new connection each time: the kernel spreads them over the two workers.
      const res = await fetch(`${lb.url}/x`, {
        headers: { [CLIENT_TURN_HEADER]: String(turn), connection: 'close' },
      });
      return res.text();
    };
    const turns = [0, 1, 2, 3, 7, 7, 7, 7, 10, 11];
    const first = await Promise.all(turns.map(landed));
    expect(await Promise.all(turns.map(landed))).toEqual(first);
    expect(first.filter((_, i) => turns[i]! % 2 === 0).every((id) => id === first[0])).toBe(true);
    expect(first.filter((_, i) => turns[i]! % 2 === 1).every((id) => id !== first[0])).toBe(true);
    // A turn that is not a whole number is no turn: round robin.
    const spread = new Set<string>();
    for (let i = 0; i < 6; i++)
      spread.add(await (await fetch(`${lb.url}/x`, { headers: { [CLIENT_TURN_HEADER]: 'x1' } })).text());
    expect(spread).toEqual(new Set(['a', 'b']));
  });
});

describe('ALB emulator: failing open, forwarding, no target', () => {
  it('fails open like ALB: with every target unhealthy it routes to all of them', async () => {
    const clock = new ManualClock(0);
    const [a, b] = [await target('a'), await target('b')];
    const lb = await healthyAlb(clock, [a, b]);
    a.healthy = false;
    b.healthy = false;
    await passIntervals(clock, 2);
    await eventually(() => lb.health('a') === 'unhealthy' && lb.health('b') === 'unhealthy');
    await new Promise((r) => setTimeout(r, 50));
    const served = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${lb.url}/x`);
      expect(res.status).toBe(200);
      served.add(await res.text());
    }
    expect(served).toEqual(new Set(['a', 'b']));
    // One healthy again: traffic goes only there.
    a.healthy = true;
    await passIntervals(clock, 3);
    await eventually(() => lb.health('a') === 'healthy');
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 6; i++) expect(await (await fetch(`${lb.url}/x`)).text()).toBe('a');
  });

  it('adds forwarding headers and answers 503 like ALB when no target is registered', async () => {
    const clock = new ManualClock(0);
    const lb = await alb(clock);
    const res = await fetch(`${lb.url}/api/events`);
    expect(res.status).toBe(503);
    expect(res.headers.get('server')).toBe('awselb/2.0');
    expect(await res.text()).toContain('<title>503 Service Temporarily Unavailable</title>');
  });
});

describe('ALB emulator: a dying target and draining', () => {
  it('answers 502 when the target dies mid-request', async () => {
    const clock = new ManualClock(0);
    const child = spawn(
      process.execPath,
      [
        '-e',
        `
      const http = require('node:http');
      http.createServer((req, res) => { if (req.url === '/health') return res.end('ok'); }).listen(0, '127.0.0.1', function () { console.log(this.address().port); });
    `,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    cleanups.push(() => child.kill('SIGKILL'));
    const port = await new Promise<string>((r) =>
      child.stdout.once('data', (d: Buffer) => r(String(d).trim())),
    );
    const lb = await alb(clock);
    lb.registerTarget({ id: 'dying', url: `http://127.0.0.1:${port}`, az: 'a' });
    await passIntervals(clock, 3);
    await eventually(() => lb.health('dying') === 'healthy');
    await new Promise((r) => setTimeout(r, 50));
    const pending = fetch(`${lb.url}/hangs`);
    await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGKILL');
    const res = await pending;
    expect(res.status).toBe(502);
    expect(await res.text()).toContain('502 Bad Gateway');
  });

  it('draining keeps an in-flight request and a WebSocket for the delay, sends nothing new, then closes', async () => {
    const clock = new ManualClock(0);
    const a = await target('a', { socketIo: true });
    const b = await target('b', { socketIo: true });
    const lb = await healthyAlb(clock, [a]);
    const toA = (await fetch(`${lb.url}/x`)).headers
      .getSetCookie()
      .find((c) => c.startsWith('AWSALB='))!
      .split(';')[0]!;
    const socket = io(lb.url, { transports: ['websocket'], reconnection: false, forceNew: true });
    cleanups.push(() => socket.close());
    expect(await new Promise((r) => socket.once('hello', r))).toBe('a');
    lb.registerTarget({ id: 'b', url: b.url, az: 'b' });
    await passIntervals(clock, 3);
    await eventually(() => lb.health('b') === 'healthy');
    const slow = fetch(`${lb.url}/slow`, { headers: { cookie: toA } });
    await eventually(() => a.hits === 2);
    const drained = lb.deregisterTarget('a');
    await eventually(() => lb.health('a') === 'draining');
    await new Promise((r) => setTimeout(r, 50));
    // New requests go to b; the slow one on a completes.
    const hitsBefore = a.hits;
    for (let i = 0; i < 5; i++) expect(await (await fetch(`${lb.url}/x`)).text()).toBe('b');
    expect(a.hits).toBe(hitsBefore);
    expect(await (await slow).text()).toBe('slow from a');
    expect(socket.connected).toBe(true);
    // At the end of the delay the WebSocket is closed.
    const closed = new Promise((r) => socket.once('disconnect', r));
    clock.advance(DRAIN_MS);
    await closed;
    await drained;
    expect(lb.health('a')).toBe('unused');
  });
});

describe('ALB emulator: its node addresses', () => {
  it('answers on every node address at one port, and a cookie from one node sticks at the others', async () => {
    const clock = new ManualClock(0);
    const [a, b] = [await target('a'), await target('b')];
    const lb = await healthyAlb(clock, [a, b]);
    expect(new Set(lb.urls.map((u) => new URL(u).hostname)).size).toBe(lb.urls.length);
    expect(new Set(lb.urls.map((u) => new URL(u).port))).toEqual(new Set([String(lb.port)]));
    expect(lb.url).toBe(lb.urls[0]);
    const first = await fetch(`${lb.urls[0]}/x`);
    const cookie = first.headers
      .getSetCookie()
      .find((c) => c.startsWith('AWSALB='))!
      .split(';')[0]!;
    const stuckTo = await first.text();
    for (const url of lb.urls) {
      const res = await fetch(`${url}/x`, { headers: { cookie } });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(stuckTo);
    }
  });
});

describe('ALB emulator: WebSockets across workers, and worker lifetime', () => {
  it('keeps a WebSocket client on its instance across workers with the cookie', async () => {
    const clock = new ManualClock(0);
    const [a, b] = [await target('a', { socketIo: true }), await target('b', { socketIo: true })];
    const lb = await healthyAlb(clock, [a, b], 3);
    const first = await fetch(`${lb.url}/x`);
    const cookie = first.headers
      .getSetCookie()
      .find((c) => c.startsWith('AWSALB='))!
      .split(';')[0]!;
    const expected = await first.text();
    for (let i = 0; i < 6; i++) {
      const s = io(lb.url, {
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        extraHeaders: { cookie },
      });
      expect(await new Promise((r) => s.once('hello', r))).toBe(expected);
      s.close();
    }
  });

  it('its workers exit when the control process is killed', async () => {
    const script = `
      import { startAlb } from './harness/alb/alb.ts';
      import { ManualClock } from './harness/clock/clock.ts';
      import { designTopology } from './infra/topology.ts';
      const lb = await startAlb({ topology: designTopology, clock: new ManualClock(0), workers: 2 });
      console.log(JSON.stringify(lb['workers'].map((w) => w.pid)));
      setInterval(() => {}, 1000);
    `;
    const control = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const pids = JSON.parse(
      await new Promise<string>((r) => control.stdout.once('data', (d: Buffer) => r(String(d)))),
    ) as number[];
    expect(pids.every(isAlive)).toBe(true);
    control.kill('SIGKILL');
    await eventually(() => !pids.some(isAlive), 10_000);
  });
});

/** A target for the proxy-path tests: echoes requests and misbehaves on request. */
async function echoTarget(
  id: string,
  configure?: (server: Server) => void,
): Promise<TestTarget & { upgraded: Set<Socket> }> {
  const upgraded = new Set<Socket>();
  const t = { id, url: '', healthy: true, server: createServer(), hits: 0, upgraded };
  configure?.(t.server);
  t.server.on('request', (req, res) => {
    if (req.url === '/health') return void res.writeHead(t.healthy ? 200 : 503).end();
    t.hits++;
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      switch (req.url) {
        case '/chunked':
          res.write('one,');
          setTimeout(() => res.write('two,'), 20);
          setTimeout(() => res.end('three'), 40);
          return;
        case '/no-content':
          return void res.writeHead(204, { 'x-target': id }).end();
        case '/not-modified':
          return void res.writeHead(304, { etag: '"1"', 'content-length': 5 }).end();
        case '/close':
          return void res.writeHead(200, { connection: 'close', 'content-length': 2 }).end('ok');
        case '/big':
          return void res.end(Buffer.alloc(3_000_000, 'b'));
        case '/sha':
          return void res.end(createHash('sha256').update(body).digest('hex'));
        case '/reset':
          return void req.socket.destroy();
        case '/partial':
          res.writeHead(200, { 'content-length': 100 });
          res.write('0123456789');
          return void setTimeout(() => req.socket.destroy(), 50);
        case '/slow':
          return void setTimeout(() => res.end('slow'), 600);
        default:
          res.setHeader('x-target', id);
          res.end(
            JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: String(body) }),
          );
      }
    });
  });
  t.server.on('upgrade', (_req, socket: Socket) => {
    upgraded.add(socket);
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.on('data', (d) => socket.write(d)).on('error', () => {});
    socket.on('end', () => socket.end()).on('close', () => upgraded.delete(socket));
  });
  await new Promise<void>((r) => t.server.listen(0, '127.0.0.1', () => r()));
  t.url = `http://127.0.0.1:${(t.server.address() as { port: number }).port}`;
  cleanups.push(() => {
    for (const s of upgraded) s.destroy();
    t.server.closeAllConnections();
    return new Promise((r) => t.server.close(r));
  });
  return t;
}

/** Writes `steps` on one raw connection (a number is a pause, ms) and returns all it got until closed. */
function raw(port: number, steps: (string | Buffer | number)[], timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let out = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connection still open after ${timeoutMs} ms; got: ${out.slice(0, 500)}`));
    }, timeoutMs);
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    void (async () => {
      for (const step of steps) {
        if (typeof step === 'number') await new Promise((r) => setTimeout(r, step));
        else if (!socket.destroyed) socket.write(step);
      }
    })();
  });
}

function statusLines(text: string): string[] {
  return text.match(/HTTP\/1\.1 \d{3}[^\r]*/g) ?? [];
}

function shortIdle(seconds: number) {
  return { ...designTopology, loadBalancer: { ...designTopology.loadBalancer, idleTimeoutSeconds: seconds } };
}

async function readyAlb(targets: TestTarget[], options: { workers?: number; idleSeconds?: number } = {}) {
  const clock = new ManualClock(0);
  const lb = await startAlb({
    topology: options.idleSeconds ? shortIdle(options.idleSeconds) : designTopology,
    clock,
    workers: options.workers ?? 2,
  });
  cleanups.push(() => lb.stop());
  for (const t of targets) lb.registerTarget({ id: t.id, url: t.url, az: 'a' });
  await passIntervals(clock, designTopology.loadBalancer.healthCheck.healthyThresholdCount);
  await eventually(() => lb.targetHealth().every((t) => t.state === 'healthy'));
  await new Promise((r) => setTimeout(r, 50));
  return lb;
}

describe('ALB emulator: the HTTP/1.1 proxy path, framing', () => {
  it('forwards method, path and a JSON body, and adds X-Forwarded-For/Proto/Port and X-Amzn-Trace-Id', async () => {
    const lb = await readyAlb([await echoTarget('a')]);
    const res = await fetch(`${lb.url}/api/orders?x=1`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-forwarded-for': '203.0.113.7',
        'x-amzn-trace-id': 'Root=forged',
      },
      body: JSON.stringify({ seats: 2 }),
    });
    expect(res.status).toBe(200);
    const seen = (await res.json()) as {
      method: string;
      url: string;
      headers: Record<string, string>;
      body: string;
    };
    expect(seen).toMatchObject({ method: 'POST', url: '/api/orders?x=1', body: '{"seats":2}' });
    expect(seen.headers).toMatchObject({
      'content-type': 'application/json',
      'x-forwarded-for': '203.0.113.7, 127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-port': String(lb.port),
    });
    expect(seen.headers['x-amzn-trace-id']).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/);
  });

  it('relays chunked bodies both ways, split across packets', async () => {
    const lb = await readyAlb([await echoTarget('a')]);
    const echoed = await raw(lb.port, [
      'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r',
      20,
      '\nabcd\r\n',
      20,
      '6;ext=1\r\nefghij\r\n0\r\n',
      20,
      'X-Trailer: 1\r\n\r\n',
    ]);
    expect(echoed).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(echoed).toContain('"body":"abcdefghij"');
    const res = await fetch(`${lb.url}/chunked`);
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    expect(await res.text()).toBe('one,two,three');
  });

  it('HEAD, 204 and 304 carry no body and the connection goes on; pipelined requests answered in order', async () => {
    const lb = await readyAlb([await echoTarget('a')]);
    const out = await raw(lb.port, [
      'HEAD /echo HTTP/1.1\r\nHost: a\r\n\r\nGET /no-content HTTP/1.1\r\nHost: a\r\n\r\n' +
        'GET /not-modified HTTP/1.1\r\nHost: a\r\n\r\nGET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    ]);
    expect(statusLines(out)).toEqual([
      'HTTP/1.1 200 OK',
      'HTTP/1.1 204 No Content',
      'HTTP/1.1 304 Not Modified',
      'HTTP/1.1 200 OK',
    ]);
    expect(out).toContain('"url":"/last"');
    expect(out.match(/Set-Cookie: AWSALB=/g)).toHaveLength(4);
  });

  it('reads a request head that arrives a few bytes at a time', async () => {
    const lb = await readyAlb([await echoTarget('a')]);
    const request = 'GET /split HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n';
    const steps: (string | number)[] = [];
    for (let i = 0; i < request.length; i += 5) steps.push(request.slice(i, i + 5), 5);
    const out = await raw(lb.port, steps);
    expect(statusLines(out)).toEqual(['HTTP/1.1 200 OK']);
    expect(out).toContain('"url":"/split"');
  });
});

describe('ALB emulator: the HTTP/1.1 proxy path, connections and bodies', () => {
  it('Connection: close from the client or from the target closes the client connection after the response', async () => {
    const lb = await readyAlb([await echoTarget('a')]);
    const fromClient = await raw(lb.port, ['GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n']);
    expect(fromClient).toMatch(/\r\nConnection: close\r\n/);
    // The target says close: the client is told so and the connection ends (a second request is not read).
    const fromTarget = await raw(lb.port, [
      'GET /close HTTP/1.1\r\nHost: a\r\n\r\n',
      100,
      'GET /x HTTP/1.1\r\nHost: a\r\n\r\n',
    ]);
    expect(statusLines(fromTarget)).toEqual(['HTTP/1.1 200 OK']);
    expect(fromTarget).toMatch(/\r\nConnection: close\r\n\r\nok$/);
    // HTTP/1.0 without keep-alive: one response, then the connection closes.
    const http10 = await raw(lb.port, ['GET /x HTTP/1.0\r\n\r\n']);
    expect(http10).toContain('"url":"/x"');
  });

  it('passes Expect: 100-continue through to the target', async () => {
    const lb = await readyAlb([await echoTarget('a')]);
    const out = await raw(lb.port, [
      'POST /expect HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n',
      200,
      'hello',
    ]);
    expect(statusLines(out)).toEqual(['HTTP/1.1 100 Continue', 'HTTP/1.1 200 OK']);
    expect(out).toContain('"body":"hello"');
  });

  it('relays large bodies both ways', async () => {
    const lb = await readyAlb([await echoTarget('a')]);
    const body = randomBytes(4_000_000);
    const sha = await (await fetch(`${lb.url}/sha`, { method: 'POST', body })).text();
    expect(sha).toBe(createHash('sha256').update(body).digest('hex'));
    expect((await (await fetch(`${lb.url}/big`)).arrayBuffer()).byteLength).toBe(3_000_000);
  });
});

describe('ALB emulator: the HTTP/1.1 proxy path, with bad input', () => {
  it('answers 400 to a malformed or oversized head, and the worker serves on', async () => {
    const lb = await readyAlb([await echoTarget('a')]);
    for (const bad of [
      '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n',
      'GET / HTTP/1.1\nHost: a\n\n',
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
      `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'x'.repeat(70_000)}\r\n\r\n`,
      'CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n',
    ]) {
      const out = await raw(lb.port, [bad]);
      expect(out).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
      expect(out).toContain('<title>400 Bad Request</title>');
    }
    // A broken chunked request body, after the head was forwarded.
    const brokenBody = await raw(lb.port, [
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    ]);
    expect(brokenBody).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    // Clients that vanish mid-head or mid-body.
    const halfHead = connect(lb.port, '127.0.0.1', () => halfHead.write('GET / HTTP/1.1\r\nHo'));
    halfHead.on('error', () => {});
    await new Promise((r) => setTimeout(r, 20));
    halfHead.destroy();
    const s = connect(lb.port, '127.0.0.1', () =>
      s.end('POST /sha HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc'),
    );
    s.on('error', () => {});
    await new Promise((r) => s.on('close', r));
    const pids = (lb as unknown as { workers: { pid: number }[] }).workers.map((w) => w.pid);
    for (let i = 0; i < 6; i++) expect((await fetch(`${lb.url}/x`)).status).toBe(200);
    expect(pids.every(isAlive)).toBe(true);
  });

  it('a stream of mangled requests, split anywhere, never takes a worker down', async () => {
    const lb = await readyAlb([await echoTarget('a')], { idleSeconds: 1 });
    const valid = [
      'GET /x?y=1 HTTP/1.1\r\nHost: a\r\nCookie: AWSALB=zz; b=2\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n',
      'POST /sha HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      'POST /sha HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello',
      'GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nxx',
    ].map((r) => Buffer.from(r, 'latin1'));
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    const cases = Array.from({ length: 300 }, () => {
      const bytes = [...Buffer.concat([valid[rand(valid.length)]!, valid[rand(valid.length)]!])];
      for (let m = rand(4); m >= 0; m--) {
        const at = rand(bytes.length);
        const op = rand(3);
        if (op === 0) bytes[at] = rand(256);
        else if (op === 1) bytes.splice(at, 0, [13, 10, 58, 32, 48, 0][rand(6)]!);
        else bytes.splice(at, 1 + rand(8));
      }
      const buf = Buffer.from(bytes);
      const cut = rand(buf.length + 1);
      return [buf.subarray(0, cut), buf.subarray(cut)];
    });
    const send = ([first, second]: Buffer[]) =>
      new Promise<void>((resolve) => {
        const socket = connect(lb.port, '127.0.0.1', () => {
          socket.write(first!);
          setTimeout(() => socket.end(second!), 5);
        });
        socket.on('data', () => {}).on('error', () => {});
        socket.on('close', () => resolve());
        setTimeout(() => socket.destroy(), 5_000);
      });
    for (let i = 0; i < cases.length; i += 25) await Promise.all(cases.slice(i, i + 25).map(send));
    const pids = (lb as unknown as { workers: { pid: number }[] }).workers.map((w) => w.pid);
    expect(pids.every(isAlive)).toBe(true);
    for (let i = 0; i < 6; i++) expect((await fetch(`${lb.url}/x`)).status).toBe(200);
    await eventually(() => lb.connectionsPerTarget().a === 0);
  });
});

describe('ALB emulator: the HTTP/1.1 proxy path, when targets fail', () => {
  it('502 when the target resets before answering; the client connection is cut when it fails mid-body', async () => {
    const lb = await readyAlb([await echoTarget('a')]);
    const res = await fetch(`${lb.url}/reset`);
    expect(res.status).toBe(502);
    expect(res.headers.get('server')).toBe('awselb/2.0');
    expect(await res.text()).toContain('<title>502 Bad Gateway</title>');
    const cut = await raw(lb.port, ['GET /partial HTTP/1.1\r\nHost: a\r\n\r\n']);
    expect(cut).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(cut).toMatch(/\r\n\r\n0123456789$/);
    await eventually(() => lb.stats().errors502 >= 2);
  });

  it('counts requests in flight per target and closes client connections idle past the idle timeout', async () => {
    const lb = await readyAlb([await echoTarget('a')], { idleSeconds: 1 });
    const slow = fetch(`${lb.url}/slow`);
    await eventually(() => lb.connectionsPerTarget().a === 1);
    expect(await (await slow).text()).toBe('slow');
    await eventually(() => lb.connectionsPerTarget().a === 0);
    // A kept-alive connection with nothing to do, and one that stopped halfway through a head.
    const started = Date.now();
    const idle = await raw(lb.port, ['GET /x HTTP/1.1\r\nHost: a\r\n\r\n'], 5_000);
    expect(statusLines(idle)).toEqual(['HTTP/1.1 200 OK']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(await raw(lb.port, ['GET /x HTTP/1.1\r\nHo'], 5_000)).toBe('');
  });

  it('a kept-alive target connection closed as it is reused: a GET goes again on a new one, a POST gets 502', async () => {
    // A raw target that answers once per connection (keep-alive, no hint) and drops the
    // connection when a second /race request arrives on it, as a target timing out idle
    // connections does when the request crosses its close.
    let dropped = 0;
    const open = new Set<Socket>();
    const target = createNetServer((socket) => {
      let served = 0;
      open.add(socket);
      socket.on('error', () => {}).on('close', () => open.delete(socket));
      socket.on('data', (d: Buffer) => {
        const text = d.toString('latin1');
        if (text.startsWith('GET /health ') || served++ === 0) {
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
          return;
        }
        dropped++;
        socket.destroy();
      });
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => {
      for (const socket of open) socket.destroy();
      return new Promise((r) => target.close(r));
    });
    const port = (target.address() as { port: number }).port;
    const t: TestTarget = {
      id: 'a',
      url: `http://127.0.0.1:${port}`,
      healthy: true,
      server: createServer(),
      hits: 0,
    };
    const lb = await readyAlb([t], { workers: 1 });
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${lb.url}/race`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('ok');
    }
    expect(dropped).toBe(3);
    const post = await fetch(`${lb.url}/race`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(502);
    await post.text();
  });
});

describe('ALB emulator: the HTTP/1.1 proxy path, upgrades and 503', () => {
  it('a WebSocket upgrade gets the sticky cookie on its 101, carries bytes both ways and is counted', async () => {
    const t = await echoTarget('a');
    const lb = await readyAlb([t]);
    const socket = connect(lb.port, '127.0.0.1');
    cleanups.push(() => socket.destroy());
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.write(
      'GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    await eventually(() => got.includes('\r\n\r\n'));
    expect(got).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(got).toMatch(/\r\nSet-Cookie: AWSALB=[^;]+; Max-Age=\d+; Path=\/\r\n/);
    expect(got).toMatch(/\r\nSet-Cookie: AWSALBCORS=/);
    socket.write('ping');
    await eventually(() => got.endsWith('\r\n\r\nping'));
    await eventually(() => lb.connectionsPerTarget().a === 1);
    // The client goes: the tunnel closes, the target's side included.
    socket.destroy();
    await eventually(() => lb.connectionsPerTarget().a === 0);
    await eventually(() => t.upgraded.size === 0);
  });

  it('answers a non-WebSocket upgrade (h2c) as a plain request, without its upgrade headers, and serves on', async () => {
    const t = await echoTarget('a');
    const lb = await readyAlb([t]);
    const h2c =
      'GET /health-h2c HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n' +
      'HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n';
    const got = await raw(lb.port, [h2c, 'GET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n']);
    expect(statusLines(got)).toEqual(['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK']);
    const seen = JSON.parse(/\{"method".*?"body":""\}/.exec(got)![0]) as {
      url: string;
      headers: Record<string, string>;
    };
    expect(seen.url).toBe('/health-h2c');
    expect(seen.headers).not.toHaveProperty('upgrade');
    expect(seen.headers).not.toHaveProperty('http2-settings');
    expect(seen.headers.connection ?? '').not.toMatch(/upgrade/i);
    expect(got).toContain('"url":"/after"');
    expect(t.upgraded.size).toBe(0);
  });

  it('answers 503 on a kept-alive connection and goes on serving it once a target is there', async () => {
    const clock = new ManualClock(0);
    const lb = await alb(clock);
    const socket = connect(lb.port, '127.0.0.1');
    cleanups.push(() => socket.destroy());
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.write('GET /x HTTP/1.1\r\nHost: a\r\n\r\n');
    await eventually(() => got.includes('</html>'));
    expect(statusLines(got)).toEqual(['HTTP/1.1 503 Service Temporarily Unavailable']);
    const t = await echoTarget('a');
    lb.registerTarget({ id: 'a', url: t.url, az: 'a' });
    await passIntervals(clock, 3);
    await eventually(() => lb.health('a') === 'healthy');
    await new Promise((r) => setTimeout(r, 50));
    socket.write('GET /again HTTP/1.1\r\nHost: a\r\n\r\n');
    await eventually(() => got.includes('"url":"/again"'));
  });
});
