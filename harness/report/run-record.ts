/**
 * What a rehearsal observed, in simulated time: the data behind `summary.json`, the expectations
 * and the HTML report. Times are simulated epoch milliseconds unless a name says `wall`.
 */

import type { DisconnectReason } from '../load/light-socket.ts';
import type { EngineLoadReport } from '../load-report/parse.ts';
import type { MeasurementRecord, MinuteMachineState } from '../metrics/headroom.ts';
import type { LatencyMetric, LatencySummary } from '../metrics/latency.ts';
import type {
  AlarmState,
  AlarmTransition,
  InstanceRecord,
  LifecycleCounts,
  ScalingActivityRecord,
  TargetHealthCounts,
  TargetHealthTransition,
} from '../model/aws.ts';
import type { ScaleModelRecord } from '../scenario/scale-model.ts';

/** The report's AWS nouns are harness/model/aws.ts's; re-exported for the modules that import them from here. */
export type { AlarmTransition, InstanceRecord, ScalingActivityRecord } from '../model/aws.ts';
/** @deprecated `AlarmState` from harness/model/aws.ts (the same type). */
export type AlarmStateName = AlarmState;

/** One sample per simulated minute. */
export interface Sample {
  atMs: number;
  queueSize: number;
  activeUsers: number;
  instances: LifecycleCounts;
  targets: TargetHealthCounts;
  alarms: Record<string, AlarmState>;
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
  /**
   * Socket.IO connections per instance id (WebSockets only, unlike `connectionsPerInstance`):
   * what the scale-out finding needs to see that new instances got no existing socket.
   */
  socketsPerInstance?: Record<string, number>;
  /** The group's desired capacity at the end of the minute. */
  desiredCapacity?: number;
  /** Socket.IO handshake and delivery latency of the minute. */
  socketConnectP95Ms?: number;
  socketConnectP99Ms?: number;
  socketDeliveryP99Ms?: number;
  /** Wall seconds since the run started: where the wall time of a run went. */
  wallSeconds?: number;
  /** The clock's speed at the end of the minute (simulated s per wall s), and what set it. */
  timeScale?: number;
  clockLimitedBy?: ClockLimit;
  /** The machine over the minute: the share with headroom, the worst of each signal, what saturated it. */
  machine?: MinuteMachineState;
}

/**
 * What set the clock's speed (harness/run/pacer.ts); `idle`: nothing was due, so it ran faster
 * than requested; `fault`: a fault due soon, or one whose recovery runs on wall time, held it down.
 */
export const CLOCK_LIMITS = [
  'requested',
  'idle',
  'arrivals',
  'latency',
  'backlog',
  'fault',
  'users-recovering',
] as const;
export type ClockLimit = (typeof CLOCK_LIMITS)[number];

/** The fault timeline's step that ends a data-tier recovery: every instance is healthy again. */
export const DATA_TIER_BACK = 'every instance reaches Redis and the database again';

export interface FaultRecord {
  fault: string;
  detail: string;
  atMs: number;
  /** Named moments of the failure: detection, promotion, recovery… */
  timeline: { label: string; atMs: number }[];
  /** Every step and observation of the timeline is in. */
  complete?: boolean;
  /** Every target health change from the fault until its timeline closed (or the run ended). */
  targetHealth?: TargetHealthTransition[];
  /** The Auto Scaling group's activities begun in that window: launches, replacements, terminations. */
  scalingActivities?: ScalingActivityRecord[];
}

/** A policy invocation the group did not act on (AutoScalingGroup.refusals). */
export interface PolicyRefusalRecord {
  atMs: number;
  policy: string;
  /** `cooldown until …`, `scaling activity N in progress`, `desired capacity already at max (10)`. */
  reason: string;
}

/** An instance the ELB health check took out of service, and whether its process was still up. */
export interface HealthReplacementRecord {
  instanceId: string;
  atMs: number;
  /** The instance's process was running when it was replaced (it failed the check, not died). */
  processAlive: boolean;
}

/**
 * How the users who waited in the queue with a socket learned of their admission (the load
 * generator's count, one outcome per user; harness/load/user-journey.ts `NoticeOutcome`).
 * A healthy run has only `delivered`.
 */
export interface AdmissionNoticeRecord {
  /** The `queue:admitted` notice reached them over the socket. */
  delivered: number;
  /** The app told them from the queue itself: neither the notice nor the admission log reached their instance. */
  rescuedByApp: number;
  /** Their own poll of `GET …/queue/me` found it, and no notice followed within 2 s. */
  rescuedByPoll: number;
  /** Admitted when the run stopped, and never told. */
  lost: number;
}

export interface ReconnectRecord {
  userId: string;
  disconnectedAtMs: number;
  /** Socket.IO's reason for the drop, as the client saw it. */
  reason: DisconnectReason;
  /** The instance the socket was on (its `session:state` said); absent when the client had not learned it. */
  instanceId?: string;
  reconnectedAtMs?: number;
  /** Position, admitted state and holds matched what the user had. */
  stateKept?: boolean;
  /** What the reconnect did not restore, in words (when `stateKept` is false). */
  stateLost?: string;
}

/**
 * What the harness knew of the instance when a client dropped from it (harness/report/disconnects.ts):
 * - `process-exited`: its process was gone (killed, its AZ lost, crashed);
 * - `drained`: it had been deregistered and was draining (`DrainTrigger` says why);
 * - `in-service`: InService, not draining, no process exit seen — Socket.IO's reason is all there
 *   is to go on (a ping timeout of an instance that stopped answering, a connection it closed);
 * - `instance-unknown`: the client had not learned its instance (no `session:state` on that connection).
 */
export type DisconnectCause = 'process-exited' | 'drained' | 'in-service' | 'instance-unknown';

/**
 * What took a drained instance out of service, from the group's activities and health replacements:
 * a scale-in policy, a terminate request (`terminate-instance`), a replacement after failed ELB
 * health checks, the group trimming capacity above desired, or none of those recorded.
 */
export type DrainTrigger =
  | 'scale-in'
  | 'terminate-request'
  | 'health-check-replacement'
  | 'capacity'
  | 'unknown';

/** Client drops of one instance, Socket.IO reason and cause. */
export interface DisconnectGroup {
  /** Absent: the clients had not learned their instance (`cause` is `instance-unknown`). */
  instanceId?: string;
  reason: DisconnectReason;
  cause: DisconnectCause;
  /** When the cause began: the process exit (or the kill that caused it), the deregistration. */
  causeAtMs?: number;
  /** `drained`: what took the instance out of service. */
  trigger?: DrainTrigger;
  /** `process-exited`: the fault that ended it (`kill-instance`, `kill-az`), when one did. */
  fault?: string;
  /** The cause in words: `process exited at 20:15:02, killed by kill-instance`. */
  causeDetail: string;
  count: number;
  /** Of them, back (their `session:state` again) before the run ended. */
  back: number;
  firstAtMs: number;
  lastAtMs: number;
  /** Drops per simulated minute (`atMs`: the minute's start). */
  perMinute: { atMs: number; count: number }[];
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

/** A run's counters before anything happened (a record to evaluate expectations on before the drop, tests). */
export const NO_COUNTS: Readonly<Counters> = {
  usersJoined: 0,
  usersAdmitted: 0,
  requests: 0,
  errors: 0,
  conflicts: 0,
  sameInstance: 0,
  instanceSwitches: 0,
  seatsHeld: 0,
  reservations: 0,
  paymentsConfirmed: 0,
  socketDisconnects: 0,
};

export interface Integrity {
  /** Seats with more than one confirmed sale in the database. */
  seatsSoldTwice: number;
  /** Payments confirmed to clients that the database does not hold as confirmed. */
  confirmedReservationsLost: number;
  confirmedInDatabase: number;
  /** The most seats one user holds in live reservations (absent in records of older runs). */
  mostSeatsPerUser?: number;
}

/**
 * What the run's seed decided, recorded so two runs can be compared: same seed, same choices.
 * Digests are the first 16 hex digits of a SHA-256 of the JSON list.
 */
export interface PlannedChoices {
  /** Users who buy once admitted, and a digest of their arrival places. */
  buyers: number;
  buyersDigest: string;
  /** A digest of every user's arrival time (simulated epoch ms). */
  arrivalsDigest: string;
  /** When each fault was scheduled (simulated epoch ms, after any sweep shift). */
  faultsAtMs: number[];
}

export interface RunRecord {
  /** The seed every random choice of the run drew from (`--seed`). */
  seed?: number;
  plannedChoices?: PlannedChoices;
  scenario: string;
  /** Simulated start and end (where the run got to: before the scenario's end if it stopped early). */
  startMs: number;
  endMs: number;
  /** The scenario's end, simulated. @default endMs */
  plannedEndMs?: number;
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
  /**
   * The reconnects' drops per instance, reason and cause. Absent when no client of the run's own
   * load generator watched (an engine sent the users), and in records of older runs.
   */
  disconnects?: DisconnectGroup[];
  latency: Partial<Record<LatencyMetric | 'all', LatencySummary>>;
  counters: Counters;
  integrity: Integrity;
  peakSocketConnections: number;
  /** Longest stretch, simulated ms, in which some client's requests all failed. */
  longestClientGapMs: number;
  /** How hard the load generator itself worked: its stalls are part of every measured latency. */
  loadGenerator: { workers: number; maxEventLoopDelayMs: number };
  /** Scaling-policy invocations the group refused. Optional: older records lack it. */
  policyRefusals?: PolicyRefusalRecord[];
  /** ELB health-check replacements. Optional: older records lack it. */
  healthReplacements?: HealthReplacementRecord[];
  /** Admission notices. Optional: absent when an engine sent the users, and in older records. */
  admissionNotices?: AdmissionNoticeRecord;
  /**
   * Whether this machine could measure: the thresholds, the latency of the samples taken with
   * headroom, and the stretches it was saturated. Absent: every sample counts.
   */
  measurement?: MeasurementRecord;
  /** Present when the run was a 1:1/F scale model of the design (docs/scale-models.md). */
  scaleModel?: ScaleModelRecord;
  /**
   * Present when an engine sent the users (`--load external --load-report`): its report as
   * tiketi-sim read it; `latency` and the user counters are then the engine's figures.
   */
  loadEngine?: EngineLoadReport;
}
