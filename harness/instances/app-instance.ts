/**
 * The EC2 stand-in: one TIKETI app process (`app/main.ts`) with an instance id and an AZ, its
 * output prefixed `[app-3 az-b]`, connected to the backend's Redis Sentinels and DB endpoints.
 */
import { fileURLToPath } from 'node:url';
import type { Topology } from '../../infra/topology.ts';
import { freePort } from '../../servers/ports.ts';
import { type LogSink, type ManagedProcess, startProcess } from '../../servers/process.ts';
import type { BackendEndpoints } from '../backends/backend.ts';

const APP_ENTRY = fileURLToPath(new URL('../../app/main.ts', import.meta.url));

export interface AppInstanceOptions {
  id: string;
  az: string;
  endpoints: BackendEndpoints;
  tokenSecret: string;
  /** Extra environment (admission rate, shopping window, log level…). */
  env?: Record<string, string>;
  log?: LogSink;
  /** @default 60_000 */
  readyTimeoutMs?: number;
}

export interface StartedAppInstance {
  readonly id: string;
  readonly az: string;
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  readonly process: ManagedProcess;
  /** When its process exited (wall epoch ms); undefined while it runs. */
  readonly exitedAtWallMs: number | undefined;
  /** SIGTERM: the app drains, then exits (escalates to SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL, as a crashed instance. */
  kill(): Promise<void>;
}

/** The topology's queue figures as the app reads them (app/config.ts): a scenario's design reaches the app. */
export function queueEnvironment(queue: Topology['queue']): Record<string, string> {
  return {
    ADMISSION_PER_SECOND: String(queue.admissionPerSecond),
    SHOPPING_WINDOW_SECONDS: String(queue.shoppingWindowSeconds),
    SEAT_HOLD_SECONDS: String(queue.seatHoldSeconds),
    SESSION_TTL_SECONDS: String(queue.sessionTtlSeconds),
    EVENT_CACHE_TTL_SECONDS: String(queue.eventCacheTtlSeconds),
  };
}

/** The app's environment for these endpoints, as an EC2 instance's user data would set it. */
export function appEnvironment(options: AppInstanceOptions, port: number): Record<string, string> {
  const { redis, postgres } = options.endpoints;
  const redisEnv: Record<string, string> =
    redis.kind === 'sentinel'
      ? {
          REDIS_SENTINELS: redis.sentinels.map((s) => `${s.host}:${s.port}`).join(','),
          REDIS_MASTER_NAME: redis.masterName,
          ...(redis.natMap ? { REDIS_NAT_MAP: JSON.stringify(redis.natMap) } : {}),
        }
      : { REDIS_URL: redis.url };
  return {
    PORT: String(port),
    INSTANCE_ID: options.id,
    AZ: options.az,
    ...redisEnv,
    DATABASE_URL: postgres.writerUrl,
    DATABASE_READER_URL: postgres.readerUrl,
    TOKEN_SECRET: options.tokenSecret,
    ...options.env,
  };
}

export async function startAppInstance(options: AppInstanceOptions): Promise<StartedAppInstance> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = { PATH: process.env.PATH ?? '', NODE_ENV: 'production', ...appEnvironment(options, port) };
  const proc = await startProcess({
    name: `${options.id} az-${options.az}`,
    command: process.execPath,
    args: ['--import', 'tsx', APP_ENTRY],
    env,
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    log: options.log,
    readyTimeoutMs: options.readyTimeoutMs ?? 60_000,
    // The harness is gone: nothing is left to drain for, so the instance goes at once.
    parentDeathSignal: 'SIGKILL',
    // Serving at all is "booted"; whether it is healthy is the load balancer's call.
    ready: async () => {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      return true;
    },
  });
  let exitedAtWallMs: number | undefined;
  void proc.exited.then(() => {
    exitedAtWallMs = Date.now();
  });
  return {
    id: options.id,
    az: options.az,
    port,
    url,
    pid: proc.pid,
    process: proc,
    get exitedAtWallMs() {
      return exitedAtWallMs;
    },
    stop: (graceMs = 30_000) => proc.stop('SIGTERM', graceMs),
    kill: () => proc.kill(),
  };
}
