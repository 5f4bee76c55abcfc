/**
 * A recorded peak-drop for tests of the report, the findings and the live view: 19:30–21:00 on the
 * design's topology, shaped after a real run (two instances hold every socket, the aggressive
 * policy waits out a cooldown, a database failover, a health-check replacement).
 */
import { disconnectBreakdown } from './disconnects.ts';
import {
  type AlarmTransition,
  DATA_TIER_BACK,
  type InstanceRecord,
  type RunRecord,
  type Sample,
} from './run-record.ts';

export const at = (hhmm: string, seconds = 0) => Date.parse(`2026-11-24T${hhmm}:00Z`) + seconds * 1_000;

const minutes = (from: string, to: string) =>
  Array.from({ length: (at(to) - at(from)) / 60_000 + 1 }, (_, i) => at(from) + i * 60_000);

function queueAt(ms: number): number {
  if (ms < at('19:50')) return Math.round(((ms - at('19:30')) / (at('19:50') - at('19:30'))) * 3_000);
  if (ms < at('19:58')) return 3_000 + Math.round(((ms - at('19:50')) / 480_000) * 22_000);
  if (ms < at('20:30')) return Math.max(800, 25_000 - Math.round(((ms - at('19:58')) / 60_000) * 760));
  return Math.max(0, 800 - Math.round(((ms - at('20:30')) / 60_000) * 30));
}

function instancesAt(ms: number, instances: InstanceRecord[]) {
  const live = instances.filter((i) => i.launchedAtMs <= ms && (i.terminatedAtMs ?? Infinity) > ms);
  const inService = live.filter(
    (i) => (i.inServiceAtMs ?? Infinity) <= ms && (i.terminatingAtMs ?? Infinity) > ms,
  );
  return {
    live: inService,
    counts: {
      pending: live.filter((i) => (i.inServiceAtMs ?? Infinity) > ms).length,
      inService: inService.length,
      terminating: live.filter((i) => (i.terminatingAtMs ?? Infinity) <= ms).length,
    },
  };
}

function sample(ms: number, instances: InstanceRecord[], alarms: AlarmTransition[], i: number): Sample {
  const { live, counts } = instancesAt(ms, instances);
  const sockets = Math.min(24_941, Math.round(((ms - at('19:30')) / 1_680_000) * 24_941));
  // Only the two warm instances ever hold sockets: everyone connected before the scale-out.
  const holders = live.filter((x) => x.launchedAtMs < at('19:30'));
  const socketsPerInstance = Object.fromEntries(
    live.map((x) => [x.id, holders.includes(x) ? Math.round(sockets / holders.length) : 0]),
  );
  const state: Record<string, AlarmTransition['to']> = {};
  for (const t of alarms) if (t.atMs <= ms) state[t.alarm] = t.to;
  return {
    atMs: ms,
    queueSize: queueAt(ms),
    activeUsers: ms < at('19:58') ? 0 : 3_000,
    instances: counts,
    desiredCapacity: counts.pending + counts.inService,
    targets: { initial: 0, healthy: counts.inService, unhealthy: 0, draining: counts.terminating },
    alarms: state,
    connectionsPerInstance: Object.fromEntries(live.map((x) => [x.id, (socketsPerInstance[x.id] ?? 0) + 20])),
    socketsPerInstance,
    requests: 1_000 + i * 10,
    errors: i % 17 === 0 ? 3 : 0,
    admitted: ms >= at('19:58') && ms < at('20:30') ? 3_000 : 0,
    apiP95Ms: 40 + (i % 7) * 5,
    apiP99Ms: 90 + (i % 7) * 9,
    socketDeliveryP95Ms: 20 + (i % 5),
    socketDeliveryP99Ms: 45 + (i % 5),
    socketConnectP95Ms: 30 + (i % 3),
    socketConnectP99Ms: 60 + (i % 3),
    socketsConnected: sockets,
    wallSeconds: i * 2,
    timeScale: ms >= at('19:58') && ms < at('20:05') ? 6 : 30,
    clockLimitedBy: ms >= at('19:58') && ms < at('20:05') ? 'arrivals' : 'requested',
  };
}

const transition = (
  alarm: string,
  hhmm: string,
  from: AlarmTransition['from'],
  to: AlarmTransition['to'],
) => ({
  alarm,
  atMs: at(hhmm),
  from,
  to,
  reason: `Threshold Crossed: 1 datapoint was ${to === 'ALARM' ? 'greater' : 'not greater'} than the threshold`,
});

/** The recorded run, fresh each call: tests may change it. */
export function recordedPeakDrop(): RunRecord {
  const instances: InstanceRecord[] = [
    { id: 'app-1', az: 'a', launchedAtMs: at('19:20'), inServiceAtMs: at('19:20') },
    { id: 'app-2', az: 'b', launchedAtMs: at('19:20'), inServiceAtMs: at('19:20') },
    { id: 'app-3', az: 'a', launchedAtMs: at('19:55'), inServiceAtMs: at('19:59') },
    { id: 'app-4', az: 'b', launchedAtMs: at('19:55'), inServiceAtMs: at('19:59') },
  ];
  const alarmHistory = [
    transition('tiketi-queue-scale-out', '19:31', 'INSUFFICIENT_DATA', 'OK'),
    transition('tiketi-queue-scale-out-aggressive', '19:31', 'INSUFFICIENT_DATA', 'OK'),
    transition('tiketi-queue-scale-out', '19:55', 'OK', 'ALARM'),
    transition('tiketi-queue-scale-out-aggressive', '19:58', 'OK', 'ALARM'),
    transition('tiketi-queue-scale-out-aggressive', '20:05', 'ALARM', 'OK'),
    transition('tiketi-queue-scale-out', '20:26', 'ALARM', 'OK'),
  ];
  const samples = minutes('19:31', '21:00').map((ms, i) => sample(ms, instances, alarmHistory, i));
  const refusals = minutes('19:58', '20:02').map((ms) => ({
    atMs: ms,
    policy: 'tiketi-scale-out-aggressive',
    reason: ms < at('19:59') ? 'scaling activity 1 in progress' : 'cooldown until 2026-11-24T20:02:00Z',
  }));
  const record: RunRecord = {
    scenario: 'peak-drop',
    startMs: at('19:30'),
    endMs: at('21:00'),
    timeScaleRequested: 30,
    timeScaleEffective: 24.6,
    wallSeconds: 219,
    users: 25_000,
    samples,
    alarmHistory,
    scalingActivities: [
      {
        startMs: at('19:55'),
        endMs: at('19:59'),
        status: 'Successful',
        description: 'Launching 2 new EC2 instances',
        cause:
          'At 2026-11-24T19:55:00Z alarm tiketi-queue-scale-out in state ALARM triggered policy tiketi-scale-out',
      },
    ],
    instances,
    faults: [
      {
        fault: 'db-failover',
        detail: 'postgres-writer',
        atMs: at('20:15'),
        timeline: [
          { label: 'database writer postgres-writer killed (db-failover)', atMs: at('20:15') },
          { label: 'failure detected: writer endpoint unavailable', atMs: at('20:15', 5) },
          { label: 'replica promoted to writer', atMs: at('20:15', 30) },
          { label: 'writer endpoint switched to the new writer', atMs: at('20:15', 35) },
          { label: DATA_TIER_BACK, atMs: at('20:15', 75) },
        ],
        complete: true,
      },
    ],
    reconnects: [
      {
        userId: 'u1',
        disconnectedAtMs: at('20:15'),
        reason: 'transport close',
        instanceId: 'app-1',
        reconnectedAtMs: at('20:15', 4),
        stateKept: true,
      },
      {
        userId: 'u2',
        disconnectedAtMs: at('20:15'),
        reason: 'transport close',
        instanceId: 'app-1',
        reconnectedAtMs: at('20:15', 9),
        stateKept: true,
      },
    ],
    latency: {
      all: { count: 90_000, p50Ms: 12, p90Ms: 35, p95Ms: 48, p99Ms: 120, maxMs: 900, meanMs: 18 },
      'POST /api/events/:eventId/queue': {
        count: 25_000,
        p50Ms: 10,
        p90Ms: 30,
        p95Ms: 40,
        p99Ms: 95,
        maxMs: 600,
        meanMs: 14,
      },
      'socket.delivery': { count: 60_000, p50Ms: 8, p90Ms: 18, p95Ms: 22, p99Ms: 47, maxMs: 300, meanMs: 9 },
    },
    counters: {
      usersJoined: 25_000,
      usersAdmitted: 25_000,
      requests: 90_000,
      errors: 12,
      conflicts: 40,
      sameInstance: 88_000,
      instanceSwitches: 20,
      seatsHeld: 900,
      reservations: 850,
      paymentsConfirmed: 800,
      socketDisconnects: 2,
    },
    integrity: { seatsSoldTwice: 0, confirmedReservationsLost: 0, confirmedInDatabase: 800 },
    peakSocketConnections: 24_941,
    longestClientGapMs: 9_000,
    loadGenerator: { workers: 2, maxEventLoopDelayMs: 40 },
    policyRefusals: refusals,
    healthReplacements: [],
  };
  record.disconnects = disconnectBreakdown(record.reconnects, record);
  return record;
}
