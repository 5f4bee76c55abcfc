/**
 * The cause of the admission notices lost in 25,000-user rehearsals (issue 14): an instance's
 * Socket.IO adapter subscriber falls behind, Redis piles up what it cannot send it until the
 * `client-output-buffer-limit pubsub` (the design's, as ElastiCache sets it), then closes the
 * connection and discards the backlog — notices included. ioredis resubscribes without an error,
 * so the instance looks subscribed. Here the instance is stopped (SIGSTOP: what a CPU-starved
 * instance looks like to Redis) while admissions are announced and other pub/sub traffic passes.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { designTopology, pubsubOutputBufferLimitArg } from '../infra/topology.ts';
import { createUsersInBulk } from './auth/bulk-users.ts';
import { createTokenSigner } from './auth/tokens.ts';
import { keys } from './core/keys.ts';
import { createRedis } from './core/redis.ts';
import { WaitingQueue } from './queue/queue.ts';
import type { AdmittedMessage } from './realtime/realtime.ts';
import { openSales, seedDemoEvent } from './sales/seed.ts';
import {
  connect,
  type DataTier,
  nextEvent,
  startDataTier,
  TEST_SECRET,
  testPool,
} from './test-support/app-harness.ts';
import { startAppProcess } from './test-support/app-process.ts';

const USERS_PER_INSTANCE = 20;
const CONTROL_TOKEN = 'lost-notices-control-token';
/** Pub/sub traffic to a room nobody is in: instance A drops it unread, stopped B cannot read it. */
const FILLER_CHANNEL = 'socket.io#/#nobody#';
const FILLER = Buffer.alloc(64 * 1024, 'x');

type AppProcess = Awaited<ReturnType<typeof startAppProcess>>;

interface NoticeDetails {
  admissionNotices: { delivered: number; recovered: number; rescued: number; subscriberReconnects: number };
}

async function details(app: AppProcess): Promise<NoticeDetails> {
  const res = await fetch(`${app.url}/health/details`, { headers: { 'x-control-token': CONTROL_TOKEN } });
  return (await res.json()) as NoticeDetails;
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('admission notices when Redis closes a lagging pub/sub subscriber', () => {
  let tier: DataTier;
  let a: AppProcess;
  let b: AppProcess;
  let users: { userId: string; token: string }[];

  beforeAll(async () => {
    tier = await startDataTier();
    const admin = createRedis({ kind: 'url', url: tier.redis.url }, pino({ level: 'silent' }), 'test');
    await admin.config(
      'SET',
      'client-output-buffer-limit',
      pubsubOutputBufferLimitArg(designTopology.redis.pubsubOutputBufferLimit),
    );
    const env = (id: string) =>
      tier.env({
        INSTANCE_ID: id,
        CONTROL_TOKEN,
        ADMISSION_PER_SECOND: '200',
        // Production's update period: a notice missing at an update is rescued at the next.
        QUEUE_UPDATE_MS: '1000',
        QUEUE_UPDATE_SIMULATED_MS: '1000',
        LOG_LEVEL: 'warn',
      });
    a = await startAppProcess(env('app-a'));
    b = await startAppProcess(env('app-b'));
    const db = testPool(tier.postgres.url);
    await seedDemoEvent(db, admin, { eventId: 'burst', seats: 10 });
    users = await createUsersInBulk(db, admin, createTokenSigner(TEST_SECRET), {
      count: USERS_PER_INSTANCE * 2,
      emailPrefix: 'lost',
      password: 'rehearsal-pass',
      sessionTtlSeconds: 3_600,
    });
    admin.disconnect();
    await db.end();
    // As before a drop, the instances run a few position updates with nobody to tell.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
  });
  afterAll(async () => {
    if (b?.process.running) process.kill(b.process.pid, 'SIGCONT');
    await Promise.allSettled([a?.process.stop(), b?.process.stop()]);
    await tier?.stop();
  });

  it('an instance whose subscriber Redis closed mid-burst still tells each of its users, without the rescue', async () => {
    const redis = createRedis({ kind: 'url', url: tier.redis.url }, pino({ level: 'silent' }), 'test');
    const db = testPool(tier.postgres.url);
    const queue = new WaitingQueue(redis);
    const heard = new Map<string, AdmittedMessage>();
    for (const user of users) await queue.join('burst', user.userId);
    // Each user waits in the queue, followed by the instance its socket is on (half on each).
    const sockets = users.map((user, i) => {
      const socket = connect((i % 2 === 0 ? a : b).url, { token: user.token, eventId: 'burst' });
      socket.on('queue:admitted', (m: AdmittedMessage) => {
        if (!heard.has(user.userId)) heard.set(user.userId, m);
      });
      return socket;
    });
    const onB = users.filter((_, i) => i % 2 === 1).map((u) => u.userId);
    try {
      await Promise.all(
        sockets.map((s) =>
          nextEvent<{ state: string }>(s, 'session:state', (state) => state.state === 'queued'),
        ),
      );
      const subscribers = async () =>
        ((await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string).match(/ psub=1 /g)?.length ?? 0;
      // At least: a connection ioredis replaced on a loaded machine may linger in the list a moment.
      await waitFor('both instances subscribed', async () => (await subscribers()) >= 2, 30_000);

      // B stops reading (SIGSTOP: to Redis, what a CPU-starved instance looks like) while pub/sub
      // traffic goes on: once B's socket buffers are full, Redis queues B's share in its memory.
      process.kill(b.process.pid, 'SIGSTOP');
      try {
        const backlog = async () =>
          Math.max(
            ...[
              ...((await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string).matchAll(/omem=(\d+)/g),
            ].map((m) => Number(m[1])),
          );
        let publishedBytes = 0;
        const publishFiller = async () => {
          if (publishedBytes > 512 * 1024 * 1024)
            throw new Error('Redis never closed the stopped subscriber');
          await Promise.all(Array.from({ length: 16 }, () => redis.publish(FILLER_CHANNEL, FILLER)));
          publishedBytes += 16 * FILLER.length;
        };
        // Well past what B's socket buffers hold: from here on Redis keeps B's share itself.
        while ((await backlog()) < 8 * 1024 * 1024) await publishFiller();
        // The burst: A announces every admission over pub/sub; B's share joins B's backlog.
        await openSales(db, redis, 'burst');
        await waitFor(
          'every user admitted',
          async () => (await redis.scard(keys.active('burst'))) === users.length,
          20_000,
        );
        // More traffic: the backlog passes the limit, Redis closes B's subscriber and discards it.
        while ((await subscribers()) === 2) await publishFiller();
        expect(publishedBytes).toBeGreaterThan(designTopology.redis.pubsubOutputBufferLimit.hardLimitBytes);
      } finally {
        process.kill(b.process.pid, 'SIGCONT');
      }

      await waitFor('every user told of the admission', () => heard.size === users.length, 20_000);
      const rescued = onB.filter((id) => heard.get(id)?.rescued);
      // Told by the design's own path (the admission log), not by the defence that asks the queue.
      expect(rescued).toEqual([]);
      // B saw the gap: its subscriber came back (the count the operator reads in /health/details).
      await waitFor(
        "B's subscriber to reconnect",
        async () => (await details(b)).admissionNotices.subscriberReconnects >= 1,
        10_000,
      );
      const fromB = await details(b);
      expect(fromB.admissionNotices.rescued).toBe(0);
      // Read from the log, as the notices were discarded with B's backlog (a few may have been in
      // B's socket buffer before Redis started queueing, and arrive over pub/sub after all).
      const { delivered, recovered } = fromB.admissionNotices;
      expect(delivered + recovered).toBe(USERS_PER_INSTANCE);
      expect(recovered).toBeGreaterThan(USERS_PER_INSTANCE / 2);
    } finally {
      for (const s of sockets) s.close();
      redis.disconnect();
      await db.end();
    }
  });
});
