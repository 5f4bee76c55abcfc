/**
 * One TIKETI instance: HTTP API, Socket.IO, the admitter (active only while it holds the lease).
 * `startTiketiServer` returns a started server; `drain()` is what SIGTERM does.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Logger, pino } from 'pino';
import { gatedHasher, KdfGate } from './auth/kdf-gate.ts';
import type { PasswordHasher } from './auth/passwords.ts';
import { createTokenSigner } from './auth/tokens.ts';
import type { AppConfig } from './config.ts';
import { createRedis } from './core/redis.ts';
import { createTimeScale } from './core/time-scale.ts';
import { migrate } from './db/migrate.ts';
import { createDatabase } from './db/pool.ts';
import { createApi } from './http/api.ts';
import { Admitter } from './queue/admission.ts';
import { WaitingQueue } from './queue/queue.ts';
import { Realtime } from './realtime/realtime.ts';
import { EventCatalog } from './sales/events.ts';
import { SeatHolds } from './sales/holds.ts';
import { RateLimits } from './security/rate-limits.ts';

export interface StartedTiketiServer {
  readonly url: string;
  readonly port: number;
  /** The HTTP server: a connection accepted elsewhere and passed to this process is served here. */
  readonly httpServer: Server;
  readonly instanceId: string;
  readonly admitter: Admitter;
  readonly realtime: Realtime;
  readonly draining: boolean;
  /** SIGTERM's work: health 503, no new connections, in-flight requests finish, sockets move on. */
  drain(deadlineMs?: number): Promise<void>;
  /** Stops at once (tests). */
  close(): Promise<void>;
}

/** Each dependency check of /health; well inside the load balancer's 5 s health-check timeout. */
const CHECK_TIMEOUT_MS = 2_000;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    }),
  ]);
}

export async function startTiketiServer(
  config: AppConfig,
  options: {
    log?: Logger;
    migrate?: boolean;
    /** How passwords are hashed. @default scrypt at OWASP's minimum behind a `KdfGate` */
    hasher?: PasswordHasher;
  } = {},
): Promise<StartedTiketiServer> {
  const log =
    options.log ?? pino({ level: config.logLevel, base: { instanceId: config.instanceId, az: config.az } });
  // The clock's speed is read from Redis itself, so the clients start at 1× and follow it.
  let speed = () => 1;
  const redis = createRedis(config.redis, log, 'commands', {}, () => speed());
  const pubClient = createRedis(config.redis, log, 'adapter-pub', { enableAutoPipelining: false }, () =>
    speed(),
  );
  const subClient = createRedis(
    config.redis,
    log,
    'adapter-sub',
    { enableAutoPipelining: false, shardedSubscribers: true },
    () => speed(),
  );
  const db = createDatabase(config.databaseUrl, config.databaseReaderUrl, log);
  if (options.migrate ?? true) await migrate(db.writer);

  const signer = createTokenSigner(config.tokenSecret);
  const timeScale = createTimeScale(config.timeScale, redis);
  speed = timeScale.current;
  const queue = new WaitingQueue(redis);
  const { limits } = config;
  const holds = new SeatHolds(redis, limits.holdsPerUserPerEvent);
  const rateLimits = new RateLimits(redis, limits.rate);
  const hasher = options.hasher ?? gatedHasher(new KdfGate(limits.kdfConcurrency, limits.kdfQueue));
  const catalog = new EventCatalog(db.reader, redis, config.eventCacheTtlSeconds);
  const inFlight = { count: 0 };
  let draining = false;
  let realtime: Realtime | undefined;

  const health = async () => {
    const [redisCheck, dbCheck] = await Promise.allSettled([
      withTimeout(redis.ping(), CHECK_TIMEOUT_MS, 'redis'),
      withTimeout(db.writer.query('SELECT 1'), CHECK_TIMEOUT_MS, 'database writer'),
    ]);
    const checks = {
      redis: redisCheck.status === 'fulfilled' ? 'ok' : `failed: ${(redisCheck.reason as Error).message}`,
      db: dbCheck.status === 'fulfilled' ? 'ok' : `failed: ${(dbCheck.reason as Error).message}`,
    };
    const healthy = !draining && checks.redis === 'ok' && checks.db === 'ok';
    const status = draining ? 'draining' : healthy ? 'ok' : 'unhealthy';
    // Socket.IO connections held here: what the operator (and the rehearsal's report) reads to see
    // whether a scale-out relieved existing sockets (sticky WebSockets stay where they connected).
    const sockets = realtime?.connectionCount ?? 0;
    // Admission notices told, rescued from the queue, and the pub/sub gaps behind the rescues.
    const admissionNotices = realtime?.notices ?? { delivered: 0, rescued: 0, subscriberReconnects: 0 };
    return {
      healthy,
      body: { status, instanceId: config.instanceId, az: config.az, sockets, admissionNotices, checks },
    };
  };

  const api = createApi({
    instanceId: config.instanceId,
    az: config.az,
    db,
    redis,
    signer,
    queue,
    holds,
    catalog,
    realtime: () => realtime,
    timeScale,
    sessionTtlSeconds: config.sessionTtlSeconds,
    seatHoldSeconds: config.seatHoldSeconds,
    maxBody: config.maxBody,
    log,
    limits,
    rateLimits,
    hasher,
    controlToken: config.controlToken,
    health,
    inFlight,
    isDraining: () => draining,
  });
  const httpServer: Server = createServer(api);
  // Longer than the ALB's idle timeout, so the load balancer closes idle connections first.
  httpServer.keepAliveTimeout = 65_000;
  realtime = new Realtime({
    httpServer,
    instanceId: config.instanceId,
    pubClient,
    subClient,
    redis,
    signer,
    queue,
    holds,
    log,
    queueUpdateMs: config.queueUpdateMs,
    queueUpdateSimulatedMs: config.queueUpdateSimulatedMs,
    seatBatchSimulatedMs: config.seatBatchSimulatedMs,
    pingIntervalMs: config.socketPingIntervalMs,
    timeScale,
    limits,
    rateLimits,
    eventExists: (eventId) => catalog.exists(eventId),
    corsOrigins: config.corsOrigins,
  });
  const admitter = new Admitter({
    redis,
    instanceId: config.instanceId,
    log,
    timeScale,
    admissionPerSecond: config.admissionPerSecond,
    shoppingWindowSeconds: config.shoppingWindowSeconds,
    leaseMs: config.admissionLeaseMs,
    tickMs: config.admissionTickMs,
    onAdmitted: (batch) => realtime?.notifyAdmitted(batch),
    onExpired: (eventId, userIds) => realtime?.notifyExpired(eventId, userIds),
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, '0.0.0.0', () => resolve());
  });
  realtime.start();
  admitter.start();
  const port = (httpServer.address() as AddressInfo).port;
  log.info({ port }, 'TIKETI instance serving');

  const releaseResources = async () => {
    await admitter.stop();
    timeScale.stop();
    await realtime?.close().catch(() => undefined);
    await db.close().catch(() => undefined);
    // QUIT lets replies in flight (the adapter's unsubscribe among them) arrive before closing.
    await Promise.allSettled([redis, pubClient, subClient].map((client) => client.quit()));
  };

  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    httpServer,
    instanceId: config.instanceId,
    admitter,
    realtime,
    get draining() {
      return draining;
    },
    drain(deadlineMs = config.drainTimeoutMs) {
      closed ??= (async () => {
        draining = true;
        log.info({ inFlight: inFlight.count }, 'draining');
        await admitter.stop();
        await new Promise((r) => setTimeout(r, Math.min(config.drainNoticeMs, deadlineMs)));
        httpServer.close();
        httpServer.closeIdleConnections();
        realtime?.drain();
        const deadline = Date.now() + deadlineMs;
        while (inFlight.count > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        if (inFlight.count > 0)
          log.warn({ inFlight: inFlight.count }, 'drain deadline passed with requests in flight');
        httpServer.closeAllConnections();
        await releaseResources();
        log.info('drained');
      })();
      return closed;
    },
    close() {
      closed ??= (async () => {
        draining = true;
        httpServer.closeAllConnections();
        await releaseResources();
        await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      })();
      return closed;
    },
  };
}
