/**
 * The `AWSALB` stickiness cookie: an opaque value naming the target and when stickiness ends
 * (simulated time), signed so a client cannot pick its own target. Any worker can read it.
 */
import { createHmac } from 'node:crypto';

export function encodeStickyCookie(secret: string, targetId: string, expiresSimMs: number): string {
  const body = Buffer.from(`${targetId}|${Math.round(expiresSimMs)}`).toString('base64url');
  const mac = createHmac('sha256', secret).update(body).digest('base64url').slice(0, 16);
  return `${body}.${mac}`;
}

export function decodeStickyCookie(secret: string, value: string, nowSimMs: number): string | undefined {
  return unexpiredTarget(verifyStickyCookie(secret, value), nowSimMs);
}

/** The target and expiry a cookie value names, if it is ours; expiry is left to the caller. */
export function verifyStickyCookie(
  secret: string,
  value: string,
): { targetId: string; expiresSimMs: number } | undefined {
  const [body, mac] = value.split('.');
  if (!body || !mac) return undefined;
  if (createHmac('sha256', secret).update(body).digest('base64url').slice(0, 16) !== mac) return undefined;
  const [targetId, expires] = Buffer.from(body, 'base64url').toString('utf8').split('|');
  const expiresSimMs = Number(expires);
  if (!targetId || Number.isNaN(expiresSimMs)) return undefined;
  return { targetId, expiresSimMs };
}

/** The AWSALB value from a Cookie header, without parsing every cookie. */
export function stickyCookieOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  let at = header.indexOf('AWSALB=');
  // Skip XAWSALB= and friends: the name must start the header or follow "; ".
  while (at > 0 && header[at - 1] !== ' ' && header[at - 1] !== ';') at = header.indexOf('AWSALB=', at + 7);
  if (at < 0) return undefined;
  const end = header.indexOf(';', at);
  return header.slice(at + 7, end < 0 ? undefined : end);
}

/** A cookie's target while it has not expired (simulated time). */
export function unexpiredTarget(
  verified: { targetId: string; expiresSimMs: number } | undefined | null,
  nowSimMs: number,
): string | undefined {
  return verified && verified.expiresSimMs > nowSimMs ? verified.targetId : undefined;
}

/** The simulated second a cookie made now expires at: one cookie value per target per second. */
export function cookieExpirySecond(nowSimMs: number, stickinessSeconds: number): number {
  return Math.ceil((nowSimMs + stickinessSeconds * 1_000) / 1_000);
}

/** The `Set-Cookie` lines (CRLF-terminated) that stick a client to the target `value` names. */
export function stickyCookieLines(value: string, stickinessSeconds: number): string {
  // ALB sets both; the CORS twin carries SameSite=None (Secure is left out: this is plain HTTP).
  return (
    `Set-Cookie: AWSALB=${value}; Max-Age=${stickinessSeconds}; Path=/\r\n` +
    `Set-Cookie: AWSALBCORS=${value}; Max-Age=${stickinessSeconds}; Path=/; SameSite=None\r\n`
  );
}

/** Where a target keeps the `Set-Cookie` lines made for it, and the expiry second they name. */
export interface CookieLinesCache {
  readonly id: string;
  cookieLines: string;
  cookieSecond: number;
}

/** Reads and writes AWSALB cookies for one worker: each value's HMAC is checked once, expiry on every use. */
export class StickyCookies {
  private readonly verified = new Map<string, { targetId: string; expiresSimMs: number } | null>();

  constructor(
    private readonly secret: string,
    private readonly stickinessSeconds: number,
    /** Bounds the memory of values seen. @default 10_000 */
    private readonly maxCached = 10_000,
  ) {}

  /** The target a cookie value names, if it is ours and unexpired. */
  targetOf(value: string, nowSimMs: number): string | undefined {
    let verified = this.verified.get(value);
    if (verified === undefined) {
      verified = verifyStickyCookie(this.secret, value) ?? null;
      if (this.verified.size >= this.maxCached) this.verified.clear();
      this.verified.set(value, verified);
    }
    return unexpiredTarget(verified, nowSimMs);
  }

  /** The `Set-Cookie` lines for `target`, made afresh once per simulated second. */
  linesFor(target: CookieLinesCache, nowSimMs: number): string {
    const second = cookieExpirySecond(nowSimMs, this.stickinessSeconds);
    if (second !== target.cookieSecond) {
      const value = encodeStickyCookie(this.secret, target.id, second * 1_000);
      target.cookieLines = stickyCookieLines(value, this.stickinessSeconds);
      target.cookieSecond = second;
    }
    return target.cookieLines;
  }
}
