/**
 * Aurora's stand-in: a PostgreSQL writer and a streaming replica, with a writer endpoint and a
 * reader endpoint that stay put while the servers behind them change.
 *
 * Replication is synchronous by default (`synchronous_standby_names`), so a commit the app has
 * confirmed is on the replica before the client hears of it: promotion loses no confirmed write.
 */
import { execFile } from 'node:child_process';
import { chownSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import pg from 'pg';
import { type ProxyHost, type ProxyRoute, startProxyHost } from './fault-proxy/proxy-host.ts';
import {
  baseSettings,
  launchPrepared,
  type PreparedPostgres,
  preparePostgres,
  type StartedPostgres,
} from './postgres-server.ts';
import type { LogSink } from './process.ts';
import { waitUntil } from './wait-until.ts';

const execFileAsync = promisify(execFile);
const REPLICA_APPLICATION_NAME = 'replica';

export interface PostgresClusterOptions {
  /** Name prefix of the two servers' logs. @default 'aurora' */
  name?: string;
  /** Replica acknowledges commits before clients hear of them. @default true */
  synchronous?: boolean;
  /** AZ labels of the writer and the replica, carried in their names. @default ['a', 'b'] */
  azs?: [string, string];
  log?: LogSink;
  /** Fault proxy that carries the endpoints and the replication stream. @default one of its own */
  proxies?: Pick<ProxyHost, 'route'>;
}

export interface StartedPostgresCluster extends AsyncDisposable {
  /** The current writer (changes after `promoteReplica`). */
  readonly writer: StartedPostgres;
  /** The streaming replica, until it is promoted. */
  readonly replica: StartedPostgres | undefined;
  readonly writerEndpoint: ProxyRoute;
  readonly readerEndpoint: ProxyRoute;
  /** The replica's stream from the writer: partition it to make the replica fall behind. */
  readonly replicationPath: ProxyRoute;
  /** A writer endpoint for the harness's own checks: follows promotion, never gets toxics. */
  readonly adminWriterUrl: string;
  /** AZ label of the current writer. */
  readonly writerAz: string;
  readonly writerUrl: string;
  readonly readerUrl: string;
  readonly synchronous: boolean;
  /**
   * Promotes the replica to writer and points the endpoints at it — unless `switchEndpoints` is
   * false, for a failover whose endpoint switch comes later (`switchEndpointsToWriter`).
   */
  promoteReplica(options?: { switchEndpoints?: boolean }): Promise<void>;
  /** Points every endpoint at the current writer. */
  switchEndpointsToWriter(): Promise<void>;
  /** The writer endpoints refuse connections, as Aurora's do between detection and the switch. */
  takeWriterEndpointsDown(): Promise<void>;
  /** Replication state as the writer sees it. */
  replicationState(): Promise<{ applicationName: string; state: string; syncState: string }[]>;
  stop(): Promise<void>;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/**
 * Settings written into a prepared data folder, as `ALTER SYSTEM` would write them (so a later
 * `ALTER SYSTEM` on the server changes them).
 */
function writeAutoConf(prepared: PreparedPostgres, settings: Record<string, string>): void {
  const path = `${prepared.dataDir}/postgresql.auto.conf`;
  const lines = Object.entries(settings).map(([k, v]) => `${k} = '${v}'`);
  writeFileSync(path, `# Written by tiketi-sim before the first start\n${lines.join('\n')}\n`, {
    mode: 0o600,
  });
  if (prepared.identity) chownSync(path, prepared.identity.uid, prepared.identity.gid);
}

/**
 * Gives the replica the writer's data. Both are copies of the same template, made before either
 * starts: the replica begins at the template's last checkpoint, which the writer's WAL continues
 * (a cold copy is a base backup).
 */
async function copyForStandby(replica: PreparedPostgres, writer: PreparedPostgres): Promise<void> {
  if (writer.source === 'initdb' || replica.source !== writer.source) {
    // No shared template (the cache folder is not writable): the replica is a copy of the writer's.
    rmSync(replica.dataDir, { recursive: true, force: true });
    await execFileAsync('cp', ['-a', writer.dataDir, replica.dataDir]);
  }
}

/** Makes the (copied) replica a standby that streams from `streamFrom`. */
function configureStandby(
  replica: PreparedPostgres,
  writer: PreparedPostgres,
  streamFrom: { port: number },
): void {
  // The walreceiver names itself after cluster_name, which synchronous_standby_names matches.
  writeAutoConf(replica, {
    primary_conninfo: `host=127.0.0.1 port=${streamFrom.port} user=${writer.user} application_name=${REPLICA_APPLICATION_NAME}`,
  });
  writeFileSync(`${replica.dataDir}/standby.signal`, '');
}

/** Replication is up within a few hundred ms here: poll often enough not to add to start-up. */
const FAST_POLL = { intervalMs: 20 };

export async function startPostgresCluster(
  options: PostgresClusterOptions = {},
): Promise<StartedPostgresCluster> {
  const prefix = options.name ?? 'aurora';
  const [azWriter, azReplica] = options.azs ?? ['a', 'b'];
  const synchronous = options.synchronous ?? true;
  const prepared = await Promise.allSettled([
    preparePostgres({ name: `${prefix}-writer az-${azWriter}` }),
    preparePostgres({ name: `${prefix}-replica az-${azReplica}` }),
  ]);
  if (prepared.some((p) => p.status === 'rejected')) {
    for (const p of prepared) if (p.status === 'fulfilled') p.value.run.remove();
    throw prepared.flatMap((p) => (p.status === 'rejected' ? [p.reason] : []))[0];
  }
  const [writerPrepared, replicaPrepared] = prepared.map(
    (p) => (p as PromiseFulfilledResult<PreparedPostgres>).value,
  ) as [PreparedPostgres, PreparedPostgres];
  let startedWriter: StartedPostgres | undefined;
  let startedReplica: StartedPostgres | undefined;
  let ownProxies: ProxyHost | undefined;
  let writerEndpoint: ProxyRoute | undefined;
  let readerEndpoint: ProxyRoute | undefined;
  let replicationPath: ProxyRoute | undefined;
  let adminEndpoint: ProxyRoute | undefined;
  try {
    // The copy is taken before the writer runs (a cold copy is a base backup).
    await copyForStandby(replicaPrepared, writerPrepared);
    // Synchronous from the first start: no commit is confirmed before the replica has it.
    if (synchronous) writeAutoConf(writerPrepared, { synchronous_standby_names: REPLICA_APPLICATION_NAME });
    const settings = baseSettings(false);
    // The replication route is bound before the replica learns its port: a port chosen ahead and
    // bound later can be taken in between (CI saw EADDRINUSE on one).
    const proxied = (async () => {
      if (!options.proxies) ownProxies = await startProxyHost();
      const proxies = (options.proxies ?? ownProxies)!;
      const route = await proxies.route(`${prefix}-replication`, {
        host: '127.0.0.1',
        port: writerPrepared.port,
      });
      return { proxies, route };
    })();
    const [proxiedStart, writerStart, replicaStart] = await Promise.allSettled([
      proxied,
      launchPrepared(writerPrepared, { settings, log: options.log }),
      (async () => {
        const { route } = await proxied;
        configureStandby(replicaPrepared, writerPrepared, { port: route.port });
        return launchPrepared(replicaPrepared, {
          // The replica may start before the writer answers: retry its stream every 100 ms, not 5 s.
          settings: {
            ...settings,
            cluster_name: REPLICA_APPLICATION_NAME,
            wal_retrieve_retry_interval: '100ms',
          },
          log: options.log,
        });
      })(),
    ]);
    if (writerStart.status === 'fulfilled') startedWriter = writerStart.value;
    if (replicaStart.status === 'fulfilled') startedReplica = replicaStart.value;
    for (const r of [proxiedStart, writerStart, replicaStart]) if (r.status === 'rejected') throw r.reason;
    const { proxies, route } = (
      proxiedStart as PromiseFulfilledResult<{ proxies: Pick<ProxyHost, 'route'>; route: ProxyRoute }>
    ).value;
    replicationPath = route;
    const primary = startedWriter!;
    await waitUntil(
      synchronous ? 'the replica to stream synchronously' : 'the replica to stream from the writer',
      async () => {
        const rows = await query<{ state: string; sync_state: string }>(
          primary.urlFor('postgres'),
          'SELECT state, sync_state FROM pg_stat_replication',
        );
        return rows.some((r) => r.state === 'streaming' && (!synchronous || r.sync_state === 'sync'));
      },
      FAST_POLL,
    );
    [writerEndpoint, readerEndpoint, adminEndpoint] = await Promise.all([
      proxies.route(`${prefix}-writer`, { host: primary.host, port: primary.port }),
      proxies.route(`${prefix}-reader`, { host: startedReplica!.host, port: startedReplica!.port }),
      proxies.route(`${prefix}-admin-writer`, { host: primary.host, port: primary.port }),
    ]);
  } catch (err) {
    // A server that never started leaves its folder behind: remove both (stop removes it too).
    await Promise.allSettled([startedReplica?.stop(), startedWriter?.stop(), ownProxies?.stop()]);
    writerPrepared.run.remove();
    replicaPrepared.run.remove();
    throw err;
  }
  let writer: StartedPostgres = startedWriter!;
  let replica: StartedPostgres | undefined = startedReplica;
  const endpoints = { writer: writerEndpoint, reader: readerEndpoint, admin: adminEndpoint };
  let writerAz = azWriter;
  const switchEndpointsToWriter = async () => {
    const target = { host: writer.host, port: writer.port };
    await Promise.all([
      endpoints.writer.switchTo(target),
      endpoints.reader.switchTo(target),
      endpoints.admin.switchTo(target),
    ]);
  };
  const urlOf = (endpoint: ProxyRoute) =>
    `postgres://${writer.user}@127.0.0.1:${endpoint.port}/${writer.database}`;
  const stopped: StartedPostgres[] = [];

  const stop = async () => {
    await Promise.allSettled([writer.stop(), replica?.stop(), ...stopped.map((s) => s.stop())]);
    await ownProxies?.stop();
  };
  return {
    get writer() {
      return writer;
    },
    get replica() {
      return replica;
    },
    writerEndpoint: endpoints.writer,
    readerEndpoint: endpoints.reader,
    replicationPath,
    adminWriterUrl: urlOf(endpoints.admin),
    get writerAz() {
      return writerAz;
    },
    writerUrl: urlOf(endpoints.writer),
    readerUrl: urlOf(endpoints.reader),
    synchronous,
    async promoteReplica(options = {}) {
      if (!replica) throw new Error('there is no replica left to promote');
      const promoted = replica;
      await query(promoted.urlFor('postgres'), 'SELECT pg_promote(true, 60)');
      // The old writer's process (dead or alive) is stopped at the end of the run.
      stopped.push(writer);
      writer = promoted;
      writerAz = azReplica;
      replica = undefined;
      // A synchronous writer with no standby would block every commit: the new writer stands alone.
      await query(writer.urlFor('postgres'), "ALTER SYSTEM SET synchronous_standby_names = ''");
      await query(writer.urlFor('postgres'), 'SELECT pg_reload_conf()');
      if (options.switchEndpoints ?? true) await switchEndpointsToWriter();
      else await endpoints.admin.switchTo({ host: writer.host, port: writer.port });
    },
    switchEndpointsToWriter,
    async takeWriterEndpointsDown() {
      await endpoints.writer.switchTo(undefined);
    },
    async replicationState() {
      const rows = await query<{ application_name: string; state: string; sync_state: string }>(
        writer.urlFor('postgres'),
        'SELECT application_name, state, sync_state FROM pg_stat_replication',
      );
      return rows.map((r) => ({
        applicationName: r.application_name,
        state: r.state,
        syncState: r.sync_state,
      }));
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
