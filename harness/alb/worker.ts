/**
 * An ALB proxy worker. Several share one listening socket (handed over by the control process);
 * each routes HTTP requests and WebSocket upgrades to healthy targets with AWSALB stickiness.
 * Several, because one process may hold 20,000 open files here and a proxied WebSocket holds two.
 *
 * The HTTP path is a hand-written HTTP/1.1 proxy on raw sockets (`http1.ts` parses heads and
 * frames bodies), because the library route was measured short of the goal (0.6× HAProxy's
 * requests/s in `bench/alb.ts`): node:http server + client 0.33×, `http-proxy` 0.29×, this
 * front end with undici as the upstream client 0.49×. Per client connection one request is in
 * flight at a time (pipelined requests wait their turn); upstream connections are kept alive in a
 * pool per target; bodies pass through as received, chunked framing included.
 */
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { encodeStickyCookie, stickyCookieOf, verifyStickyCookie } from './cookie.ts';
import {
  BodyFramer,
  CRLFCRLF,
  headEnd,
  leadingBlankLines,
  MAX_HEAD_BYTES,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
  type ResponseHead,
  responseHasNoBody,
} from './http1.ts';
import type { ClockAnchor, FromAlbWorker, RoutableTarget, ToAlbWorker } from './protocol.ts';

const REPORT_MS = 500;
const SWEEP_MS = 1_000;
/** Idle upstream connections kept per target. */
const MAX_IDLE_UPSTREAMS = 256;
/** How long an idle upstream connection is kept when the target sends no `Keep-Alive` hint. */
const DEFAULT_UPSTREAM_IDLE_MS = 4_000;
/** Response bodies up to this size leave with their head in one write. */
const SMALL_BODY_BYTES = 8 * 1024;
/** Client bytes buffered behind a request in flight (pipelining) before reading pauses. */
const MAX_BUFFERED_BYTES = 128 * 1024;
/** Where every upstream read lands (`onread`: no Buffer allocated per read); see `transient`. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/**
 * The first `end` bytes of a read in `READ_BUFFER`, to write on. A write may wait in the socket's
 * queue and the next read overwrites the buffer, so a copy: a latin1 string when small (no Buffer
 * allocated at all), else a Buffer.
 */
function transient(buf: Buffer, end: number): string | Buffer {
  return end <= SMALL_BODY_BYTES ? buf.toString('latin1', 0, end) : Buffer.from(buf.subarray(0, end));
}

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

/** Request headers the ALB replaces or that belong to the client connection only. */
const DROPPED_REQUEST_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
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

interface Upstream {
  socket: Socket;
  rt: TargetRuntime;
  /** The exchange using it; undefined while idle in the pool. */
  ex: Exchange | undefined;
  alive: boolean;
  /** It served an exchange before (a reused connection may have been closed by the target). */
  reused: boolean;
  idleSince: number;
  keepAliveMs: number;
  paused: boolean;
}

interface TargetRuntime {
  target: RoutableTarget;
  idle: Upstream[];
  /** Client-side sockets of requests in flight and WebSockets, to close at the end of draining. */
  open: Set<Socket>;
  count: number;
  /** Left the target table: its upstream connections are not pooled any more. */
  gone: boolean;
  /** The Set-Cookie lines for this target, and the expiry second they were made for. */
  cookieLines: string;
  cookieSecond: number;
}

let settings: Extract<ToAlbWorker, { type: 'init' }> | undefined;
let anchor: ClockAnchor = { simMs: Date.now(), wallMs: Date.now(), timeScale: 1 };
const runtimes = new Map<string, TargetRuntime>();
let healthy: TargetRuntime[] = [];
let rr = 0;
let requests = 0;
let errors502 = 0;
let errors503 = 0;
let server: Server | undefined;
let keepAliveLines = 'Connection: keep-alive\r\n\r\n';

function simNow(): number {
  return anchor.simMs + (Date.now() - anchor.wallMs) * anchor.timeScale;
}

function send(message: FromAlbWorker): void {
  process.send?.(message);
}

function applyTargets(targets: RoutableTarget[]): void {
  const seen = new Set<string>();
  for (const t of targets) {
    seen.add(t.id);
    const existing = runtimes.get(t.id);
    if (existing) existing.target = t;
    else
      runtimes.set(t.id, {
        target: t,
        idle: [],
        open: new Set(),
        count: 0,
        gone: false,
        cookieLines: '',
        cookieSecond: Number.NaN,
      });
  }
  for (const [id, rt] of runtimes) {
    if (!seen.has(id)) {
      closeTarget(id);
      rt.gone = true;
      runtimes.delete(id);
    }
  }
  healthy = [...runtimes.values()].filter((r) => r.target.state === 'healthy');
  // AWS fails open: when every registered target is unhealthy, it routes to all of them.
  if (healthy.length === 0) healthy = [...runtimes.values()].filter((r) => r.target.state === 'unhealthy');
}

function closeTarget(id: string): void {
  const rt = runtimes.get(id);
  if (!rt) return;
  for (const socket of rt.open) socket.destroy();
  rt.open.clear();
  for (const u of rt.idle) u.socket.destroy();
  rt.idle.length = 0;
}

/** Verified cookie values: the HMAC is checked once per value, expiry on every use. */
const verifiedCookies = new Map<string, { targetId: string; expiresSimMs: number } | null>();

function stickyTargetOf(value: string): string | undefined {
  let verified = verifiedCookies.get(value);
  if (verified === undefined) {
    verified = verifyStickyCookie(settings!.cookieSecret, value) ?? null;
    if (verifiedCookies.size >= 10_000) verifiedCookies.clear();
    verifiedCookies.set(value, verified);
  }
  return verified && verified.expiresSimMs > simNow() ? verified.targetId : undefined;
}

/**
 * The sticky target if it can take new traffic, else the next healthy one (and a new cookie).
 * "Healthy" means routable: the healthy targets, or every unhealthy one when none is healthy.
 */
function route(cookieHeader: string | undefined): { rt: TargetRuntime; setCookie: boolean } | undefined {
  const sticky = stickyCookieOf(cookieHeader);
  if (sticky && settings) {
    const id = stickyTargetOf(sticky);
    const rt = id ? runtimes.get(id) : undefined;
    if (rt && healthy.includes(rt)) return { rt, setCookie: false };
  }
  if (healthy.length === 0) return undefined;
  const rt = healthy[rr++ % healthy.length]!;
  return { rt, setCookie: true };
}

/** `Set-Cookie` lines (CRLF-terminated) sticking a client to `rt`; made afresh each simulated second. */
function stickyLines(rt: TargetRuntime): string {
  const s = settings!;
  const second = Math.ceil((simNow() + s.stickinessSeconds * 1_000) / 1_000);
  if (second !== rt.cookieSecond) {
    const value = encodeStickyCookie(s.cookieSecret, rt.target.id, second * 1_000);
    // ALB sets both; the CORS twin carries SameSite=None (Secure is left out: this is plain HTTP).
    rt.cookieLines =
      `Set-Cookie: AWSALB=${value}; Max-Age=${s.stickinessSeconds}; Path=/\r\n` +
      `Set-Cookie: AWSALBCORS=${value}; Max-Age=${s.stickinessSeconds}; Path=/; SameSite=None\r\n`;
    rt.cookieSecond = second;
  }
  return rt.cookieLines;
}

let traceRandom = '';
let traceAt = 0;

function traceId(): string {
  if (traceAt + 24 > traceRandom.length) {
    traceRandom = randomBytes(1_536).toString('hex');
    traceAt = 0;
  }
  const random = traceRandom.slice(traceAt, traceAt + 24);
  traceAt += 24;
  return `Root=1-${Math.floor(Date.now() / 1_000).toString(16)}-${random}`;
}

/** The request head as the target gets it: hop-by-hop headers dropped, forwarding headers added. */
function forwardedHead(head: RequestHead, conn: Conn, upgrade: boolean): string {
  const dropped = upgrade ? DROPPED_UPGRADE_HEADERS : DROPPED_REQUEST_HEADERS;
  let out = `${head.startLine}\r\n`;
  for (let i = 0; i < head.names.length; i++) if (!dropped.has(head.names[i]!)) out += `${head.lines[i]}\r\n`;
  // An HTTP/1.0 request keeps the target connection open only when it says so.
  if (head.minor === 0 && !upgrade) out += 'Connection: keep-alive\r\n';
  const forwardedFor = head.forwardedFor ? `${head.forwardedFor}, ${conn.remote}` : conn.remote;
  return `${out}X-Forwarded-For: ${forwardedFor}\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Port: ${conn.localPort}\r\nX-Amzn-Trace-Id: ${traceId()}\r\n\r\n`;
}

function errorResponse(status: 400 | 502 | 503, close: boolean): string {
  const { reason, body } = PAGES[status];
  return `HTTP/1.1 ${status} ${reason}\r\nServer: awselb/2.0\r\nDate: ${new Date().toUTCString()}\r\nContent-Type: text/html\r\nContent-Length: ${body.length}\r\n${close ? 'Connection: close\r\n\r\n' : keepAliveLines}${body}`;
}

function acquire(rt: TargetRuntime): Upstream {
  const now = Date.now();
  while (rt.idle.length > 0) {
    const u = rt.idle.pop()!;
    if (u.alive && now - u.idleSince < u.keepAliveMs) {
      u.reused = true;
      return u;
    }
    u.socket.destroy();
  }
  return openUpstream(rt);
}

function openUpstream(rt: TargetRuntime): Upstream {
  const socket = connect({
    host: rt.target.host,
    port: rt.target.port,
    noDelay: true,
    // Reads land in one shared buffer, valid until the callback returns (see `transient`).
    onread: {
      buffer: READ_BUFFER,
      callback: (n: number, buf: Uint8Array) => {
        if (!u.ex) {
          socket.destroy(); // bytes on an idle connection: it is out of step, drop it
          return false;
        }
        u.ex.upstreamData((buf as Buffer).subarray(0, n));
        return !u.paused;
      },
    },
  });
  const u: Upstream = {
    socket,
    rt,
    ex: undefined,
    alive: true,
    reused: false,
    idleSince: 0,
    keepAliveMs: DEFAULT_UPSTREAM_IDLE_MS,
    paused: false,
  };
  socket.on('drain', () => u.ex?.conn.upstreamDrained());
  socket.on('error', () => {}); // 'close' follows
  socket.on('close', (hadError: boolean) => {
    u.alive = false;
    const ex = u.ex;
    u.ex = undefined;
    ex?.upstreamClosed(u, hadError);
  });
  return u;
}

function release(u: Upstream, reusable: boolean): void {
  u.ex = undefined;
  const rt = u.rt;
  if (reusable && u.alive && !rt.gone && u.keepAliveMs > 0 && rt.idle.length < MAX_IDLE_UPSTREAMS) {
    if (u.paused) {
      u.paused = false;
      u.socket.resume();
    }
    u.idleSince = Date.now();
    rt.idle.push(u);
  } else u.socket.destroy();
}

function sweepIdle(): void {
  const now = Date.now();
  for (const rt of runtimes.values()) {
    if (rt.idle.length === 0) continue;
    rt.idle = rt.idle.filter((u) => {
      if (u.alive && now - u.idleSince < u.keepAliveMs) return true;
      u.socket.destroy();
      return false;
    });
  }
}

/** One request/response on a client connection, relayed over a pooled upstream connection. */
class Exchange {
  up!: Upstream;
  /** Framing of the request body still to come from the client; undefined once it is all sent. */
  reqBody: BodyFramer | undefined;
  /** Response body framing, once the response head has been relayed. */
  private res: BodyFramer | undefined;
  private resBuf: Buffer | undefined;
  private readonly head: string;
  private readonly method: string;
  private readonly clientMinor: 0 | 1;
  private readonly retryable: boolean;
  private gotBytes = false;
  private retried = false;
  private reusable = false;
  headersSent = false;
  finished = false;

  constructor(
    readonly conn: Conn,
    request: RequestHead,
    readonly rt: TargetRuntime,
    private readonly setCookie: boolean,
    private readonly clientKeepAlive: boolean,
  ) {
    this.method = request.method;
    this.clientMinor = request.minor;
    rt.count++;
    rt.open.add(conn.socket);
    this.head = forwardedHead(request, conn, false);
    this.reqBody = request.chunked
      ? BodyFramer.chunked()
      : request.contentLength > 0
        ? BodyFramer.length(request.contentLength)
        : undefined;
    // Only a safe method without a body is sent again (see `upstreamClosed`).
    this.retryable =
      this.reqBody === undefined &&
      (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS');
  }

  start(): void {
    this.attach(acquire(this.rt));
  }

  private attach(u: Upstream): void {
    this.up = u;
    u.ex = this;
    const socket = u.socket;
    const pending = this.conn.buf;
    if (!this.reqBody || !pending) {
      socket.write(this.head, 'latin1');
      return;
    }
    // Body bytes that came with the head go out with it.
    this.conn.buf = undefined;
    socket.cork();
    socket.write(this.head, 'latin1');
    const end = this.requestBody(pending);
    socket.uncork();
    if (end >= 0 && end < pending.length) this.conn.buf = pending.subarray(end);
  }

  /**
   * Relays request body bytes from `buf`; returns where the body ended in it (the rest is the
   * next request), or -1 when it was all body.
   */
  requestBody(buf: Buffer): number {
    const framer = this.reqBody!;
    let end: number;
    try {
      end = framer.feed(buf, 0);
    } catch {
      this.badRequestBody();
      return buf.length;
    }
    const part = end < 0 ? buf : buf.subarray(0, end);
    if (framer.done) this.reqBody = undefined;
    if (part.length > 0 && !this.up.socket.write(part)) this.conn.pauseFor('upstream');
    return end;
  }

  upstreamData(chunk: Buffer): void {
    this.gotBytes = true;
    if (this.res) {
      this.responseBody(chunk);
      return;
    }
    let from = this.resBuf ? this.resBuf.length : 0;
    const buf = this.resBuf ? Buffer.concat([this.resBuf, chunk]) : chunk;
    this.resBuf = undefined;
    let start = 0;
    for (;;) {
      let end: number;
      let head: ResponseHead;
      try {
        end = headEnd(buf, start, from);
        if (end < 0) {
          this.resBuf = Buffer.from(buf.subarray(start));
          return;
        }
        head = parseResponseHead(buf, start, end);
      } catch {
        this.fail();
        return;
      }
      if (head.status >= 200) {
        this.respond(head, buf, end);
        return;
      }
      // 101 answers an upgrade, and this is not one.
      if (head.status === 101) {
        this.fail();
        return;
      }
      // An interim response (100 Continue, 103 Early Hints): relayed as is to HTTP/1.1 clients.
      if (this.clientMinor === 1) this.conn.socket.write(buf.toString('latin1', start, end), 'latin1');
      start = end;
      from = end;
      if (start === buf.length) return;
    }
  }

  private respond(head: ResponseHead, buf: Buffer, bodyStart: number): void {
    const conn = this.conn;
    let framer: BodyFramer;
    if (responseHasNoBody(this.method, head.status)) framer = BodyFramer.length(0);
    else if (head.chunked) framer = BodyFramer.chunked();
    else if (head.transferEncoding || head.contentLength < 0) framer = BodyFramer.untilClose();
    else framer = BodyFramer.length(head.contentLength);
    this.res = framer;
    const upstreamKeepAlive =
      !head.connectionClose && (head.minor === 1 || head.connectionKeepAlive) && framer.kind !== 'close';
    this.reusable = upstreamKeepAlive;
    if (head.keepAliveTimeout >= 0) this.up.keepAliveMs = head.keepAliveTimeout * 1_000 - 1_000;
    // The target's Connection: close reaches the client too; so does a body that ends with the
    // connection, and a chunked body an HTTP/1.0 client cannot read.
    if (
      !this.clientKeepAlive ||
      head.connectionClose ||
      framer.kind === 'close' ||
      (this.clientMinor === 0 && head.chunked)
    )
      conn.closeAfter = true;
    let out = `${head.startLine}\r\n`;
    for (let i = 0; i < head.names.length; i++) {
      const name = head.names[i]!;
      if (name === 'connection' || name === 'keep-alive' || name === 'proxy-connection') continue;
      if (name === 'content-length' && head.transferEncoding) continue;
      out += `${head.lines[i]}\r\n`;
    }
    if (this.setCookie) out += stickyLines(this.rt);
    out += conn.closeAfter ? 'Connection: close\r\n\r\n' : keepAliveLines;
    let end: number;
    try {
      end = framer.feed(buf, bodyStart);
    } catch {
      this.fail();
      return;
    }
    this.headersSent = true;
    const socket = conn.socket;
    const stop = end < 0 ? buf.length : end;
    let flowing: boolean;
    if (stop > bodyStart && stop - bodyStart <= SMALL_BODY_BYTES) {
      // A small body goes out with the head in one string write: no Buffer, no writev.
      flowing = socket.write(out + buf.toString('latin1', bodyStart, stop), 'latin1');
    } else if (stop > bodyStart) {
      socket.cork();
      socket.write(out, 'latin1');
      flowing = socket.write(Buffer.from(buf.subarray(bodyStart, stop)));
      socket.uncork();
    } else flowing = socket.write(out, 'latin1');
    if (end >= 0 && end < buf.length) this.reusable = false; // bytes past the response: out of step
    if (framer.done) this.finish();
    else if (!flowing) this.pauseUpstream();
  }

  private responseBody(chunk: Buffer): void {
    let end: number;
    try {
      end = this.res!.feed(chunk, 0);
    } catch {
      this.fail();
      return;
    }
    const flowing = this.conn.socket.write(transient(chunk, end < 0 ? chunk.length : end), 'latin1');
    if (end >= 0 && end < chunk.length) this.reusable = false;
    if (this.res!.done) this.finish();
    else if (!flowing) this.pauseUpstream();
  }

  private pauseUpstream(): void {
    this.up.paused = true;
    this.up.socket.pause();
  }

  clientDrained(): void {
    if (this.up.paused) {
      this.up.paused = false;
      this.up.socket.resume();
    }
  }

  private settle(): void {
    this.finished = true;
    this.rt.count--;
    this.rt.open.delete(this.conn.socket);
  }

  private finish(): void {
    this.settle();
    // A request body not fully relayed leaves the target connection out of step, and the rest of
    // it is not read from the client: both connections close.
    release(this.up, this.reusable && !this.reqBody);
    if (this.reqBody) this.conn.closeAfter = true;
    this.conn.exchangeDone();
  }

  upstreamClosed(u: Upstream, hadError: boolean): void {
    if (this.finished || u !== this.up) return;
    if (this.res?.kind === 'close' && !hadError) {
      this.finish();
      return;
    }
    // A kept-alive connection the target closed just as it was reused: once more on a new one,
    // for a request that is safe to repeat (a GET, HEAD or OPTIONS without a body).
    if (!this.gotBytes && u.reused && !this.retried && this.retryable) {
      this.retried = true;
      this.attach(openUpstream(this.rt));
      return;
    }
    this.fail();
  }

  /** The target failed or sent garbage: 502, or a cut connection once the response has begun. */
  fail(): void {
    if (this.finished) return;
    errors502++;
    this.settle();
    this.up.ex = undefined;
    this.up.socket.destroy();
    const conn = this.conn;
    if (this.headersSent) {
      conn.socket.destroy();
      return;
    }
    if (this.reqBody || !this.clientKeepAlive) conn.closeAfter = true;
    conn.socket.write(errorResponse(502, conn.closeAfter));
    conn.exchangeDone();
  }

  /** The client's chunked body is malformed: 400 while nothing was answered yet, and close. */
  private badRequestBody(): void {
    if (this.finished) return;
    this.settle();
    this.up.ex = undefined;
    this.up.socket.destroy();
    this.reqBody = undefined;
    const conn = this.conn;
    if (this.headersSent) {
      conn.socket.destroy();
      return;
    }
    conn.socket.write(errorResponse(400, true));
    conn.closeAfter = true;
    conn.exchangeDone();
  }

  /** The client went away. */
  abort(): void {
    if (this.finished) return;
    this.settle();
    this.up.ex = undefined;
    this.up.socket.destroy();
  }
}

/** A client connection: requests one at a time, or a WebSocket tunnel after an upgrade. */
class Conn {
  /** Client bytes not yet consumed: a partial head, or requests pipelined behind the one in flight. */
  buf: Buffer | undefined;
  /** How much of `buf` was already searched for the end of a head. */
  private scanned = 0;
  ex: Exchange | undefined;
  /** Close once the current response is out; read no further requests. */
  closeAfter = false;
  private readEnded = false;
  private tunnel = false;
  private pausedFor: 'upstream' | 'buffer' | undefined;
  readonly remote: string;
  readonly localPort: string;

  constructor(readonly socket: Socket) {
    this.remote = socket.remoteAddress ?? '';
    this.localPort = String(socket.localPort ?? '');
    socket.setTimeout(settings!.idleTimeoutMs);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('drain', this.onDrain);
    socket.on('timeout', this.onTimeout);
    socket.on('error', () => socket.destroy());
    socket.on('close', this.onClose);
  }

  private readonly onData = (chunk: Buffer): void => {
    const ex = this.ex;
    if (ex?.reqBody) {
      const end = ex.requestBody(chunk);
      if (end < 0 || end >= chunk.length) return;
      chunk = chunk.subarray(end);
    }
    if (this.closeAfter && !this.ex) return; // no more requests on this connection: discard
    this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    if (this.ex) {
      if (this.buf.length > MAX_BUFFERED_BYTES) this.pauseFor('buffer');
    } else this.next();
  };

  private readonly onEnd = (): void => {
    this.readEnded = true;
    if (this.ex?.reqBody) {
      // The client stopped halfway through its request body.
      this.ex.abort();
      this.socket.destroy();
    } else if (!this.ex) this.socket.end();
  };

  private readonly onDrain = (): void => {
    this.ex?.clientDrained();
  };

  private readonly onTimeout = (): void => {
    // Idle timeout between requests; a request in flight or a WebSocket is not cut by it.
    if (!this.ex && !this.tunnel) this.socket.destroy();
  };

  private readonly onClose = (): void => {
    this.buf = undefined;
    this.ex?.abort();
    this.ex = undefined;
  };

  pauseFor(reason: 'upstream' | 'buffer'): void {
    if (this.pausedFor) return;
    this.pausedFor = reason;
    this.socket.pause();
  }

  private resumeFrom(reason: 'upstream' | 'buffer'): void {
    if (this.pausedFor !== reason) return;
    this.pausedFor = undefined;
    this.socket.resume();
  }

  upstreamDrained(): void {
    this.resumeFrom('upstream');
  }

  /** The exchange is over (answered, failed or refused): close, or go on to the next request. */
  exchangeDone(): void {
    this.ex = undefined;
    this.resumeFrom('upstream');
    if (this.closeAfter) {
      this.buf = undefined;
      this.socket.end();
      return;
    }
    this.next();
    if (!this.ex) this.resumeFrom('buffer');
  }

  /** Parses and starts buffered requests while none is in flight. */
  private next(): void {
    while (!this.ex && !this.tunnel && !this.closeAfter && this.buf && !this.socket.destroyed) {
      let buf = this.buf;
      const blank = leadingBlankLines(buf, 0);
      if (blank > 0) {
        buf = buf.subarray(blank);
        this.scanned = Math.max(0, this.scanned - blank);
        this.buf = buf.length > 0 ? buf : undefined;
        if (!this.buf) break;
      }
      let end: number;
      let head: RequestHead;
      try {
        end = headEnd(buf, 0, this.scanned);
        if (end < 0) {
          this.scanned = buf.length;
          break;
        }
        head = parseRequestHead(buf, 0, end);
      } catch {
        this.badRequest();
        return;
      }
      this.buf = end < buf.length ? buf.subarray(end) : undefined;
      this.scanned = 0;
      this.request(head);
    }
    if (!this.ex && !this.tunnel && this.readEnded && !this.socket.destroyed) this.socket.end();
  }

  private badRequest(): void {
    this.buf = undefined;
    this.closeAfter = true;
    this.socket.end(errorResponse(400, true));
  }

  private request(head: RequestHead): void {
    requests++;
    if (head.method === 'CONNECT') {
      this.badRequest();
      return;
    }
    const keepAlive = !head.connectionClose && (head.minor === 1 || head.connectionKeepAlive);
    const upgrade = head.upgrade !== undefined && head.connectionUpgrade;
    const routed = route(head.cookie);
    if (!routed) {
      errors503++;
      // A request body would have to be read past to find the next request: close instead.
      const close = !keepAlive || upgrade || head.chunked || head.contentLength > 0;
      this.socket.write(errorResponse(503, close));
      if (close) {
        this.closeAfter = true;
        this.buf = undefined;
        this.socket.end();
      }
      return;
    }
    if (upgrade) {
      this.startTunnel(head, routed.rt, routed.setCookie);
      return;
    }
    const ex = new Exchange(this, head, routed.rt, routed.setCookie, keepAlive);
    this.ex = ex;
    ex.start();
  }

  /** A WebSocket (or other upgrade): a raw tunnel to the target for as long as both ends keep it. */
  private startTunnel(head: RequestHead, rt: TargetRuntime, setCookie: boolean): void {
    const client = this.socket;
    this.tunnel = true;
    client.setTimeout(0);
    client.off('data', this.onData);
    client.off('end', this.onEnd);
    client.off('drain', this.onDrain);
    client.off('timeout', this.onTimeout);
    // A client that ends its side ends the tunnel (WebSockets close with frames, not half-closes).
    client.allowHalfOpen = false;
    const rest = this.buf;
    this.buf = undefined;
    rt.count++;
    rt.open.add(client);
    let closed = false;
    const upstream = connect({ host: rt.target.host, port: rt.target.port, noDelay: true });
    const close = () => {
      if (closed) return;
      closed = true;
      rt.count--;
      rt.open.delete(client);
      client.destroy();
      upstream.destroy();
    };
    upstream.cork();
    upstream.write(forwardedHead(head, this, true), 'latin1');
    if (rest) upstream.write(rest);
    upstream.uncork();
    // Bytes both ways with backpressure (lighter per idle WebSocket than two pipes).
    let head101: Buffer | undefined = setCookie ? Buffer.alloc(0) : undefined;
    upstream.on('data', (chunk: Buffer) => {
      if (head101) {
        // Stickiness on the 101 response: add our Set-Cookie lines to the target's headers.
        const buffered = Buffer.concat([head101, chunk]);
        const end = buffered.indexOf(CRLFCRLF);
        if (end < 0) {
          if (buffered.length > MAX_HEAD_BYTES) close();
          else head101 = buffered;
          return;
        }
        head101 = undefined;
        chunk = Buffer.concat([
          buffered.subarray(0, end),
          Buffer.from(`\r\n${stickyLines(rt).slice(0, -2)}`, 'latin1'),
          buffered.subarray(end),
        ]);
      }
      if (!client.write(chunk)) upstream.pause();
    });
    client.on('data', (chunk: Buffer) => {
      if (!upstream.write(chunk)) client.pause();
    });
    client.on('drain', () => upstream.resume());
    upstream.on('drain', () => client.resume());
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    upstream.on('error', () => {
      if (!client.writableEnded && upstream.bytesRead === 0) {
        errors502++;
        client.end(errorResponse(502, true));
      }
      close();
    });
    upstream.on('close', close);
    client.on('error', close).on('close', close);
  }
}

function report(): void {
  const perTarget: Record<string, number> = {};
  for (const [id, rt] of runtimes) perTarget[id] = rt.count;
  send({
    type: 'connections',
    workerIndex: settings?.workerIndex ?? -1,
    perTarget,
    requests,
    errors502,
    errors503,
  });
}

process.on('message', (message: ToAlbWorker, handle?: unknown) => {
  switch (message.type) {
    case 'init': {
      settings = message;
      anchor = message.anchor;
      keepAliveLines = `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.max(1, Math.round(message.idleTimeoutMs / 1_000))}\r\n\r\n`;
      // allowHalfOpen: a client may end its side after a request and still read the response.
      server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => void new Conn(socket));
      server.on('error', () => {}); // e.g. EMFILE on accept: that connection is lost, not the worker
      // The control process hands over its listening socket; every worker accepts on it.
      server.listen(handle as Server, () => send({ type: 'ready', workerIndex: message.workerIndex }));
      setInterval(report, REPORT_MS).unref();
      setInterval(sweepIdle, SWEEP_MS).unref();
      return;
    }
    case 'targets':
      anchor = message.anchor;
      applyTargets(message.targets);
      return;
    case 'close-target':
      closeTarget(message.id);
      return;
    case 'stop':
      server?.close();
      for (const id of runtimes.keys()) closeTarget(id);
      process.exit(0);
  }
});

process.on('disconnect', () => process.exit(0));
