import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUsersInBulk } from '../../app/auth/bulk-users.ts';
import { createTokenSigner } from '../../app/auth/tokens.ts';
import { createRedis } from '../../app/core/redis.ts';
import { openSales, seedDemoEvent } from '../../app/sales/seed.ts';
import type { StartedTiketiServer } from '../../app/server.ts';
import { type DataTierServers, startDataTierServers } from '../../servers/data-tier.ts';
import { testPool } from '../../servers/test-clients.ts';
import { parseScenario } from '../scenario/schema.ts';
import { LoadGenerator } from './load-generator.ts';
import { startTestInstance, TEST_TOKEN_SECRET } from './test-app.ts';

describe('load generator: real users in worker processes', () => {
  let tier: DataTierServers;
  let app: StartedTiketiServer;
  beforeAll(async () => {
    tier = await startDataTierServers();
    app = await startTestInstance(tier, {
      ADMISSION_PER_SECOND: '500',
      SHOPPING_WINDOW_SECONDS: '600',
      SEAT_HOLD_SECONDS: '300',
    });
  });
  afterAll(async () => {
    await app?.close();
    await tier?.stop();
  });

  it('runs 300 journeys end to end and counts what the database confirms', async () => {
    const db = testPool(tier.postgres.url);
    const redis = createRedis({ kind: 'url', url: tier.redis.url }, pino({ level: 'silent' }), 'test');
    const { seatIds } = await seedDemoEvent(db, redis, { eventId: 'load', seats: 200 });
    const users = await createUsersInBulk(db, redis, createTokenSigner(TEST_TOKEN_SECRET), {
      count: 300,
      emailPrefix: 'vu',
      password: 'rehearsal-pass',
      sessionTtlSeconds: 3_600,
    });
    const behaviour = parseScenario({
      name: 't',
      description: 't',
      startAt: '19:30',
      endAt: '20:00',
      event: { seats: 200 },
      users: 300,
      arrivals: [{ at: '19:30', joined: 300 }],
      expectations: [{ expect: 'no-seat-sold-twice' }],
      behaviour: { buyShare: 0.5, seatsPerOrder: 2, thinkTime: { minSeconds: 1, maxSeconds: 3 } },
    }).behaviour;
    const errors: string[] = [];
    const generator = await LoadGenerator.start({
      baseUrls: [app.url],
      eventId: 'load',
      seatIds,
      behaviour,
      timeScale: 20,
      users: 300,
      workers: 2,
      onError: (m) => errors.push(m),
    });
    try {
      generator.arrive(users.map((u) => ({ userId: u.userId, token: u.token })));
      const deadline = Date.now() + 20_000;
      while (generator.totals().joined < 300 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 200));
      await openSales(db, redis, 'load');
      while (generator.totals().usersActive > 0 && Date.now() < deadline + 20_000)
        await new Promise((r) => setTimeout(r, 200));
      const totals = await generator.stop();
      expect(errors).toEqual([]);
      expect(totals.joined).toBe(300);
      expect(totals.admitted).toBe(300);
      // Every user waited with a socket (sales opened after all joined): each heard the notice.
      expect(totals).toMatchObject({
        noticesDelivered: 300,
        noticesRescuedByApp: 0,
        noticesRescuedByPoll: 0,
        noticesLost: 0,
      });
      expect(totals.errors).toBe(0);
      expect(totals.confirmedReservationIds.length).toBeGreaterThan(10);
      const { rows } = await db.query<{ id: string }>(
        "SELECT id FROM reservations WHERE status = 'confirmed'",
      );
      expect(rows.map((r) => r.id).sort()).toEqual([...totals.confirmedReservationIds].sort());
      expect(generator.total.summary('POST /api/events/:eventId/queue')?.count).toBe(300);
      expect(generator.total.summary('socket.delivery')?.count).toBeGreaterThanOrEqual(300);
    } finally {
      await generator.stop();
      redis.disconnect();
      await db.end();
    }
  });
});
