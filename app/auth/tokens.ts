/**
 * Signed access tokens: compact HS256 JWTs (`sub` = user id, `sid` = session id), with node's own
 * HMAC. The session id names the one session a token belongs to, so it can be revoked alone.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface TokenClaims {
  sub: string;
  sid: string;
  iat: number;
  exp: number;
}

export class TokenError extends Error {
  constructor(
    readonly reason: 'malformed' | 'bad_signature' | 'expired',
    message: string,
  ) {
    super(message);
    this.name = 'TokenError';
  }
}

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

export interface TokenSigner {
  sign(userId: string, sessionId: string, ttlSeconds: number, nowMs?: number): string;
  verify(token: string, nowMs?: number): TokenClaims;
}

export function createTokenSigner(secret: string): TokenSigner {
  const mac = (data: string) => createHmac('sha256', secret).update(data).digest();
  return {
    sign(userId, sessionId, ttlSeconds, nowMs = Date.now()) {
      const iat = Math.floor(nowMs / 1_000);
      const payload = Buffer.from(
        JSON.stringify({ sub: userId, sid: sessionId, iat, exp: iat + Math.ceil(ttlSeconds) }),
      ).toString('base64url');
      return `${HEADER}.${payload}.${mac(`${HEADER}.${payload}`).toString('base64url')}`;
    },
    verify(token, nowMs = Date.now()) {
      const parts = token.split('.');
      if (parts.length !== 3 || parts[0] !== HEADER)
        throw new TokenError('malformed', 'token is not a TIKETI access token');
      const given = Buffer.from(parts[2]!, 'base64url');
      const expected = mac(`${parts[0]}.${parts[1]}`);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new TokenError('bad_signature', 'token signature is invalid');
      }
      let claims: TokenClaims;
      try {
        claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as TokenClaims;
      } catch {
        throw new TokenError('malformed', 'token payload is not JSON');
      }
      if (typeof claims.sub !== 'string' || typeof claims.sid !== 'string' || typeof claims.exp !== 'number')
        throw new TokenError('malformed', 'token lacks sub, sid or exp');
      if (claims.exp * 1_000 <= nowMs) throw new TokenError('expired', 'token has expired; log in again');
      return claims;
    },
  };
}
