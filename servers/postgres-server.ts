/**
 * A real PostgreSQL server (a copy of a cached `initdb`: postgres-template.ts) on a free loopback port.
 *
 * PostgreSQL refuses to run as root, and these machines run as root: then the server runs as the
 * unprivileged `nobody` user, with its data folder owned by it. Clients connect over TCP with
 * trust authentication on 127.0.0.1 only.
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import pg from 'pg';
import { type PostgresBinaries, requirePostgres } from './binaries.ts';
import { freePort } from './ports.ts';
import { copyTemplate, ensureTemplate, refillSparesSoon, templateCopies } from './postgres-template.ts';
import { type LogSink, type ManagedProcess, ProcessStartError, startProcess } from './process.ts';
import { makeRunDir, type RunDir, sweepStaleRunDirs } from './run-dir.ts';

const execFileAsync = promisify(execFile);

/** The unprivileged identity used when the harness runs as root (`nobody` / `nogroup`). */
export const UNPRIVILEGED = { uid: 65534, gid: 65534 };

export interface PostgresServerOptions {
  /** @default 'postgres' */
  name?: string;
  /** @default a free port */
  port?: number;
  /** Superuser and owner of `database`. @default 'tiketi' */
  user?: string;
  /** Database created at start. @default 'tiketi' */
  database?: string;
  /** Extra `-c key=value` settings. */
  settings?: Record<string, string | number>;
  /** fsync on. Off by default: a killed process loses nothing without it, only an OS crash would. */
  durable?: boolean;
  log?: LogSink;
  /** Where the `initdb` template is cached. @default ~/.cache/tiketi-sim */
  templateRoot?: string;
}

export interface StartedPostgres extends AsyncDisposable {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  /** `postgres://user@127.0.0.1:port/database` */
  readonly url: string;
  readonly pid: number;
  readonly dataDir: string;
  readonly process: ManagedProcess;
  /** URL of another database on this server. */
  urlFor(database: string): string;
  /** Creates a fresh empty database and returns its URL. */
  createDatabase(database: string): Promise<string>;
  stop(): Promise<void>;
}

export function runAsIdentity(): { uid: number; gid: number } | undefined {
  return process.getuid?.() === 0 ? UNPRIVILEGED : undefined;
}

/** A new cluster in `dataDir` with `database` in it, owned by `user` (`initdb`, then single-user mode). */
async function initCluster(
  bin: PostgresBinaries,
  dataDir: string,
  names: { user: string; database: string },
  identity?: { uid: number; gid: number },
): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(names.database))
    throw new Error(`database name must match [a-z_][a-z0-9_]* (got ${names.database})`);
  const ids = { uid: identity?.uid, gid: identity?.gid };
  try {
    await execFileAsync(
      bin.initdb,
      ['-D', dataDir, '-U', names.user, '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync'],
      { ...ids, env: { ...process.env, LC_ALL: 'C' } },
    );
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new ProcessStartError(`initdb into ${dataDir} failed: ${stderr.trim()}`, { cause: err });
  }
  // Single-user mode reads commands from stdin: no port, no socket, nothing to wait for.
  const single = spawn(bin.postgres, ['--single', '-D', dataDir, '-c', 'fsync=off', 'postgres'], {
    ...ids,
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  single.stderr.on('data', (d: Buffer) => (stderr += d));
  single.stdin.on('error', () => {}); // a backend that died early is reported by its exit below
  single.stdin.end(`CREATE DATABASE ${names.database} OWNER ${names.user}\n`);
  const [code] = (await once(single, 'exit')) as [number | null];
  if (code !== 0 || /ERROR|FATAL/.test(stderr))
    throw new ProcessStartError(
      `creating database ${names.database} in ${dataDir} failed (exit ${code}): ${stderr.trim()}`,
    );
}

async function canQuery(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => {}); // a refused connection is reported by connect() below
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Starts `postgres` on an existing data folder and waits until it answers SQL. */
export async function launchPostgres(options: {
  name: string;
  binaries: PostgresBinaries;
  dataDir: string;
  socketDir: string;
  port: number;
  user: string;
  settings: Record<string, string | number>;
  identity: { uid: number; gid: number } | undefined;
  log?: LogSink;
}): Promise<ManagedProcess> {
  const settings = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: options.socketDir,
    ...options.settings,
  };
  return startProcess({
    name: options.name,
    command: options.binaries.postgres,
    args: [
      '-D',
      options.dataDir,
      '-p',
      String(options.port),
      ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    ],
    uid: options.identity?.uid,
    gid: options.identity?.gid,
    log: options.log,
    // SIGQUIT: immediate shutdown when the harness dies; the data is temporary anyway.
    parentDeathSignal: 'SIGQUIT',
    ready: () => canQuery(`postgres://${options.user}@127.0.0.1:${options.port}/postgres`),
  });
}

/** Settings every server of a run shares: loopback only, fast, ready to stream WAL to a replica. */
export function baseSettings(durable: boolean | undefined): Record<string, string | number> {
  return {
    max_connections: 300,
    fsync: durable ? 'on' : 'off',
    full_page_writes: durable ? 'on' : 'off',
    wal_level: 'replica',
    max_wal_senders: 10,
    hot_standby: 'on',
  };
}

export function stoppablePostgres(fields: {
  name: string;
  port: number;
  user: string;
  database: string;
  dataDir: string;
  process: ManagedProcess;
  run: RunDir;
}): StartedPostgres {
  const urlFor = (db: string) => `postgres://${fields.user}@127.0.0.1:${fields.port}/${db}`;
  const createDatabase = async (db: string) => {
    if (!/^[a-z_][a-z0-9_]*$/.test(db))
      throw new Error(`database name must match [a-z_][a-z0-9_]* (got ${db})`);
    const admin = new pg.Client({ connectionString: urlFor('postgres') });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${db} OWNER ${fields.user}`);
    } finally {
      await admin.end();
    }
    return urlFor(db);
  };
  const stop = async () => {
    // SIGINT is PostgreSQL's "fast" shutdown: clients are disconnected, then it exits.
    await fields.process.stop('SIGINT', 10_000);
    fields.run.remove();
  };
  return {
    name: fields.name,
    host: '127.0.0.1',
    port: fields.port,
    user: fields.user,
    database: fields.database,
    url: urlFor(fields.database),
    pid: fields.process.pid,
    dataDir: fields.dataDir,
    process: fields.process,
    urlFor,
    createDatabase,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * A server's data folder, filled (a copy of the `initdb` template, or `initdb`), its database in
 * it, but not running yet: a writer and its replica are prepared side by side
 * (postgres-cluster.ts).
 */
export interface PreparedPostgres {
  readonly name: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly dataDir: string;
  readonly run: RunDir;
  readonly binaries: PostgresBinaries;
  readonly identity: { uid: number; gid: number } | undefined;
  /** The template it is a copy of (`TemplateCopies.identity`), or `initdb` when none could be kept. */
  readonly source: string;
}

export async function preparePostgres(
  options: Pick<PostgresServerOptions, 'name' | 'port' | 'user' | 'database' | 'templateRoot'> = {},
): Promise<PreparedPostgres> {
  const binaries = requirePostgres();
  sweepStaleRunDirs();
  const name = options.name ?? 'postgres';
  const user = options.user ?? 'tiketi';
  const database = options.database ?? 'tiketi';
  const port = options.port ?? (await freePort());
  const identity = runAsIdentity();
  const run: RunDir = makeRunDir(name, identity);
  const dataDir = `${run.path}/data`;
  let source: string;
  try {
    const template = await ensureTemplate(
      {
        bin: binaries,
        user,
        database,
        ...(identity ? { identity } : {}),
        ...(options.templateRoot ? { root: options.templateRoot } : {}),
      },
      (dir) => initCluster(binaries, dir, { user, database }, identity),
    );
    if (template) {
      const copies = templateCopies(template);
      await copyTemplate(copies, dataDir);
      refillSparesSoon(copies);
      source = copies.identity;
    } else {
      await initCluster(binaries, dataDir, { user, database }, identity);
      source = 'initdb';
    }
  } catch (err) {
    run.remove();
    throw err;
  }
  return { name, port, user, database, dataDir, run, binaries, identity, source };
}

/** Starts a prepared server and waits until it answers SQL. On failure its folder is removed. */
export async function launchPrepared(
  prepared: PreparedPostgres,
  options: { settings: Record<string, string | number>; log?: LogSink },
): Promise<StartedPostgres> {
  const { name, port, user, database, dataDir, run, binaries, identity } = prepared;
  let proc: ManagedProcess;
  try {
    proc = await launchPostgres({
      name,
      binaries,
      dataDir,
      socketDir: run.path,
      port,
      user,
      settings: options.settings,
      identity,
      log: options.log,
    });
  } catch (err) {
    run.remove();
    throw err;
  }
  return stoppablePostgres({ name, port, user, database, dataDir, process: proc, run });
}

export async function startPostgresServer(options: PostgresServerOptions = {}): Promise<StartedPostgres> {
  const prepared = await preparePostgres(options);
  return launchPrepared(prepared, {
    settings: { ...baseSettings(options.durable), ...options.settings },
    log: options.log,
  });
}
