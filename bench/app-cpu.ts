/**
 * Benchmark (not a test): the app's CPU per simulated user. One app instance, run as the
 * rehearsal runs it (the bundle of harness/instances/app-boot.ts, NODE_ENV=production), direct
 * (no load balancer), on real Redis and PostgreSQL started for the run. Per repetition:
 *
 *   join+connect  N users arriving at `--rate` per second (0: `--concurrency` at a time): POST
 *                 …/queue, then a Socket.IO connection (the harness's light client) until its
 *                 `session:state`; the sockets stay open.
 *   idle          the queue before sales open: position updates every second (heartbeats).
 *   admission     sales open: every socket gets `queue:admitted` (and joins the shoppers' room).
 *   buy           a share of the users hold a seat, reserve and pay; every shopper gets the
 *                 coalesced `seats:changed`.
 *
 * The app's CPU (utime + stime from /proc/<pid>/stat) over each phase, divided by its users (or
 * buyers, or user-updates). The machine is shared: figures are relative. Compare checkouts side
 * by side in the same run with `--root` (repeatable; e.g. a baseline `git worktree`), each
 * repetition alternating their order. `--profile DIR` writes a .cpuprofile per app process.
 *
 *   npx tsx bench/app-cpu.ts [--users 1500] [--reps 3] [--rate 150] [--wave-ms 0] [--concurrency 25] [--buyers 0.4]
 *     [--root /path/to/baseline --root .] [--profile /tmp/prof]
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join as joinPath, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { Pool } from 'undici';
import { type BulkUser, createUsersInBulk } from '../app/auth/bulk-users.ts';
import { createTokenSigner } from '../app/auth/tokens.ts';
import { createRedis, type RedisClient } from '../app/core/redis.ts';
import { migrate } from '../app/db/migrate.ts';
import { openSales, seedDemoEvent } from '../app/sales/seed.ts';
import { testPool } from '../app/test-support/app-harness.ts';
import { appEnvironment } from '../harness/instances/app-instance.ts';
import { io, type LightSocket } from '../harness/load/light-socket.ts';
import { processCpuMs } from '../harness/metrics/machine-state.ts';
import { waveOf } from '../harness/run/arrival-feeder.ts';
import { type DataTierServers, startDataTierServers } from '../servers/data-tier.ts';
import { freePort } from '../servers/ports.ts';
import { type SpawnedProcess, spawnProcess } from '../servers/process.ts';
import { benchArgs } from './args.ts';

const HERE = fileURLToPath(new URL('..', import.meta.url));
const SECRET = 'bench-secret-at-least-16-chars';
const IDLE_SECONDS = 5;

const { values } = benchArgs(
  'npx tsx bench/app-cpu.ts [--users 1500] [--reps 3] [--rate 150] [--wave-ms 0] [--concurrency 25] [--buyers 0.4] [--root DIR]... [--profile DIR]',
  {
    options: {
      users: { type: 'string', default: '1500' },
      reps: { type: 'string', default: '3' },
      concurrency: { type: 'string', default: '25' },
      rate: { type: 'string', default: '150' },
      'wave-ms': { type: 'string', default: '0' },
      buyers: { type: 'string', default: '0.4' },
      root: { type: 'string', multiple: true },
      profile: { type: 'string' },
    },
  },
);
const userCount = Number(values.users);
const reps = Number(values.reps);
const concurrency = Number(values.concurrency);
/** Users who join per second (an open model, as the rehearsal's arrivals); 0: `concurrency` at a time. */
const joinRate = Number(values.rate);
/** At `--rate`, users leave in waves every this many ms, as the rehearsal's do (`waveOf`); 0: each at its own time. */
const waveMs = Number(values['wave-ms']);
const buyerShare = Number(values.buyers);
const roots = (values.root ?? [HERE]).map((r) => resolve(r));
const profileDir = values.profile ? resolve(values.profile) : undefined;
if (profileDir) mkdirSync(profileDir, { recursive: true });

/** CPU ms of a process so far (user + system, all threads), with its children that exited (`withChildren`). */
function cpuMs(pid: number, withChildren = false): number {
  const ms = processCpuMs(pid, withChildren);
  if (ms === undefined) throw new Error(`process ${pid} is gone`);
  return ms;
}

/** A server and its live children (PostgreSQL's backends), with the children that exited. */
function treeCpuMs(pid: number): number {
  let sum = cpuMs(pid, true);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) sum += cpuMs(Number(entry));
    } catch {
      // gone meanwhile: its CPU is in the parent's children's time
    }
  }
  return sum;
}

/** CPU ms so far of the app, Redis and PostgreSQL. */
interface CpuSample {
  app: number;
  redis: number;
  postgres: number;
}

/** Starts `work` for item i at i / `perSecond` s from now (an open model: none waits for another). */
async function atRate<T>(items: T[], perSecond: number, work: (item: T) => Promise<void>): Promise<void> {
  const start = performance.now();
  await Promise.all(
    items.map(async (item, i) => {
      const waitMs = start + waveOf((i * 1_000) / perSecond, waveMs) - performance.now();
      if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
      await work(item);
    }),
  );
}

/** Runs `work` over `items` with at most `limit` in flight. */
async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/** An app process from `root`'s own bundle of its boot entry, as the harness starts it. */
async function startApp(root: string, env: Record<string, string>, label: string) {
  const { nodeEntry } = (await import(
    pathToFileURL(resolve(root, 'servers/entry-bundle.ts')).href
  )) as typeof import('../servers/entry-bundle.ts');
  const run = await nodeEntry(resolve(root, 'harness/instances/app-boot.ts'));
  const prof = profileDir
    ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `${label}.cpuprofile`]
    : [];
  const proc: SpawnedProcess = await spawnProcess({
    name: label,
    command: process.execPath,
    args: [...prof, ...run.execArgv, run.modulePath],
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production' },
    cwd: root,
    stdin: true,
    parentDeathSignal: 'SIGKILL',
  });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  proc.stdin?.end(`${JSON.stringify({ ...env, PORT: String(port) })}\n`);
  await proc.untilReady(async () => {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
    await res.body?.cancel();
    return res.status === 200;
  }, 60_000);
  return { url, proc };
}

interface Phase {
  /** The app's CPU ms over the phase, and per user (buyer, user-second). */
  cpuMs: number;
  per: number;
  /** Redis's and PostgreSQL's, per user (buyer, user-second). */
  redisPer: number;
  postgresPer: number;
  wallMs: number;
  /** CLOCK_MONOTONIC µs at the start and end: a CPU profile's timestamps, to slice it by phase. */
  monotonicMicros: [number, number];
}

async function measure(sample: () => CpuSample, count: number, work: () => Promise<void>): Promise<Phase> {
  const micros = () => Number(process.hrtime.bigint() / 1_000n);
  const before = sample();
  const wall0 = performance.now();
  const from = micros();
  await work();
  const after = sample();
  return {
    cpuMs: after.app - before.app,
    per: (after.app - before.app) / count,
    redisPer: (after.redis - before.redis) / count,
    postgresPer: (after.postgres - before.postgres) / count,
    wallMs: performance.now() - wall0,
    monotonicMicros: [from, micros()],
  };
}

function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const deadline = Date.now() + timeoutMs;
    const poll = setInterval(() => {
      if (check()) {
        clearInterval(poll);
        resolvePromise();
      } else if (Date.now() > deadline) {
        clearInterval(poll);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, 20);
  });
}

async function oneRun(
  root: string,
  label: string,
  tier: DataTierServers,
  db: ReturnType<typeof testPool>,
  redis: RedisClient,
) {
  const eventId = label.replace(/[^A-Za-z0-9_-]/g, '-');
  const { seatIds } = await seedDemoEvent(db, redis, { eventId, seats: userCount });
  const users: BulkUser[] = await createUsersInBulk(db, redis, createTokenSigner(SECRET), {
    count: userCount,
    emailPrefix: eventId,
    password: 'bench-pass',
    sessionTtlSeconds: 3_600,
  });
  const env = appEnvironment(
    {
      id: label,
      az: 'a',
      endpoints: {
        redis: { kind: 'url', url: tier.redis.url },
        postgres: { writerUrl: tier.postgres.url, readerUrl: tier.postgres.url },
      },
      tokenSecret: SECRET,
      env: {
        LOG_LEVEL: 'warn',
        QUEUE_UPDATE_MS: '1000',
        QUEUE_UPDATE_SIMULATED_MS: '1000',
        ADMISSION_PER_SECOND: '5000',
        SHOPPING_WINDOW_SECONDS: '3600',
        SEAT_HOLD_SECONDS: '3600',
      },
    },
    0,
  );
  const app = await startApp(root, env, label);
  const pid = app.proc.pid;
  const sample = (): CpuSample => ({
    app: cpuMs(pid),
    redis: cpuMs(tier.redis.pid),
    postgres: treeCpuMs(tier.postgres.pid),
  });
  const http = new Pool(app.url, { connections: concurrency, keepAliveTimeout: 30_000 });
  const sockets: LightSocket[] = [];
  let admitted = 0;
  const call = async (method: 'POST', path: string, token: string, body?: unknown) => {
    const res = await http.request({
      method,
      path,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    if (res.statusCode >= 400) throw new Error(`${method} ${path}: ${res.statusCode} ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
  try {
    const joinUser = async (user: BulkUser) => {
      await call('POST', `/api/events/${eventId}/queue`, user.token);
      const socket = io(app.url, { auth: { token: user.token, eventId }, reconnection: false });
      sockets.push(socket);
      socket.on('queue:admitted', () => admitted++);
      await new Promise<void>((ok, fail) => {
        socket.once('session:state', () => ok());
        socket.once('connect_error', (err: Error) => fail(err));
      });
    };
    const join = await measure(sample, userCount, () =>
      joinRate > 0 ? atRate(users, joinRate, joinUser) : inParallel(users, concurrency, joinUser),
    );
    const idle = await measure(
      sample,
      userCount * IDLE_SECONDS,
      () => new Promise((r) => setTimeout(r, IDLE_SECONDS * 1_000)),
    );
    const admission = await measure(sample, userCount, async () => {
      await openSales(db, redis, eventId);
      await until(() => admitted >= userCount, 60_000, 'every admission notice');
    });
    const buyers = users.slice(0, Math.round(userCount * buyerShare));
    const buy = await measure(sample, buyers.length, async () => {
      await inParallel(
        buyers.map((user, i) => ({ user, seatId: seatIds[i]! })),
        concurrency,
        async ({ user, seatId }) => {
          await call('POST', `/api/events/${eventId}/seats/${seatId}/hold`, user.token);
          const reservation = await call('POST', '/api/reservations', user.token, {
            eventId,
            seatIds: [seatId],
          });
          await call('POST', `/api/reservations/${reservation.reservationId}/payments`, user.token, {
            method: 'card',
          });
        },
      );
      // The last seats:changed flush.
      await new Promise((r) => setTimeout(r, 400));
    });
    const phases = { join, idle, admission, buy };
    if (profileDir) writeFileSync(joinPath(profileDir, `${label}.phases.json`), JSON.stringify(phases));
    return phases;
  } finally {
    for (const socket of sockets) socket.close();
    await http.close();
    await app.proc.stop('SIGTERM', 15_000);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

const tier = await startDataTierServers();
const log = pino({ level: 'silent' });
const db = testPool(tier.postgres.url);
const redis = createRedis({ kind: 'url', url: tier.redis.url }, log, 'bench');
try {
  await migrate(db);
  const results = new Map<string, Awaited<ReturnType<typeof oneRun>>[]>();
  for (let rep = 0; rep < reps; rep++) {
    const order = rep % 2 === 0 ? roots : [...roots].reverse();
    for (const root of order) {
      const label = `r${rep}-${roots.indexOf(root)}`;
      const result = await oneRun(root, label, tier, db, redis);
      results.set(root, [...(results.get(root) ?? []), result]);
      const line = (p: Phase, unit: string, scale = 1) =>
        `${round(p.per * scale)} ${unit} (Redis ${round(p.redisPer * scale)}, PostgreSQL ${round(p.postgresPer * scale)})`;
      console.error(
        `[app-cpu] ${root} rep ${rep}: join+connect ${line(result.join, 'ms/user')}, idle ${line(result.idle, 'µs/user-s', 1_000)}, admission ${line(result.admission, 'ms/user')}, buy ${line(result.buy, 'ms/buyer')}`,
      );
    }
  }
  const summary = [...results].map(([root, runs]) => {
    type Name = keyof (typeof runs)[number];
    const spread = (xs: number[]) => ({
      median: round(median(xs)),
      min: round(Math.min(...xs)),
      max: round(Math.max(...xs)),
    });
    const phase = (name: Name, scale = 1) => ({
      app: spread(runs.map((r) => r[name].per * scale)),
      redis: spread(runs.map((r) => r[name].redisPer * scale)),
      postgres: spread(runs.map((r) => r[name].postgresPer * scale)),
    });
    return {
      root,
      joinConnectMsPerUser: phase('join'),
      idleMicrosPerUserSecond: phase('idle', 1_000),
      admissionMsPerUser: phase('admission'),
      buyMsPerBuyer: phase('buy'),
    };
  });
  console.log(
    JSON.stringify(
      {
        machine: `${process.platform} ${process.arch}, node ${process.version}; shared: figures are relative`,
        users: userCount,
        buyers: Math.round(userCount * buyerShare),
        concurrency,
        joinRate,
        waveMs,
        reps,
        summary,
      },
      null,
      2,
    ),
  );
} finally {
  redis.disconnect();
  await db.end();
  await tier.stop();
}
