import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedRedis, startRedisServer } from '../../servers/redis-server.ts';
import { RetryLaterError } from '../core/errors.ts';
import { createRedis, type RedisClient } from '../core/redis.ts';
import { authenticate, closeSession, openSession } from './sessions.ts';
import { createTokenSigner } from './tokens.ts';

describe('authenticate with a count alongside the session read', () => {
  let server: StartedRedis;
  let redis: RedisClient;
  const signer = createTokenSigner('sessions-test-secret-16+');
  const user = { userId: 'u1', email: 'u1@example.com', name: 'U1' };
  const limited = () => Promise.reject(new RetryLaterError(429, 'rate_limited', 'too many', 5));

  beforeAll(async () => {
    server = await startRedisServer({ name: 'sessions-test-redis' });
    redis = createRedis({ kind: 'url', url: server.url }, pino({ level: 'silent' }), 'test');
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  it('counts the token’s user, and a live session passes', async () => {
    const { token } = await openSession(redis, signer, user, 60);
    const counted: string[] = [];
    const session = await authenticate(token, signer, redis, async (userId) => {
      counted.push(userId);
    });
    expect(session).toMatchObject(user);
    expect(counted).toEqual(['u1']);
  });

  it('a live session past its limit is refused by the limit (429)', async () => {
    const { token } = await openSession(redis, signer, user, 60);
    await expect(authenticate(token, signer, redis, limited)).rejects.toMatchObject({ status: 429 });
  });

  it('an ended session is a 401 whatever the count said; a bad token counts nothing', async () => {
    const { token, session } = await openSession(redis, signer, user, 60);
    await closeSession(redis, session);
    await expect(authenticate(token, signer, redis, limited)).rejects.toMatchObject({ status: 401 });
    let counted = 0;
    const count = async () => {
      counted++;
    };
    await expect(authenticate(`${token}x`, signer, redis, count)).rejects.toMatchObject({ status: 401 });
    await expect(authenticate(undefined, signer, redis, count)).rejects.toMatchObject({ status: 401 });
    expect(counted).toBe(0);
  });
});
