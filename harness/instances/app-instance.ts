/**
 * The EC2 stand-in: one TIKETI app process (`app/main.ts`) with an instance id and an AZ, its
 * output prefixed `[app-3 az-b]`, connected to the backend's Redis Sentinels and DB endpoints.
 *
 * Most of an instance's boot is loading the app's code (half a second of CPU here): the group's
 * first instances are booted ahead, while the data tier starts ({@link AppPreboot}), and told
 * their role and endpoints once those exist (app-boot.ts).
 */
import { fileURLToPath } from 'node:url';
import type { Topology } from '../../infra/topology.ts';
import { nodeEntry } from '../../servers/entry-bundle.ts';
import { freePort } from '../../servers/ports.ts';
import {
  type LogSink,
  type ManagedProcess,
  type ProcessChannel,
  type SpawnedProcess,
  spawnProcess,
} from '../../servers/process.ts';
import type { BackendEndpoints } from '../backends/backend.ts';

const BOOT_ENTRY = fileURLToPath(new URL('./app-boot.ts', import.meta.url));

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
  /** Processes booted ahead: the instance takes one if any is left, else boots its own. */
  preboot?: AppPreboot;
}

export interface StartedAppInstance {
  readonly id: string;
  readonly az: string;
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  readonly process: ManagedProcess;
  /** Its process's IPC channel: the ALB hands it its WebSockets' client sockets (websocket-handoff.ts). */
  readonly channel: ProcessChannel | undefined;
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

/** An app process loading the app's code; it serves once given its environment (app-boot.ts). */
export async function bootApp(name: string, log: LogSink | undefined): Promise<SpawnedProcess> {
  const run = await nodeEntry(BOOT_ENTRY);
  return spawnProcess({
    name,
    command: process.execPath,
    args: [...run.execArgv, run.modulePath],
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production' },
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    log,
    stdin: true,
    ipc: true,
    // The harness is gone: nothing is left to drain for, so the instance goes at once.
    parentDeathSignal: 'SIGKILL',
  });
}

/**
 * App processes booted ahead, while the data tier starts: one for each instance the group may run
 * at once (its `maxSize`); each launch takes one, and launches beyond them boot their own. Loading
 * the app's code is this emulator's cost, not EC2's boot (the group's simulated boot time stands
 * for that): about 0.4 s of CPU a process, measured here. Made at each launch, it came when a
 * scale-out does, at the peak: the +2 of a full peak's burst took the CPU to 99 % for its second,
 * and the pacer held the rest of the burst under the speed it had then.
 */
export class AppPreboot {
  private readonly booting: Promise<SpawnedProcess | undefined>[];

  /** Starts `count` processes now, through `boot` (@default {@link bootApp}). */
  constructor(
    count: number,
    log?: LogSink,
    boot: (name: string, log?: LogSink) => Promise<SpawnedProcess> = bootApp,
  ) {
    // One that fails to spawn is left out: its launch boots its own and reports the failure.
    this.booting = Array.from({ length: count }, (_, i) =>
      boot(`app-boot-${i + 1}`, log).catch(() => undefined),
    );
  }

  /** A process booted ahead and still running, or undefined when none is left. */
  async take(): Promise<SpawnedProcess | undefined> {
    for (let next = this.booting.shift(); next; next = this.booting.shift()) {
      const proc = await next;
      if (proc?.running) return proc;
    }
    return undefined;
  }

  /** Stops the processes no launch took. */
  async stop(): Promise<void> {
    const left = this.booting.splice(0);
    await Promise.allSettled(left.map(async (p) => (await p)?.kill()));
  }
}

export async function startAppInstance(options: AppInstanceOptions): Promise<StartedAppInstance> {
  const name = `${options.id} az-${options.az}`;
  const proc = (await options.preboot?.take()) ?? (await bootApp(name, options.log));
  proc.rename(name);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  proc.stdin?.end(`${JSON.stringify(appEnvironment(options, port))}\n`);
  // Serving at all is "booted"; whether it is healthy is the load balancer's call.
  await proc.untilReady(async () => {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
    await res.body?.cancel();
    return true;
  }, options.readyTimeoutMs ?? 60_000);
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
    channel: proc.channel,
    get exitedAtWallMs() {
      return exitedAtWallMs;
    },
    stop: (graceMs = 30_000) => proc.stop('SIGTERM', graceMs),
    kill: () => proc.kill(),
  };
}
