/** What a worker's client connections and exchanges share: the worker (alb-worker.ts) provides it. */
import type { Socket } from 'node:net';
import type { RequestHead } from './http1.ts';
import type { ClientAddress } from './responses.ts';
import type { TargetChoice } from './routing.ts';
import type { TargetRuntime } from './target-table.ts';
import type { UpstreamPool } from './upstream-pool.ts';
import type { HandedOffWebSocket } from './websocket-handoff.ts';

/** Counters since the worker started, reported to the control process. */
export interface ProxyStats {
  requests: number;
  errors502: number;
  errors503: number;
}

export interface ProxyContext {
  readonly stats: ProxyStats;
  readonly pool: UpstreamPool;
  readonly idleTimeoutMs: number;
  /** The end of a kept-alive response head. */
  readonly keepAliveLines: string;
  /**
   * The target for a new request with this Cookie header (and the client's round-robin turn, if
   * it sent one: CLIENT_TURN_HEADER); undefined: 503.
   */
  route(cookieHeader: string | undefined, turn?: number): TargetChoice<TargetRuntime> | undefined;
  /** `Set-Cookie` lines sticking a client to `rt`. */
  stickyLines(rt: TargetRuntime): string;
  forwardedHead(head: RequestHead, client: ClientAddress, upgrade: boolean): string;
  errorResponse(status: 400 | 502 | 503, close: boolean): string;
  /** The PATH_STALL_HEADER line for this worker's longest stall since `sinceMs` (performance.now()), or ''. */
  stallLine(sinceMs: number): string;
  /** Hands a routed WebSocket's client socket to the target's process (`takesWebSockets` targets). */
  handOff(target: TargetRuntime, upgrade: HandedOffWebSocket, socket: Socket): void;
}
