import { describe, expect, it } from 'vitest';
import { cpuCost, HeadroomLedger } from './headroom.ts';
import { LatencyAggregate, LatencyRecorder } from './latency.ts';
import { headroomThresholds, type MachineState } from './machine-state.ts';

const QUIET: MachineState = { cpuBusy: 0.6, lagMs: { 'load-worker': 5 }, coreBusy: { app: 0.5 } };
const SATURATED: MachineState = { cpuBusy: 1, lagMs: { 'load-worker': 580 }, coreBusy: { app: 0.5 } };

/** `count` API samples of `ms` each, as a load worker would ship them. */
function batch(count: number, ms: number): LatencyAggregate {
  const recorder = new LatencyRecorder();
  for (let i = 0; i < count; i++) recorder.record('POST /api/events/:eventId/queue', ms);
  const out = new LatencyAggregate();
  out.add(recorder.drain());
  return out;
}

describe('HeadroomLedger', () => {
  it('counts samples only when the interval and the one before had headroom', () => {
    const ledger = new HeadroomLedger(headroomThresholds([200]));
    const states = [QUIET, QUIET, SATURATED, SATURATED, QUIET, QUIET];
    const counted = states.map((state, i) =>
      ledger.add({ fromSimMs: i * 1_000, toSimMs: (i + 1) * 1_000, state }, batch(10, 20 + i)),
    );
    // The interval after the saturated ones may hold what was measured while saturated.
    expect(counted).toEqual([true, true, false, false, false, true]);
    const record = ledger.record();
    expect(record.latencyWithHeadroom.all?.count).toBe(30);
    expect(record.intervals).toEqual({ total: 6, withHeadroom: 4 });
    expect(record.saturated).toEqual([
      { fromMs: 2_000, toMs: 4_000, worst: SATURATED, reasons: ['CPU 100 %', 'load-worker lag 580 ms'] },
    ]);
  });

  it('leaves out only the samples a load worker stalled through, when the workers file them', () => {
    const ledger = new HeadroomLedger(headroomThresholds([200]));
    const workerStall: MachineState = { cpuBusy: 0.6, lagMs: { 'load-worker': 120 }, coreBusy: {} };
    const cpuFull: MachineState = { cpuBusy: 0.99, lagMs: { 'load-worker': 120 }, coreBusy: {} };
    const intervals = [
      // 10 samples, 2 of them through the worker's stall: the 8 others count, and the next second's.
      { state: workerStall, all: batch(10, 30), clear: batch(8, 20) },
      { state: QUIET, all: batch(5, 20), clear: batch(5, 20) },
      // The whole machine out of headroom: none of the interval's, nor of the next.
      { state: cpuFull, all: batch(10, 30), clear: batch(8, 20) },
      { state: QUIET, all: batch(5, 20), clear: batch(5, 20) },
      { state: QUIET, all: batch(5, 20), clear: batch(5, 20) },
    ];
    const counted = intervals.map(({ state, all, clear }, i) =>
      ledger.add({ fromSimMs: i * 1_000, toSimMs: (i + 1) * 1_000, state }, all, clear),
    );
    expect(counted).toEqual([true, true, false, false, true]);
    const record = ledger.record();
    expect(record.latencyWithHeadroom.all?.count).toBe(8 + 5 + 5);
    // The 30 ms samples were the stalled ones.
    expect(record.latencyWithHeadroom.all?.maxMs).toBeLessThan(25);
    // The machine's own record still shows the stall.
    expect(record.intervals).toEqual({ total: 5, withHeadroom: 3 });
    expect(record.saturated).toEqual([
      { fromMs: 0, toMs: 3_000, worst: cpuFull, reasons: ['CPU 99 %', 'load-worker lag 120 ms'] },
    ]);
    expect(ledger.countedShare).toBeUndefined(); // 35 requests: too few to tell
  });

  it('without the workers’ filing, a load worker’s lag takes its interval and the next', () => {
    const ledger = new HeadroomLedger(headroomThresholds([200]));
    const workerStall: MachineState = { cpuBusy: 0.6, lagMs: { 'load-worker': 120 }, coreBusy: {} };
    const counted = [workerStall, QUIET, QUIET].map((state, i) =>
      ledger.add({ fromSimMs: i * 1_000, toSimMs: (i + 1) * 1_000, state }, batch(10, 20)),
    );
    expect(counted).toEqual([false, false, true]);
  });

  it('a runner stall takes only the joins and connects (its path), and the next interval’s', () => {
    const ledger = new HeadroomLedger(headroomThresholds([200]));
    const runnerStall: MachineState = {
      cpuBusy: 0.6,
      lagMs: { runner: 120, 'load-worker': 5 },
      coreBusy: {},
    };
    const mixed = () => {
      const recorder = new LatencyRecorder();
      for (let i = 0; i < 10; i++) recorder.record('POST /api/events/:eventId/queue', 40);
      for (let i = 0; i < 4; i++) recorder.record('socket.connect', 40);
      for (let i = 0; i < 6; i++) recorder.record('POST /api/reservations', 20);
      for (let i = 0; i < 30; i++) recorder.record('socket.delivery', 5);
      const out = new LatencyAggregate();
      out.add(recorder.drain());
      return out;
    };
    const counted = [QUIET, runnerStall, QUIET, QUIET, SATURATED, QUIET].map((state, i) =>
      ledger.add({ fromSimMs: i * 1_000, toSimMs: (i + 1) * 1_000, state }, mixed()),
    );
    // Whole intervals: the quiet ones away from any saturation.
    expect(counted).toEqual([true, false, false, true, false, false]);
    const { latencyWithHeadroom, saturated } = ledger.record();
    // Joins and connects: intervals 0 and 3 only. The rest: also the stall's and the one after it,
    // but neither the CPU's saturation nor the interval after it.
    expect(latencyWithHeadroom['POST /api/events/:eventId/queue']?.count).toBe(2 * 10);
    expect(latencyWithHeadroom['socket.connect']?.count).toBe(2 * 4);
    expect(latencyWithHeadroom['POST /api/reservations']?.count).toBe(4 * 6);
    expect(latencyWithHeadroom['socket.delivery']?.count).toBe(4 * 30);
    expect(latencyWithHeadroom.all?.count).toBe(2 * 10 + 4 * 6);
    // The machine's record still shows the stall.
    expect(saturated.map((s) => s.reasons)).toEqual([
      ['runner lag 120 ms'],
      ['CPU 100 %', 'load-worker lag 580 ms'],
    ]);
  });

  it('with the workers’ filing, a runner stall takes only the joins and connects it held up', () => {
    const ledger = new HeadroomLedger(headroomThresholds([200]));
    const runnerStall: MachineState = {
      cpuBusy: 0.6,
      lagMs: { runner: 120, 'load-worker': 5 },
      coreBusy: {},
    };
    // The workers file what the runner held up over the limit (a user handed over 90 ms late, a
    // WebSocket relayed 70 ms late) apart, as they do what their own stall delayed.
    const recorder = new LatencyRecorder({ stallMs: 50, stalledWithin: () => false });
    for (let i = 0; i < 8; i++) recorder.record('POST /api/events/:eventId/queue', 30);
    for (let i = 0; i < 2; i++) recorder.record('POST /api/events/:eventId/queue', 130, 90);
    for (let i = 0; i < 3; i++) recorder.record('socket.connect', 20, 4);
    recorder.record('socket.connect', 95, 70);
    const clear = LatencyAggregate.fromSnapshot(recorder.drain());
    const all = LatencyAggregate.fromSnapshot(recorder.drainThroughStall());
    all.addAggregate(clear);
    const counted = [
      ledger.add({ fromSimMs: 0, toSimMs: 1_000, state: runnerStall }, all, clear),
      ledger.add({ fromSimMs: 1_000, toSimMs: 2_000, state: QUIET }, batch(5, 20), batch(5, 20)),
    ];
    expect(counted).toEqual([true, true]);
    const { latencyWithHeadroom, saturated } = ledger.record();
    expect(latencyWithHeadroom['POST /api/events/:eventId/queue']?.count).toBe(8 + 5);
    expect(latencyWithHeadroom['POST /api/events/:eventId/queue']?.maxMs).toBeLessThan(31);
    expect(latencyWithHeadroom['socket.connect']?.count).toBe(3);
    // The machine's record still shows the stall.
    expect(saturated.map((s) => s.reasons)).toEqual([['runner lag 120 ms']]);
  });

  it('tells the share of the run’s requests taken with headroom, once enough requests tell', () => {
    const ledger = new HeadroomLedger(headroomThresholds([200]));
    ledger.add({ fromSimMs: 0, toSimMs: 1_000, state: QUIET }, batch(300, 20));
    expect(ledger.countedShare).toBeUndefined();
    ledger.add({ fromSimMs: 1_000, toSimMs: 2_000, state: SATURATED }, batch(100, 20));
    ledger.add({ fromSimMs: 2_000, toSimMs: 3_000, state: QUIET }, batch(100, 20));
    ledger.add({ fromSimMs: 3_000, toSimMs: 4_000, state: QUIET }, batch(300, 20));
    // 600 of 800: the saturated interval and the one after it do not count.
    expect(ledger.countedShare).toBeCloseTo(0.75, 6);
  });

  it('tells the lower of the requests’ and the deliveries’ shares: either verdict may run short', () => {
    const ledger = new HeadroomLedger(headroomThresholds([200]));
    const deliveries = (count: number) => {
      const recorder = new LatencyRecorder();
      for (let i = 0; i < count; i++) recorder.record('socket.delivery', 5);
      const out = new LatencyAggregate();
      out.add(recorder.drain());
      return out;
    };
    const both = (requests: number, delivered: number) => {
      const out = batch(requests, 20);
      out.addAggregate(deliveries(delivered));
      return out;
    };
    // The saturated seconds carried few requests but most deliveries (a position update's).
    ledger.add({ fromSimMs: 0, toSimMs: 1_000, state: QUIET }, both(900, 200));
    expect(ledger.countedShare).toBeCloseTo(1, 6); // 200 deliveries: too few to tell yet
    ledger.add({ fromSimMs: 1_000, toSimMs: 2_000, state: SATURATED }, both(50, 600));
    ledger.add({ fromSimMs: 2_000, toSimMs: 3_000, state: QUIET }, both(50, 200));
    // Requests 900 of 1,000; deliveries 200 of 1,000.
    expect(ledger.countedShare).toBeCloseTo(0.2, 6);
  });

  it('keeps separate episodes apart, and joins one across a single quiet interval', () => {
    const ledger = new HeadroomLedger(headroomThresholds([200]));
    const states = [SATURATED, QUIET, SATURATED, QUIET, QUIET, QUIET, SATURATED];
    for (const [i, state] of states.entries())
      ledger.add({ fromSimMs: i * 1_000, toSimMs: (i + 1) * 1_000, state }, batch(1, 10));
    expect(ledger.record().saturated.map((s) => [s.fromMs, s.toMs])).toEqual([
      [0, 3_000],
      [6_000, 7_000],
    ]);
  });

  it('sums a minute up for the series: its headroom share and the worst of each signal', () => {
    const ledger = new HeadroomLedger(headroomThresholds([200]));
    ledger.add({ fromSimMs: 0, toSimMs: 1_000, state: QUIET }, batch(1, 10));
    ledger.add({ fromSimMs: 1_000, toSimMs: 2_000, state: SATURATED }, batch(1, 10));
    expect(ledger.takeMinute()).toEqual({
      headroomShare: 0.5,
      worst: { cpuBusy: 1, lagMs: { 'load-worker': 580 }, coreBusy: { app: 0.5 } },
      saturatedBy: ['CPU 100 %', 'load-worker lag 580 ms'],
    });
    expect(ledger.takeMinute()).toBeUndefined();
  });
});

describe('cpuCost', () => {
  it('splits the run’s CPU by role and prices a join from the CPU spent until sales opened', () => {
    const cost = cpuCost(
      { runner: 1_000 },
      { cpuMs: { runner: 1_400, app: 6_000, 'alb-worker': 2_000, 'load-worker': 3_600 }, joined: 1_000 },
      { runner: 3_000, app: 20_000, 'alb-worker': 5_000, 'load-worker': 9_000 },
    );
    expect(cost.byRoleMs).toEqual({ runner: 2_000, app: 20_000, 'alb-worker': 5_000, 'load-worker': 9_000 });
    // 400 + 6,000 + 2,000 + 3,600 ms over 1,000 joins.
    expect(cost.perJoinUntilSalesOpenMs).toBe(12);
    expect(cost.perJoinUntilSalesOpenByRoleMs).toEqual({
      runner: 0.4,
      app: 6,
      'alb-worker': 2,
      'load-worker': 3.6,
    });
    expect(cpuCost({}, undefined, { app: 5 }).perJoinUntilSalesOpenMs).toBeUndefined();
  });
});
