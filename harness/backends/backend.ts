/**
 * Where Redis and PostgreSQL come from. A backend is chosen by name (`local`, `containers`,
 * `external`); whatever it is, the topology gets the same endpoints: Redis through Sentinels (or a
 * plain URL) and PostgreSQL writer and reader URLs.
 */
import type { ProxyRoute } from '../../servers/fault-proxy/proxy-host.ts';
import type { LogSink } from '../../servers/process.ts';
import type { StartupSteps } from '../../servers/startup-steps.ts';

export type BackendKind = 'local' | 'containers' | 'external';
export type BackendChoice = BackendKind | 'auto';

export interface HostPort {
  host: string;
  port: number;
}

/** How the app reaches Redis: Sentinels and a master name, like ElastiCache's failover, or a URL. */
export type RedisConnection =
  | {
      kind: 'sentinel';
      sentinels: HostPort[];
      masterName: string;
      /** Maps addresses Sentinel announces to ones reachable from here (containers). */
      natMap?: Record<string, HostPort>;
    }
  | { kind: 'url'; url: string };

export interface BackendEndpoints {
  redis: RedisConnection;
  postgres: { writerUrl: string; readerUrl: string };
}

/** One server process or container of the backend, for status output and AZ faults. */
export interface BackendComponent {
  name: string;
  role: 'redis-primary' | 'redis-replica' | 'redis-sentinel' | 'db-writer' | 'db-replica' | 'external';
  az?: string;
  pid?: number;
  address?: string;
}

/** What failover rehearsals can do to a backend whose processes this machine owns. */
export interface BackendFaults {
  /** SIGKILLs the node the Sentinels call primary; they promote the replica. */
  killRedisPrimary(): Promise<{ name: string; az: string }>;
  /** `host:port` of the primary as the Sentinels report it now. */
  redisPrimaryAddress(): Promise<string>;
  redisPrimaryAz(): Promise<string | undefined>;
  /** SIGKILLs the database writer. */
  killDbWriter(): Promise<{ name: string; az: string }>;
  dbWriterAz(): string;
  /** The writer endpoint refuses connections: Aurora between detection and the endpoint switch. */
  takeDbWriterEndpointDown(): Promise<void>;
  /** Promotes the replica; `switchEndpoints: false` leaves the endpoints for `switchDbEndpoints`. */
  promoteDbReplica(options?: { switchEndpoints?: boolean }): Promise<void>;
  switchDbEndpoints(): Promise<void>;
  /** The fault-proxy routes the app's traffic takes, for latency and partitions. */
  paths: { 'app-redis': ProxyRoute[]; 'app-db': ProxyRoute[] };
}

export interface StartedBackend extends AsyncDisposable {
  readonly kind: BackendKind;
  /** What app instances connect to (through the fault proxy, where there is one). */
  readonly endpoints: BackendEndpoints;
  /** What the harness's own checks connect to: never delayed or partitioned. @default endpoints */
  readonly adminEndpoints?: BackendEndpoints;
  /** Present where failures can be injected (the local backend). */
  readonly faults?: BackendFaults;
  components(): BackendComponent[];
  stop(): Promise<void>;
}

export interface BackendStartOptions {
  log?: LogSink;
  /** Reports each server group's start as a timed step. @default silent */
  steps?: StartupSteps;
  /** Sentinel down-after, wall ms (the design's seconds divided by the time scale). */
  redisDownAfterMs?: number;
  redisFailoverTimeoutMs?: number;
  /**
   * Redis settings of the design's parameter group, as `redis-server` flags (for the nodes this
   * backend starts). @default redis-server's defaults
   */
  redisServerArgs?: string[];
  /** Synchronous DB replication (zero data loss). @default true */
  synchronousReplication?: boolean;
  /**
   * Route the app's Redis traffic through the fault proxy so `app-redis` latency and partitions
   * can be injected. Off by default: every Redis command then costs an extra process hop, which a
   * 25,000-user peak on two cores cannot afford. @default false
   */
  redisFaultPath?: boolean;
}

export interface Backend {
  readonly kind: BackendKind;
  start(options: BackendStartOptions): Promise<StartedBackend>;
}

/** The environment cannot run the chosen backend; the message says what to install or start. */
export class BackendUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BackendUnavailableError';
  }
}
