/**
 * The zero-data-loss check, proven able to fail. Payments are confirmed by the real app code
 * against a real writer + streaming replica; the replica's stream is cut (partition on the fault
 * proxy), more payments are confirmed, the writer is killed and the replica promoted. With
 * asynchronous replication the check must find the payments that were lost; with synchronous
 * replication (the design) the writes in flight never reach a client and nothing is lost.
 */

import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUsersInBulk } from '../../app/auth/bulk-users.ts';
import { createTokenSigner } from '../../app/auth/tokens.ts';
import { createRedis } from '../../app/core/redis.ts';
import { migrate } from '../../app/db/migrate.ts';
import { createReservation, payReservation } from '../../app/sales/reservations.ts';
import { seedDemoEvent } from '../../app/sales/seed.ts';
import { startPostgresCluster } from '../../servers/postgres-cluster.ts';
import { type StartedRedis, startRedisServer } from '../../servers/redis-server.ts';
import { checkIntegrity } from './integrity.ts';

const EVENT = 'drop';

interface Order {
  reservationId: string;
  userId: string;
}

/** A cluster with the app's schema, one event and `orders` pending reservations. */
async function prepare(redis: StartedRedis, synchronous: boolean, orders: number) {
  const cluster = await startPostgresCluster({
    name: `zero-loss-${synchronous ? 'sync' : 'async'}`,
    synchronous,
  });
  const pool = new pg.Pool({ connectionString: cluster.writerUrl, max: 10, connectionTimeoutMillis: 5_000 });
  // The writer is killed on purpose: idle and busy connections alike hear of it.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const cache = createRedis({ kind: 'url', url: redis.url }, pino({ level: 'silent' }), 'test');
  await migrate(pool);
  const { seatIds } = await seedDemoEvent(pool, cache, { eventId: EVENT, seats: orders, openSales: true });
  const users = await createUsersInBulk(pool, cache, createTokenSigner('zero-loss-secret-0123456789'), {
    count: orders,
    emailPrefix: `zl-${synchronous}`,
    password: 'rehearsal-pass',
    sessionTtlSeconds: 3_600,
  });
  cache.disconnect();
  const pending: Order[] = [];
  for (const [i, user] of users.entries()) {
    const r = await createReservation(pool, {
      userId: user.userId,
      eventId: EVENT,
      seatIds: [seatIds[i]!],
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    pending.push({ reservationId: r.reservationId, userId: user.userId });
  }
  return { cluster, pool, pending };
}

/** Pays each order; returns the ids a client was told were confirmed (the 201s). */
async function pay(pool: pg.Pool, orders: Order[]): Promise<string[]> {
  const results = await Promise.allSettled(
    orders.map((o) =>
      payReservation(pool, { reservationId: o.reservationId, userId: o.userId, method: 'card' }),
    ),
  );
  return results.flatMap((r, i) => (r.status === 'fulfilled' ? [orders[i]!.reservationId] : []));
}

/** The failover's end: the replica promoted, then the zero-loss check against the new writer. */
async function promoteAndCheck(
  cluster: Awaited<ReturnType<typeof startPostgresCluster>>,
  pool: pg.Pool,
  confirmedToClients: string[],
) {
  await cluster.promoteReplica();
  await pool.end();
  const check = new pg.Client({ connectionString: cluster.writerUrl });
  await check.connect();
  try {
    return await checkIntegrity(check, EVENT, confirmedToClients);
  } finally {
    await check.end();
  }
}

async function replicaCaughtUp(cluster: Awaited<ReturnType<typeof startPostgresCluster>>) {
  const writer = new pg.Client({ connectionString: cluster.writer.urlFor('postgres') });
  await writer.connect();
  try {
    for (let i = 0; i < 200; i++) {
      const { rows } = await writer.query<{ lag: string }>(
        'SELECT coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)), 1)::text AS lag FROM pg_stat_replication',
      );
      if (Number(rows[0]?.lag) === 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('the replica did not catch up');
  } finally {
    await writer.end();
  }
}

describe('zero confirmed reservations lost across a writer failover', () => {
  let redis: StartedRedis;
  beforeAll(async () => {
    redis = await startRedisServer({ name: 'zero-loss-cache' });
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('catches the loss when the replica is asynchronous and behind', async () => {
    const { cluster, pool, pending } = await prepare(redis, false, 12);
    try {
      const before = await pay(pool, pending.slice(0, 4));
      await replicaCaughtUp(cluster);
      await cluster.replicationPath.setToxics({ partitioned: true });
      const during = await pay(pool, pending.slice(4));
      expect(during).toHaveLength(8); // asynchronous: the writer confirms without the replica

      await cluster.writer.process.kill();
      const report = await promoteAndCheck(cluster, pool, [...before, ...during]);
      expect(report.confirmedReservationsLost).toBe(8);
      expect(new Set(report.lostSample)).toEqual(new Set(during));
      expect(report.confirmedInDatabase).toBe(4);
      expect(report.seatsSoldTwice).toBe(0);
    } finally {
      await cluster.stop();
    }
  });

  it('finds nothing lost when the replica is synchronous: writes in flight are never confirmed', async () => {
    const { cluster, pool, pending } = await prepare(redis, true, 12);
    try {
      const before = await pay(pool, pending.slice(0, 4));
      await cluster.replicationPath.setToxics({ partitioned: true });
      // These commits wait for the replica's acknowledgement, which cannot come.
      const inFlight = pay(pool, pending.slice(4));
      await new Promise((r) => setTimeout(r, 500));
      await cluster.writer.process.kill();
      const during = await inFlight;
      expect(during).toEqual([]);

      const report = await promoteAndCheck(cluster, pool, [...before, ...during]);
      expect(before).toHaveLength(4);
      expect(report.confirmedReservationsLost).toBe(0);
      expect(report.confirmedInDatabase).toBeGreaterThanOrEqual(4);
    } finally {
      await cluster.stop();
    }
  });
});
