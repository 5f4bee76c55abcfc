/** Messages between the ALB's control process (target group, health checks) and its proxy workers. */
import type { ClockAnchor } from '../clock/timeline.ts';
import type { TargetHealthState } from '../model/aws.ts';
import type { HandedOffWebSocket } from './websocket-handoff.ts';

export type { ClockAnchor };

/**
 * The round-robin turn a client without a sticky target takes, sent by tiketi-sim's virtual users
 * (their place in the arrival order). A real ALB's nodes each go round robin, and which node a
 * client reaches and in which order its requests arrive is luck; in the emulator that luck is the
 * seed's, so the same users stick to the same instances in every run of a seed (issue 16: which
 * clients a killed instance strands set the error rate). Other clients go round robin.
 */
export const CLIENT_TURN_HEADER = 'x-tiketi-sim-turn';
/**
 * On the answer to a WebSocket upgrade the emulator handed off (websocket-handoff.ts): the wall ms
 * the control process took to pass the client's connection on, from the ALB worker's sending it to
 * its own. A real ALB has no such hop; tiketi-sim's virtual users file a connect that waited there
 * over the run's stall limit apart, as they do a sample their own stall delayed (metrics/latency.ts).
 */
export const RELAY_DELAY_HEADER = 'x-tiketi-sim-relay-ms';
/**
 * On an answer the emulator's own processes on its way held up: the longest event-loop stall, ms,
 * of the app instance that answered and of the ALB worker that relayed it, while the request was
 * in each (`LagMonitor.longestWithin`). Each adds a line only for a stall it saw (a relayed answer
 * may carry two). Stalls of processes a real deployment runs on machines of their own; tiketi-sim's
 * virtual users file a sample held up over the run's stall limit apart (metrics/latency.ts).
 */
export const PATH_STALL_HEADER = 'x-tiketi-sim-stall-ms';

/** The PATH_STALL_HEADER line (ending CRLF) for a stall of `stallMs`; '' for none. */
export function pathStallLine(stallMs: number): string {
  return stallMs > 0 ? `${PATH_STALL_HEADER}: ${stallMs}\r\n` : '';
}

/** The longest stall an answer's PATH_STALL_HEADER values tell (repeated lines, or joined by commas), ms. */
export function pathStallOf(value: string | readonly string[] | undefined): number {
  if (value === undefined) return 0;
  const values = (typeof value === 'string' ? [value] : value).flatMap((v) => v.split(','));
  return Math.max(0, ...values.map((v) => Number(v) || 0));
}
/** A target's ELBv2 health state (harness/model/aws.ts); the name the ALB modules use. */
export type TargetState = TargetHealthState;

export interface RoutableTarget {
  id: string;
  host: string;
  port: number;
  state: TargetState;
  /** Its process takes a WebSocket's client connection itself (websocket-handoff.ts); else a tunnel. */
  takesWebSockets?: boolean;
}

/** `anchor` lets a worker compute simulated time for cookie expiry without asking the control process. */
export type ToAlbWorker =
  | {
      type: 'init';
      workerIndex: number;
      stickinessSeconds: number;
      cookieSecret: string;
      idleTimeoutMs: number;
      anchor: ClockAnchor;
      /** Listening sockets it accepts on: this message carries the first, `listen` messages the rest. */
      listeners: number;
    }
  /** Carries one more listening socket (the ALB's other node addresses), before the worker is ready. */
  | { type: 'listen' }
  | { type: 'targets'; targets: RoutableTarget[]; anchor: ClockAnchor }
  /** Close every connection to a target (end of draining, or a target that vanished). */
  | { type: 'close-target'; id: string }
  | { type: 'stop' };

export type FromAlbWorker =
  | { type: 'ready'; workerIndex: number }
  /** A WebSocket routed to a target that takes it: the client socket is the message's handle. */
  | ({ type: 'websocket'; targetId: string; sentAtWallMs: number } & HandedOffWebSocket)
  /** Open client connections (requests in flight and WebSockets) per target. */
  | {
      type: 'connections';
      workerIndex: number;
      perTarget: Record<string, number>;
      requests: number;
      errors502: number;
      errors503: number;
    };
