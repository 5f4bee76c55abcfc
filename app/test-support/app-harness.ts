/**
 * What the app's integration tests share: real Redis and PostgreSQL started on free ports, app
 * instances started in-process (or as child processes for kill/SIGTERM tests), and small clients.
 */
import pg from 'pg';
import { pino } from 'pino';
import { io as connectSocket, type Socket } from 'socket.io-client';
import { type StartedPostgres, startPostgresServer } from '../../harness/backends/local/postgres-server.ts';
import { type StartedRedis, startRedisServer } from '../../harness/backends/local/redis-server.ts';
import { type AppConfig, loadConfig, type RedisSettings } from '../config.ts';
import { type StartedTiketiServer, startTiketiServer } from '../server.ts';
import { type StartedRedisCluster, startRedisCluster } from './redis-cluster.ts';

export const TEST_SECRET = 'test-secret-at-least-16-chars';

export interface DataTierOptions {
  /**
   * `single`: one redis-server, the app gets REDIS_URL. `cluster`: a Redis Cluster (3 primaries,
   * 3 replicas), the app gets REDIS_CLUSTER_NODES, as on ElastiCache in cluster mode.
   * @default 'single'
   */
  redis?: 'single' | 'cluster';
}

export interface DataTier<R extends StartedRedis | StartedRedisCluster = StartedRedis>
  extends AsyncDisposable {
  redis: R;
  /** How the app reaches this Redis; pass to `createRedis` for a client of the right kind. */
  redisSettings: RedisSettings;
  postgres: StartedPostgres;
  env(overrides?: Record<string, string>): Record<string, string>;
  config(overrides?: Record<string, string>): AppConfig;
  stop(): Promise<void>;
}

export function startDataTier(options?: { redis?: 'single' }): Promise<DataTier>;
export function startDataTier(options: { redis: 'cluster' }): Promise<DataTier<StartedRedisCluster>>;
export async function startDataTier(
  options: DataTierOptions = {},
): Promise<DataTier<StartedRedis | StartedRedisCluster>> {
  const [redisStart, postgresStart] = await Promise.allSettled([
    options.redis === 'cluster'
      ? startRedisCluster({ name: 'test-redis-cluster' })
      : startRedisServer({ name: 'test-redis' }),
    startPostgresServer({ name: 'test-pg' }),
  ]);
  if (redisStart.status === 'rejected' || postgresStart.status === 'rejected') {
    // One failed: stop the other rather than leave it running.
    await Promise.allSettled(
      [redisStart, postgresStart].flatMap((r) => (r.status === 'fulfilled' ? [r.value.stop()] : [])),
    );
    throw redisStart.status === 'rejected'
      ? redisStart.reason
      : (postgresStart as PromiseRejectedResult).reason;
  }
  const redis = redisStart.value;
  const postgres = postgresStart.value;
  const redisSettings: RedisSettings = 'settings' in redis ? redis.settings : { kind: 'url', url: redis.url };
  const redisEnv: Record<string, string> =
    'settings' in redis ? { REDIS_CLUSTER_NODES: redis.startupNodes } : { REDIS_URL: redis.url };
  const env = (overrides: Record<string, string> = {}) => ({
    PORT: '0',
    ...redisEnv,
    DATABASE_URL: postgres.url,
    TOKEN_SECRET: TEST_SECRET,
    LOG_LEVEL: 'silent',
    QUEUE_UPDATE_MS: '100',
    QUEUE_UPDATE_SIMULATED_MS: '100',
    ADMISSION_TICK_MS: '50',
    ADMISSION_LEASE_MS: '1000',
    ...overrides,
  });
  const stop = async () => {
    await Promise.allSettled([redis.stop(), postgres.stop()]);
  };
  return {
    redis,
    redisSettings,
    postgres,
    env,
    config: (o) => loadConfig(env(o)),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

export async function startInstance(
  tier: DataTier<StartedRedis | StartedRedisCluster>,
  overrides: Record<string, string> = {},
): Promise<StartedTiketiServer> {
  const config = tier.config(overrides);
  return startTiketiServer(config, { log: pino({ level: 'silent' }) });
}

/** A pg pool for test assertions; a server stopping under a closing connection is not an error. */
export function testPool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 5 });
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies of many shapes
export interface JsonResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies of many shapes
export async function api<T = any>(
  baseUrl: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; rawBody?: string; contentType?: string } = {},
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined || options.rawBody !== undefined)
    headers['content-type'] = options.contentType ?? 'application/json';
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    body: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

export function connect(baseUrl: string, auth: Record<string, unknown>): Socket {
  return connectSocket(baseUrl, { auth, transports: ['websocket'], forceNew: true, reconnection: false });
}

/** What `nextEvent` listens on: socket.io-client's Socket, or the load generator's light client. */
export interface EventEmitting {
  // biome-ignore lint/suspicious/noExplicitAny: tests read payloads of many shapes
  on(event: string, listener: (payload: any) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: tests read payloads of many shapes
  off(event: string, listener: (payload: any) => void): unknown;
}

/** Resolves with the first `event` payload matching `predicate`. */
// biome-ignore lint/suspicious/noExplicitAny: tests read payloads of many shapes
export function nextEvent<T = any>(
  socket: EventEmitting,
  event: string,
  predicate: (payload: T) => boolean = () => true,
  timeoutMs = 15_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, handler);
      reject(new Error(`no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const handler = (payload: T) => {
      if (!predicate(payload)) return;
      clearTimeout(timer);
      socket.off(event, handler);
      resolve(payload);
    };
    socket.on(event, handler);
  });
}

export function connected(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve();
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
}
