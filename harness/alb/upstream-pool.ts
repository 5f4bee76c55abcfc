/**
 * Kept-alive connections from a worker to its targets, pooled per target. Every upstream read
 * lands in one buffer the pool owns (`onread`: no Buffer allocated per read), valid only until the
 * read callback returns.
 */
import { connect, type Socket } from 'node:net';
import type { TargetRuntime } from './target-table.ts';

/** Idle upstream connections kept per target. */
const MAX_IDLE_UPSTREAMS = 256;
/** How long an idle upstream connection is kept when the target sends no `Keep-Alive` hint. */
const DEFAULT_UPSTREAM_IDLE_MS = 4_000;
const READ_BUFFER_BYTES = 64 * 1024;

/** What uses an upstream connection while it is not idle: an exchange. */
export interface UpstreamUser {
  /** Bytes from the target, in the shared read buffer: copy what must outlive the call. */
  upstreamData(chunk: Buffer): void;
  upstreamClosed(u: Upstream, hadError: boolean): void;
  /** The upstream socket drained: the client side may read again. */
  upstreamDrained(): void;
}

export interface Upstream {
  socket: Socket;
  rt: TargetRuntime;
  /** The exchange using it; undefined while idle in the pool. */
  ex: UpstreamUser | undefined;
  alive: boolean;
  /** It served an exchange before (a reused connection may have been closed by the target). */
  reused: boolean;
  idleSince: number;
  keepAliveMs: number;
  paused: boolean;
}

export class UpstreamPool {
  private readonly readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);

  /** An idle connection to the target that is still fresh, else a new one. */
  acquire(rt: TargetRuntime): Upstream {
    const now = Date.now();
    while (rt.idle.length > 0) {
      const u = rt.idle.pop()!;
      if (u.alive && now - u.idleSince < u.keepAliveMs) {
        u.reused = true;
        return u;
      }
      u.socket.destroy();
    }
    return this.open(rt);
  }

  open(rt: TargetRuntime): Upstream {
    const socket = connect({
      host: rt.target.host,
      port: rt.target.port,
      noDelay: true,
      onread: {
        buffer: this.readBuffer,
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
    socket.on('drain', () => u.ex?.upstreamDrained());
    socket.on('error', () => {}); // 'close' follows
    socket.on('close', (hadError: boolean) => {
      u.alive = false;
      const ex = u.ex;
      u.ex = undefined;
      ex?.upstreamClosed(u, hadError);
    });
    return u;
  }

  /** Back to the pool when it can serve again, else closed. */
  release(u: Upstream, reusable: boolean): void {
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

  /** Closes idle connections past their keep-alive. */
  sweep(runtimes: Iterable<TargetRuntime>): void {
    const now = Date.now();
    for (const rt of runtimes) {
      if (rt.idle.length === 0) continue;
      rt.idle = rt.idle.filter((u) => {
        if (u.alive && now - u.idleSince < u.keepAliveMs) return true;
        u.socket.destroy();
        return false;
      });
    }
  }
}
