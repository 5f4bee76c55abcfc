/**
 * What a rehearsal observed, in simulated time: the data behind `summary.json`, the expectations
 * and the HTML report. Times are simulated epoch milliseconds unless a name says `wall`.
 */
import type { LatencyMetric, LatencySummary } from '../metrics/latency.ts';

export type AlarmStateName = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

/** One sample per simulated minute. */
export interface Sample {
  atMs: number;
  queueSize: number;
  activeUsers: number;
  instances: { pending: number; inService: number; terminating: number };
  targets: { initial: number; healthy: number; unhealthy: number; draining: number };
  alarms: Record<string, AlarmStateName>;
  /** Open client connections (HTTP + WebSocket) per instance id. */
  connectionsPerInstance: Record<string, number>;
  /** Requests completed and failed (5xx or no response) during the minute. */
  requests: number;
  errors: number;
  /** Users admitted during the minute that ends at `atMs`. */
  admitted: number;
  /** Latency of the minute, all endpoints merged, and Socket.IO delivery. */
  apiP95Ms?: number;
  apiP99Ms?: number;
  socketDeliveryP95Ms?: number;
  /** Virtual users connected over Socket.IO. */
  socketsConnected: number;
  /** Wall seconds since the run started: where the wall time of a run went. */
  wallSeconds?: number;
  /** The clock's speed at the end of the minute (simulated s per wall s), and what set it. */
  timeScale?: number;
  clockLimitedBy?: ClockLimit;
}

/** What set the clock's speed (harness/run/pacer.ts). */
export type ClockLimit = 'requested' | 'arrivals' | 'latency' | 'backlog';

export interface AlarmTransition {
  alarm: string;
  atMs: number;
  from: AlarmStateName;
  to: AlarmStateName;
  reason: string;
}

export interface ScalingActivityRecord {
  startMs: number;
  endMs?: number;
  status: string;
  description: string;
  cause: string;
}

export interface InstanceRecord {
  id: string;
  az: string;
  launchedAtMs: number;
  inServiceAtMs?: number;
  /** Left service (draining began). */
  terminatingAtMs?: number;
  terminatedAtMs?: number;
}

export interface FaultRecord {
  fault: string;
  detail: string;
  atMs: number;
  /** Named moments of the failure: detection, promotion, recovery… */
  timeline: { label: string; atMs: number }[];
  /** Every step and observation of the timeline is in. */
  complete?: boolean;
}

export interface ReconnectRecord {
  userId: string;
  disconnectedAtMs: number;
  reconnectedAtMs?: number;
  /** Position, admitted state and holds matched what the user had. */
  stateKept?: boolean;
}

export interface Counters {
  usersJoined: number;
  usersAdmitted: number;
  requests: number;
  /** 5xx responses and requests that got no response. */
  errors: number;
  /** 4xx the app uses for contention (seat taken: 409): expected outcomes, not errors. */
  conflicts: number;
  /** Other 4xx (refused input, limits, 429 rate limits): absent in records of older runs. */
  rejected?: number;
  /** Consecutive responses to one user from the same instance, and from another one. */
  sameInstance: number;
  instanceSwitches: number;
  seatsHeld: number;
  reservations: number;
  /** Payments the app confirmed to a client (201). */
  paymentsConfirmed: number;
  socketDisconnects: number;
}

export interface Integrity {
  /** Seats with more than one confirmed sale in the database. */
  seatsSoldTwice: number;
  /** Payments confirmed to clients that the database does not hold as confirmed. */
  confirmedReservationsLost: number;
  confirmedInDatabase: number;
  /** The most seats one user holds in live reservations (absent in records of older runs). */
  mostSeatsPerUser?: number;
}

export interface RunRecord {
  scenario: string;
  /** Simulated start and end. */
  startMs: number;
  endMs: number;
  timeScaleRequested: number;
  /** Simulated seconds that passed per wall second, over the whole run. */
  timeScaleEffective: number;
  wallSeconds: number;
  users: number;
  samples: Sample[];
  alarmHistory: AlarmTransition[];
  scalingActivities: ScalingActivityRecord[];
  instances: InstanceRecord[];
  faults: FaultRecord[];
  reconnects: ReconnectRecord[];
  latency: Partial<Record<LatencyMetric | 'all', LatencySummary>>;
  counters: Counters;
  integrity: Integrity;
  peakSocketConnections: number;
  /** Longest stretch, simulated ms, in which some client's requests all failed. */
  longestClientGapMs: number;
  /** How hard the load generator itself worked: its stalls are part of every measured latency. */
  loadGenerator: { workers: number; maxEventLoopDelayMs: number };
}
