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
  const verified = verifyStickyCookie(secret, value);
  return verified && verified.expiresSimMs > nowSimMs ? verified.targetId : undefined;
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
