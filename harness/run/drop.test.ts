import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/clock.ts';
import type { Fault } from '../scenario/schema.ts';
import { readyUsers, type UserSupply } from '../worlds/world.ts';
import { ArrivalFeeder } from './arrival-feeder.ts';
import { aggregateOf, FakeLoad, FakeWorld, fakeMeasure, fakeUsers } from './drop-fakes.ts';
import { type DropDuty, DropDutyError, runDropLoop } from './drop-loop.ts';
import { FaultScheduler } from './fault-scheduler.ts';
import { ClockPacer, type PacerDecision, type PacerInput } from './pacer.ts';
import { PacerDuty, type PacerDutyOptions } from './pacer-duty.ts';
import { SalesOpener } from './sales-opener.ts';
import { type Progress, Sampler, type SamplerOptions } from './sampler.ts';

const MINUTE = 60_000;
const T0 = Date.parse('2025-11-26T20:00:00Z');

describe('SalesOpener', () => {
  it('opens sales at their time, and retries each tick while the world cannot', async () => {
    const clock = new ManualClock(T0);
    const world = new FakeWorld(clock);
    world.openSalesAnswers.push(false, false);
    const opener = new SalesOpener({ world, salesOpenSimMs: T0 + MINUTE });
    for (let i = 0; i < 6; i++) {
      await opener.tick(clock.now());
      clock.advance(20_000);
    }
    // Due at +60 s: refused at +60 s and +80 s, opened at +100 s, never asked again.
    expect(world.openSalesCalls).toEqual([T0 + 60_000, T0 + 80_000, T0 + 100_000]);
    expect(opener.isOpen).toBe(true);
  });
});

describe('FaultScheduler', () => {
  const fault = (at: string, f: Fault['fault'] = 'redis-failover') => ({ at, fault: f }) as Fault;

  it('starts each fault once at its time, in time order, and counts it in progress until its timeline settles', async () => {
    const clock = new ManualClock(T0);
    const world = new FakeWorld(clock);
    const lines: string[] = [];
    const faults = new FaultScheduler({
      world,
      faults: [
        { atSimMs: T0 + 2 * MINUTE, action: fault('20:02', 'db-failover') },
        { atSimMs: T0 + MINUTE, action: fault('20:01') },
      ],
      log: (l) => lines.push(l),
    });
    await faults.tick(clock.now());
    expect(world.faults).toEqual([]);
    clock.advance(MINUTE);
    await faults.tick(clock.now());
    await faults.tick(clock.now());
    expect(world.faults.map((f) => [f.action.fault, f.fault.record.atMs])).toEqual([
      ['redis-failover', T0 + MINUTE],
    ]);
    expect(faults.inProgress).toBe(true);
    world.faults[0]!.fault.complete();
    await Promise.resolve();
    expect(faults.inProgress).toBe(false);
    clock.advance(MINUTE);
    await faults.tick(clock.now());
    expect(world.faults.map((f) => f.action.fault)).toEqual(['redis-failover', 'db-failover']);
    expect(lines).toEqual([
      '[fault] 20:01:00 redis-failover: redis-failover injected',
      '[fault] 20:02:00 db-failover: db-failover injected',
    ]);
    await faults.stopAll();
    expect(world.faults.every((f) => f.fault.stopped)).toBe(true);
  });

  it('holds the clock to 10× while a fault approaches or one recovering on wall time is in progress', async () => {
    const clock = new ManualClock(T0);
    const world = new FakeWorld(clock);
    const faults = new FaultScheduler({
      world,
      faults: [
        { atSimMs: T0 + 10 * MINUTE, action: fault('20:10', 'kill-instance') },
        { atSimMs: T0 + 20 * MINUTE, action: fault('20:20', 'redis-failover') },
      ],
      log: () => undefined,
    });
    // 10 simulated minutes ahead: two decisions away at 300×, not at 240×. The clock glides
    // towards it, keeping it two decisions ahead, down to 10× for the last 20 simulated s.
    expect(faults.speedLimit(clock.now(), 240)).toBeUndefined();
    expect(faults.speedLimit(clock.now(), 300)).toBe(300);
    clock.advance(5 * MINUTE);
    expect(faults.speedLimit(clock.now(), 300)).toBe(150);
    clock.advance(4 * MINUTE + 50_000);
    expect(faults.speedLimit(clock.now(), 150)).toBe(10);
    clock.advance(10_000);
    await faults.tick(clock.now());
    // A killed instance recovers on the simulated clock alone: no limit while it runs.
    expect(faults.inProgress).toBe(true);
    expect(faults.speedLimit(clock.now(), 30)).toBeUndefined();
    clock.advance(10 * MINUTE);
    await faults.tick(clock.now());
    expect(faults.speedLimit(clock.now(), 30)).toBe(10);
    // Once the data tier is back the rest (a replacement booting) runs at the drop's speed.
    world.faults[1]!.fault.dataTierRecovered();
    await Promise.resolve();
    expect(faults.speedLimit(clock.now(), 30)).toBeUndefined();
    expect(faults.inProgress).toBe(true);
    world.faults[1]!.fault.complete();
    world.faults[0]!.fault.complete();
    await Promise.resolve();
    expect(faults.inProgress).toBe(false);
  });

  it('a fault the world cannot inject is logged and still reported, with the reason', async () => {
    const clock = new ManualClock(T0 + MINUTE);
    const world = new FakeWorld(clock);
    world.failing.add('kill-az');
    const lines: string[] = [];
    const faults = new FaultScheduler({
      world,
      faults: [{ atSimMs: T0 + MINUTE, action: { at: '20:01', fault: 'kill-az', az: 'a' } }],
      log: (l) => lines.push(l),
    });
    await faults.tick(clock.now());
    expect(faults.injected.map((f) => f.record)).toEqual([
      { fault: 'kill-az', detail: 'not injected: no way to kill-az here', atMs: T0 + MINUTE, timeline: [] },
    ]);
    expect(faults.inProgress).toBe(false);
    expect(lines).toEqual(['[fault] kill-az at 20:01 could not run: no way to kill-az here']);
  });
});

describe('ArrivalFeeder', () => {
  it('sends each user once its arrival time has come, never more than the world has ready', () => {
    const clock = new ManualClock(T0);
    const load = new FakeLoad(clock);
    const all = fakeUsers(5);
    const supply: UserSupply & { ready: number } = { ready: 3, take: (from, to) => all.slice(from, to) };
    const feeder = new ArrivalFeeder({
      arrivalsSimMs: [T0, T0 + 1_000, T0 + 1_000, T0 + 5_000, T0 + 5_000],
      users: supply,
      load,
    });
    feeder.tick(clock.now());
    clock.advance(1_000);
    feeder.tick(clock.now());
    clock.advance(10_000);
    feeder.tick(clock.now());
    expect(feeder.sent).toBe(3);
    clock.advance(1_000);
    supply.ready = 5;
    feeder.tick(clock.now());
    feeder.tick(clock.now());
    expect(load.arrived).toEqual([
      { userIds: ['user-0'], atSimMs: T0 },
      { userIds: ['user-1', 'user-2'], atSimMs: T0 + 1_000 },
      { userIds: ['user-3', 'user-4'], atSimMs: T0 + 12_000 },
    ]);
    expect(feeder.sent).toBe(5);
  });

  it('sends users in waves: each is due at the first multiple of the wave at or after its own wall time', () => {
    const all = fakeUsers(5);
    const dueAtWallMs: (number | undefined)[] = [];
    const feeder = (waveWallMs: number) =>
      new ArrivalFeeder({
        arrivalsSimMs: [T0 + 1, T0 + 39, T0 + 40, T0 + 41, T0 + 120],
        users: { ready: 5, take: (from, to) => all.slice(from, to) },
        load: { arrive: (users) => dueAtWallMs.push(...users.map((u) => u.dueAtWallMs)) },
        aheadSimMs: () => 1_000,
        // The clock at 1× from wall 10,000 ms: a user's own wall time is 10,000 + its offset.
        toWallMs: (simMs) => 10_000 + simMs - T0,
        waveWallMs,
      });
    feeder(40).tick(T0);
    expect(dueAtWallMs).toEqual([10_040, 10_040, 10_040, 10_080, 10_120]);
    dueAtWallMs.length = 0;
    feeder(0).tick(T0);
    expect(dueAtWallMs).toEqual([10_001, 10_039, 10_040, 10_041, 10_120]);
  });
});

describe('PacerDuty', () => {
  function setUp(
    decisions: PacerDecision[],
    busy = { faultsInProgress: true, queueSize: 7, activityInFlight: false },
    extra: Partial<PacerDutyOptions> = {},
  ) {
    const wall = new ManualClock(0);
    const clock = new ManualClock(T0);
    const world = new FakeWorld(clock);
    const load = new FakeLoad(clock);
    const inputs: PacerInput[] = [];
    const duty = new PacerDuty({
      pacer: {
        next: (input) => {
          inputs.push(input);
          return decisions.shift() ?? { scale: 60, limitedBy: 'requested', joinsPerSecond: 150 };
        },
      },
      requestedScale: 60,
      world,
      load,
      clockAnchor: () => world.anchor(wall.now()),
      sent: () => 42,
      faultsInProgress: () => busy.faultsInProgress,
      queueSize: () => busy.queueSize,
      measure: fakeMeasure(load, 0.5),
      activityInFlight: () => busy.activityInFlight,
      wallNow: () => wall.now(),
      ...extra,
    });
    return { wall, clock, world, load, inputs, duty };
  }

  it('asks the faults’ limit at the fastest speed it may choose: the idle speed comes in one step', async () => {
    const asked: number[] = [];
    const { clock, inputs, duty } = setUp([], undefined, {
      fastestScale: 960,
      faultSpeedLimit: (_now, scale) => {
        asked.push(scale);
        return 45;
      },
    });
    await duty.tick(clock.now());
    expect(asked).toEqual([960]);
    expect(inputs[0]!.faultSpeedLimit).toBe(45);
  });

  it('at the idle speed, decides again at the first tick something is due, not a second later', async () => {
    const busy = { faultsInProgress: false, queueSize: 0, activityInFlight: false };
    const { wall, clock, inputs, duty } = setUp(
      [
        { scale: 960, limitedBy: 'idle', joinsPerSecond: 150 },
        { scale: 60, limitedBy: 'requested', joinsPerSecond: 150 },
      ],
      busy,
    );
    await duty.tick(clock.now());
    wall.advance(50);
    await duty.tick(clock.now());
    expect(inputs).toHaveLength(1);
    // A scale-in begins: an instance is draining.
    busy.activityInFlight = true;
    wall.advance(50);
    await duty.tick(clock.now());
    expect(inputs.map((i) => i.wallMs)).toEqual([0, 100]);
    expect(duty.scale).toBe(60);
    // Not idle any more: back to a decision a second.
    wall.advance(50);
    await duty.tick(clock.now());
    expect(inputs).toHaveLength(2);
  });

  it('decides again at the first tick a scaling activity it saw is over, not a second later', async () => {
    const busy = { faultsInProgress: false, queueSize: 0, activityInFlight: true };
    const { wall, clock, inputs, duty } = setUp(
      [
        { scale: 60, limitedBy: 'requested', joinsPerSecond: 150 },
        { scale: 960, limitedBy: 'idle', joinsPerSecond: 150 },
      ],
      busy,
    );
    await duty.tick(clock.now());
    wall.advance(50);
    await duty.tick(clock.now());
    expect(inputs).toHaveLength(1);
    // The instance has terminated.
    busy.activityInFlight = false;
    wall.advance(50);
    await duty.tick(clock.now());
    expect(inputs.map((i) => [i.wallMs, i.activityInFlight])).toEqual([
      [0, true],
      [100, false],
    ]);
    expect(duty.scale).toBe(960);
    // Nothing in flight at that decision: back to a decision a second.
    wall.advance(50);
    await duty.tick(clock.now());
    expect(inputs).toHaveLength(2);
  });

  it("gives the pacer the run's share of the CPU left to it, not the machine's: a neighbour's load is not the run's", async () => {
    const { wall, clock, load, inputs, duty } = setUp([], undefined, {
      measure: () => ({
        state: { cpuBusy: 0.85, runCpuBusy: 0.6, lagMs: {}, coreBusy: {} },
        feedback: load.takeFeedback(),
        saturation: [],
      }),
    });
    await duty.tick(clock.now());
    wall.advance(1_000);
    await duty.tick(clock.now());
    expect(inputs[1]!.cpuBusy).toBe(0.6);
  });

  it("steers by the samples the verdicts can count: a tail the emulator's stalls held up is not the clock's", async () => {
    const { wall, clock, load, inputs, duty } = setUp([], undefined, {
      measure: () => ({
        state: { cpuBusy: 0.6, lagMs: {}, coreBusy: {} },
        feedback: load.takeFeedback(),
        steering: aggregateOf(Array.from({ length: 20 }, () => 20)),
        saturation: [],
      }),
    });
    load.feedbackLatencyMs = [...Array.from({ length: 20 }, () => 20), 400, 400];
    await duty.tick(clock.now());
    wall.advance(1_000);
    await duty.tick(clock.now());
    expect(inputs[1]!.p95Ms).toBeCloseTo(20, 0);
  });

  it('asks the pacer once a wall second, with what the load and the world show', async () => {
    const { wall, clock, load, inputs, duty } = setUp([]);
    load.current.settled = 40;
    load.current.unsettled = 2;
    load.feedbackLatencyMs = [10, 20, 400];
    for (let i = 0; i < 8; i++) {
      await duty.tick(clock.now());
      if (i === 3) load.feedbackLatencyMs = [10, 20, 400];
      wall.advance(400);
      clock.advance(400 * 60);
    }
    // Wall 0, 400, … 2800: a decision at the first tick (before a second at the requested speed
    // can send a burst), then one a wall second later, at 1200 ms, and at 2400 ms.
    expect(inputs.map((i) => i.wallMs)).toEqual([0, 1_200, 2_400]);
    expect(inputs[1]).toMatchObject({
      wallMs: 1_200,
      simMs: T0 + 1_200 * 60,
      sent: 42,
      settled: 40,
      backlog: 2,
      cpuBusy: 0.5,
      faultsInProgress: true,
      queueSize: 7,
    });
    // The first decision reads nothing of the machine or the latency: that interval was the
    // set-up's (processes starting), not the rehearsal's.
    expect(inputs[0]).toMatchObject({
      p95Ms: undefined,
      cpuBusy: undefined,
      saturation: [],
      stallAlone: false,
    });
    // Each decision sees the latency since the one before: the set-up's samples are gone.
    expect(inputs[1]!.p95Ms).toBeUndefined();
    expect(inputs[2]!.p95Ms).toBeGreaterThan(300);
  });

  it('tells the world and the load about a new speed, and ignores changes under 2 %', async () => {
    const { wall, clock, world, load, duty } = setUp([
      { scale: 30, limitedBy: 'latency', joinsPerSecond: 150 },
      { scale: 30.3, limitedBy: 'latency', joinsPerSecond: 150 },
      { scale: 45, limitedBy: 'arrivals', joinsPerSecond: 150 },
    ]);
    const seen: [number, string][] = [];
    for (let i = 0; i < 3; i++) {
      wall.advance(1_000);
      await duty.tick(clock.now());
      seen.push([duty.scale, duty.limitedBy]);
    }
    expect(seen).toEqual([
      [30, 'latency'],
      [30, 'latency'],
      [45, 'arrivals'],
    ]);
    expect(world.timeScales).toEqual([30, 45]);
    expect(load.timeScales).toEqual([30, 45]);
  });
});

describe('Sampler', () => {
  /** A sampler of three simulated minutes from T0 (sales open at the second), at 60×. */
  function samplerOf(world: FakeWorld, load: FakeLoad, over: Partial<SamplerOptions> = {}): Sampler {
    return new Sampler({
      world,
      load,
      startSimMs: T0,
      endSimMs: T0 + 3 * MINUTE,
      salesOpenSimMs: T0 + 2 * MINUTE,
      users: 10,
      speed: { scale: 60, limitedBy: 'backlog' },
      wallNow: () => 4_500,
      wallStartMs: 1_000,
      progress: () => undefined,
      ...over,
    });
  }

  it('estimates the queue between samples from the joins and admissions the load saw', async () => {
    const clock = new ManualClock(T0);
    const world = new FakeWorld(clock);
    const load = new FakeLoad(clock);
    const sampler = samplerOf(world, load);
    expect(sampler.queueEstimate(load.totals())).toBeUndefined();
    load.current.joined = 200;
    world.queueSize = 200;
    clock.advance(MINUTE);
    await sampler.tick(clock.now());
    // 50 more joined and 120 were admitted since the sample: 130 wait, not the sample's 200.
    expect(sampler.queueEstimate({ joined: 250, admitted: 120 })).toBe(130);
    // More admissions heard of than users known to wait: none wait, never fewer.
    expect(sampler.queueEstimate({ joined: 200, admitted: 260 })).toBe(0);
  });

  it('samples every simulated minute up to the end, with the load of that minute', async () => {
    const clock = new ManualClock(T0);
    const world = new FakeWorld(clock);
    const load = new FakeLoad(clock);
    load.current.requests = 100; // before the drop: not the first minute's
    const progress: Progress[] = [];
    const sampler = samplerOf(world, load, { progress: (p) => progress.push(p) });
    load.current.requests = 130;
    load.current.joined = 4;
    load.intervalLatencyMs = [50];
    load.intervalConnectMs = [30, 300];
    load.intervalDeliveryMs = [20, 40, 900];
    world.queueSize = 3;
    clock.advance(MINUTE - 1);
    await sampler.tick(clock.now());
    expect(sampler.samples).toHaveLength(0);
    clock.advance(1);
    await sampler.tick(clock.now());
    load.current.requests = 150;
    // A stall: two minutes pass between ticks, both are sampled, the one past the end is not.
    clock.advance(5 * MINUTE);
    await sampler.tick(clock.now());
    expect(sampler.samples.map((s) => [s.atMs - T0, s.requests, s.queueSize])).toEqual([
      [MINUTE, 30, 3],
      [2 * MINUTE, 20, 3],
      [3 * MINUTE, 0, 3],
    ]);
    expect(sampler.samples[0]).toMatchObject({ wallSeconds: 3.5, timeScale: 60, clockLimitedBy: 'backlog' });
    expect(sampler.samples[0]!.apiP95Ms).toBeCloseTo(50, 0);
    const { socketConnectP95Ms, socketConnectP99Ms, socketDeliveryP95Ms, socketDeliveryP99Ms } =
      sampler.samples[0]!;
    expect([socketConnectP95Ms, socketConnectP99Ms, socketDeliveryP95Ms, socketDeliveryP99Ms]).toEqual([
      expect.closeTo(300, -1),
      expect.closeTo(300, -1),
      expect.closeTo(900, -1),
      expect.closeTo(900, -1),
    ]);
    expect(sampler.samples[1]!.socketConnectP95Ms).toBeUndefined();
    expect(sampler.lastQueueSize).toBe(3);
    expect(progress.map((p) => [p.simulated, p.phase, p.joined])).toEqual([
      ['20:01', 'filling the waiting room', 4],
      ['20:02', 'admitting', 4],
      ['20:03', 'admitting', 4],
    ]);
  });
});

describe('the drop loop', () => {
  it('runs each duty every tick, in order, until the end of the scenario', async () => {
    const clock = new ManualClock(T0);
    const ticks: string[] = [];
    const duty = (name: string): DropDuty => ({
      name,
      tick: (now) => void ticks.push(`${name}@${now - T0}`),
    });
    await runDropLoop({
      clock,
      endSimMs: T0 + 2_000,
      duties: [duty('a'), duty('b')],
      signal: new AbortController().signal,
      idle: async () => clock.advance(1_000),
    });
    expect(ticks).toEqual(['a@0', 'b@0', 'a@1000', 'b@1000']);
  });

  it('stops when aborted, and names the duty that failed', async () => {
    const clock = new ManualClock(T0);
    const controller = new AbortController();
    let ticks = 0;
    await runDropLoop({
      clock,
      endSimMs: T0 + 60_000,
      duties: [{ name: 'counter', tick: () => void ticks++ }],
      signal: controller.signal,
      idle: async () => {
        clock.advance(1_000);
        if (ticks === 3) controller.abort();
      },
    });
    expect(ticks).toBe(3);
    const failing = runDropLoop({
      clock,
      endSimMs: T0 + 60_000,
      duties: [{ name: 'sampler', tick: () => Promise.reject(new Error('world unreachable')) }],
      signal: new AbortController().signal,
      idle: async () => {},
    });
    await expect(failing).rejects.toThrow(DropDutyError);
    await expect(failing).rejects.toThrow('sampler: world unreachable');
  });

  it('drives a whole drop: sales, a fault, every arrival on time, the pacer slowing the clock, a sample a minute', async () => {
    const wall = new ManualClock(0);
    const clock = new ManualClock(T0);
    const world = new FakeWorld(clock);
    const load = new FakeLoad(clock);
    const arrivalsSimMs = Array.from({ length: 600 }, (_, i) => T0 + i * 500); // 5 simulated minutes
    const endSimMs = T0 + 6 * MINUTE;
    const faults = new FaultScheduler({
      world,
      faults: [{ atSimMs: T0 + 3 * MINUTE, action: { at: '20:03', fault: 'redis-failover' } }],
      log: () => {},
    });
    const arrivals = new ArrivalFeeder({ arrivalsSimMs, users: readyUsers(fakeUsers(600)), load });
    const pacer: PacerDuty = new PacerDuty({
      // The real pacer, told this machine answers 2 joins a wall second: 120× is too fast for it.
      pacer: new ClockPacer({ requestedScale: 120, minScale: 1, arrivalsSimMs, initialJoinsPerSecond: 2 }),
      requestedScale: 120,
      world,
      load,
      clockAnchor: () => world.anchor(wall.now()),
      sent: () => arrivals.sent,
      faultsInProgress: () => faults.inProgress,
      queueSize: () => sampler.lastQueueSize,
      measure: fakeMeasure(load, 0.2),
      activityInFlight: () => false,
      wallNow: () => wall.now(),
    });
    const sampler = new Sampler({
      world,
      load,
      startSimMs: T0,
      endSimMs,
      salesOpenSimMs: T0 + 4 * MINUTE,
      users: 600,
      speed: pacer,
      wallNow: () => wall.now(),
      wallStartMs: 0,
      progress: () => {},
    });
    const opener = new SalesOpener({ world, salesOpenSimMs: T0 + 4 * MINUTE });
    const tickWallMs = 50;
    await runDropLoop({
      clock,
      endSimMs,
      duties: [opener, faults, arrivals, pacer, sampler],
      signal: new AbortController().signal,
      // The world's clock follows the pacer's speed, as the local world's does.
      idle: async () => {
        wall.advance(tickWallMs);
        clock.advance(tickWallMs * pacer.scale);
        load.current.settled = arrivals.sent;
      },
    });
    expect(clock.now()).toBeGreaterThanOrEqual(endSimMs);
    expect(world.openSalesCalls).toHaveLength(1);
    expect(world.openSalesCalls[0]! - (T0 + 4 * MINUTE)).toBeLessThan(tickWallMs * 120);
    expect(world.faults.map((f) => f.fault.record.atMs - T0 - 3 * MINUTE)).toEqual([
      expect.any(Number) as number,
    ]);
    expect(world.faults[0]!.fault.record.atMs - T0 - 3 * MINUTE).toBeLessThan(tickWallMs * 120);
    // Every user arrived, in order, none early and none later than one tick.
    const sentAt = load.arrived.flatMap((a) => a.userIds.map((id) => ({ id, atSimMs: a.atSimMs })));
    expect(sentAt.map((s) => s.id)).toEqual(fakeUsers(600).map((u) => u.userId));
    sentAt.forEach((s, i) => {
      expect(s.atSimMs).toBeGreaterThanOrEqual(arrivalsSimMs[i]!);
      expect(s.atSimMs - arrivalsSimMs[i]!).toBeLessThanOrEqual(tickWallMs * 120);
    });
    // The machine answers 2 joins a second against 2 arrivals a simulated second: the pacer slows.
    expect(world.timeScales.length).toBeGreaterThan(0);
    expect(Math.min(...world.timeScales)).toBeLessThan(120);
    expect(load.timeScales).toEqual(world.timeScales);
    // The loop ends as the clock reaches the end: the end minute is sampled only when the clock
    // crosses it within a tick (as before the drop became duties).
    expect(sampler.samples.map((s) => (s.atMs - T0) / MINUTE)).toEqual([1, 2, 3, 4, 5]);
    expect(sampler.samples.some((s) => s.timeScale !== undefined && s.timeScale < 120)).toBe(true);
  });
});
