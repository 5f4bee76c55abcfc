/**
 * What the app's integration tests share: real Redis and PostgreSQL started on free ports
 * (`servers/`) with the app's settings for them, app instances started in-process (or as child
 * processes for kill/SIGTERM tests), and small clients.
 */
import { pino } from 'pino';
import { io as connectSocket, type Socket } from 'socket.io-client';
import { startDataTierServers } from '../../servers/data-tier.ts';
import type { StartedPostgres } from '../../servers/postgres-server.ts';
import type { StartedRedisCluster } from '../../servers/redis-cluster.ts';
import type { StartedRedis } from '../../servers/redis-server.ts';
import { type AppConfig, loadConfig, type RedisSettings } from '../config.ts';
import { type StartedTiketiServer, startTiketiServer } from '../server.ts';

export {
  api,
  type EventEmitting,
  type JsonResponse,
  nextEvent,
  testPool,
} from '../../servers/test-clients.ts';

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
  const servers = await startDataTierServers(options.redis);
  const { redis, postgres } = servers;
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
  return { ...servers, redisSettings, env, config: (o) => loadConfig(env(o)) };
}

export async function startInstance(
  tier: DataTier<StartedRedis | StartedRedisCluster>,
  overrides: Record<string, string> = {},
): Promise<StartedTiketiServer> {
  const config = tier.config(overrides);
  return startTiketiServer(config, { log: pino({ level: 'silent' }) });
}

export function connect(baseUrl: string, auth: Record<string, unknown>): Socket {
  return connectSocket(baseUrl, { auth, transports: ['websocket'], forceNew: true, reconnection: false });
}

export function connected(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve();
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
}
