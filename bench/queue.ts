/**
 * Benchmark (not a test): queue joins per second and position reads per second on ONE app
 * instance, direct (no load balancer), with a fixed number of connections, on real Redis and
 * PostgreSQL started for the run. Reference figures in the same run: `wrk` on the same read
 * endpoint (the load generator's ceiling) and `redis-benchmark` ZADD / ZRANK (the data store's).
 *
 *   npx tsx bench/queue.ts [--seconds 10] [--connections 50] [--users 20000]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Pool } from 'undici';
import { createUsersInBulk } from '../app/auth/bulk-users.ts';
import { createTokenSigner } from '../app/auth/tokens.ts';
import { createRedis } from '../app/core/redis.ts';
import { seedDemoEvent } from '../app/sales/seed.ts';
import { startDataTier, TEST_SECRET, testPool } from '../app/test-support/app-harness.ts';
import { startAppProcess } from '../app/test-support/app-process.ts';
import { type Endpoint, LatencyAggregate, LatencyRecorder } from '../harness/metrics/latency.ts';
import { benchArgs } from './args.ts';

const { values } = benchArgs('npx tsx bench/queue.ts [--seconds 10] [--connections 50] [--users 20000]', {
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    users: { type: 'string', default: '20000' },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const userCount = Number(values.users);

/** redis-benchmark redraws its progress line with \r; the summary is the last one. */
const lastLine = (out: string) =>
  out
    .split(/[\r\n]+/)
    .map((l) => l.trim())
    .filter(Boolean)
    .at(-1) ?? 'no output';

const tier = await startDataTier();
const app = await startAppProcess({ ...tier.env({ LOG_LEVEL: 'warn' }), INSTANCE_ID: 'bench' });
try {
  const db = testPool(tier.postgres.url);
  const redis = createRedis({ kind: 'url', url: tier.redis.url }, pino({ level: 'silent' }), 'bench');
  await seedDemoEvent(db, redis, { eventId: 'bench', seats: 100 });
  const bulkStarted = performance.now();
  const users = await createUsersInBulk(db, redis, createTokenSigner(TEST_SECRET), {
    count: userCount,
    emailPrefix: 'bench',
    password: 'bench-pass',
    sessionTtlSeconds: 3_600,
  });
  const bulkSeconds = (performance.now() - bulkStarted) / 1_000;

  const pool = new Pool(app.url, { connections, pipelining: 1 });
  async function drive(
    label: string,
    endpoint: Endpoint,
    method: 'POST' | 'GET',
    path: string,
    durationSeconds: number,
  ) {
    const recorder = new LatencyRecorder();
    const until = performance.now() + durationSeconds * 1_000;
    let next = 0;
    let done = 0;
    let failed = 0;
    await Promise.all(
      Array.from({ length: connections }, async () => {
        while (performance.now() < until) {
          const user = users[next++ % users.length]!;
          const started = performance.now();
          const res = await pool.request({
            method,
            path,
            headers: { authorization: `Bearer ${user.token}` },
          });
          await res.body.dump();
          recorder.record(endpoint, performance.now() - started);
          if (res.statusCode >= 400) failed++;
          else done++;
        }
      }),
    );
    const agg = new LatencyAggregate();
    agg.add(recorder.drain());
    const s = agg.summary(endpoint)!;
    return { label, perSecond: Math.round(done / durationSeconds), failed, p50Ms: s.p50Ms, p99Ms: s.p99Ms };
  }

  const joins = await drive(
    'queue joins (POST /api/events/bench/queue)',
    'POST /api/events/:eventId/queue',
    'POST',
    '/api/events/bench/queue',
    seconds,
  );
  const reads = await drive(
    'position reads (GET /api/events/bench/queue/me)',
    'GET /api/events/:eventId/queue/me',
    'GET',
    '/api/events/bench/queue/me',
    seconds,
  );
  await pool.close();

  // wrk on the same read endpoint, one user's token: the load generator's ceiling on this target.
  let wrk: { perSecond: number; p99Ms: number } | string;
  try {
    const script = join(tmpdir(), 'tiketi-bench-wrk.lua');
    writeFileSync(
      script,
      `wrk.headers["authorization"] = "Bearer ${users[0]!.token}"\ndone = function(summary, latency, requests)\n  io.write(string.format("JSON {\\"rps\\":%f,\\"p99\\":%f}\\n", summary.requests / (summary.duration / 1e6), latency:percentile(99) / 1000))\nend\n`,
    );
    const out = execFileSync(
      'wrk',
      ['-t2', `-c${connections}`, `-d${seconds}s`, '-s', script, `${app.url}/api/events/bench/queue/me`],
      { encoding: 'utf8' },
    );
    const parsed = JSON.parse(/JSON (.*)/.exec(out)![1]!) as { rps: number; p99: number };
    wrk = { perSecond: Math.round(parsed.rps), p99Ms: Math.round(parsed.p99 * 100) / 100 };
  } catch (err) {
    wrk = `wrk not available (${(err as Error).message.split('\n')[0]}); apt-get install wrk`;
  }

  const redisBench = spawnSync(
    'redis-benchmark',
    [
      '-p',
      String(tier.redis.port),
      '-n',
      '200000',
      '-c',
      String(connections),
      '-r',
      '20000',
      '-q',
      'ZADD',
      'bench:z',
      '__rand_int__',
      'member:__rand_int__',
    ],
    { encoding: 'utf8' },
  );
  const redisRank = spawnSync(
    'redis-benchmark',
    [
      '-p',
      String(tier.redis.port),
      '-n',
      '200000',
      '-c',
      String(connections),
      '-r',
      '20000',
      '-q',
      'ZRANK',
      'bench:z',
      'member:__rand_int__',
    ],
    { encoding: 'utf8' },
  );

  const report = {
    machine: `${process.platform} ${process.arch}, node ${process.version}`,
    connections,
    seconds,
    bulkUsers: { count: userCount, seconds: Math.round(bulkSeconds * 100) / 100 },
    joins,
    reads,
    wrkReads: wrk,
    readsVersusWrk:
      typeof wrk === 'string' ? undefined : Math.round((reads.perSecond / wrk.perSecond) * 100) / 100,
    redisBenchmark: { zadd: lastLine(redisBench.stdout), zrank: lastLine(redisRank.stdout) },
  };
  console.log(JSON.stringify(report, null, 2));
  redis.disconnect();
  await db.end();
} finally {
  await app.process.stop('SIGTERM', 10_000);
  await tier.stop();
}
