/**
 * Finds the Redis and PostgreSQL server binaries on this machine: on `PATH` first, then in the
 * usual install locations (Debian's `/usr/lib/postgresql/<version>/bin`, Homebrew, source builds).
 */
import { accessSync, constants, readdirSync, realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export class MissingBinaryError extends Error {
  constructor(
    readonly binary: string,
    readonly hint: string,
  ) {
    super(`${binary} not found on PATH or in the usual install locations. ${hint}`);
    this.name = 'MissingBinaryError';
  }
}

const REDIS_HINT =
  'Install it (apt-get install redis-server / brew install redis) or start Docker and use --backend containers.';
const POSTGRES_HINT =
  'Install it (apt-get install postgresql / brew install postgresql@15) or start Docker and use --backend containers.';

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false; // not there or not executable: keep looking
  }
}

function onPath(name: string, pathEnv: string): string | undefined {
  for (const dir of pathEnv.split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function listDirs(parent: string): string[] {
  try {
    return readdirSync(parent, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return []; // the parent folder doesn't exist on this machine
  }
}

/** Highest version first, so `/usr/lib/postgresql/16` wins over `15`. */
function byVersionDescending(a: string, b: string): number {
  return Number.parseFloat(b) - Number.parseFloat(a) || b.localeCompare(a);
}

export interface PostgresBinaries {
  binDir: string;
  initdb: string;
  postgres: string;
  pgBasebackup: string;
}

export function findPostgres(pathEnv = process.env.PATH ?? ''): PostgresBinaries | undefined {
  const candidates: string[] = [];
  const initdbOnPath = onPath('initdb', pathEnv);
  // Debian links a few tools into /usr/local/bin; the real folder holds them all (pg_basebackup too).
  if (initdbOnPath) candidates.push(join(realpathSync(initdbOnPath), '..'));
  for (const v of listDirs('/usr/lib/postgresql').sort(byVersionDescending)) {
    candidates.push(`/usr/lib/postgresql/${v}/bin`);
  }
  for (const v of listDirs('/usr/pgsql').sort(byVersionDescending)) candidates.push(`/usr/pgsql/${v}/bin`);
  for (const v of listDirs('/opt/homebrew/opt').filter((d) => d.startsWith('postgresql'))) {
    candidates.push(`/opt/homebrew/opt/${v}/bin`);
  }
  candidates.push('/usr/local/pgsql/bin', '/usr/local/bin');
  for (const binDir of candidates) {
    const initdb = join(binDir, 'initdb');
    const postgres = join(binDir, 'postgres');
    const pgBasebackup = join(binDir, 'pg_basebackup');
    if (isExecutable(initdb) && isExecutable(postgres)) return { binDir, initdb, postgres, pgBasebackup };
  }
  return undefined;
}

export function findRedis(
  pathEnv = process.env.PATH ?? '',
): { redisServer: string; redisSentinel: string | undefined } | undefined {
  const redisServer =
    onPath('redis-server', pathEnv) ??
    ['/usr/bin/redis-server', '/usr/local/bin/redis-server', '/opt/homebrew/bin/redis-server'].find(
      isExecutable,
    );
  if (!redisServer) return undefined;
  // `redis-sentinel` is redis-server in sentinel mode; `redis-server --sentinel` works without it.
  const redisSentinel = onPath('redis-sentinel', pathEnv);
  return { redisServer, redisSentinel };
}

export function requirePostgres(pathEnv?: string): PostgresBinaries {
  const found = findPostgres(pathEnv);
  if (!found) throw new MissingBinaryError('PostgreSQL (initdb, postgres)', POSTGRES_HINT);
  return found;
}

export function requireRedis(pathEnv?: string): { redisServer: string } {
  const found = findRedis(pathEnv);
  if (!found) throw new MissingBinaryError('redis-server', REDIS_HINT);
  return found;
}
