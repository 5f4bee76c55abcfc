import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { isAlive } from '../run/process-tree.ts';
import type { StartedBackend } from './backend.ts';
import { containerEngineAvailable, containersBackend } from './containers/containers-backend.ts';
import { selectBackend } from './select-backend.ts';

async function exercise(backend: StartedBackend) {
  const { redis, postgres } = backend.endpoints;
  if (redis.kind !== 'sentinel') throw new Error('expected a Sentinel connection');
  const client = new Redis({ sentinels: redis.sentinels, name: redis.masterName, natMap: redis.natMap });
  await client.set('k', 'v');
  expect(await client.get('k')).toBe('v');
  client.disconnect();
  const db = new pg.Client({ connectionString: postgres.writerUrl });
  await db.connect();
  await db.query('CREATE TABLE t (id int)');
  await db.query('INSERT INTO t VALUES (1)');
  await db.end();
  const reader = new pg.Client({ connectionString: postgres.readerUrl });
  await reader.connect();
  // Synchronous replication: the committed row is already on the replica.
  const { rows } = await reader.query('SELECT count(*)::int AS n FROM t');
  expect(rows[0].n).toBe(1);
  await reader.end();
}

describe('backend selection', () => {
  it('auto picks local where the binaries exist, and local runs the whole data tier', async () => {
    const backend = await selectBackend('auto');
    expect(backend.kind).toBe('local');
    const started = await backend.start({});
    const pids = started.components().map((c) => c.pid!);
    expect(
      started
        .components()
        .map((c) => c.role)
        .sort(),
    ).toEqual([
      'db-replica',
      'db-writer',
      'redis-primary',
      'redis-replica',
      'redis-sentinel',
      'redis-sentinel',
      'redis-sentinel',
    ]);
    try {
      await exercise(started);
    } finally {
      await started.stop();
    }
    expect(pids.filter(isAlive)).toEqual([]);
  });

  it('external names every missing URL and how to pass it', async () => {
    await expect(selectBackend('external', {})).rejects.toThrow(
      /--redis-url or --redis-sentinels is required; --database-url is required/,
    );
    await expect(
      selectBackend('external', {
        redisSentinels: 'nope',
        redisMasterName: 'm',
        databaseUrl: 'postgres://x',
      }),
    ).rejects.toThrow(/--redis-sentinels: "nope" is not host:port/);
    const backend = await selectBackend('external', {
      redisSentinels: 'a:1,b:2',
      redisMasterName: 'm',
      databaseUrl: 'postgres://u@h/db',
    });
    const started = await backend.start({});
    expect(started.endpoints.redis).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 'a', port: 1 },
        { host: 'b', port: 2 },
      ],
      masterName: 'm',
    });
    expect(started.endpoints.postgres.readerUrl).toBe('postgres://u@h/db');
  });
});

const engine = await containerEngineAvailable();
describe('containers backend', () => {
  it.skipIf(!engine.ok)(
    `runs the same data tier in containers${engine.ok ? '' : ` — skipped: no container engine answers (${engine.reason})`}`,
    async () => {
      const started = await containersBackend.start({});
      try {
        await exercise(started);
      } finally {
        await started.stop();
      }
    },
    300_000,
  );

  it.runIf(!engine.ok)('says what to start when no engine answers', async () => {
    await expect(selectBackend('containers')).rejects.toThrow(/no container engine answers .*Start Docker/);
  });
});
