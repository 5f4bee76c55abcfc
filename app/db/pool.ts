/**
 * PostgreSQL pools for the writer and the reader endpoints. A pool drops connections that break
 * (an idle client's error is logged, never thrown) and opens new ones on demand, so the app
 * rides through an Aurora-style failover without a restart.
 */
import pg from 'pg';
import type { Logger } from 'pino';

export interface Database {
  writer: pg.Pool;
  reader: pg.Pool;
  close(): Promise<void>;
}

export function createPool(
  connectionString: string,
  log: Logger,
  role: 'writer' | 'reader',
  max = 20,
): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    connectionTimeoutMillis: 3_000,
    idleTimeoutMillis: 30_000,
    // A query on a dead connection fails fast rather than hanging the request.
    query_timeout: 15_000,
    keepAlive: true,
  });
  pool.on('error', (err) =>
    log.warn({ err: err.message, role }, 'database connection lost; the pool replaces it'),
  );
  // A client can also hear of a server shutdown while it is being closed, after the pool let go
  // of it; that is expected and must not crash the process.
  pool.on('connect', (client) =>
    client.on('error', (err) => log.debug({ err: err.message, role }, 'closing connection saw an error')),
  );
  return pool;
}

export function createDatabase(writerUrl: string, readerUrl: string | undefined, log: Logger): Database {
  const writer = createPool(writerUrl, log, 'writer');
  const reader = readerUrl && readerUrl !== writerUrl ? createPool(readerUrl, log, 'reader', 10) : writer;
  return {
    writer,
    reader,
    async close() {
      await writer.end();
      if (reader !== writer) await reader.end();
    },
  };
}
