import { request } from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUsersInBulk } from './auth/bulk-users.ts';
import { createTokenSigner } from './auth/tokens.ts';
import { ConfigError, loadConfig } from './config.ts';
import { keys } from './core/keys.ts';
import { createRedis } from './core/redis.ts';
import { openSales, seedDemoEvent } from './sales/seed.ts';
import {
  type DataTier,
  startDataTier,
  startInstance,
  TEST_SECRET,
  testPool,
} from './test-support/app-harness.ts';
import { startAppProcess } from './test-support/app-process.ts';

describe('operations', () => {
  let tier: DataTier;
  beforeAll(async () => {
    tier = await startDataTier();
  });
  afterAll(async () => {
    await tier?.stop();
  });

  it('names every bad or missing variable at start', () => {
    expect(() => loadConfig({ PORT: 'abc', REDIS_SENTINELS: 'nohost', TOKEN_SECRET: 'short' })).toThrow(
      ConfigError,
    );
    try {
      loadConfig({ PORT: 'abc', REDIS_SENTINELS: 'nohost', TOKEN_SECRET: 'short' });
    } catch (err) {
      const problems = (err as ConfigError).problems.join('\n');
      expect(problems).toMatch(/^PORT: /m);
      expect(problems).toMatch(/^REDIS_SENTINELS: "nohost" is not host:port/m);
      expect(problems).toMatch(/^DATABASE_URL: /m);
      expect(problems).toMatch(/^TOKEN_SECRET: must be at least 16 characters/m);
    }
    expect(loadConfig(tier.env()).admissionPerSecond).toBe(50);
  });

  it('the admission lease moves to another instance when its holder is killed, and admission goes on at the rate', async () => {
    const db = testPool(tier.postgres.url);
    const redis = createRedis({ kind: 'url', url: tier.redis.url }, pino({ level: 'silent' }), 'test');
    const rate = 20;
    const settings = {
      ADMISSION_PER_SECOND: String(rate),
      ADMISSION_LEASE_MS: '600',
      ADMISSION_TICK_MS: '50',
      SHOPPING_WINDOW_SECONDS: '600',
    };
    const holder = await startAppProcess({ ...tier.env(settings), INSTANCE_ID: 'holder' });
    const standby = await startInstance(tier, { ...settings, INSTANCE_ID: 'standby' });
    try {
      await seedDemoEvent(db, redis, { eventId: 'lease', seats: 10 });
      const users = await createUsersInBulk(db, redis, createTokenSigner(TEST_SECRET), {
        count: 400,
        emailPrefix: 'lease',
        password: 'rehearsal-pass',
        sessionTtlSeconds: 3_600,
      });
      const now = Date.now();
      const pipeline = redis.pipeline();
      for (const [i, u] of users.entries()) pipeline.zadd(keys.queue('lease'), now + i, u.userId);
      pipeline.sadd(keys.activeEvents, 'lease');
      await pipeline.exec();
      expect(await redis.get(keys.admissionLease)).toBe('holder');
      await openSales(db, redis, 'lease');
      await new Promise((r) => setTimeout(r, 1_000));
      expect(await redis.scard(keys.active('lease'))).toBeGreaterThan(0);

      await holder.process.kill();
      const killedAt = Date.now();
      while ((await redis.get(keys.admissionLease)) !== 'standby') {
        if (Date.now() - killedAt > 10_000) throw new Error('the standby did not take the lease within 10 s');
        await new Promise((r) => setTimeout(r, 25));
      }
      // The standby knows once its script's answer arrives, just after Redis says so (a busy
      // runner widened that gap enough for an immediate look to miss it).
      while (!standby.admitter.holdsLease) {
        if (Date.now() - killedAt > 10_000) throw new Error('the standby did not learn it holds the lease');
        await new Promise((r) => setTimeout(r, 25));
      }
      const before = await redis.scard(keys.active('lease'));
      const startedAt = Date.now();
      await new Promise((r) => setTimeout(r, 2_000));
      const admitted = (await redis.scard(keys.active('lease'))) - before;
      const elapsedSeconds = (Date.now() - startedAt) / 1_000;
      // The rate is a ceiling the token bucket never exceeds (one tick of slack for the edges)...
      expect(admitted).toBeLessThanOrEqual(Math.ceil(rate * (elapsedSeconds + 0.2)));
      // ...and the new holder keeps admitting (a loose floor: this machine may be busy).
      expect(admitted).toBeGreaterThanOrEqual(Math.floor(rate * elapsedSeconds * 0.4));
      // Nobody admitted twice or lost: queued + admitted = everyone. Both read in one transaction:
      // admission goes on between two separate reads and would count the users it moved twice.
      const counts = await redis.multi().zcard(keys.queue('lease')).scard(keys.active('lease')).exec();
      expect(counts!.reduce((sum, [, n]) => sum + Number(n), 0)).toBe(400);
    } finally {
      await holder.process.kill();
      await standby.close();
      redis.disconnect();
      await db.end();
    }
  });

  it('the shallow /health/live stays 200 while Redis is down and the deep /health says 503', async () => {
    const own = await startDataTier();
    const app = await startAppProcess({ ...own.env(), INSTANCE_ID: 'shallow' });
    try {
      const status = async (path: string) => (await fetch(`${app.url}${path}`)).status;
      expect([await status('/health'), await status('/health/live')]).toEqual([200, 200]);
      await own.redis.stop();
      const deadline = Date.now() + 15_000;
      while ((await status('/health')) !== 503 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      expect([await status('/health'), await status('/health/live')]).toEqual([503, 200]);
    } finally {
      await app.process.kill();
      await own.stop();
    }
  });

  it('SIGTERM: health turns 503 first, an in-flight request completes, then the process exits', async () => {
    const app = await startAppProcess({ ...tier.env({ DRAIN_NOTICE_MS: '1500' }), INSTANCE_ID: 'drainer' });
    try {
      // An in-flight request: the body arrives in two parts, the second after SIGTERM.
      const inFlight = new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(
          `${app.url}/api/auth/login`,
          { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '52' } },
          (res) => {
            let body = '';
            res
              .on('data', (c: Buffer) => (body += c))
              .on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        req.write('{"email":"nobody@example.com",');
        setTimeout(() => req.end('"password":"whatever"}'), 700);
      });
      await new Promise((r) => setTimeout(r, 100));
      app.process.stop('SIGTERM', 30_000).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 200));
      const health = await fetch(`${app.url}/health`);
      expect(health.status).toBe(503);
      expect(await health.json()).toEqual({ status: 'draining' });
      const live = await fetch(`${app.url}/health/live`);
      expect([live.status, await live.json()]).toEqual([503, { status: 'draining' }]);
      const completed = await inFlight;
      expect(completed.status).toBe(401);
      expect(JSON.parse(completed.body).error.code).toBe('invalid_credentials');
      const exit = await app.process.exited;
      expect(exit).toEqual({ code: 0, signal: null });
    } finally {
      await app.process.kill();
    }
  });
});

describe('the seed command', () => {
  it('creates a demo event with its seats, and refuses a duplicate id with a clear message', async () => {
    const { spawnSync } = await import('node:child_process');
    const tier = await startDataTier();
    try {
      const env = { ...process.env, ...tier.env(), TOKEN_SECRET: '' };
      delete (env as Record<string, string | undefined>).TOKEN_SECRET;
      const run = (args: string[]) =>
        spawnSync(process.execPath, ['--import', 'tsx', 'app/seed.ts', ...args], { env, encoding: 'utf8' });
      const first = run(['--event-id', 'seeded', '--seats', '120', '--open']);
      expect(first.status, first.stderr).toBe(0);
      expect(JSON.parse(first.stdout)).toEqual({ eventId: 'seeded', seats: 120, salesOpen: true });
      const db = testPool(tier.postgres.url);
      const { rows } = await db.query("SELECT count(*)::int AS n FROM seats WHERE event_id = 'seeded'");
      expect(rows[0].n).toBe(120);
      await db.end();
      const again = run(['--event-id', 'seeded']);
      expect(again.status).toBe(2);
      expect(again.stderr).toMatch(/exists already; pass another --event-id/);
      const bad = run(['--seats', 'lots']);
      expect(bad.status).toBe(2);
      expect(bad.stderr).toMatch(/--seats must be a whole number/);
    } finally {
      await tier.stop();
    }
  });
});
