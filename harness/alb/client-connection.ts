/**
 * A client connection to the ALB: requests one at a time (pipelined ones wait their turn); after a
 * WebSocket upgrade, handed to the target's process (websocket-handoff.ts) or a raw tunnel to it.
 */
import { connect, type Socket } from 'node:net';
import { Exchange } from './exchange.ts';
import {
  CRLFCRLF,
  headEnd,
  isWebSocketUpgrade,
  leadingBlankLines,
  MAX_HEAD_BYTES,
  parseRequestHead,
  type RequestHead,
} from './http1.ts';
import type { ProxyContext } from './proxy-context.ts';
import type { ClientAddress } from './responses.ts';
import type { TargetRuntime } from './target-table.ts';

/** Client bytes buffered behind a request in flight (pipelining) before reading pauses. */
const MAX_BUFFERED_BYTES = 128 * 1024;

export class ClientConnection implements ClientAddress {
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

  constructor(
    readonly ctx: ProxyContext,
    readonly socket: Socket,
  ) {
    this.remote = socket.remoteAddress ?? '';
    this.localPort = String(socket.localPort ?? '');
    socket.setTimeout(ctx.idleTimeoutMs);
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
    this.socket.end(this.ctx.errorResponse(400, true));
  }

  private request(head: RequestHead): void {
    this.ctx.stats.requests++;
    if (head.method === 'CONNECT') {
      this.badRequest();
      return;
    }
    const keepAlive = !head.connectionClose && (head.minor === 1 || head.connectionKeepAlive);
    const upgrade = isWebSocketUpgrade(head);
    const routed = this.ctx.route(head.cookie, head.turn);
    if (!routed) {
      this.ctx.stats.errors503++;
      // A request body would have to be read past to find the next request: close instead.
      const close = !keepAlive || upgrade || head.chunked || head.contentLength > 0;
      this.socket.write(this.ctx.errorResponse(503, close));
      if (close) {
        this.closeAfter = true;
        this.buf = undefined;
        this.socket.end();
      }
      return;
    }
    if (upgrade) {
      this.startTunnel(head, routed.target, routed.setCookie);
      return;
    }
    const ex = new Exchange(this, head, routed.target, routed.setCookie, keepAlive);
    this.ex = ex;
    ex.start();
  }

  /**
   * A WebSocket: handed to the target's process when it takes it (websocket-handoff.ts), else a
   * raw tunnel to the target for as long as both ends keep it.
   */
  private startTunnel(head: RequestHead, rt: TargetRuntime, setCookie: boolean): void {
    const client = this.socket;
    this.tunnel = true;
    client.setTimeout(0);
    client.off('data', this.onData);
    client.off('end', this.onEnd);
    client.off('drain', this.onDrain);
    client.off('timeout', this.onTimeout);
    if (rt.target.takesWebSockets) {
      this.handOff(head, rt, setCookie);
      return;
    }
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
    upstream.write(this.ctx.forwardedHead(head, this, true), 'latin1');
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
          Buffer.from(`\r\n${this.ctx.stickyLines(rt).slice(0, -2)}`, 'latin1'),
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
        this.ctx.stats.errors502++;
        client.end(this.ctx.errorResponse(502, true));
      }
      close();
    });
    upstream.on('close', close);
    client.on('error', close).on('close', close);
  }

  /** The upgrade as the target would have got it through the tunnel, and the client socket with it. */
  private handOff(head: RequestHead, rt: TargetRuntime, setCookie: boolean): void {
    this.socket.pause();
    const rest = this.buf;
    this.buf = undefined;
    const forwarded = this.ctx.forwardedHead(head, this, true);
    this.ctx.handOff(
      rt,
      {
        head: rest ? forwarded + rest.toString('latin1') : forwarded,
        stickyLines: setCookie ? this.ctx.stickyLines(rt) : '',
      },
      this.socket,
    );
  }
}
