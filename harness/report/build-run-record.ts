import type { LoadTotals } from '../load/load-generator.ts';
import type { MeasurementRecord } from '../metrics/headroom.ts';
import type { LatencyAggregate } from '../metrics/latency.ts';
import { disconnectBreakdown } from './disconnects.ts';
import type {
  AdmissionNoticeRecord,
  FaultRecord,
  Integrity,
  PlannedChoices,
  RunRecord,
  Sample,
} from './run-record.ts';

/** What a finished run hands to the report; times are simulated unless a name says wall. */
export interface RunRecordInput {
  scenario: string;
  startMs: number;
  endMs: number;
  /** Where the clock stood when the run finished (an aborted run ends before `endMs`). */
  clockNowMs: number;
  timeScaleRequested: number;
  wallSeconds: number;
  users: number;
  samples: readonly Sample[];
  /** What the world recorded, already in simulated time. */
  history: Pick<RunRecord, 'alarmHistory' | 'scalingActivities' | 'instances'> &
    Partial<Pick<RunRecord, 'policyRefusals' | 'healthReplacements'>>;
  integrity: Integrity;
  faults: readonly FaultRecord[];
  /** The load generator's final totals and histograms. */
  load: { totals: LoadTotals; latency: LatencyAggregate; workers: number };
  /** Wall epoch ms → the run's simulated epoch ms (the clock's timeline). */
  toSim: (wallMs: number) => number;
  seed?: number;
  plannedChoices?: PlannedChoices;
  /** Whether the machine could measure (harness/run/run-measurement.ts). */
  measurement?: MeasurementRecord;
}

/** The run's record: what `summary.json`, the expectations and the HTML report are made from. */
export function buildRunRecord(input: RunRecordInput): RunRecord {
  const { totals, latency, workers } = input.load;
  const endMs = Math.min(input.endMs, input.clockNowMs);
  const faults = input.faults.map((f) => structuredClone(f));
  const reconnects = reconnectsInSimTime(totals, input.toSim);
  return {
    scenario: input.scenario,
    ...(input.seed === undefined ? {} : { seed: input.seed }),
    ...(input.plannedChoices ? { plannedChoices: input.plannedChoices } : {}),
    startMs: input.startMs,
    endMs,
    plannedEndMs: input.endMs,
    timeScaleRequested: input.timeScaleRequested,
    timeScaleEffective: Math.round(((endMs - input.startMs) / 1_000 / input.wallSeconds) * 10) / 10,
    wallSeconds: Math.round(input.wallSeconds),
    users: input.users,
    samples: [...input.samples],
    alarmHistory: input.history.alarmHistory,
    scalingActivities: input.history.scalingActivities,
    instances: input.history.instances,
    faults,
    reconnects,
    // Without load workers (an engine sent the users) no client of this run said why it dropped.
    ...(workers > 0 ? { disconnects: disconnectBreakdown(reconnects, { ...input.history, faults }) } : {}),
    latency: { ...latency.summaries(), all: latency.allEndpoints() },
    counters: counters(totals),
    integrity: input.integrity,
    peakSocketConnections: Math.max(0, ...input.samples.map((s) => s.socketsConnected)),
    longestClientGapMs: totals.longestGap
      ? input.toSim(totals.longestGap.toWallMs) - input.toSim(totals.longestGap.fromWallMs)
      : 0,
    loadGenerator: { workers, maxEventLoopDelayMs: Math.round(totals.maxWorkerEventLoopDelayMs) },
    ...(input.measurement ? { measurement: input.measurement } : {}),
    // Counted by tiketi-sim's own virtual users; an engine's users (no workers here) are not.
    ...(workers > 0 ? { admissionNotices: admissionNotices(totals) } : {}),
    // What the findings read, where the world could see it (absent: the rule says "not evaluated").
    ...(input.history.policyRefusals ? { policyRefusals: input.history.policyRefusals } : {}),
    ...(input.history.healthReplacements ? { healthReplacements: input.history.healthReplacements } : {}),
  };
}

/** Reconnect times are wall; the report speaks simulated time. */
function reconnectsInSimTime(totals: LoadTotals, toSim: (wallMs: number) => number): RunRecord['reconnects'] {
  return totals.reconnects.map((r) => ({
    userId: r.userId,
    disconnectedAtMs: toSim(r.disconnectedAtWallMs),
    reason: r.reason,
    ...(r.instanceId === undefined ? {} : { instanceId: r.instanceId }),
    reconnectedAtMs: r.reconnectedAtWallMs === undefined ? undefined : toSim(r.reconnectedAtWallMs),
    stateKept: r.stateKept,
    ...(r.stateLost === undefined ? {} : { stateLost: r.stateLost }),
  }));
}

function admissionNotices(totals: LoadTotals): AdmissionNoticeRecord {
  return {
    delivered: totals.noticesDelivered,
    rescuedByApp: totals.noticesRescuedByApp,
    rescuedByPoll: totals.noticesRescuedByPoll,
    lost: totals.noticesLost,
  };
}

function counters(totals: LoadTotals): RunRecord['counters'] {
  return {
    usersJoined: totals.joined,
    usersAdmitted: totals.admitted,
    requests: totals.requests,
    errors: totals.errors,
    conflicts: totals.conflicts,
    rejected: totals.rejected,
    sameInstance: totals.sameInstance,
    instanceSwitches: totals.instanceSwitches,
    seatsHeld: totals.seatsHeld,
    reservations: totals.reservations,
    paymentsConfirmed: totals.confirmedReservationIds.length,
    socketDisconnects: totals.socketDisconnects,
  };
}
