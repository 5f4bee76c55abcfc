/**
 * What a virtual user records when the instance it is connected to goes: the instance (as the
 * app's `session:state` named it) and Socket.IO's reason, then its return to another instance.
 * Real app instances (one drained in this process, one a process killed with SIGKILL) over a real
 * data tier, the users in an in-process load worker, a TCP forwarder standing in for the load
 * balancer's choice of instance.
 */
import net, { type AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUsersInBulk } from '../../app/auth/bulk-users.ts';
import { createTokenSigner } from '../../app/auth/tokens.ts';
import { createRedis } from '../../app/core/redis.ts';
import { seedDemoEvent } from '../../app/sales/seed.ts';
import type { StartedTiketiServer } from '../../app/server.ts';
import { type DataTierServers, startDataTierServers } from '../../servers/data-tier.ts';
import { testPool } from '../../servers/test-clients.ts';
import { type StartedAppInstance, startAppInstance } from '../instances/app-instance.ts';
import { behaviourSchema } from '../scenario/schema.ts';
import { LoadWorker } from './load-worker.ts';
import type { FromWorker, ReconnectObservation, VirtualUserCredentials, WorkerReport } from './protocol.ts';
import { startTestInstance, TEST_TOKEN_SECRET } from './test-app.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not ${what} within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Every new TCP connection goes to the current target: the load balancer's choice, in miniature. */
async function startForwarder(port: number): Promise<{ url: string; target: number; close(): void }> {
  const state = { target: port };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(state.target, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get target() {
      return state.target;
    },
    set target(next: number) {
      state.target = next;
    },
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** A load worker in this process whose users wait in the queue of `waiting` (sales not open). */
function queuedUsersWorker(baseUrl: string) {
  const reports: WorkerReport[] = [];
  const errors: string[] = [];
  const worker = new LoadWorker(
    {
      type: 'init',
      workerIndex: 0,
      baseUrl,
      eventId: 'waiting',
      seatIds: ['A-1'],
      behaviour: behaviourSchema.parse({ socket: true, buyShare: 0 }),
      timeScale: 4,
      seed: 1,
      httpConnections: 4,
    },
    (m: FromWorker) => {
      if (m.type === 'report') reports.push(m);
      else if (m.type === 'error') errors.push(m.message);
    },
  );
  worker.start();
  return {
    worker,
    errors,
    connected: () => reports.at(-1)?.socketsConnected ?? 0,
    reconnects: (): ReconnectObservation[] => reports.flatMap((r) => r.reconnects),
  };
}

describe('a client records the instance it dropped from and why', () => {
  let tier: DataTierServers;
  let drained: StartedTiketiServer;
  let survivor: StartedTiketiServer;
  let killed: StartedAppInstance;
  let users: VirtualUserCredentials[];

  beforeAll(async () => {
    tier = await startDataTierServers();
    survivor = await startTestInstance(tier, { INSTANCE_ID: 'app-survivor', DRAIN_NOTICE_MS: '0' });
    drained = await startTestInstance(tier, { INSTANCE_ID: 'app-drained', DRAIN_NOTICE_MS: '0' });
    killed = await startAppInstance({
      id: 'app-killed',
      az: 'b',
      endpoints: {
        redis: { kind: 'url', url: tier.redis.url },
        postgres: { writerUrl: tier.postgres.url, readerUrl: tier.postgres.url },
      },
      tokenSecret: TEST_TOKEN_SECRET,
      env: { LOG_LEVEL: 'silent' },
    });
    const db = testPool(tier.postgres.url);
    const redis = createRedis({ kind: 'url', url: tier.redis.url }, pino({ level: 'silent' }), 'test');
    try {
      await seedDemoEvent(db, redis, { eventId: 'waiting', seats: 10 });
      users = await createUsersInBulk(db, redis, createTokenSigner(TEST_TOKEN_SECRET), {
        count: 6,
        emailPrefix: 'dropped',
        password: 'rehearsal-pass',
        sessionTtlSeconds: 3_600,
      });
    } finally {
      redis.disconnect();
      await db.end();
    }
  }, 120_000);
  afterAll(async () => {
    await killed?.kill();
    await Promise.allSettled([survivor?.close(), drained?.close()]);
    await tier?.stop();
  });

  /**
   * Three users connect through the forwarder to `port`; `fault` takes that instance away and
   * the forwarder sends new connections to the survivor. Returns what the users recorded.
   */
  async function dropAndReturn(
    port: number,
    from: VirtualUserCredentials[],
    fault: () => Promise<void>,
  ): Promise<ReconnectObservation[]> {
    const forwarder = await startForwarder(port);
    const load = queuedUsersWorker(forwarder.url);
    let stopped = false;
    try {
      load.worker.arrive(from.map((u) => ({ userId: u.userId, token: u.token })));
      await until(() => load.connected() === from.length, `${from.length} sockets connected`);
      await sleep(1_000); // their session:state has arrived
      forwarder.target = survivor.port;
      await fault();
      await until(() => load.reconnects().length === from.length, 'every user back');
      await load.worker.stop();
      stopped = true;
      expect(load.errors).toEqual([]);
      return load.reconnects();
    } finally {
      if (!stopped) await load.worker.stop();
      forwarder.close();
    }
  }

  it('a drained instance: transport close from it, back on another with the state kept', async () => {
    const seen = await dropAndReturn(drained.port, users.slice(0, 3), () => drained.drain(1_000));
    expect(seen).toHaveLength(3);
    for (const r of seen)
      expect(r).toMatchObject({
        instanceId: 'app-drained',
        reason: 'transport close',
        reconnectedAtWallMs: expect.any(Number),
        stateKept: true,
      });
  }, 60_000);

  it("a killed instance's process: transport close from it, back on another", async () => {
    const before = Date.now();
    const seen = await dropAndReturn(killed.port, users.slice(3, 6), () => killed.kill());
    expect(killed.exitedAtWallMs).toBeGreaterThanOrEqual(before);
    expect(seen.map((r) => [r.instanceId, r.reason, r.stateKept])).toEqual([
      ['app-killed', 'transport close', true],
      ['app-killed', 'transport close', true],
      ['app-killed', 'transport close', true],
    ]);
    for (const r of seen) expect(r.disconnectedAtWallMs).toBeGreaterThanOrEqual(before);
  }, 60_000);
});
