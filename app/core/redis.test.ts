import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedRedis, startRedisServer } from '../../servers/redis-server.ts';
import { createRedis } from './redis.ts';

describe('createRedis on a real Redis', () => {
  let server: StartedRedis;

  beforeAll(async () => {
    server = await startRedisServer({ name: 'client-test-redis' });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('a subscription made while the connection starts does not fail its ready check (ioredis#2037)', async () => {
    const errors: string[] = [];
    const log = pino({ level: 'silent' });
    const sub = createRedis({ kind: 'url', url: server.url }, log, 'adapter-sub');
    sub.on('error', (err: Error) => errors.push(err.message));
    // As the Socket.IO adapter does when a namespace is created: a SUBSCRIBE right after the
    // connection opens, before ioredis has checked that the server is ready.
    sub.once('connect', () => setImmediate(() => void sub.subscribe('tiketi:test').catch(() => {})));
    const received = new Promise<string>((resolve) =>
      sub.on('message', (_channel, message) => resolve(message)),
    );
    const pub = new Redis(server.url);
    try {
      await new Promise<void>((resolve) => sub.once('ready', () => resolve()));
      // Published until the subscription is in place (its reply may still be on its way).
      let message: string | undefined;
      for (let i = 0; i < 20 && message === undefined; i++) {
        await pub.publish('tiketi:test', 'hello');
        message = await Promise.race([
          received,
          new Promise<undefined>((r) => setTimeout(() => r(undefined), 100)),
        ]);
      }
      expect(message).toBe('hello');
      expect(errors).toEqual([]);
    } finally {
      pub.disconnect();
      sub.disconnect();
    }
  });
});
