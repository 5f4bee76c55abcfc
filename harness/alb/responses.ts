/** What the ALB itself writes: its error pages, and the request head a target receives. */
import { randomBytes } from 'node:crypto';
import type { RequestHead } from './http1.ts';

function page(title: string): string {
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n</body>\r\n</html>\r\n`;
}
const PAGES = {
  400: { reason: 'Bad Request', body: page('400 Bad Request') },
  502: { reason: 'Bad Gateway', body: page('502 Bad Gateway') },
  503: {
    reason: 'Service Temporarily Unavailable',
    body: page('503 Service Temporarily Unavailable'),
  },
} as const;

/**
 * Request headers the ALB replaces or that belong to the client connection only; a request that
 * is not a WebSocket upgrade loses its upgrade headers too, so the target answers it plainly.
 */
const DROPPED_REQUEST_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'upgrade',
  'http2-settings',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-amzn-trace-id',
]);
/** ... the same for an upgrade, which keeps its Connection header. */
const DROPPED_UPGRADE_HEADERS = new Set([
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-amzn-trace-id',
]);

/** The end of a kept-alive response head, telling the client the idle timeout. */
export function keepAliveLinesFor(idleTimeoutMs: number): string {
  return `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.max(1, Math.round(idleTimeoutMs / 1_000))}\r\n\r\n`;
}

/** An ALB error page; `keepAliveLines` ends the head when the connection stays open. */
export function errorResponse(status: 400 | 502 | 503, close: boolean, keepAliveLines: string): string {
  const { reason, body } = PAGES[status];
  return `HTTP/1.1 ${status} ${reason}\r\nServer: awselb/2.0\r\nDate: ${new Date().toUTCString()}\r\nContent-Type: text/html\r\nContent-Length: ${body.length}\r\n${close ? 'Connection: close\r\n\r\n' : keepAliveLines}${body}`;
}

/** Where a request came from, for the forwarding headers. */
export interface ClientAddress {
  readonly remote: string;
  readonly localPort: string;
}

/** The request head as the target gets it: hop-by-hop headers dropped, forwarding headers added. */
export function forwardedHead(
  head: RequestHead,
  client: ClientAddress,
  upgrade: boolean,
  traceId: string,
): string {
  const dropped = upgrade ? DROPPED_UPGRADE_HEADERS : DROPPED_REQUEST_HEADERS;
  let out = `${head.startLine}\r\n`;
  for (let i = 0; i < head.names.length; i++) if (!dropped.has(head.names[i]!)) out += `${head.lines[i]}\r\n`;
  // An HTTP/1.0 request keeps the target connection open only when it says so.
  if (head.minor === 0 && !upgrade) out += 'Connection: keep-alive\r\n';
  const forwardedFor = head.forwardedFor ? `${head.forwardedFor}, ${client.remote}` : client.remote;
  return `${out}X-Forwarded-For: ${forwardedFor}\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Port: ${client.localPort}\r\nX-Amzn-Trace-Id: ${traceId}\r\n\r\n`;
}

/** `X-Amzn-Trace-Id` values, cut from a block of random bytes drawn now and then. */
export class TraceIds {
  private random = '';
  private at = 0;

  next(): string {
    if (this.at + 24 > this.random.length) {
      this.random = randomBytes(1_536).toString('hex');
      this.at = 0;
    }
    const random = this.random.slice(this.at, this.at + 24);
    this.at += 24;
    return `Root=1-${Math.floor(Date.now() / 1_000).toString(16)}-${random}`;
  }
}
