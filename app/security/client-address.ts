/**
 * The client's address behind `hops` proxies that each append to `X-Forwarded-For` (the ALB: one).
 * The entries a client wrote itself come first and are not trusted; the last `hops` entries were
 * added by our proxies, so the client is the entry `hops` from the right (counting the socket's
 * peer as the first). The same rule as Express's `trust proxy` set to a number, for Socket.IO,
 * whose handshake does not pass through Express.
 */
import type { IncomingMessage } from 'node:http';

export function clientAddress(request: IncomingMessage, hops: number): string {
  const peer = request.socket.remoteAddress ?? 'unknown';
  const header = request.headers['x-forwarded-for'];
  const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a.length > 0);
  const chain = [peer, ...forwarded.reverse()];
  return chain[Math.min(hops, chain.length - 1)]!;
}
