import { describe, expect, it } from 'vitest';
import type { LoadTotals } from '../load/load-generator.ts';
import { LatencyAggregate, LatencyRecorder } from '../metrics/latency.ts';
import { buildRunRecord, type RunRecordInput } from './build-run-record.ts';
import type { Sample } from './run-record.ts';

const T0 = Date.parse('2025-11-26T20:00:00Z');
const WALL0 = 1_700_000_000_000;
/** 60× from WALL0 on. */
const toSim = (wallMs: number) => T0 + (wallMs - WALL0) * 60;

function totals(over: Partial<LoadTotals> = {}): LoadTotals {
  return {
    requests: 1_000,
    errors: 3,
    conflicts: 7,
    sameInstance: 900,
    instanceSwitches: 4,
    rejected: 0,
    joined: 500,
    settled: 500,
    admitted: 400,
    seatsHeld: 300,
    reservations: 250,
    confirmedReservationIds: ['r-1', 'r-2'],
    socketDisconnects: 12,
    noticesDelivered: 395,
    noticesRescuedByApp: 2,
    noticesRescuedByPoll: 1,
    noticesLost: 0,
    socketsConnected: 0,
    usersActive: 0,
    unsettled: 0,
    usersAway: 0,
    usersFailing: 0,
    longestGap: { fromWallMs: WALL0 + 1_000, toWallMs: WALL0 + 1_500 },
    reconnects: [
      {
        userId: 'u-1',
        disconnectedAtWallMs: WALL0 + 2_000,
        reason: 'transport close',
        instanceId: 'app-3',
        reconnectedAtWallMs: WALL0 + 2_100,
        stateKept: true,
      },
      {
        userId: 'u-2',
        disconnectedAtWallMs: WALL0 + 3_000,
        reason: 'ping timeout',
        reconnectedAtWallMs: undefined,
        stateKept: undefined,
      },
    ],
    maxWorkerEventLoopDelayMs: 41.6,
    ...over,
  };
}

function input(over: Partial<RunRecordInput> = {}): RunRecordInput {
  const recorder = new LatencyRecorder();
  recorder.record('POST /api/events/:eventId/queue', 20);
  const latency = new LatencyAggregate();
  latency.add(recorder.drain());
  return {
    scenario: 'peak-drop',
    startMs: T0,
    endMs: T0 + 60 * 60_000,
    clockNowMs: T0 + 61 * 60_000,
    timeScaleRequested: 60,
    wallSeconds: 80,
    users: 500,
    samples: [
      { atMs: T0 + 60_000, socketsConnected: 450 } as Sample,
      { atMs: T0 + 120_000, socketsConnected: 480 } as Sample,
    ],
    history: { alarmHistory: [], scalingActivities: [], instances: [] },
    integrity: { seatsSoldTwice: 0, confirmedReservationsLost: 0, confirmedInDatabase: 2 },
    faults: [{ fault: 'redis-failover', detail: 'primary killed', atMs: T0, timeline: [] }],
    load: { totals: totals(), latency, workers: 2 },
    toSim,
    ...over,
  };
}

describe('buildRunRecord', () => {
  it('states the run in simulated time: reconnects and the longest gap through the clock, the effective speed', () => {
    const record = buildRunRecord(input());
    expect(record.endMs).toBe(T0 + 60 * 60_000);
    expect(record.timeScaleEffective).toBe(45); // 3,600 simulated s in 80 wall s
    expect(record.wallSeconds).toBe(80);
    expect(record.reconnects).toEqual([
      {
        userId: 'u-1',
        disconnectedAtMs: T0 + 120_000,
        reason: 'transport close',
        instanceId: 'app-3',
        reconnectedAtMs: T0 + 126_000,
        stateKept: true,
      },
      {
        userId: 'u-2',
        disconnectedAtMs: T0 + 180_000,
        reason: 'ping timeout',
        reconnectedAtMs: undefined,
        stateKept: undefined,
      },
    ]);
    expect(record.longestClientGapMs).toBe(30_000);
    expect(record.peakSocketConnections).toBe(480);
    expect(record.counters).toMatchObject({
      paymentsConfirmed: 2,
      errors: 3,
      conflicts: 7,
      usersAdmitted: 400,
    });
    expect(record.loadGenerator).toEqual({ workers: 2, maxEventLoopDelayMs: 42 });
    expect(record.latency.all?.count).toBe(1);
  });

  it("records how waiting users learned of their admission from tiketi-sim's own users, not an engine's", () => {
    expect(buildRunRecord(input()).admissionNotices).toEqual({
      delivered: 395,
      rescuedByApp: 2,
      rescuedByPoll: 1,
      lost: 0,
    });
    // An engine sent the users (no workers of ours): nothing was counted, so nothing is recorded.
    const engine = buildRunRecord(input({ load: { ...input().load, workers: 0 } }));
    expect('admissionNotices' in engine).toBe(false);
  });

  it('an aborted run ends where the clock stood; no gap is 0; faults are copies', () => {
    const faults = [{ fault: 'kill-az', detail: 'az a down', atMs: T0, timeline: [] }];
    const record = buildRunRecord(
      input({
        clockNowMs: T0 + 30 * 60_000,
        faults,
        load: { ...input().load, totals: totals({ longestGap: undefined }) },
      }),
    );
    expect(record.endMs).toBe(T0 + 30 * 60_000);
    expect(record.timeScaleEffective).toBe(22.5);
    expect(record.longestClientGapMs).toBe(0);
    faults[0]!.timeline.push({ label: 'later', atMs: 1 } as never);
    expect(record.faults[0]!.timeline).toEqual([]);
  });

  it("carries the group's refusals and health replacements when the world saw them, else leaves them out", () => {
    const policyRefusals = [{ atMs: T0 + 60_000, policy: 'tiketi-scale-out', reason: 'cooldown until …' }];
    const healthReplacements = [{ instanceId: 'app-3', atMs: T0 + 90_000, processAlive: true }];
    const seen = buildRunRecord(
      input({
        history: {
          alarmHistory: [],
          scalingActivities: [],
          instances: [],
          policyRefusals,
          healthReplacements,
        },
      }),
    );
    expect(seen.policyRefusals).toEqual(policyRefusals);
    expect(seen.healthReplacements).toEqual(healthReplacements);
    const unseen = buildRunRecord(input());
    expect('policyRefusals' in unseen).toBe(false);
    expect('healthReplacements' in unseen).toBe(false);
  });

  it('breaks the drops down by instance, reason and cause in simulated time; without load workers, not at all', () => {
    const killed = { id: 'app-3', az: 'a', launchedAtMs: T0 - 600_000, inServiceAtMs: T0 - 300_000 };
    const record = buildRunRecord(
      input({
        history: { alarmHistory: [], scalingActivities: [], instances: [killed] },
        faults: [{ fault: 'kill-instance', detail: 'app-3 (AZ a)', atMs: T0 + 119_000, timeline: [] }],
      }),
    );
    expect(record.disconnects).toEqual([
      expect.objectContaining({
        instanceId: 'app-3',
        reason: 'transport close',
        cause: 'process-exited',
        fault: 'kill-instance',
        count: 1,
        back: 1,
        firstAtMs: T0 + 120_000,
      }),
      expect.objectContaining({ reason: 'ping timeout', cause: 'instance-unknown', count: 1, back: 0 }),
    ]);
    const engine = buildRunRecord(input({ load: { ...input().load, workers: 0 } }));
    expect('disconnects' in engine).toBe(false);
  });
});
