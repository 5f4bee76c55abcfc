import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { designTopology } from '../../infra/topology.ts';
import { nodeEntry } from '../../servers/entry-bundle.ts';
import { type SpawnedProcess, spawnProcess } from '../../servers/process.ts';
import { ManualClock } from '../clock/clock.ts';
import { type StartedAlb, startAlb } from './alb.ts';
import { RELAY_DELAY_HEADER } from './protocol.ts';

const INTERVAL_MS = designTopology.loadBalancer.healthCheck.intervalSeconds * 1_000;
const DRAIN_MS = designTopology.loadBalancer.deregistrationDelaySeconds * 1_000;
const FIXTURE = fileURLToPath(new URL('./fixtures/handoff-target.ts', import.meta.url));

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Greeting {
  id: string;
  forwardedFor: string;
  pid: number;
}

/** A target process with an IPC channel that takes its WebSockets (fixtures/handoff-target.ts). */
async function targetProcess(id: string): Promise<{ proc: SpawnedProcess; url: string }> {
  const run = await nodeEntry(FIXTURE);
  let printed: (line: string) => void = () => {};
  const port = new Promise<string>((resolve) => (printed = resolve));
  const proc = await spawnProcess({
    name: id,
    command: process.execPath,
    args: [...run.execArgv, run.modulePath, id],
    ipc: true,
    log: (line) => printed(line.slice(line.indexOf(']') + 2)),
  });
  cleanups.push(() => proc.kill());
  return { proc, url: `http://127.0.0.1:${await port}` };
}

async function albWith(clock: ManualClock, targets: { id: string; url: string; proc: SpawnedProcess }[]) {
  const lb = await startAlb({ topology: designTopology, clock, workers: 2 });
  cleanups.push(() => lb.stop());
  for (const t of targets) lb.registerTarget({ id: t.id, url: t.url, az: 'a', webSockets: t.proc.channel });
  for (let i = 0; i < designTopology.loadBalancer.healthCheck.healthyThresholdCount; i++) {
    clock.advance(INTERVAL_MS);
    await new Promise((r) => setTimeout(r, 100));
  }
  await eventually(() => lb.targetHealth().every((t) => t.state === 'healthy'));
  await new Promise((r) => setTimeout(r, 50)); // workers have the table
  return lb;
}

async function eventually(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function socketTo(lb: StartedAlb) {
  const socket = io(lb.url, { transports: ['websocket'], reconnection: false, forceNew: true });
  cleanups.push(() => socket.close());
  const greeting = new Promise<Greeting>((r) => socket.once('hello', r));
  return { socket, greeting };
}

const UPGRADE =
  'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
  'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

/** A client that asks for a WebSocket and resets its connection (TCP RST) at once, while the ALB hands it on. */
function upgradeAndReset(lb: StartedAlb): Promise<void> {
  const { hostname, port } = new URL(lb.url);
  return new Promise((resolve) => {
    const s = connect({ host: hostname, port: Number(port) }, () =>
      s.write(UPGRADE, () => s.resetAndDestroy()),
    );
    s.on('error', () => {}).on('close', () => resolve());
  });
}

/**
 * A raw WebSocket upgrade through the ALB: the head of the answer. `holdMs`: this process (the
 * ALB's control process, which relays the socket) is held that long as the upgrade leaves.
 */
function upgradeHead(lb: StartedAlb, holdMs = 0): Promise<string> {
  const { hostname, port } = new URL(lb.url);
  return new Promise((resolve, reject) => {
    const s = connect({ host: hostname, port: Number(port) });
    cleanups.push(() => s.destroy());
    let got = '';
    s.on('data', (d) => {
      got += d.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      if (end >= 0) resolve(got.slice(0, end));
    });
    s.on('error', reject);
    s.on('close', () => resolve(got));
    s.write(UPGRADE, () => {
      const until = performance.now() + holdMs;
      while (performance.now() < until) {
        // busy: the relay waits for this event loop
      }
    });
  });
}

function relayDelayOf(head: string): number | undefined {
  const m = new RegExp(`\\r\\n${RELAY_DELAY_HEADER}: (\\d+)\\r\\n`, 'i').exec(`${head}\r\n`);
  return m ? Number(m[1]) : undefined;
}

describe('ALB emulator: WebSockets handed to the target’s process', () => {
  it('the target serves the client’s own connection: forwarding headers and the sticky cookie as through a tunnel, and it outlives the ALB', async () => {
    const clock = new ManualClock(0);
    const a = { id: 'a', ...(await targetProcess('a')) };
    const lb = await albWith(clock, [a]);

    const head = await upgradeHead(lb);
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    expect(head).toMatch(/\r\nSet-Cookie: AWSALB=[^\r]+\r\nSet-Cookie: AWSALBCORS=/i);
    // The relay's own delay is told on the answer: the client can file a connect it held up apart.
    expect(relayDelayOf(head)).toBeGreaterThanOrEqual(0); // told, however busy this machine is
    const held = await upgradeHead(lb, 250);
    expect(held).toMatch(/^HTTP\/1\.1 101 /);
    expect(relayDelayOf(held)).toBeGreaterThan(100);

    const { socket, greeting } = socketTo(lb);
    const hello = await greeting;
    expect(hello).toMatchObject({ id: 'a', pid: a.proc.pid, forwardedFor: '127.0.0.1' });
    // Counted for the target (what draining waits for), by the control process.
    await eventually(() => (lb.connectionsPerTarget().a ?? 0) >= 1);
    // No ALB process relays it: with the workers gone, the socket still carries messages.
    await lb.stop();
    socket.emit('echo', 'still here');
    const echoed = await Promise.race([
      new Promise((r) => socket.once('echo', r)),
      new Promise((r) => socket.once('disconnect', () => r('disconnected'))),
      new Promise((r) => setTimeout(() => r('no answer within 5 s'), 5_000)),
    ]);
    expect(echoed).toBe('still here');
    expect(socket.connected).toBe(true);
  });

  it('draining counts a handed-off WebSocket: kept for the delay, then closed by its target, and done at once when none is left', async () => {
    const clock = new ManualClock(0);
    const a = { id: 'a', ...(await targetProcess('a')) };
    const lb = await albWith(clock, [a]);
    const first = socketTo(lb);
    await first.greeting;
    await eventually(() => lb.connectionsPerTarget().a === 1);

    const drained = lb.deregisterTarget('a');
    await new Promise((r) => setTimeout(r, 300));
    expect(lb.health('a')).toBe('draining');
    expect(first.socket.connected).toBe(true);
    const closed = new Promise((r) => first.socket.once('disconnect', r));
    clock.advance(DRAIN_MS);
    await closed;
    await drained;
    expect(lb.health('a')).toBe('unused');

    // A second target whose only WebSocket leaves: its deregistration ends without the delay.
    const b = { id: 'b', ...(await targetProcess('b')) };
    lb.registerTarget({ id: 'b', url: b.url, az: 'b', webSockets: b.proc.channel });
    for (let i = 0; i < 3; i++) {
      clock.advance(INTERVAL_MS);
      await new Promise((r) => setTimeout(r, 100));
    }
    await eventually(() => lb.health('b') === 'healthy');
    await new Promise((r) => setTimeout(r, 50));
    const second = socketTo(lb);
    expect((await second.greeting).id).toBe('b');
    await eventually(() => lb.connectionsPerTarget().b === 1);
    const drainedB = lb.deregisterTarget('b');
    second.socket.close();
    await drainedB;
    expect(lb.health('b')).toBe('unused');
  });

  it('a WebSocket routed to a target whose process is gone gets the ALB’s 502, and the worker serves on', async () => {
    const clock = new ManualClock(0);
    const a = { id: 'a', ...(await targetProcess('a')) };
    const lb = await albWith(clock, [a]);
    await a.proc.kill();
    // Its channel closed too (the exit and the channel's close are two events, in either order).
    await new Promise<void>((r) => a.proc.channel!.onClose(r));
    // Still registered and routed to (its checks have not failed yet): the hand-off finds it gone.
    const head = await upgradeHead(lb);
    expect(head).toMatch(/^HTTP\/1\.1 502 Bad Gateway/);
    expect(lb.stats().errors502).toBe(1);
    expect(lb.connectionsPerTarget().a ?? 0).toBe(0);
  });

  it('clients that reset their connection while it is handed off cost the control process nothing, whether the target takes it or is gone', async () => {
    // A socket on its way through the control process can be reset by its client, and the 502 of a
    // gone target written to one that was: either once ended a rehearsal's runner (ECONNRESET).
    const clock = new ManualClock(0);
    const a = { id: 'a', ...(await targetProcess('a')) };
    const b = { id: 'b', ...(await targetProcess('b')) };
    const lb = await albWith(clock, [a, b]);
    await b.proc.kill();
    await new Promise<void>((r) => b.proc.channel!.onClose(r));
    for (let i = 0; i < 40; i++) await Promise.all([upgradeAndReset(lb), upgradeAndReset(lb)]);
    // The ALB still answers upgrades: the live target's 101 or the gone one's 502.
    for (let i = 0; i < 4; i++)
      expect(await upgradeHead(lb)).toMatch(/^HTTP\/1\.1 (101 Switching Protocols|502 Bad Gateway)/);
  });
});
