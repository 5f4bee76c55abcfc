/** Sessions in Redis (`session:<userId>`, TTL from the design) and the checks a request needs. */
import { unauthorized } from '../core/errors.ts';
import { keys } from '../core/keys.ts';
import type { RedisClient } from '../core/redis.ts';
import { TokenError, type TokenSigner } from './tokens.ts';

export interface Session {
  userId: string;
  email: string;
  name: string;
}

export async function openSession(redis: RedisClient, session: Session, ttlSeconds: number): Promise<void> {
  await redis.set(keys.session(session.userId), JSON.stringify(session), 'EX', Math.ceil(ttlSeconds));
}

/** Verifies the token and that its session still lives; the message says which failed. */
export async function authenticate(
  token: string | undefined,
  signer: TokenSigner,
  redis: RedisClient,
): Promise<Session> {
  if (!token) throw unauthorized('missing token: send Authorization: Bearer <token> (from /api/auth/login)');
  let userId: string;
  try {
    userId = signer.verify(token).sub;
  } catch (err) {
    if (err instanceof TokenError) throw unauthorized(err.message);
    throw err;
  }
  const raw = await redis.get(keys.session(userId));
  if (!raw) throw unauthorized('session has expired; log in again');
  return JSON.parse(raw) as Session;
}

export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return match?.[1];
}
