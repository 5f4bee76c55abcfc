import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { Server as SocketServer } from 'socket.io';
import { io } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { designTopology } from '../../infra/topology.ts';
import { ManualClock } from '../clock/clock.ts';
import { isAlive } from '../run/process-tree.ts';
import { type StartedAlb, startAlb } from './alb.ts';

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

describe('ALB emulator', () => {
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
