import { Cluster, Redis } from 'ioredis';
import type pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { designTopology, queueMetricSettingsOf } from '../infra/topology.ts';
import type { StartedRedisCluster } from '../servers/redis-cluster.ts';
import { waitUntil } from '../servers/wait-until.ts';
import { createUsersInBulk } from './auth/bulk-users.ts';
import { createTokenSigner } from './auth/tokens.ts';
import { ConfigError, loadConfig } from './config.ts';
import { keys } from './core/keys.ts';
import { createRedis, type RedisClient } from './core/redis.ts';
import { createQueueMonitorHandler, type PutMetricDataInput } from './lambda/queue-monitor.ts';
import { openSales, seedDemoEvent } from './sales/seed.ts';
import { RateLimits } from './security/rate-limits.ts';
import type { StartedTiketiServer } from './server.ts';
import {
  api,
  connect,
  connected,
  type DataTier,
  nextEvent,
  startDataTier,
  startInstance,
  TEST_SECRET,
  testPool,
} from './test-support/app-harness.ts';

describe('cluster configuration', () => {
  const base = { DATABASE_URL: 'postgres://db/tiketi', TOKEN_SECRET: TEST_SECRET };
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig({ ...base, ...env });
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    return [];
  };

  it('reads REDIS_CLUSTER_NODES and REDIS_TLS into a cluster setting', () => {
    expect(
      loadConfig({
        ...base,
        REDIS_CLUSTER_NODES: 'clustercfg.example:6379, 10.0.11.5:6380',
        REDIS_TLS: 'true',
      }).redis,
    ).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'clustercfg.example', port: 6379 },
        { host: '10.0.11.5', port: 6380 },
      ],
      tls: true,
    });
    expect(loadConfig({ ...base, REDIS_CLUSTER_NODES: '127.0.0.1:7000' }).redis).toMatchObject({
      tls: false,
    });
  });

  it('refuses two ways to reach Redis, TLS without a cluster, and bad values, all at once', () => {
    expect(problems({ REDIS_CLUSTER_NODES: '127.0.0.1:7000', REDIS_URL: 'redis://127.0.0.1:6379' })).toEqual([
      'REDIS_CLUSTER_NODES: cannot be combined with REDIS_URL: set one way to reach Redis',
    ]);
    expect(problems({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_TLS: 'true' })).toEqual([
      'REDIS_TLS: applies to REDIS_CLUSTER_NODES only; for REDIS_URL use a rediss:// URL',
    ]);
    expect(problems({ REDIS_CLUSTER_NODES: 'nohost', REDIS_TLS: 'yes' })).toEqual([
      'REDIS_CLUSTER_NODES: "nohost" is not host:port (e.g. 127.0.0.1:26379)',
      'REDIS_TLS: must be true or false',
    ]);
    expect(problems({})).toEqual([
      'REDIS_URL: set REDIS_URL, REDIS_SENTINELS with REDIS_MASTER_NAME, or REDIS_CLUSTER_NODES',
    ]);
  });
});

const SETTINGS = {
  ADMISSION_PER_SECOND: '20',
  SHOPPING_WINDOW_SECONDS: '120',
  // Long enough that the holder's lease never lapses on a busy machine: A keeps it throughout.
  ADMISSION_LEASE_MS: '3000',
};

describe('the app on a Redis Cluster (ElastiCache cluster mode), two instances', () => {
  let tier: DataTier<StartedRedisCluster>;
  let a: StartedTiketiServer;
  let b: StartedTiketiServer;
  let redis: RedisClient;
  let pool: pg.Pool;

  beforeAll(async () => {
    tier = await startDataTier({ redis: 'cluster' });
    pool = testPool(tier.postgres.url);
    redis = createRedis(tier.redisSettings, pino({ level: 'silent' }), 'test');
    // A starts first and takes the admission lease: every admission is made on A, so whatever a
    // socket on B hears of it crossed instances through the Socket.IO adapter.
    a = await startInstance(tier, { ...SETTINGS, INSTANCE_ID: 'app-a' });
    await waitUntil('app-a to take the admission lease', async () => a.admitter.holdsLease);
    // B never pushes queue positions during the test, so it cannot learn of an admission by
    // asking the queue (its fallback for lost notices): only the adapter can tell it.
    b = await startInstance(tier, {
      ...SETTINGS,
      INSTANCE_ID: 'app-b',
      QUEUE_UPDATE_MS: '600000',
      QUEUE_UPDATE_SIMULATED_MS: '600000',
    });
  });
  afterAll(async () => {
    await Promise.allSettled([a?.close(), b?.close()]);
    await redis?.quit().catch(() => undefined);
    await pool?.end();
    await tier?.stop();
  });

  it('runs on a real cluster: three shards, a Cluster client', async () => {
    expect(redis).toBeInstanceOf(Cluster);
    const info = String(await redis.cluster('INFO'));
    expect(info).toContain('cluster_state:ok');
    expect(info).toContain('cluster_size:3');
  });

  it('rate limits count on the cluster: N allowed, N+1 refused, keys spread over shards', async () => {
    const limits = new RateLimits(redis, {
      ...designTopology.limits.rate,
      holdPerUser: { points: 3, windowSeconds: 60 },
    });
    const users = Array.from({ length: 12 }, (_, i) => `cluster-user-${i}`);
    for (const user of users) for (let i = 0; i < 3; i++) await limits.consume('holdPerUser', user);
    for (const user of users)
      await expect(limits.consume('holdPerUser', user)).rejects.toMatchObject({
        status: 429,
        code: 'rate_limited',
      });
    const slots = await Promise.all(users.map((u) => redis.cluster('KEYSLOT', `rate:holdPerUser:${u}`)));
    expect(new Set(slots.map((s) => tier.redis.primaryForSlot(Number(s)).id)).size).toBeGreaterThan(1);
  });

  it("puts every key of one event in one slot, so the event's scripts and MULTIs cannot hit CROSSSLOT", async () => {
    const eventId = 'slot-check';
    const eventKeys = [
      keys.queue(eventId),
      keys.active(eventId),
      keys.activeUntil(eventId),
      keys.admissions(eventId),
      keys.salesOpen(eventId),
      keys.seatLock(eventId, 'VIP-1-1'),
      keys.seatLock(eventId, 'S-60-50'),
      keys.userHolds(eventId, '7d0e2c1a-user'),
      keys.sold(eventId),
      keys.event(eventId),
    ];
    const slots = await Promise.all(
      eventKeys.map(async (key) => Number(await redis.cluster('KEYSLOT', key))),
    );
    expect(new Set(slots).size).toBe(1);
    // The standalone keys are not tied to it (they never share a command with an event's keys).
    expect(Number(await redis.cluster('KEYSLOT', keys.activeEvents))).not.toBe(slots[0]);

    // And the cluster does refuse a script across slots: asked directly, the shard that owns the
    // queue answers CROSSSLOT when `active-events` is among the keys (as the old JOIN had it).
    const owner = tier.redis.primaryForSlot(slots[0]!);
    const direct = new Redis(owner.server.port, owner.server.host, { maxRetriesPerRequest: 0 });
    try {
      await expect(
        direct.eval(
          "return redis.call('SADD', KEYS[2], ARGV[1])",
          2,
          keys.queue(eventId),
          keys.activeEvents,
          'x',
        ),
      ).rejects.toThrow(/CROSSSLOT/);
    } finally {
      direct.disconnect();
    }
  });

  it('the journey across instances: join on A, admitted on A, told on B, hold, reserve, pay', async () => {
    const eventId = 'cluster-drop';
    await seedDemoEvent(pool, redis, { eventId, seats: 60 });
    const registered = await api(a.url, 'POST', '/api/auth/register', {
      body: { email: 'cluster@example.com', password: 'correct horse', name: 'Cluster Fan' },
    });
    expect(registered.status).toBe(202);
    const login = await api(b.url, 'POST', '/api/auth/login', {
      body: { email: 'cluster@example.com', password: 'correct horse' },
    });
    expect(login.status).toBe(200);
    const { token } = login.body as { token: string };

    const socket = connect(b.url, { token, eventId });
    try {
      const state = nextEvent(socket, 'session:state');
      await connected(socket);
      expect((await state).state).toBe('none');

      const joined = await api(a.url, 'POST', `/api/events/${eventId}/queue`, { token });
      expect(joined.status).toBe(201);
      expect(joined.body).toEqual({ position: 1, queueSize: 1 });
      expect(await redis.sismember(keys.activeEvents, eventId)).toBe(1);
      const queued = await api(b.url, 'GET', `/api/events/${eventId}/queue/me`, { token });
      expect(queued.body).toMatchObject({ state: 'queued', position: 1 });

      // Sales open: A, the lease holder, admits; B's socket hears it through the sharded adapter.
      const admitted = nextEvent<{ eventId: string; admittedUntil: number }>(socket, 'queue:admitted');
      await openSales(pool, redis, eventId);
      const admission = await admitted;
      expect(admission.eventId).toBe(eventId);
      expect(admission.admittedUntil).toBeGreaterThan(Date.now());
      expect(a.admitter.admittedCount).toBe(1);
      expect(b.admitter.admittedCount).toBe(0);
      expect(await redis.sismember(keys.active(eventId), login.body.userId)).toBe(1);
      // Joining again once admitted says so (the JOIN script's admitted branch, on B).
      const again = await api(b.url, 'POST', `/api/events/${eventId}/queue`, { token });
      expect(again.status).toBe(200);
      expect(again.body.state).toBe('admitted');

      const seats = await api(b.url, 'GET', `/api/events/${eventId}/seats`);
      const [first, second] = (seats.body.seats as { seatId: string; status: string }[])
        .filter((s) => s.status === 'available')
        .map((s) => s.seatId);
      // Held through A: the seat broadcast reaches the shopper on B through the adapter.
      const held = nextEvent<{ eventId: string; held: string[] }>(socket, 'seats:changed', (p) =>
        p.held.includes(first!),
      );
      expect((await api(a.url, 'POST', `/api/events/${eventId}/seats/${first}/hold`, { token })).status).toBe(
        201,
      );
      expect((await held).eventId).toBe(eventId);
      expect(
        (await api(b.url, 'POST', `/api/events/${eventId}/seats/${second}/hold`, { token })).status,
      ).toBe(201);
      const released = nextEvent<{ available: string[] }>(socket, 'seats:changed', (p) =>
        p.available.includes(second!),
      );
      expect(
        (await api(a.url, 'DELETE', `/api/events/${eventId}/seats/${second}/hold`, { token })).status,
      ).toBe(200);
      expect((await released).available).toContain(second);
      expect(
        (await api(a.url, 'POST', `/api/events/${eventId}/seats/${second}/hold`, { token })).status,
      ).toBe(201);
      // The seat map is a snapshot per instance (limits.seatSnapshotTtlMs): it shows the holds once renewed.
      await vi.waitFor(
        async () => {
          const seatMap = await api(b.url, 'GET', `/api/events/${eventId}/seats`);
          const statusOf = (id: string) =>
            (seatMap.body.seats as { seatId: string; status: string }[]).find((s) => s.seatId === id)?.status;
          expect([statusOf(first!), statusOf(second!)]).toEqual(['held', 'held']);
        },
        { timeout: 5_000, interval: 200 },
      );

      const reservation = await api(a.url, 'POST', '/api/reservations', {
        token,
        body: { eventId, seatIds: [first, second] },
      });
      expect(reservation.status).toBe(201);
      expect(reservation.body).toMatchObject({ status: 'pending' });

      const sold = nextEvent<{ sold: string[] }>(socket, 'seats:changed', (p) => p.sold.length > 0);
      const payment = await api(
        b.url,
        'POST',
        `/api/reservations/${reservation.body.reservationId}/payments`,
        {
          token,
          body: { method: 'card' },
        },
      );
      expect(payment.status).toBe(201);
      expect((await sold).sold.sort()).toEqual([first, second].sort());

      const mine = await api(a.url, 'GET', `/api/reservations/${reservation.body.reservationId}`, { token });
      expect(mine.body).toMatchObject({ status: 'confirmed', seatIds: [first, second].sort() });
      expect((await api(a.url, 'GET', `/api/events/${eventId}/queue/me`, { token })).body.state).toBe('none');
      // markSold's MULTI (sold set, seat locks, the user's holds) ran on the event's shard.
      expect((await redis.smembers(keys.sold(eventId))).sort()).toEqual([first, second].sort());
      expect(await redis.exists(keys.seatLock(eventId, first!))).toBe(0);
      expect(await redis.scard(keys.userHolds(eventId, login.body.userId))).toBe(0);
      await vi.waitFor(
        async () => {
          const after = await api(b.url, 'GET', `/api/events/${eventId}/seats`);
          expect(
            (after.body.seats as { seatId: string; status: string }[])
              .filter((s) => s.status === 'sold')
              .map((s) => s.seatId)
              .sort(),
          ).toEqual([first, second].sort());
        },
        { timeout: 5_000, interval: 200 },
      );
      const { rows } = await pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM reservations WHERE event_id = $1 AND status = 'confirmed'",
        [eventId],
      );
      expect(rows[0]!.n).toBe(1);
    } finally {
      socket.close();
    }
  });

  it('bulk users, the admission lease and the queue monitor (a Cluster client from one startup node)', async () => {
    const eventId = 'cluster-queue';
    await seedDemoEvent(pool, redis, { eventId, seats: 10 });
    const users = await createUsersInBulk(pool, redis, createTokenSigner(TEST_SECRET), {
      count: 40,
      emailPrefix: 'cluster',
      password: 'rehearsal-pass',
      sessionTtlSeconds: 3_600,
    });
    // The sessions went to several shards (one pipeline could not have held them), all written.
    const shards = await Promise.all(
      users.map(
        async (u) =>
          tier.redis.primaryForSlot(
            Number(await redis.cluster('KEYSLOT', keys.session(u.userId, u.sessionId))),
          ).id,
      ),
    );
    expect(new Set(shards).size).toBeGreaterThan(1);
    expect(await Promise.all(users.map((u) => redis.exists(keys.session(u.userId, u.sessionId))))).toEqual(
      users.map(() => 1),
    );

    for (const [i, u] of users.entries()) {
      const joined = await api(i % 2 === 0 ? a.url : b.url, 'POST', `/api/events/${eventId}/queue`, {
        token: u.token,
      });
      expect(joined.status).toBe(201);
      expect(joined.body.position).toBe(i + 1);
    }
    const leaving = users.at(-1)!;
    expect(
      (await api(b.url, 'DELETE', `/api/events/${eventId}/queue`, { token: leaving.token })).status,
    ).toBe(200);

    // The Lambda's client: a Cluster started from one node, as from the configuration endpoint.
    const [startupNode] = tier.redis.settings.nodes;
    const lambdaRedis = new Cluster([startupNode!], {
      dnsLookup: (address, callback) => callback(null, address),
      redisOptions: { maxRetriesPerRequest: 2 },
    });
    try {
      const sent: PutMetricDataInput[] = [];
      const handler = createQueueMonitorHandler({
        redis: lambdaRedis,
        sink: { putMetricData: async (input) => sent.push(input) },
        settings: queueMetricSettingsOf(designTopology),
      });
      const before = await handler();
      expect(before.events).toContainEqual({ eventId, queueSize: 39, activeUsers: 0 });
      expect(before.events).toContainEqual({ eventId: 'cluster-drop', queueSize: 0, activeUsers: 0 });
      const published = sent.find((s) => s.MetricData[0]?.Dimensions[0]?.Value === eventId);
      expect(published?.MetricData.map((m) => [m.MetricName, m.Value])).toEqual([
        ['QueueSize', 39],
        ['ActiveUsers', 0],
      ]);

      await openSales(pool, redis, eventId);
      await waitUntil(
        'the lease holder to admit all 39',
        async () => (await redis.scard(keys.active(eventId))) === 39,
        { timeoutMs: 20_000 },
      );
      // One admitter across the instances: A held the lease throughout.
      expect(await redis.get(keys.admissionLease)).toBe('app-a');
      expect([a.admitter.holdsLease, b.admitter.holdsLease]).toEqual([true, false]);
      expect(b.admitter.admittedCount).toBe(0);
      const after = await handler();
      expect(after.events).toContainEqual({ eventId, queueSize: 0, activeUsers: 39 });
      expect(await redis.zcard(keys.activeUntil(eventId))).toBe(39);
    } finally {
      lambdaRedis.disconnect();
    }
  });

  it('when the lease holder stops, the other instance takes the lease and admits', async () => {
    const eventId = 'cluster-handover';
    await seedDemoEvent(pool, redis, { eventId, seats: 10, openSales: true });
    await a.close();
    await waitUntil('app-b to take the admission lease', async () => b.admitter.holdsLease, {
      timeoutMs: 10_000,
    });
    expect(await redis.get(keys.admissionLease)).toBe('app-b');
    const [fan] = await createUsersInBulk(pool, redis, createTokenSigner(TEST_SECRET), {
      count: 1,
      emailPrefix: 'handover',
      password: 'rehearsal-pass',
      sessionTtlSeconds: 3_600,
    });
    const socket = connect(b.url, { token: fan!.token, eventId });
    try {
      await connected(socket);
      const admitted = nextEvent<{ eventId: string }>(socket, 'queue:admitted');
      expect((await api(b.url, 'POST', `/api/events/${eventId}/queue`, { token: fan!.token })).status).toBe(
        201,
      );
      expect((await admitted).eventId).toBe(eventId);
      expect(b.admitter.admittedCount).toBe(1);
    } finally {
      socket.close();
    }
  });
});
