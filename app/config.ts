/**
 * The app's configuration, read from the environment once, at start (`loadConfig`). Every
 * problem is reported at once, naming the variable. Design defaults come from infra/topology.ts.
 */
import { z } from 'zod';
import { designTopology, type Limits, mergeTopology } from '../infra/topology.ts';

const hostPortList = z.string().transform((value, ctx) => {
  const out: { host: string; port: number }[] = [];
  for (const entry of value.split(',')) {
    const match = /^\s*([^:\s]+):(\d{1,5})\s*$/.exec(entry);
    if (!match) {
      ctx.addIssue({ code: 'custom', message: `"${entry}" is not host:port (e.g. 127.0.0.1:26379)` });
      return z.NEVER;
    }
    out.push({ host: match[1]!, port: Number(match[2]) });
  }
  return out;
});

const positiveNumber = z.coerce.number().positive();

const envSchema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65_535).default(designTopology.loadBalancer.targetPort),
    INSTANCE_ID: z.string().min(1).default('local'),
    AZ: z.string().min(1).default('local'),
    REDIS_URL: z.string().url().optional(),
    REDIS_SENTINELS: hostPortList.optional(),
    REDIS_MASTER_NAME: z.string().min(1).optional(),
    /** JSON map of Sentinel-announced `host:port` to reachable `{host, port}` (containers). */
    REDIS_NAT_MAP: z
      .string()
      .transform((v, ctx) => {
        try {
          return JSON.parse(v) as Record<string, { host: string; port: number }>;
        } catch {
          ctx.addIssue({
            code: 'custom',
            message: 'must be a JSON object of "host:port" to {"host","port"}',
          });
          return z.NEVER;
        }
      })
      .optional(),
    /**
     * Redis Cluster (ElastiCache cluster mode): startup nodes as `host:port,…`; on AWS the
     * configuration endpoint alone. The client learns the shards and replicas from it.
     */
    REDIS_CLUSTER_NODES: hostPortList.optional(),
    /** TLS to the cluster nodes (ElastiCache encryption in transit). @default false */
    REDIS_TLS: z
      .enum(['true', 'false'], { message: 'must be true or false' })
      .transform((v) => v === 'true')
      .optional(),
    /** AUTH token of the cluster nodes (ElastiCache AUTH; the instance reads it from Secrets Manager). */
    REDIS_PASSWORD: z.string().min(1).optional(),
    DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
    DATABASE_READER_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
      .optional(),
    TOKEN_SECRET: z.string().min(16, 'must be at least 16 characters'),
    ADMISSION_PER_SECOND: positiveNumber.default(designTopology.queue.admissionPerSecond),
    SHOPPING_WINDOW_SECONDS: positiveNumber.default(designTopology.queue.shoppingWindowSeconds),
    SEAT_HOLD_SECONDS: positiveNumber.default(designTopology.queue.seatHoldSeconds),
    SESSION_TTL_SECONDS: positiveNumber.default(designTopology.queue.sessionTtlSeconds),
    EVENT_CACHE_TTL_SECONDS: positiveNumber.default(designTopology.queue.eventCacheTtlSeconds),
    /**
     * Emulator only: the app's design timers (admission rate, shopping window, seat holds, pending
     * reservations) run this many times faster, to match a simulated clock. A number, or
     * `redis:<key>` to follow a value the emulator updates while it runs. @default 1
     */
    TIME_SCALE: z
      .string()
      .regex(/^(\d+(\.\d+)?|redis:[\w:.-]+)$/, 'must be a number or redis:<key>')
      .default('1'),
    /** How long the admission lease lives without renewal. @default 3000 */
    ADMISSION_LEASE_MS: z.coerce.number().int().min(100).default(3_000),
    /** Admission ticks, wall ms. @default 100 */
    ADMISSION_TICK_MS: z.coerce.number().int().min(10).default(100),
    /** How often queued users get their position, wall ms: also the floor for the next. @default 1000 */
    QUEUE_UPDATE_MS: z.coerce.number().int().min(50).default(1_000),
    /**
     * How often queued users get their position in the app's (simulated) time, never more often
     * than QUEUE_UPDATE_MS of wall time. In production both are 1 s. The emulator raises it so
     * that pushes follow its clock: when the clock slows down, so do they. @default 1000
     */
    QUEUE_UPDATE_SIMULATED_MS: z.coerce.number().int().min(50).default(1_000),
    /**
     * How long an instance gathers seat changes before it sends its shoppers one `seats:changed`,
     * in the app's (simulated) time, never less than 200 wall ms. In production both are 200 ms.
     * The emulator raises it so that the messages follow its clock: batched by wall time, a clock
     * slowed to 0.3× sent a simulated second's changes in fifteen messages to each shopper
     * instead of five. @default 200
     */
    SEAT_BATCH_SIMULATED_MS: z.coerce.number().int().min(50).default(200),
    /**
     * Wall ms between Engine.IO pings to each Socket.IO client (Socket.IO's 25 s in production);
     * a peer that stops answering is dropped within this plus the 20 s ping timeout. @default 25000
     */
    SOCKET_PING_INTERVAL_MS: z.coerce.number().int().min(1_000).default(25_000),
    /**
     * On SIGTERM, /health answers 503 this long before the listener closes, so the load balancer
     * sees the instance leave rather than finding its port shut. @default 2000
     */
    DRAIN_NOTICE_MS: z.coerce.number().int().min(0).default(2_000),
    /** SIGTERM drain deadline, wall ms. @default 25000 */
    DRAIN_TIMEOUT_MS: z.coerce.number().int().min(0).default(25_000),
    /**
     * Overrides of the design's limits (infra/topology.ts `limits`) as JSON, e.g.
     * `{"holdsPerUserPerEvent":2}`; the emulator passes a scenario's whole `limits`. @default none
     */
    LIMITS: z
      .string()
      .transform((v, ctx) => {
        try {
          return JSON.parse(v) as unknown;
        } catch {
          ctx.addIssue({ code: 'custom', message: 'must be a JSON object of limits (infra/topology.ts)' });
          return z.NEVER;
        }
      })
      .optional(),
    /** Origins allowed to open sockets from a browser, comma-separated. @default the design's site */
    CORS_ORIGINS: z
      .string()
      .default(designTopology.edge.corsAllowedOrigin)
      .transform((v) => v.split(',').map((o) => o.trim())),
    /**
     * Secret the control plane sends as `X-Control-Token` to read `/health/details`; without it the
     * details are not served at all. @default none
     */
    CONTROL_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    /** Largest JSON body accepted. @default '16kb' */
    MAX_BODY: z.string().default('16kb'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .superRefine((env, ctx) => {
    if (!env.REDIS_URL && !env.REDIS_SENTINELS && !env.REDIS_CLUSTER_NODES) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_URL'],
        message: 'set REDIS_URL, REDIS_SENTINELS with REDIS_MASTER_NAME, or REDIS_CLUSTER_NODES',
      });
    }
    if (env.REDIS_CLUSTER_NODES && (env.REDIS_URL || env.REDIS_SENTINELS)) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_CLUSTER_NODES'],
        message: `cannot be combined with ${env.REDIS_URL ? 'REDIS_URL' : 'REDIS_SENTINELS'}: set one way to reach Redis`,
      });
    }
    if (env.REDIS_TLS !== undefined && !env.REDIS_CLUSTER_NODES) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_TLS'],
        message: 'applies to REDIS_CLUSTER_NODES only; for REDIS_URL use a rediss:// URL',
      });
    }
    if (env.REDIS_SENTINELS && !env.REDIS_MASTER_NAME) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_MASTER_NAME'],
        message: 'is required with REDIS_SENTINELS',
      });
    }
  });

export type RedisSettings =
  | { kind: 'url'; url: string }
  | {
      kind: 'sentinel';
      sentinels: { host: string; port: number }[];
      masterName: string;
      natMap?: Record<string, { host: string; port: number }>;
    }
  | {
      /** Redis Cluster: keys are spread over shards by slot (see core/keys.ts for the hash tags). */
      kind: 'cluster';
      /** Startup nodes; the client discovers the rest. */
      nodes: { host: string; port: number }[];
      tls: boolean;
      /** AUTH token. @default none */
      password?: string;
    };

export interface AppConfig {
  port: number;
  instanceId: string;
  az: string;
  redis: RedisSettings;
  databaseUrl: string;
  databaseReaderUrl: string | undefined;
  tokenSecret: string;
  admissionPerSecond: number;
  shoppingWindowSeconds: number;
  seatHoldSeconds: number;
  sessionTtlSeconds: number;
  eventCacheTtlSeconds: number;
  timeScale: { kind: 'fixed'; value: number } | { kind: 'redis'; key: string };
  admissionLeaseMs: number;
  admissionTickMs: number;
  queueUpdateMs: number;
  queueUpdateSimulatedMs: number;
  seatBatchSimulatedMs: number;
  socketPingIntervalMs: number;
  drainTimeoutMs: number;
  drainNoticeMs: number;
  maxBody: string;
  logLevel: string;
  limits: Limits;
  corsOrigins: string[];
  controlToken: string | undefined;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: Record<string, string | undefined>): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${String(i.path[0] ?? 'environment')}: ${i.message}`),
    );
  }
  const e = parsed.data;
  let limits: Limits;
  try {
    limits = mergeTopology(designTopology, { limits: e.LIMITS as never }).limits;
  } catch (err) {
    throw new ConfigError([`LIMITS: ${(err as Error).message.replace(/^invalid topology:\s*/, '').trim()}`]);
  }
  return {
    port: e.PORT,
    instanceId: e.INSTANCE_ID,
    az: e.AZ,
    redis: e.REDIS_CLUSTER_NODES
      ? {
          kind: 'cluster',
          nodes: e.REDIS_CLUSTER_NODES,
          tls: e.REDIS_TLS ?? false,
          ...(e.REDIS_PASSWORD ? { password: e.REDIS_PASSWORD } : {}),
        }
      : e.REDIS_SENTINELS
        ? {
            kind: 'sentinel',
            sentinels: e.REDIS_SENTINELS,
            masterName: e.REDIS_MASTER_NAME!,
            natMap: e.REDIS_NAT_MAP,
          }
        : { kind: 'url', url: e.REDIS_URL! },
    databaseUrl: e.DATABASE_URL,
    databaseReaderUrl: e.DATABASE_READER_URL,
    tokenSecret: e.TOKEN_SECRET,
    admissionPerSecond: e.ADMISSION_PER_SECOND,
    shoppingWindowSeconds: e.SHOPPING_WINDOW_SECONDS,
    seatHoldSeconds: e.SEAT_HOLD_SECONDS,
    sessionTtlSeconds: e.SESSION_TTL_SECONDS,
    eventCacheTtlSeconds: e.EVENT_CACHE_TTL_SECONDS,
    timeScale: e.TIME_SCALE.startsWith('redis:')
      ? { kind: 'redis', key: e.TIME_SCALE.slice('redis:'.length) }
      : { kind: 'fixed', value: Number(e.TIME_SCALE) },
    admissionLeaseMs: e.ADMISSION_LEASE_MS,
    admissionTickMs: e.ADMISSION_TICK_MS,
    queueUpdateMs: e.QUEUE_UPDATE_MS,
    queueUpdateSimulatedMs: e.QUEUE_UPDATE_SIMULATED_MS,
    seatBatchSimulatedMs: e.SEAT_BATCH_SIMULATED_MS,
    socketPingIntervalMs: e.SOCKET_PING_INTERVAL_MS,
    drainTimeoutMs: e.DRAIN_TIMEOUT_MS,
    drainNoticeMs: e.DRAIN_NOTICE_MS,
    maxBody: e.MAX_BODY,
    logLevel: e.LOG_LEVEL,
    limits,
    corsOrigins: e.CORS_ORIGINS,
    controlToken: e.CONTROL_TOKEN,
  };
}
