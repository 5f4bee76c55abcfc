import { existsSync } from 'node:fs';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { startPostgresServer } from './postgres-server.ts';
import { isAlive } from './process.ts';
import { redisCommand, startRedisServer } from './redis-server.ts';

describe('local backend servers', () => {
  it('starts redis-server on a free port, answers, and leaves nothing behind', async () => {
    const redis = await startRedisServer({ name: 'redis-test' });
    expect(redis.port).not.toBe(6379);
    expect(await redisCommand(redis.port, 'PING')).toBe('+PONG');
    expect(await redisCommand(redis.port, 'SET k v')).toBe('+OK');
    await redis.stop();
    expect(isAlive(redis.pid)).toBe(false);
    await expect(redisCommand(redis.port, 'PING')).rejects.toThrow();
  });

  it('starts PostgreSQL as an unprivileged user, serves SQL, and removes its data', async () => {
    const server = await startPostgresServer({ name: 'pg-test' });
    expect(server.port).not.toBe(5432);
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    const { rows } = await client.query<{ user: string; db: string }>(
      'SELECT current_user AS user, current_database() AS db',
    );
    expect(rows[0]).toEqual({ user: 'tiketi', db: 'tiketi' });
    await client.end();
    const otherUrl = await server.createDatabase('other_db');
    const other = new pg.Client({ connectionString: otherUrl });
    await other.connect();
    await other.query('CREATE TABLE t (id int)');
    await other.end();
    await server.stop();
    expect(isAlive(server.pid)).toBe(false);
    expect(existsSync(server.dataDir)).toBe(false);
  });

  it('reports an early exit with the server output instead of waiting for the deadline', async () => {
    await expect(
      startRedisServer({ name: 'redis-bad', extraArgs: ['--no-such-option', 'x'] }),
    ).rejects.toThrow(/redis-bad exited before it was ready[\s\S]*no-such-option/i);
  });
});

describe('when the harness dies', () => {
  it('takes its servers with it, even on SIGKILL', async () => {
    const { spawn } = await import('node:child_process');
    const script = `
      import { startRedisServer } from './servers/redis-server.ts';
      import { startPostgresServer } from './servers/postgres-server.ts';
      const r = await startRedisServer({ name: 'orphan-redis' });
      const p = await startPostgresServer({ name: 'orphan-pg' });
      console.log(JSON.stringify({ redis: r.pid, pg: p.pid }));
      setInterval(() => {}, 1000);
    `;
    const harness = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve) =>
      harness.stdout.once('data', (d: Buffer) => resolve(String(d))),
    );
    const pids = JSON.parse(line) as { redis: number; pg: number };
    expect(isAlive(pids.redis) && isAlive(pids.pg)).toBe(true);
    harness.kill('SIGKILL');
    const deadline = Date.now() + 15_000;
    while ((isAlive(pids.redis) || isAlive(pids.pg)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(isAlive(pids.redis)).toBe(false);
    expect(isAlive(pids.pg)).toBe(false);
  });
});
