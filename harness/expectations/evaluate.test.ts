import { describe, expect, it } from 'vitest';
import type { RunRecord, Sample } from '../report/run-record.ts';
import { parseScenario } from '../scenario/schema.ts';
import { evaluate } from './evaluate.ts';

const day = Date.UTC(2026, 10, 24);
const at = (hhmm: string) => {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return day + (h * 60 + m) * 60_000;
};

function sample(time: string, over: Partial<Sample> = {}): Sample {
  return {
    atMs: at(time),
    queueSize: 0,
    activeUsers: 0,
    instances: { pending: 0, inService: 2, terminating: 0 },
    targets: { initial: 0, healthy: 2, unhealthy: 0, draining: 0 },
    alarms: {},
    connectionsPerInstance: {},
    requests: 0,
    errors: 0,
    admitted: 0,
    socketsConnected: 0,
    ...over,
  };
}

/** A recorded peak: scale-out at 19:55:30, aggressive at 19:58:10, nine instances by 20:04. */
function recorded(over: Partial<RunRecord> = {}): RunRecord {
  return {
    scenario: 'peak-drop',
    startMs: at('19:30'),
    endMs: at('21:00'),
    timeScaleRequested: 30,
    timeScaleEffective: 28.5,
    wallSeconds: 190,
    users: 25_000,
    samples: [
      sample('19:58', { queueSize: 25_000 }),
      sample('19:59', { queueSize: 22_000, admitted: 3_000 }),
      sample('20:00', { queueSize: 19_000, admitted: 3_000 }),
      sample('20:01', { queueSize: 0, admitted: 19_000 }),
    ],
    alarmHistory: [
      { alarm: 'tiketi-queue-scale-out', atMs: at('19:31'), from: 'INSUFFICIENT_DATA', to: 'OK', reason: '' },
      { alarm: 'tiketi-queue-scale-out', atMs: at('19:55') + 30_000, from: 'OK', to: 'ALARM', reason: '' },
      {
        alarm: 'tiketi-queue-scale-out-aggressive',
        atMs: at('19:58') + 10_000,
        from: 'OK',
        to: 'ALARM',
        reason: '',
      },
    ],
    scalingActivities: [],
    instances: [
      { id: 'app-1', az: 'a', launchedAtMs: at('19:30'), inServiceAtMs: at('19:30') },
      { id: 'app-2', az: 'b', launchedAtMs: at('19:30'), inServiceAtMs: at('19:30') },
      ...Array.from({ length: 7 }, (_, i) => ({
        id: `app-${i + 3}`,
        az: i % 2 ? 'a' : 'b',
        launchedAtMs: at('19:56'),
        inServiceAtMs: at('20:00'),
      })),
      {
        id: 'app-10',
        az: 'a',
        launchedAtMs: at('19:59'),
        inServiceAtMs: at('20:03'),
        terminatedAtMs: at('20:05'),
      },
    ],
    faults: [],
    reconnects: [],
    latency: { all: { count: 1000, p50Ms: 12, p90Ms: 80, p95Ms: 150, p99Ms: 400, maxMs: 900, meanMs: 30 } },
    counters: {
      usersJoined: 25_000,
      usersAdmitted: 25_000,
      requests: 100_000,
      errors: 120,
      conflicts: 400,
      seatsHeld: 9_000,
      reservations: 4_000,
      paymentsConfirmed: 4_000,
      socketDisconnects: 0,
      sameInstance: 990,
      instanceSwitches: 10,
    },
    integrity: { seatsSoldTwice: 0, confirmedReservationsLost: 0, confirmedInDatabase: 4_000 },
    peakSocketConnections: 25_000,
    longestClientGapMs: 0,
    loadGenerator: { workers: 2, maxEventLoopDelayMs: 12 },
    ...over,
  };
}

const scenario = (expectations: unknown[]) =>
  parseScenario({
    name: 't',
    description: 't',
    startAt: '19:30',
    endAt: '21:00',
    event: { seats: 1 },
    users: 1,
    arrivals: [{ at: '19:30', joined: 1 }],
    expectations,
  }).expectations;

function verdicts(expectations: unknown[], record = recorded()) {
  return scenario(expectations).map((e) => evaluate(e, record));
}

describe('expectations on a recorded run', () => {
  it('alarm-state passes inside the window and fails outside it', () => {
    const [inside, early] = verdicts([
      {
        expect: 'alarm-state',
        alarm: 'tiketi-queue-scale-out',
        state: 'ALARM',
        within: { from: '19:55', to: '19:57' },
      },
      {
        expect: 'alarm-state',
        alarm: 'tiketi-queue-scale-out-aggressive',
        state: 'ALARM',
        within: { from: '19:50', to: '19:58' },
      },
    ]);
    expect(inside).toMatchObject({ passed: true, observed: 'ALARM at 19:55:30' });
    expect(early).toMatchObject({ passed: false, observed: 'ALARM at 19:58:10' });
  });

  it('alarm-never fails when the alarm fires in the window or is already in that state', () => {
    const [before, during, after] = verdicts([
      {
        expect: 'alarm-never',
        alarm: 'tiketi-queue-scale-out',
        state: 'ALARM',
        during: { from: '19:30', to: '19:55' },
      },
      {
        expect: 'alarm-never',
        alarm: 'tiketi-queue-scale-out',
        state: 'ALARM',
        during: { from: '19:30', to: '19:56' },
      },
      {
        expect: 'alarm-never',
        alarm: 'tiketi-queue-scale-out',
        state: 'ALARM',
        during: { from: '20:00', to: '20:10' },
      },
    ]);
    expect(before?.passed).toBe(true);
    expect(during).toMatchObject({ passed: false, observed: 'ALARM at 19:55:30' });
    expect(after).toMatchObject({ passed: false, observed: 'already ALARM at 20:00:00' });
  });

  it('counts instances at a time and the peak', () => {
    const [at2000, peak, tooMany] = verdicts([
      { expect: 'instances', at: '20:00', min: 9 },
      { expect: 'max-instances', max: 10 },
      { expect: 'max-instances', max: 9 },
    ]);
    expect(at2000).toMatchObject({ passed: true, observed: '9' });
    expect(peak).toMatchObject({ passed: true, observed: 'peak 10' });
    expect(tooMany?.passed).toBe(false);
  });

  it('latency and error-rate compare with the merged figures', () => {
    const [p95ok, p99bad, errors] = verdicts([
      { expect: 'latency', endpoint: 'all', percentile: 95, belowMs: 200 },
      { expect: 'latency', endpoint: 'all', percentile: 99, belowMs: 200 },
      { expect: 'error-rate', below: 0.001 },
    ]);
    expect(p95ok?.passed).toBe(true);
    expect(p99bad).toMatchObject({ passed: false, observed: '400 ms over 1000 requests' });
    expect(errors).toMatchObject({ passed: false, observed: '0.120 % (120 of 100000)' });
  });

  it('fails a latency expectation with no data rather than passing it', () => {
    const [delivery] = verdicts([{ expect: 'socket-delivery', percentile: 95, belowMs: 100 }]);
    expect(delivery).toMatchObject({ passed: false, observed: 'no deliveries recorded' });
  });

  it('admission rate uses only minutes with people waiting throughout', () => {
    const [rate] = verdicts([{ expect: 'admission-rate', atLeastPerSecond: 50 }]);
    expect(rate).toMatchObject({ passed: true, observed: '50.0/s over 2 min' });
  });

  it('integrity and reconnect expectations fail on a lost write, a double sale, a slow reconnect', () => {
    const broken = recorded({
      integrity: { seatsSoldTwice: 1, confirmedReservationsLost: 2, confirmedInDatabase: 3_998 },
      reconnects: [
        {
          userId: 'u1',
          disconnectedAtMs: at('20:15'),
          reason: 'transport close',
          reconnectedAtMs: at('20:15') + 5_000,
          stateKept: true,
        },
        {
          userId: 'u2',
          disconnectedAtMs: at('20:15'),
          reason: 'transport close',
          reconnectedAtMs: at('20:16') + 1_000,
          stateKept: false,
          stateLost: '1 hold(s) lost (A-12, 40 s left; state admitted)',
        },
      ],
    });
    const [sold, lost, back] = verdicts(
      [
        { expect: 'no-seat-sold-twice' },
        { expect: 'no-confirmed-reservation-lost' },
        { expect: 'reconnect', withinSeconds: 30 },
      ],
      broken,
    );
    expect(sold?.passed).toBe(false);
    expect(lost).toMatchObject({ passed: false, observed: '2 lost; 3998 confirmed in the database' });
    expect(back).toMatchObject({
      passed: false,
      observed:
        '1 late or never back, 1 lost state (u2: 1 hold(s) lost (A-12, 40 s left; state admitted)); slowest 61.0 s',
    });
    const [ok] = verdicts([{ expect: 'no-seat-sold-twice' }]);
    expect(ok?.passed).toBe(true);
  });

  it('a drop under attack: seats per user within the limit, no instance lost, enough purchases', () => {
    const calm = recorded({
      instances: [{ id: 'app-1', az: 'a', launchedAtMs: at('19:30'), inServiceAtMs: at('19:30') }],
      integrity: {
        seatsSoldTwice: 0,
        confirmedReservationsLost: 0,
        confirmedInDatabase: 10,
        mostSeatsPerUser: 4,
      },
    });
    const checks = [
      { expect: 'max-seats-per-user', max: 4 },
      { expect: 'no-instance-lost' },
      { expect: 'purchases', atLeast: 4_000 },
    ];
    expect(verdicts(checks, calm).map((v) => v.passed)).toEqual([true, true, true]);
    const stormed = recorded({
      integrity: {
        seatsSoldTwice: 0,
        confirmedReservationsLost: 0,
        confirmedInDatabase: 10,
        mostSeatsPerUser: 5,
      },
    });
    const [seats, lost, bought] = verdicts(
      [...checks.slice(0, 2), { expect: 'purchases', atLeast: 4_001 }],
      stormed,
    );
    expect(seats).toMatchObject({ passed: false, observed: 'at most 5 seats per user' });
    expect(lost).toMatchObject({
      passed: false,
      observed: expect.stringMatching(/^terminated: app-10 at 20:05/),
    });
    expect(bought).toMatchObject({ passed: false, observed: '4000 confirmed payments' });
    // A world that could not count seats per user does not pass the check.
    expect(verdicts([checks[0]!], recorded({}))[0]).toMatchObject({ passed: false, observed: 'not counted' });
  });

  it('a user still away at the end is late only once the limit has passed before the end', () => {
    const end = recorded({}).endMs;
    const away = (disconnectedAtMs: number) =>
      verdicts(
        [{ expect: 'reconnect', withinSeconds: 30 }],
        recorded({ reconnects: [{ userId: 'u', disconnectedAtMs, reason: 'transport close' }] }),
      )[0];
    expect(away(end - 10_000)?.passed).toBe(true);
    expect(away(end - 31_000)).toMatchObject({
      passed: false,
      observed: expect.stringMatching(/slowest never/),
    });
  });

  it('sticky: the share of consecutive responses from the same instance', () => {
    const [held] = verdicts([{ expect: 'sticky', atLeast: 0.99 }]);
    expect(held).toMatchObject({ passed: true, observed: '99.00 % (10 switches in 1000)' });
    const [broken] = verdicts([{ expect: 'sticky', atLeast: 0.995 }]);
    expect(broken?.passed).toBe(false);
    const [none] = verdicts(
      [{ expect: 'sticky', atLeast: 0.5 }],
      recorded({ counters: { ...recorded({}).counters, sameInstance: 0, instanceSwitches: 0 } }),
    );
    expect(none).toMatchObject({ passed: false, observed: 'no user made two requests' });
  });
});

describe('a verdict is valid, or it says that it is not', () => {
  const thresholds = {
    maxCpuBusy: 0.95,
    maxEventLoopLagMs: 50,
    maxProcessCoreBusy: 0.9,
    minHeadroomShare: 0.8,
  };
  const saturated = [
    {
      fromMs: at('19:56'),
      toMs: at('20:03'),
      worst: { cpuBusy: 1, lagMs: { 'load-worker': 580 }, coreBusy: {} },
      reasons: ['CPU 100 %', 'load-worker lag 580 ms'],
    },
  ];
  const summary = (count: number, p95Ms: number) => ({
    count,
    p50Ms: 10,
    p90Ms: p95Ms,
    p95Ms,
    p99Ms: p95Ms,
    maxMs: p95Ms,
    meanMs: 10,
  });
  /** 1,000 API requests, P95 509 ms in all; `counted` of them, P95 120 ms, taken with headroom. */
  const measured = (counted: number) =>
    recorded({
      latency: { all: summary(1_000, 509) },
      measurement: {
        thresholds,
        latencyWithHeadroom: { all: summary(counted, 120) },
        saturated,
        intervals: { total: 474, withHeadroom: 400 },
      },
    });
  const p95 = { expect: 'latency', endpoint: 'all', percentile: 95, belowMs: 200 };

  it('judges latency on the samples taken with headroom when they cover enough of it', () => {
    const [verdict] = verdicts([p95], measured(900));
    expect(verdict).toMatchObject({
      status: 'passed',
      passed: true,
      observed: '120 ms over 900 requests taken with headroom (of 1000; all: 509 ms)',
    });
  });

  it('is inconclusive, with when and why the machine was saturated, when they cover too little', () => {
    const [verdict] = verdicts([p95], measured(600));
    expect(verdict).toMatchObject({ status: 'inconclusive', passed: false });
    expect(verdict?.reason).toBe(
      'machine saturated 19:56–20:03: CPU 100 %, load-worker lag 580 ms; 60 % of the 1000 requests were taken with headroom, the verdict needs 80 %',
    );
  });

  it('still fails when the samples taken with headroom break the threshold', () => {
    const record = measured(900);
    record.measurement!.latencyWithHeadroom.all = summary(900, 260);
    expect(verdicts([p95], record)[0]).toMatchObject({
      status: 'failed',
      observed: expect.stringMatching(/^260 ms/),
    });
  });

  it('leaves non-latency verdicts alone: they are judged on the simulated clock', () => {
    const [instances, errors] = verdicts(
      [
        { expect: 'instances', at: '20:00', min: 9 },
        { expect: 'error-rate', below: 0.01 },
      ],
      measured(100),
    );
    expect(instances?.status).toBe('passed');
    expect(errors?.status).toBe('passed');
  });

  it('does not judge what an aborted run never reached, but keeps what it already decided', () => {
    // Stopped at 20:09 of a run planned until 21:00.
    const aborted = recorded({ endMs: at('20:09'), plannedEndMs: at('21:00') });
    const [inService, firedInWindow, notYetFired, neverFired, firedWhereItMustNot, latency, sold] = verdicts(
      [
        { expect: 'instances', at: '20:10', min: 4 },
        {
          expect: 'alarm-state',
          alarm: 'tiketi-queue-scale-out',
          state: 'ALARM',
          within: { from: '19:55', to: '20:30' },
        },
        {
          expect: 'alarm-state',
          alarm: 'tiketi-queue-scale-in',
          state: 'ALARM',
          within: { from: '20:05', to: '20:30' },
        },
        { expect: 'alarm-never', alarm: 'tiketi-queue-scale-in', state: 'ALARM' },
        { expect: 'alarm-never', alarm: 'tiketi-queue-scale-out-aggressive', state: 'ALARM' },
        p95,
        { expect: 'no-seat-sold-twice' },
      ],
      aborted,
    );
    expect(inService).toMatchObject({
      status: 'inconclusive',
      reason: 'not reached: the run ended at 20:09:00, the expectation needs it to run until 20:10:00',
    });
    expect(firedInWindow?.status).toBe('passed');
    expect(notYetFired?.status).toBe('inconclusive');
    expect(neverFired?.status).toBe('inconclusive');
    expect(firedWhereItMustNot?.status).toBe('failed');
    expect(latency?.status).toBe('inconclusive');
    // The database's state holds whenever the run stopped.
    expect(sold?.status).toBe('passed');
  });
});
