/**
 * Sessions in Redis (`session:<userId>:<sessionId>`, TTL from the design) and the checks a request
 * needs. A token names its session; logging out deletes that session, and the token with it.
 */
import { randomBytes } from 'node:crypto';
import { unauthorized } from '../core/errors.ts';
import { keys } from '../core/keys.ts';
import type { RedisClient } from '../core/redis.ts';
import { TokenError, type TokenSigner } from './tokens.ts';

export interface Session {
  userId: string;
  sessionId: string;
  email: string;
  name: string;
}

export const newSessionId = (): string => randomBytes(16).toString('base64url');

/** Opens a session and returns its token. */
export async function openSession(
  redis: RedisClient,
  signer: TokenSigner,
  user: Omit<Session, 'sessionId'>,
  ttlSeconds: number,
): Promise<{ session: Session; token: string }> {
  const session = { ...user, sessionId: newSessionId() };
  await redis.set(
    keys.session(session.userId, session.sessionId),
    JSON.stringify(session),
    'EX',
    Math.ceil(ttlSeconds),
  );
  return { session, token: signer.sign(session.userId, session.sessionId, ttlSeconds) };
}

/** Ends a session: its token no longer authenticates anything. */
export async function closeSession(redis: RedisClient, session: Session): Promise<void> {
  await redis.del(keys.session(session.userId, session.sessionId));
}

/**
 * Verifies the token and that its session still lives; the message says which failed.
 *
 * `alongside(userId)` — a rate limit's count — goes to Redis in the same round trip as the
 * session read: the user id is the signed token's, so it can be counted before the session is
 * read. One round trip fewer per join and per connect (bench/app-cpu.ts: each is a write and a
 * read on the app's side and a wake-up of Redis). The session's verdict comes first: an ended
 * session is a 401 whatever `alongside` said (its count is then spent: the user's own budget).
 */
export async function authenticate(
  token: string | undefined,
  signer: TokenSigner,
  redis: RedisClient,
  alongside?: (userId: string) => Promise<void>,
): Promise<Session> {
  const claims = verifiedClaims(token, signer);
  if (!alongside) return liveSession(redis, claims);
  const [session, other] = await Promise.allSettled([liveSession(redis, claims), alongside(claims.sub)]);
  if (session.status === 'rejected') throw session.reason;
  if (other.status === 'rejected') throw other.reason;
  return session.value;
}

function verifiedClaims(token: string | undefined, signer: TokenSigner): { sub: string; sid: string } {
  if (!token) throw unauthorized('missing token: send Authorization: Bearer <token> (from /api/auth/login)');
  try {
    return signer.verify(token);
  } catch (err) {
    if (err instanceof TokenError) throw unauthorized(err.message);
    throw err;
  }
}

async function liveSession(redis: RedisClient, claims: { sub: string; sid: string }): Promise<Session> {
  const raw = await redis.get(keys.session(claims.sub, claims.sid));
  if (!raw) throw unauthorized('session has ended (expired or logged out); log in again');
  return JSON.parse(raw) as Session;
}

export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return match?.[1];
}
