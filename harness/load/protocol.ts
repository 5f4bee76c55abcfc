/** Messages between the load generator (runner process) and its worker processes. */
import type { ClockAnchor } from '../clock/timeline.ts';
import type { LatencySnapshot } from '../metrics/latency.ts';
import type { Behaviour } from '../scenario/schema.ts';
import type { HttpCounters, WallSpan } from './http-client.ts';
import type { DisconnectReason } from './light-socket.ts';

export interface VirtualUserCredentials {
  userId: string;
  token: string;
  /**
   * Wall epoch ms at which the open model sends this user's join. Its latency counts from then:
   * a join the generator sends late because it was busy includes the delay (no coordinated
   * omission). @default when the worker gets it
   */
  dueAtWallMs?: number;
  /** The user's place in the arrival order: with the run's seed, it decides what the user does (user-plan.ts). */
  arrival?: number;
}

export interface WorkerInit {
  type: 'init';
  workerIndex: number;
  /** Where users send traffic: the ALB (or the edge). */
  baseUrl: string;
  eventId: string;
  seatIds: string[];
  behaviour: Behaviour;
  /** The clock's speed until the first `clock` message (in-process tests send none). */
  timeScale: number;
  seed: number;
  httpConnections: number;
  /**
   * Event-loop lag (ms) over which this worker files a sample in flight as measured through its
   * own stall (the run's `maxEventLoopLagMs`). @default none filed so
   */
  stallMs?: number;
}

export type ToWorker =
  | WorkerInit
  /** These users arrive now (open model: sent on schedule, whatever came before). */
  | { type: 'arrive'; users: VirtualUserCredentials[] }
  /**
   * The run's clock from `anchor.wallMs` on (a speed change, the drop's start): a worker keeps
   * simulated time with it, so a think time is simulated seconds whatever speeds it spans.
   */
  | { type: 'clock'; anchor: ClockAnchor }
  /** Close every connection, send a final report, exit. */
  | { type: 'stop' };

/**
 * A drop the user had to come back from (not one it caused by leaving), and its return: one per
 * stretch away. A drop while coming back (reconnected, state not yet received) is part of the first.
 */
export interface ReconnectObservation {
  userId: string;
  disconnectedAtWallMs: number;
  /** Socket.IO's reason for the drop. */
  reason: DisconnectReason;
  /** The instance the socket was on, from its `session:state`; absent when none had arrived on that connection. */
  instanceId?: string;
  /** Absent: not back when the run ended. */
  reconnectedAtWallMs?: number;
  stateKept?: boolean;
  /** What the reconnect did not restore, in words (when `stateKept` is false). */
  stateLost?: string;
}

export interface WorkerReport {
  type: 'report';
  workerIndex: number;
  final: boolean;
  /** Latency samples of the interval clear of this worker's stalls (every sample, without `stallMs`). */
  latency: LatencySnapshot;
  /** The interval's samples that were in flight while this worker stalled over `stallMs`. */
  latencyThroughStall?: LatencySnapshot;
  http: HttpCounters;
  /** The longest stretch a user's calls failed between successes. */
  longestGap: WallSpan | undefined;
  /** Deltas since the previous report. */
  joined: number;
  /** Users whose arrival is over: join answered (or failed) and, with a socket, first connected (or refused). */
  settled: number;
  admitted: number;
  seatsHeld: number;
  reservations: number;
  /** Reservation ids whose payment the app confirmed (201) since the previous report. */
  confirmedReservationIds: string[];
  socketDisconnects: number;
  /**
   * How users who waited in the queue with a socket learned of their admission (deltas): the
   * socket notice, the app's rescue (a notice flagged `rescued`), their own poll of
   * `GET …/queue/me` (the notice not there within NOTICE_GRACE_MS), or never (admitted when the
   * run stopped, not told).
   */
  noticesDelivered: number;
  noticesRescuedByApp: number;
  noticesRescuedByPoll: number;
  noticesLost: number;
  /** Gauges. */
  socketsConnected: number;
  usersActive: number;
  /** Users arrived here whose join (and first socket connect) is not answered yet, now. */
  unsettled: number;
  /** Users here whose socket dropped and who are not back with their state yet, now. */
  usersAway: number;
  /** Users here whose requests fail and who keep trying, now (`VirtualUserHttp.failingCallers`). */
  usersFailing: number;
  reconnects: ReconnectObservation[];
  /** Longest event-loop stall of the worker so far (ms): above ~100 ms, latencies include the client's own delay. */
  maxEventLoopDelayMs: number;
  /** Worst event-loop lag over this report's interval (ms): the machine state its latencies were measured in. */
  eventLoopLagMs?: number;
}

/** The counters a worker reports as deltas since its previous report; the generator sums them. */
export const JOURNEY_COUNTERS = [
  'joined',
  'settled',
  'admitted',
  'seatsHeld',
  'reservations',
  'socketDisconnects',
  'noticesDelivered',
  'noticesRescuedByApp',
  'noticesRescuedByPoll',
  'noticesLost',
] as const satisfies readonly (keyof WorkerReport)[];

export type JourneyCounters = Record<(typeof JOURNEY_COUNTERS)[number], number>;

export function zeroCounters(): JourneyCounters {
  return Object.fromEntries(JOURNEY_COUNTERS.map((key) => [key, 0])) as JourneyCounters;
}

export type FromWorker =
  | WorkerReport
  | { type: 'ready'; workerIndex: number }
  | { type: 'error'; message: string };
