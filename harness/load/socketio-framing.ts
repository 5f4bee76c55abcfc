/**
 * The wire format of Socket.IO over WebSocket (engine.io-protocol v4, socket.io-protocol v5), text
 * packets only, as pure functions: no I/O, no imports, no Node or browser globals. Two clients
 * speak through it: the light client of the load generator (light-socket.ts, on `ws`) and the k6
 * script `tiketi-sim export --format k6` writes (bundled into it, on k6's WebSocket API). One
 * codec, so the k6 script speaks what the load generator's tests prove against the real app.
 *
 *   ← 0{"sid":…,"pingInterval":…,"pingTimeout":…}    Engine.IO open
 *   → 40{…auth}                                      CONNECT to "/"
 *   ← 40{"sid":…} | 44{"message":…,"data":…}         CONNECT / CONNECT_ERROR
 *   ← 2  → 3                                         heartbeat
 *   ← 42["event",…] / 42<id>["event",…]             EVENT (with an ack id)
 *   → 42<id>[…]  ← 43<id>[…]                         emit with an ack
 *   ← 41 / → 41                                      DISCONNECT
 */

/**
 * The Engine.IO WebSocket URL of a base URL (`http://host` → `ws://host/socket.io/?EIO=4&transport=websocket`).
 * Parsed by hand: k6 has no global `URL`.
 */
export function engineIoUrl(base: string, path = '/socket.io'): string {
  const match = /^(https?|wss?):\/\/([^/?#\s]+)\/?$/i.exec(base);
  if (!match)
    throw new Error(
      `Socket.IO over WebSocket connects to the main namespace of an http(s):// or ws(s):// base URL, without a path or query: ${base}`,
    );
  const scheme = /^(https|wss)$/i.test(match[1]!) ? 'wss:' : 'ws:';
  return `${scheme}//${match[2]}${path.replace(/\/$/, '')}/?EIO=4&transport=websocket`;
}

/** One Engine.IO text frame, decoded. */
export type EnginePacket =
  /** `0{…}`: the handshake; the server pings every `pingInterval` and waits `pingTimeout` for the pong. */
  | { kind: 'open'; heartbeatMs: number }
  | { kind: 'bad-open'; text: string }
  /** `2`: answer with `pong`. */
  | { kind: 'ping'; pong: string }
  /** `4…`: a Socket.IO packet. */
  | { kind: 'message'; text: string }
  | { kind: 'close' }
  | { kind: 'noop' }
  | { kind: 'unknown'; text: string };

export function decodeEnginePacket(text: string): EnginePacket {
  switch (text.charCodeAt(0)) {
    case 52: // 4
      return { kind: 'message', text };
    case 50: // 2
      return { kind: 'ping', pong: text.length === 1 ? '3' : `3${text.slice(1)}` };
    case 48: // 0
      return decodeOpen(text);
    case 49: // 1
      return { kind: 'close' };
    case 54: // 6
      return { kind: 'noop' };
    default:
      return { kind: 'unknown', text };
  }
}

function decodeOpen(text: string): EnginePacket {
  let heartbeatMs: number;
  try {
    const handshake = JSON.parse(text.slice(1)) as { pingInterval?: unknown; pingTimeout?: unknown };
    heartbeatMs = Number(handshake.pingInterval) + Number(handshake.pingTimeout);
  } catch {
    heartbeatMs = Number.NaN;
  }
  return heartbeatMs > 0 ? { kind: 'open', heartbeatMs } : { kind: 'bad-open', text };
}

/** One Socket.IO packet (the text of an Engine.IO message, `4<type>[<nsp>,][<id>][<json>]`), decoded. */
export type SocketPacket =
  | { kind: 'connect'; data: object }
  | { kind: 'disconnect' }
  /** `args[0]` is the event name; `ackId` when the sender wants an acknowledgement. */
  | { kind: 'event'; args: unknown[]; ackId?: number }
  | { kind: 'ack'; ackId: number; args: unknown[] }
  | { kind: 'connect-error'; message: string; data?: unknown }
  /** BINARY_EVENT / BINARY_ACK: not spoken here. */
  | { kind: 'binary' }
  /** A namespace other than "/": not ours, ignored (as socket.io-client does). */
  | { kind: 'other-namespace' }
  /** `json`: the payload is not JSON; `shape`: it is, but not what the packet type carries. */
  | { kind: 'malformed'; problem: 'json' | 'shape' };

export function decodeSocketPacket(text: string): SocketPacket {
  const type = text.charCodeAt(1) - 48;
  if (type === 5 || type === 6) return { kind: 'binary' };
  let i = 2;
  if (text.charCodeAt(2) === 47) {
    const comma = text.indexOf(',', 2);
    if ((comma < 0 ? text.slice(2) : text.slice(2, comma)) !== '/') return { kind: 'other-namespace' };
    i = comma + 1;
  }
  let id = -1;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) break;
    id = (id < 0 ? 0 : id * 10) + c - 48;
  }
  let payload: unknown;
  if (i < text.length) {
    try {
      payload = JSON.parse(text.slice(i));
    } catch {
      return { kind: 'malformed', problem: 'json' };
    }
  }
  switch (type) {
    case 2:
      if (!Array.isArray(payload) || (typeof payload[0] !== 'string' && typeof payload[0] !== 'number'))
        break;
      return id >= 0 ? { kind: 'event', args: payload, ackId: id } : { kind: 'event', args: payload };
    case 0:
      if (typeof payload !== 'object' || payload === null) break;
      return { kind: 'connect', data: payload };
    case 3:
      if (!Array.isArray(payload) || id < 0) break;
      return { kind: 'ack', ackId: id, args: payload };
    case 1:
      return { kind: 'disconnect' };
    case 4: {
      const refusal = (payload ?? {}) as { message?: unknown; data?: unknown };
      const message = typeof payload === 'string' ? payload : String(refusal.message ?? 'refused');
      return refusal.data === undefined
        ? { kind: 'connect-error', message }
        : { kind: 'connect-error', message, data: refusal.data };
    }
  }
  return { kind: 'malformed', problem: 'shape' };
}

/** CONNECT to the main namespace, with the handshake's `auth`. */
export function connectPacket(auth?: Record<string, unknown>): string {
  return auth === undefined ? '40' : `40${JSON.stringify(auth)}`;
}

/** EVENT: `args[0]` is the event name; with `ackId`, the server answers with an ACK of that id. */
export function eventPacket(args: readonly unknown[], ackId?: number): string {
  return `42${ackId === undefined ? '' : ackId}${JSON.stringify(args)}`;
}

/** ACK of an event the server sent with an ack id. */
export function ackPacket(ackId: number, args: readonly unknown[]): string {
  return `43${ackId}${JSON.stringify(args)}`;
}

/** DISCONNECT from the main namespace. */
export const DISCONNECT_PACKET = '41';
