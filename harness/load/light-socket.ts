/**
 * A minimal Socket.IO v4 client for virtual users: Engine.IO protocol 4 over WebSocket only, text
 * packets only, the main namespace only, on top of `ws`. It speaks the real protocol to the real
 * server (and through the ALB emulator) and keeps socket.io-client's behaviour where the journey
 * depends on it — events, reasons, reconnection with backoff, the `reconnect_attempt` hook — at a
 * fraction of the cost per connection: one object, no per-connection closures (the `ws` listeners
 * and the timer callback are shared functions), one timer at most (connect timeout, heartbeat or
 * backoff, whichever applies), no debug build, no Manager/engine/transport layers.
 *
 * The journey can switch with its import only:
 *
 *   import { io, type LightSocket as Socket } from './light-socket.ts';
 *
 * `io(url, options)` accepts the options the journey passes to socket.io-client (`transports` and
 * `forceNew` are accepted and ignored: it is always a new WebSocket connection), and
 * `socket.io.on('reconnect_attempt', …)` / `socket.io.opts.extraHeaders = …` keep working: `io` is
 * the socket itself and `opts` the options object given (read again on every attempt).
 *
 * On the wire (engine.io-protocol v4, socket.io-protocol v5):
 *   GET <url>/socket.io/?EIO=4&transport=websocket   (upgrade, with `extraHeaders`)
 *   ← 0{"sid":…,"pingInterval":…,"pingTimeout":…}    Engine.IO open
 *   → 40{…auth}                                      CONNECT to "/"
 *   ← 40{"sid":…} | 44{"message":…,"data":…}         CONNECT / CONNECT_ERROR
 *   ← 2  → 3                                         heartbeat: the server pings, we answer
 *   ← 42["event",…] / 42<id>["event",…]             EVENT (with an ack id: the listener gets a callback)
 *   → 42["event",…] / 42<id>[…]  ← 43<id>[…]         emit, with an ack
 *   ← 41 / → 41                                      DISCONNECT by the server / by us
 *
 * Beyond socket.io-client: `upgrade` fires with the headers of each attempt's upgrade answer (what
 * a load balancer or the emulator added there), before the Engine.IO open packet.
 *
 * Differences from socket.io-client, on purpose:
 * - `disconnect` only follows a `connect`: a transport lost after the Engine.IO handshake but before
 *   the namespace answered is a `connect_error` (socket.io-client emits `disconnect` there without a
 *   `connect`, which unbalances connection counters).
 * - A WebSocket closed before the Engine.IO open packet is a `connect_error` at once (socket.io-
 *   client only notices at its connect timeout).
 * - Acks still waiting when the connection drops are dropped (`emitWithAck` rejects, as upstream);
 *   socket.io-client keeps plain ack callbacks forever.
 * - The backoff exponent is capped, so the delay stays at `reconnectionDelayMax` forever (backo2
 *   overflows to a 0 ms delay after ~1,000 attempts).
 * - Binary packets (Engine.IO binary frames, Socket.IO BINARY_EVENT/BINARY_ACK) are a protocol
 *   error: the connection is closed with reason `parse error` and a description saying so.
 * Not supported: polling, WebTransport, binary, other namespaces, connection state recovery,
 * `volatile`/`timeout()`/`retries`, `onAny`, `reconnectionAttempts` (always unlimited).
 */

import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import type { Clock, Timer } from '../clock/clock.ts';
import {
  ackPacket,
  connectPacket,
  DISCONNECT_PACKET,
  decodeEnginePacket,
  decodeSocketPacket,
  engineIoUrl,
  eventPacket,
} from './socketio-framing.ts';

export type DisconnectReason =
  | 'io server disconnect'
  | 'io client disconnect'
  | 'transport close'
  | 'transport error'
  | 'ping timeout'
  | 'parse error';

/** A `connect_error`: the server's refusal (`message` and `data` from CONNECT_ERROR) or why the attempt failed. */
export interface ConnectError extends Error {
  data?: unknown;
}

export interface LightSocketOptions {
  /** Sent with every CONNECT (read again on each attempt). */
  auth?: Record<string, unknown>;
  /** Request headers of the WebSocket upgrade, read again on each attempt (set them in `reconnect_attempt`). */
  extraHeaders?: Record<string, string>;
  /** @default true */
  reconnection?: boolean;
  /** First backoff delay, ms. @default 1000 */
  reconnectionDelay?: number;
  /** Largest backoff delay, ms. @default 5000 */
  reconnectionDelayMax?: number;
  /** @default 0.5 */
  randomizationFactor?: number;
  /**
   * The clock the backoff runs on, its delays in that clock's ms (a virtual user's: the run's
   * simulated clock, so a delay drawn at one speed is not stretched by the next). @default wall time
   */
  clock?: Pick<Clock, 'setTimeout'>;
  /** Where the backoff's randomization draws from (a seeded stream: the same delays every run). @default Math.random */
  random?: () => number;
  /** How long an attempt may take until the Engine.IO open packet, ms; `false`: no limit. @default 20000 */
  timeout?: number | false;
  /** @default '/socket.io' */
  path?: string;
  /** Connect at once. @default true */
  autoConnect?: boolean;
  /** Accepted for socket.io-client compatibility and ignored: always WebSocket. */
  transports?: readonly string[];
  /** Accepted for socket.io-client compatibility and ignored: always a new connection. */
  forceNew?: boolean;
}

/** Any listener; payloads are what the server sent (JSON). */
export type Listener = (...args: never[]) => void;
type Callable = (...args: unknown[]) => void;
type OnceListener = Callable & { listener: Listener };
type AckCallback = Callable & { withError?: boolean };

// States. CLOSED: inactive (new, closed by us, refused, or disconnected by the server): no reconnection.
const CLOSED = 0;
/** WebSocket opening, waiting for the Engine.IO open packet; the timer is the connect timeout. */
const OPENING = 1;
/** Engine.IO open, CONNECT sent, waiting for the answer; the timer is the heartbeat deadline. */
const HANDSHAKE = 2;
/** Connected to the namespace; the timer is the heartbeat deadline. */
const CONNECTED = 3;
/** Waiting to reconnect; the timer is the backoff. */
const WAITING = 4;

const RESERVED = new Set([
  'connect',
  'connect_error',
  'disconnect',
  'disconnecting',
  'upgrade',
  'newListener',
  'removeListener',
]);
/** Set on the `ws` instance: whose it is. Cleared when the socket lets it go, so late events are ignored. */
const OWNER = Symbol('light-socket');
type OwnedWebSocket = WebSocket & { [OWNER]?: LightSocket | undefined };
const NO_ARGS: unknown[] = [];
/** 2 ** 30 times the first delay is past any sensible maximum; beyond, backo2 overflows. */
const MAX_EXPONENT = 30;

/** The Engine.IO WebSocket URL for a base URL. */
function engineUrl(base: string, path = '/socket.io'): string {
  return engineIoUrl(base, path);
}

function invoke(self: LightSocket, listener: Listener, args: unknown[], from: number): void {
  const count = args.length - from;
  if (count === 1) (listener as Callable).call(self, args[from]);
  else if (count === 0) (listener as Callable).call(self);
  else (listener as Callable).apply(self, args.slice(from));
}

export class LightSocket {
  private ws: OwnedWebSocket | undefined = undefined;
  private timer: NodeJS.Timeout | undefined = undefined;
  /** The backoff, when it runs on `opts.clock`. */
  private backoff: Timer | undefined = undefined;
  private state = CLOSED;
  /** Reconnection attempts since the last successful Engine.IO open. */
  private attempts = 0;
  private ackIds = 0;
  private listeners: Map<string, Listener | Listener[]> | undefined = undefined;
  private acks: Map<number, AckCallback> | undefined = undefined;
  /** Packets emitted while not connected, sent on connect (as socket.io-client). */
  private sendBuffer: string[] | undefined = undefined;

  /** Where every attempt connects; worked out here, so a bad URL throws here, not in a timer. */
  private readonly engineUrl: string;

  constructor(
    url: string,
    /** The caller's options object, kept (not copied): headers and auth may change between attempts. */
    readonly opts: LightSocketOptions = {},
  ) {
    this.engineUrl = engineUrl(url, opts.path);
    if (opts.autoConnect !== false) this.start();
  }

  /** socket.io-client compatibility: `socket.io.on('reconnect_attempt')`, `socket.io.opts.extraHeaders`. */
  get io(): this {
    return this;
  }

  get connected(): boolean {
    return this.state === CONNECTED;
  }

  get disconnected(): boolean {
    return this.state !== CONNECTED;
  }

  /** Connected or trying to be (it will reconnect); false once closed, refused or disconnected by the server. */
  get active(): boolean {
    return this.state !== CLOSED;
  }

  /** (Re)starts connecting after `close()`, a refusal or a server disconnect; a no-op while active. */
  connect(): this {
    if (this.state === CLOSED) this.start();
    return this;
  }

  open(): this {
    return this.connect();
  }

  /** One attempt: a new WebSocket, the connect timeout armed. */
  private start(): void {
    const opts = this.opts;
    let ws: OwnedWebSocket;
    this.state = OPENING;
    try {
      ws = new WebSocket(this.engineUrl, {
        headers: opts.extraHeaders,
        perMessageDeflate: false,
        skipUTF8Validation: true,
      });
    } catch (err) {
      this.lost('transport error', err as Error, false);
      return;
    }
    ws[OWNER] = this;
    ws.on('upgrade', LightSocket.onUpgrade);
    ws.on('message', LightSocket.onMessage);
    ws.on('close', LightSocket.onClose);
    ws.on('error', LightSocket.onError);
    this.ws = ws;
    const timeout = opts.timeout ?? 20_000;
    if (timeout !== false) this.arm(timeout);
  }

  /** Leaves: DISCONNECT to the server, `disconnect` with `io client disconnect` if connected, no reconnection. */
  close(): this {
    const was = this.state;
    if (was === CLOSED) return this;
    if (was === CONNECTED) this.ws?.send(DISCONNECT_PACKET);
    this.release(true);
    this.state = CLOSED;
    this.attempts = 0;
    if (was === CONNECTED) {
      this.failAcks();
      this.fire('disconnect', ['io client disconnect'], 0);
    }
    return this;
  }

  disconnect(): this {
    return this.close();
  }

  on(event: 'connect', listener: () => void): this;
  on(event: 'disconnect', listener: (reason: DisconnectReason, description?: Error) => void): this;
  on(event: 'connect_error', listener: (err: ConnectError) => void): this;
  on(event: 'reconnect_attempt' | 'reconnect', listener: (attempt: number) => void): this;
  on(event: 'upgrade', listener: (headers: IncomingHttpHeaders) => void): this;
  on(event: string, listener: Listener): this;
  on(event: string, listener: Listener): this {
    this.listeners ??= new Map();
    const listeners = this.listeners;
    const present = listeners.get(event);
    if (present === undefined) listeners.set(event, listener);
    else if (typeof present === 'function') listeners.set(event, [present, listener]);
    else present.push(listener);
    return this;
  }

  once(event: 'connect', listener: () => void): this;
  once(event: 'disconnect', listener: (reason: DisconnectReason, description?: Error) => void): this;
  once(event: 'connect_error', listener: (err: ConnectError) => void): this;
  once(event: 'reconnect_attempt' | 'reconnect', listener: (attempt: number) => void): this;
  once(event: string, listener: Listener): this;
  once(event: string, listener: Listener): this {
    const wrapper = ((...args: unknown[]) => {
      this.off(event, listener);
      (listener as Callable).apply(this, args);
    }) as OnceListener;
    wrapper.listener = listener;
    return this.on(event, wrapper);
  }

  /** Removes one listener, all of an event's, or all. */
  off(event?: string, listener?: Listener): this {
    const listeners = this.listeners;
    if (!listeners) return this;
    if (event === undefined) listeners.clear();
    else if (listener === undefined) listeners.delete(event);
    else {
      const present = listeners.get(event);
      const same = (l: Listener) => l === listener || (l as OnceListener).listener === listener;
      if (typeof present === 'function') {
        if (same(present)) listeners.delete(event);
      } else if (present) {
        const at = present.findIndex(same);
        if (at >= 0) present.splice(at, 1);
        if (present.length === 1) listeners.set(event, present[0]!);
        else if (present.length === 0) listeners.delete(event);
      }
    }
    return this;
  }

  /**
   * Sends an event; a function as last argument is the ack callback. While not connected the packet
   * waits and goes out on connect (as socket.io-client).
   */
  emit(event: string, ...args: unknown[]): this {
    if (RESERVED.has(event)) throw new Error(`"${event}" is a reserved event name`);
    let id: number | undefined;
    const last = args[args.length - 1];
    if (typeof last === 'function') {
      args.pop();
      id = this.ackIds++;
      this.acks ??= new Map();
      this.acks.set(id, last as AckCallback);
    }
    args.unshift(event);
    const packet = eventPacket(args, id);
    if (this.state === CONNECTED) this.ws!.send(packet);
    else {
      this.sendBuffer ??= [];
      this.sendBuffer.push(packet);
    }
    return this;
  }

  /** Sends an event and resolves with the server's ack; rejects if the connection drops first. */
  emitWithAck<T = unknown>(event: string, ...args: unknown[]): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const ack = ((err: unknown, reply: T) => (err ? reject(err) : resolve(reply))) as AckCallback;
      ack.withError = true;
      this.emit(event, ...args, ack);
    });
  }

  // --- transport -----------------------------------------------------------------------------------

  /** `ws` listeners: shared functions, `this` is the WebSocket, its owner is a property of it. */
  private static onUpgrade(this: OwnedWebSocket, response: IncomingMessage): void {
    // biome-ignore lint/complexity/noThisInStatic: ws calls listeners with the WebSocket as `this`
    this[OWNER]?.fire('upgrade', [response.headers], 0);
  }

  private static onMessage(this: OwnedWebSocket, data: WebSocket.RawData, isBinary: boolean): void {
    // biome-ignore lint/complexity/noThisInStatic: ws calls listeners with the WebSocket as `this`
    const self = this[OWNER];
    if (!self) return;
    if (isBinary) {
      self.lost(
        'parse error',
        new Error('binary packet received: light-socket speaks text packets only'),
        true,
      );
      return;
    }
    self.onFrame((data as Buffer).toString());
  }

  private static onClose(this: OwnedWebSocket, code: number): void {
    // biome-ignore lint/complexity/noThisInStatic: ws calls listeners with the WebSocket as `this`
    const self = this[OWNER];
    if (!self) return;
    self.lost(
      'transport close',
      self.state === OPENING ? new Error(`transport close (${code})`) : undefined,
      true,
    );
  }

  private static onError(this: OwnedWebSocket, err: Error): void {
    // biome-ignore lint/complexity/noThisInStatic: ws calls listeners with the WebSocket as `this`
    this[OWNER]?.lost('transport error', err, false);
  }

  /** The one timer: connect timeout, heartbeat deadline or backoff, by state. */
  private static onTimer(self: LightSocket): void {
    self.timer = undefined;
    const state = self.state;
    if (state === WAITING) {
      self.fire('reconnect_attempt', [self.attempts], 0);
      if (self.state === WAITING) self.start(); // the hook may have closed it
    } else if (state === OPENING) self.lost('transport error', new Error('timeout'), false);
    else if (state === HANDSHAKE || state === CONNECTED) self.lost('ping timeout', undefined, false);
  }

  private arm(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(LightSocket.onTimer, ms, this);
  }

  /** One Engine.IO packet (a text frame). */
  private onFrame(text: string): void {
    const packet = decodeEnginePacket(text);
    const live = this.state === HANDSHAKE || this.state === CONNECTED;
    switch (packet.kind) {
      case 'message':
        if (live) this.onPacket(packet.text);
        return;
      case 'ping': // the deadline moves on
        if (!live) return;
        this.ws!.send(packet.pong);
        this.timer?.refresh();
        return;
      case 'open':
        if (this.state === OPENING) this.onOpen(packet.heartbeatMs);
        return;
      case 'bad-open':
        if (this.state === OPENING)
          this.lost('parse error', new Error(`bad Engine.IO open packet: ${text.slice(0, 80)}`), true);
        return;
      case 'close':
        this.lost('transport close', this.state === OPENING ? new Error('transport close') : undefined, true);
        return;
      case 'noop':
        return;
      case 'unknown':
        this.lost('parse error', new Error(`not an Engine.IO packet: ${text.slice(0, 40)}`), true);
    }
  }

  private onOpen(heartbeatMs: number): void {
    const attempt = this.attempts;
    this.attempts = 0;
    this.state = HANDSHAKE;
    // No ping within pingInterval + pingTimeout of the open packet (or of the last ping): dead.
    this.arm(heartbeatMs);
    this.ws!.send(connectPacket(this.opts.auth));
    if (attempt > 0) this.fire('reconnect', [attempt], 0);
  }

  /** A Socket.IO packet: `4<type>[<nsp>,][<id>][<json>]`. */
  private onPacket(text: string): void {
    const packet = decodeSocketPacket(text);
    switch (packet.kind) {
      case 'event': {
        const args = packet.args;
        if (packet.ackId !== undefined) args.push(this.replier(packet.ackId));
        this.fire(String(args[0]), args, 1);
        return;
      }
      case 'connect':
        if (this.state !== HANDSHAKE) break;
        this.onConnect();
        return;
      case 'ack':
        this.onAck(packet.ackId, packet.args);
        return;
      case 'disconnect': // by the server: no reconnection (as socket.io-client)
        this.stop();
        if (this.acks) this.failAcks();
        this.fire('disconnect', ['io server disconnect'], 0);
        return;
      case 'connect-error': {
        // Refused (by a middleware); no reconnection (as socket.io-client)
        const err = new Error(packet.message) as ConnectError;
        if (packet.data !== undefined) err.data = packet.data;
        this.stop();
        this.fire('connect_error', [err], 0);
        return;
      }
      case 'other-namespace':
        return;
      case 'binary':
        this.lost(
          'parse error',
          new Error('binary packet received: light-socket speaks text packets only'),
          true,
        );
        return;
      case 'malformed':
        if (packet.problem === 'json') {
          this.lost('parse error', new Error(`bad Socket.IO packet: ${text.slice(0, 80)}`), true);
          return;
        }
    }
    this.lost('parse error', new Error(`unexpected Socket.IO packet: ${text.slice(0, 80)}`), true);
  }

  private onConnect(): void {
    this.state = CONNECTED;
    const buffered = this.sendBuffer;
    if (buffered) {
      this.sendBuffer = undefined;
      for (const packet of buffered) this.ws!.send(packet);
    }
    this.fire('connect', NO_ARGS, 0);
  }

  private onAck(id: number, args: unknown[]): void {
    const ack = this.acks?.get(id);
    if (!ack) return;
    this.acks!.delete(id);
    if (ack.withError) args.unshift(null);
    ack.apply(this, args);
  }

  /** The callback a listener gets for an event the server wants acknowledged. */
  private replier(id: number): Callable {
    let sent = false;
    return (...args: unknown[]) => {
      if (sent) return;
      sent = true;
      if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(ackPacket(id, args));
    };
  }

  /** Lets the connection go for good (until `connect()`). */
  private stop(): void {
    this.release(true);
    this.state = CLOSED;
    this.attempts = 0;
  }

  /**
   * The transport is gone or unusable: says so (`disconnect` if connected, else `connect_error`) and
   * reconnects after a backoff unless reconnection is off or a listener closed the socket.
   */
  private lost(reason: DisconnectReason, error: Error | undefined, graceful: boolean): void {
    const was = this.state;
    if (was === CLOSED || was === WAITING) return;
    this.release(graceful);
    this.state = this.opts.reconnection === false ? CLOSED : WAITING;
    if (was !== OPENING) this.attempts = 0; // the backoff starts again after a connection that opened
    if (was === CONNECTED) {
      if (this.acks) this.failAcks();
      this.fire('disconnect', [reason, error], 0);
    } else this.fire('connect_error', [error ?? new Error(reason)], 0);
    if (this.state === WAITING && this.timer === undefined && this.backoff === undefined)
      this.scheduleReconnect();
  }

  /** socket.io-client's backoff (backo2): delay × 2^attempt, ± randomization, capped. */
  private scheduleReconnect(): void {
    const opts = this.opts;
    const min = opts.reconnectionDelay || 1_000;
    const max = opts.reconnectionDelayMax || 5_000;
    const jitter = opts.randomizationFactor ?? 0.5;
    let ms = min * 2 ** Math.min(this.attempts++, MAX_EXPONENT);
    if (jitter > 0 && jitter <= 1) {
      const rand = (opts.random ?? Math.random)();
      const deviation = Math.floor(rand * jitter * ms);
      ms = (Math.floor(rand * 10) & 1) === 0 ? ms - deviation : ms + deviation;
    }
    const delay = Math.min(ms, max) | 0;
    if (!opts.clock) {
      this.arm(delay);
      return;
    }
    this.backoff = opts.clock.setTimeout(() => {
      this.backoff = undefined;
      if (this.state === WAITING) LightSocket.onTimer(this);
    }, delay);
  }

  /** Stops the timer and lets the WebSocket go; its late events are ignored. */
  private release(graceful: boolean): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.backoff?.cancel();
    this.backoff = undefined;
    const ws = this.ws;
    if (!ws) return;
    this.ws = undefined;
    ws[OWNER] = undefined;
    if (graceful) ws.close();
    else ws.terminate();
  }

  private failAcks(): void {
    const acks = this.acks;
    if (!acks) return;
    this.acks = undefined;
    for (const ack of acks.values()) if (ack.withError) ack(new Error('socket has been disconnected'));
  }

  private fire(event: string, args: unknown[], from: number): void {
    const present = this.listeners?.get(event);
    if (present === undefined) return;
    if (typeof present === 'function') invoke(this, present, args, from);
    else for (const listener of present.slice()) invoke(this, listener, args, from);
  }
}

/** Like socket.io-client's `io(url, options)`, for the main namespace over WebSocket. */
export function io(url: string, options?: LightSocketOptions): LightSocket {
  return new LightSocket(url, options);
}
