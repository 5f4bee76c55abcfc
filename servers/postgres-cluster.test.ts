import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { startPostgresCluster } from './postgres-cluster.ts';

async function sql<T extends pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

describe('postgres cluster (Aurora stand-in)', () => {
  it('replicates synchronously and keeps every confirmed write through promotion', async () => {
    await using cluster = await startPostgresCluster({ name: 'aurora-test' });
    expect(await cluster.replicationState()).toEqual([
      { applicationName: 'replica', state: 'streaming', syncState: 'sync' },
    ]);
    await sql(cluster.writerUrl, 'CREATE TABLE confirmed (id int PRIMARY KEY)');
    for (let i = 0; i < 50; i++) await sql(cluster.writerUrl, 'INSERT INTO confirmed VALUES ($1)', [i]);
    // The reader endpoint serves the replica, read-only.
    const [readerRow] = await sql<{ in_recovery: boolean }>(
      cluster.readerUrl,
      'SELECT pg_is_in_recovery() AS in_recovery',
    );
    expect(readerRow?.in_recovery).toBe(true);

    const oldWriter = cluster.writer;
    await oldWriter.process.kill();
    await expect(sql(cluster.writerUrl, 'SELECT 1')).rejects.toThrow();
    await cluster.promoteReplica();

    expect(cluster.writer).not.toBe(oldWriter);
    const [count] = await sql<{ n: string }>(cluster.writerUrl, 'SELECT count(*) AS n FROM confirmed');
    expect(Number(count?.n)).toBe(50);
    await sql(cluster.writerUrl, 'INSERT INTO confirmed VALUES (50)');
    const [writerRow] = await sql<{ in_recovery: boolean }>(
      cluster.writerUrl,
      'SELECT pg_is_in_recovery() AS in_recovery',
    );
    expect(writerRow?.in_recovery).toBe(false);
  });

  it('closes open connections on the writer endpoint when it switches, as a failover does', async () => {
    await using cluster = await startPostgresCluster({ name: 'aurora-switch', synchronous: false });
    const client = new pg.Client({ connectionString: cluster.writerUrl });
    const errors: Error[] = [];
    client.on('error', (err) => errors.push(err));
    await client.connect();
    await client.query('SELECT 1');
    expect(await cluster.writerEndpoint.connectionCount()).toBe(1);
    await cluster.writer.process.kill();
    await cluster.promoteReplica();
    await expect(client.query('SELECT 1')).rejects.toThrow();
    await client.end().catch(() => undefined);
    const [row] = await sql<{ ok: number }>(cluster.writerUrl, 'SELECT 1 AS ok');
    expect(row?.ok).toBe(1);
  });
});
