/**
 * One request/response on a client connection, relayed over a pooled upstream connection: the
 * request head and body out, the response head (with stickiness) and body back, chunked framing
 * passed through as received.
 */
import type { ClientConnection } from './client-connection.ts';
import {
  BodyFramer,
  headEnd,
  parseResponseHead,
  type RequestHead,
  type ResponseHead,
  responseHasNoBody,
} from './http1.ts';
import type { ProxyContext } from './proxy-context.ts';
import type { TargetRuntime } from './target-table.ts';
import type { Upstream, UpstreamUser } from './upstream-pool.ts';

/** Response bodies up to this size leave with their head in one write. */
const SMALL_BODY_BYTES = 8 * 1024;

/**
 * The first `end` bytes of a read in the pool's read buffer, to write on. A write may wait in the
 * socket's queue and the next read overwrites the buffer, so a copy: a latin1 string when small
 * (no Buffer allocated at all), else a Buffer.
 */
function transient(buf: Buffer, end: number): string | Buffer {
  return end <= SMALL_BODY_BYTES ? buf.toString('latin1', 0, end) : Buffer.from(buf.subarray(0, end));
}

export class Exchange implements UpstreamUser {
  up!: Upstream;
  /** Framing of the request body still to come from the client; undefined once it is all sent. */
  reqBody: BodyFramer | undefined;
  /** Response body framing, once the response head has been relayed. */
  private res: BodyFramer | undefined;
  private resBuf: Buffer | undefined;
  private readonly head: string;
  private readonly method: string;
  /** When this worker read the request head (performance.now()): its stalls since held the request up. */
  private readonly startedAtMs = performance.now();
  private readonly clientMinor: 0 | 1;
  private readonly retryable: boolean;
  private gotBytes = false;
  private retried = false;
  private reusable = false;
  headersSent = false;
  finished = false;

  private readonly ctx: ProxyContext;

  constructor(
    readonly conn: ClientConnection,
    request: RequestHead,
    readonly rt: TargetRuntime,
    private readonly setCookie: boolean,
    private readonly clientKeepAlive: boolean,
  ) {
    this.ctx = conn.ctx;
    this.method = request.method;
    this.clientMinor = request.minor;
    rt.count++;
    rt.open.add(conn.socket);
    this.head = this.ctx.forwardedHead(request, conn, false);
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
    this.attach(this.ctx.pool.acquire(this.rt));
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
    if (this.setCookie) out += this.ctx.stickyLines(this.rt);
    out += this.ctx.stallLine(this.startedAtMs);
    out += conn.closeAfter ? 'Connection: close\r\n\r\n' : this.ctx.keepAliveLines;
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

  upstreamDrained(): void {
    this.conn.upstreamDrained();
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
    this.ctx.pool.release(this.up, this.reusable && !this.reqBody);
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
      this.attach(this.ctx.pool.open(this.rt));
      return;
    }
    this.fail();
  }

  /** The target failed or sent garbage: 502, or a cut connection once the response has begun. */
  fail(): void {
    if (this.finished) return;
    this.ctx.stats.errors502++;
    this.settle();
    this.up.ex = undefined;
    this.up.socket.destroy();
    const conn = this.conn;
    if (this.headersSent) {
      conn.socket.destroy();
      return;
    }
    if (this.reqBody || !this.clientKeepAlive) conn.closeAfter = true;
    conn.socket.write(this.ctx.errorResponse(502, conn.closeAfter));
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
    conn.socket.write(this.ctx.errorResponse(400, true));
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
