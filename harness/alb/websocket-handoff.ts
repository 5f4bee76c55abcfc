/**
 * A WebSocket the ALB routes, then steps out of: the worker that read the upgrade hands the
 * client's connection itself, through the control process, to the target's process, which serves
 * it as if it had accepted it. What the ALB decides stays the ALB's (the target, stickiness, the
 * X-Forwarded-* headers, 502/503, closing at the end of draining); only the relaying of frames goes.
 *
 * Why: relaying frames was most of the ALB's work and a fifth of a 25,000-user rehearsal's CPU
 * (92 of 420 CPU-seconds; about 850,000 WebSocket frames against 35,000 HTTP requests), and each
 * frame woke one more process on a 2-core machine. A real ALB's relaying costs the design nothing
 * measurable; on one machine it cost the rehearsal its headroom. docs/emulator.md says what differs.
 *
 * A target takes WebSockets this way only when its process is a local child with an IPC channel
 * (an app instance of the local world); other targets (tests' in-process servers) get the tunnel.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { sendToParent } from '../../servers/parent-channel.ts';
import type { ProcessChannel } from '../../servers/process.ts';
import type { LagMonitor } from '../metrics/machine-state.ts';
import { pathStallLine, RELAY_DELAY_HEADER } from './protocol.ts';

/** A routed WebSocket upgrade; its client socket travels with it as the message's handle. */
export interface HandedOffWebSocket {
  /** The request head as forwarded (X-Forwarded-* added) and any bytes after it, latin1. */
  head: string;
  /** `Set-Cookie` lines the ALB adds to the target's answer (stickiness), or ''. */
  stickyLines: string;
  /**
   * Wall ms the control process's relay took (RELAY_DELAY_HEADER): told to the client on the
   * target's answer, so a connect it delayed can be told from the rest. @default not told
   */
  relayDelayMs?: number;
}

/** The control process → a target's process. */
export type ToWebSocketTarget = ({ type: 'websocket' } & HandedOffWebSocket) | { type: 'close-websockets' };
/** A target's process → the control process: handed-off sockets that closed. */
export interface WebSocketsClosed {
  type: 'websockets-closed';
  count: number;
}

/**
 * The control process's side, one per target: passes sockets on, counts those still open (what a
 * deregistration waits for) and closes them at the end of draining.
 */
export class WebSocketDoor {
  private openCount = 0;

  constructor(
    private readonly channel: ProcessChannel,
    /** Called whenever the count of open sockets fell. */
    private readonly onClosed: () => void,
  ) {
    channel.onMessage((message) => {
      const closed = message as Partial<WebSocketsClosed>;
      if (closed.type === 'websockets-closed') this.closed(closed.count ?? 0);
    });
    // The target's process is gone: its sockets went with it.
    channel.onClose(() => this.closed(this.openCount));
  }

  /** Handed-off sockets the target still serves (or that are on their way to it). */
  get open(): number {
    return this.openCount;
  }

  /** Passes `socket` on; false when the target's process is gone (the caller answers 502). */
  accept(upgrade: HandedOffWebSocket, socket: Socket): boolean {
    const message: ToWebSocketTarget = { type: 'websocket', ...upgrade };
    const sent = this.channel.send(message, socket, (err) => {
      if (!err) return;
      socket.destroy();
      this.closed(1);
    });
    if (sent) this.openCount++;
    return sent;
  }

  /** The end of draining: the target closes every socket handed to it. */
  closeAll(): void {
    this.channel.send({ type: 'close-websockets' } satisfies ToWebSocketTarget);
  }

  private closed(count: number): void {
    this.openCount = Math.max(0, this.openCount - count);
    this.onClosed();
  }
}

/**
 * The target process's side: serves each handed-off socket on `server` (the bytes the ALB read
 * first are fed to its parser), adds the ALB's cookie lines to the first answer (and the longest
 * stall of `loop` since the socket came: PATH_STALL_HEADER), reports closes (a tick's together)
 * and closes them all when told. Does nothing without an IPC channel.
 */
export function serveHandedOffWebSockets(server: Server, loop?: Pick<LagMonitor, 'longestWithin'>): void {
  if (!process.send) return;
  const open = new Set<Socket>();
  let closedSinceReport = 0;
  const reportSoon = () => {
    if (closedSinceReport++ > 0) return;
    setImmediate(() => {
      sendToParent({ type: 'websockets-closed', count: closedSinceReport } satisfies WebSocketsClosed);
      closedSinceReport = 0;
    });
  };
  process.on('message', (message: ToWebSocketTarget, socket?: Socket) => {
    if (message.type === 'close-websockets') {
      for (const s of open) s.destroy();
      return;
    }
    if (message.type !== 'websocket' || !socket) return;
    open.add(socket);
    socket.once('close', () => {
      open.delete(socket);
      reportSoon();
    });
    const cameAtMs = performance.now();
    addLinesToFirstAnswer(socket, () => {
      const stallMs = loop?.longestWithin(performance.now() - cameAtMs) ?? 0;
      return answerLines(message) + pathStallLine(stallMs);
    });
    server.emit('connection', socket);
    // The parser reads the bytes the ALB read first, then the socket (as sticky-session servers
    // behind Node's cluster do). Not resumed: after the upgrade, the WebSocket server reads it.
    socket.emit('data', Buffer.from(message.head, 'latin1'));
  });
}

/** What the target's first answer gains: the ALB's cookie lines and the relay's delay. */
function answerLines({ stickyLines, relayDelayMs }: HandedOffWebSocket): string {
  return relayDelayMs === undefined
    ? stickyLines
    : `${stickyLines}${RELAY_DELAY_HEADER}: ${relayDelayMs}\r\n`;
}

/** Header lines (each ending CRLF, made as it is written) spliced into the head of the first thing written to `socket`. */
function addLinesToFirstAnswer(socket: Socket, linesNow: () => string): void {
  const write = socket.write;
  socket.write = function firstWrite(this: Socket, chunk: unknown, ...rest: unknown[]): boolean {
    socket.write = write;
    const original = (write as (...args: unknown[]) => boolean).bind(this);
    // A string keeps its encoding; bytes go through latin1, which maps each byte to itself.
    const encoding =
      typeof chunk === 'string'
        ? ((rest.find((r) => typeof r === 'string') as BufferEncoding) ?? 'utf8')
        : 'latin1';
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('latin1');
    const end = text.indexOf('\r\n\r\n');
    const lines = end < 0 ? '' : linesNow();
    if (lines === '') return original(chunk, ...rest);
    const patched = `${text.slice(0, end + 2)}${lines}${text.slice(end + 2)}`;
    const callback = rest.find((r) => typeof r === 'function');
    return callback ? original(patched, encoding, callback) : original(patched, encoding);
  } as Socket['write'];
}
