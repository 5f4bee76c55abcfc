import { describe, expect, it } from 'vitest';
import {
  headroomThresholds,
  LagMonitor,
  MachineStateMeter,
  ProcessBusyMeter,
  type ProcessSource,
  procSource,
  roleOf,
  saturation,
  stallAlone,
} from './machine-state.ts';

/** Holds this process's event loop for `ms`, as a stall does. */
const hold = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until) Math.sqrt(Math.random());
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('headroomThresholds', () => {
  it('derives the lag limit from the lowest latency threshold, between 50 and 250 ms', () => {
    expect(headroomThresholds([200, 100]).maxEventLoopLagMs).toBe(50);
    expect(headroomThresholds([300]).maxEventLoopLagMs).toBe(150);
    expect(headroomThresholds([2_000]).maxEventLoopLagMs).toBe(250);
    expect(headroomThresholds([]).maxEventLoopLagMs).toBe(250);
  });

  it("takes the scenario's own values over the defaults", () => {
    expect(headroomThresholds([200], { maxCpuBusy: 0.99, minHeadroomShare: 0.5 })).toEqual({
      maxCpuBusy: 0.99,
      maxEventLoopLagMs: 100,
      maxProcessCoreBusy: 0.9,
      minHeadroomShare: 0.5,
    });
  });
});

describe('saturation', () => {
  const limits = headroomThresholds([200]);

  it('names every signal over its threshold, with its value', () => {
    expect(
      saturation(
        { cpuBusy: 1, lagMs: { runner: 3, 'load-worker': 580 }, coreBusy: { app: 0.97, redis: 0.2 } },
        limits,
      ),
    ).toEqual(['CPU 100 %', 'load-worker lag 580 ms', 'app 97 % of a core']);
  });

  it('is empty when the machine has headroom', () => {
    expect(
      saturation({ cpuBusy: 0.7, lagMs: { 'load-worker': 40 }, coreBusy: { app: 0.6 } }, limits),
    ).toEqual([]);
  });

  it('says when the hypervisor took part of the cores, beside what saturated; alone it saturates nothing', () => {
    const stalled = { cpuBusy: 0.3, cpuStolen: 0.42, lagMs: { runner: 463 }, coreBusy: {} };
    expect(saturation(stalled, limits)).toEqual(['runner lag 463 ms', 'hypervisor took 42 % of the CPU']);
    expect(stallAlone(stalled, limits)).toBe(true);
    expect(saturation({ ...stalled, lagMs: { runner: 5 } }, limits)).toEqual([]);
    expect(saturation({ ...stalled, cpuStolen: 0.05 }, limits)).toEqual(['runner lag 463 ms']);
  });
});

describe('stallAlone', () => {
  const limits = headroomThresholds([200]);

  it('is an event-loop lag over its limit with the CPU and every process below theirs', () => {
    const stall = { cpuBusy: 0.6, lagMs: { 'load-worker': 120 }, coreBusy: { app: 0.4 } };
    expect(stallAlone(stall, limits)).toBe(true);
    expect(stallAlone({ ...stall, cpuBusy: 0.97 }, limits)).toBe(false);
    expect(stallAlone({ ...stall, coreBusy: { app: 0.95 } }, limits)).toBe(false);
    expect(stallAlone({ ...stall, lagMs: { 'load-worker': 40 } }, limits)).toBe(false);
  });
});

describe('LagMonitor', () => {
  it("shows a blocked event loop in the interval's lag, then starts afresh", async () => {
    const lag = new LagMonitor();
    await new Promise((r) => setTimeout(r, 50));
    lag.takeMaxMs();
    const until = Date.now() + 300;
    while (Date.now() < until) Math.sqrt(Math.random());
    await new Promise((r) => setTimeout(r, 50));
    // The loop was held 300 ms: the monitor's timer fired at least that late (noise only adds).
    expect(lag.takeMaxMs()).toBeGreaterThanOrEqual(250);
    expect(lag.maxEverMs).toBeGreaterThanOrEqual(250);
    lag.stop();
  });
});

describe('LagMonitor.stalledWithin', () => {
  it('tells a sample in flight through a stall over the limit from one after it', async () => {
    const lag = new LagMonitor(10, 150);
    await sleep(30);
    const before = performance.now();
    hold(300);
    // The loop is held now and its timer has not run: a reply handled now went through the stall.
    expect(lag.stalledWithin(performance.now() - before)).toBe(true);
    await sleep(30);
    expect(lag.stalledWithin(performance.now() - before)).toBe(true);
    // Begun after the stall (a sample of 1 ms, ending now): clear of it.
    expect(lag.stalledWithin(1)).toBe(false);
    lag.stop();
  });

  it('counts no stall without a limit, and none under it', async () => {
    const unlimited = new LagMonitor();
    const before = performance.now();
    hold(200);
    await sleep(30);
    expect(unlimited.stalledWithin(performance.now() - before)).toBe(false);
    unlimited.stop();
    // A 1 s limit: a 20 ms hold (and a busy machine's noise) stays under it.
    const lenient = new LagMonitor(10, 1_000);
    await sleep(30);
    const start = performance.now();
    hold(20);
    await sleep(30);
    expect(lenient.stalledWithin(performance.now() - start)).toBe(false);
    lenient.stop();
  });
});

describe('LagMonitor.longestWithin', () => {
  it('tells how long a request that was in the process was held up, and nothing once it is over', async () => {
    const lag = new LagMonitor();
    await sleep(30);
    const arrived = performance.now();
    hold(150);
    // Still held: the stall is going on as the answer goes out.
    expect(lag.longestWithin(performance.now() - arrived)).toBeGreaterThanOrEqual(130);
    await sleep(30);
    // Over, and seen by the timer: a request there since before it still carries it.
    expect(lag.longestWithin(performance.now() - arrived)).toBeGreaterThanOrEqual(130);
    await sleep(60);
    // A request read after it (1 ms ago) was not held up by it (a busy machine's hiccup may be told).
    expect(lag.longestWithin(1)).toBeLessThan(130);
    lag.stop();
  });
});

describe('roleOf', () => {
  it('recognises the processes on a virtual user’s path by their command line', () => {
    expect(roleOf('/usr/bin/node --import tsx /work/harness/load/worker.ts')).toBe('load-worker');
    expect(roleOf('node --import tsx /repo/harness/alb/worker.ts')).toBe('alb-worker');
    expect(roleOf('node --import tsx /repo/app/main.ts')).toBe('app');
    // Run from their bundles (servers/entry-bundle.ts), as the harness starts them.
    const bundles = '/work/main/.tiketi-sim/bundles';
    expect(
      roleOf(`/usr/bin/node --enable-source-maps ${bundles}/harness_load_worker.1796-3cf851/worker.mjs`),
    ).toBe('load-worker');
    expect(roleOf(`node ${bundles}/harness_alb_worker.1796-c5c892/worker.mjs`)).toBe('alb-worker');
    expect(roleOf(`node ${bundles}/harness_instances_app-boot.1796-d53bea/app-boot.mjs`)).toBe('app');
    expect(roleOf(`node --import tsx /repo/harness/instances/app-boot.ts`)).toBe('app');
    expect(
      roleOf(`node ${bundles}/servers_fault-proxy_proxy-process.1796-b816b8/proxy-process.mjs`),
    ).toBeUndefined();
    expect(roleOf('/usr/bin/redis-server 127.0.0.1:6390')).toBe('redis');
    expect(roleOf('postgres: tiketi tiketi 127.0.0.1(5000) idle')).toBe('postgres');
    expect(roleOf('/usr/bin/node vitest')).toBeUndefined();
  });
});

describe('ProcessBusyMeter', () => {
  /** A recorded process table: the runner (1) started an app (2), an ALB worker (3) and vitest (4). */
  function table(cpuNs: Record<number, number>): ProcessSource {
    const lines: Record<number, string> = {
      1: 'node runner',
      2: 'node --import tsx app/main.ts',
      3: 'node --import tsx harness/alb/worker.ts',
      4: 'node vitest',
      5: 'node --import tsx app/main.ts',
    };
    const parents: Record<number, number> = { 2: 1, 3: 1, 4: 1, 5: 99 };
    return {
      pids: () => [1, 2, 3, 4, 5],
      parentOf: (pid) => parents[pid],
      commandLine: (pid) => lines[pid],
      // The main thread's; the whole process took half as much again on its other threads.
      cpuNs: (pid) => cpuNs[pid],
      processCpuNs: (pid) => (cpuNs[pid] === undefined ? undefined : 1.5 * cpuNs[pid]),
    };
  }

  it("reports the busiest main thread of each role under the root, and the CPU of the run's processes", () => {
    const cpu: Record<number, number> = { 1: 0, 2: 0, 3: 0, 4: 0, 5: 0 };
    const meter = new ProcessBusyMeter(1, table(cpu));
    expect(meter.sample(0)).toEqual({ coreBusy: {} });
    cpu[1] = 100e6; // the runner itself
    cpu[2] = 950e6; // 950 ms of CPU in 1 s
    cpu[3] = 200e6;
    cpu[4] = 1_000e6; // not on the path, but the run's
    cpu[5] = 1_000e6; // another tree's app
    expect(meter.sample(1_000)).toEqual({
      coreBusy: { app: 0.95, 'alb-worker': 0.2 },
      runCpuMs: 1.5 * (100 + 950 + 200 + 1_000),
    });
    cpu[2] = 1_450e6;
    meter.sample(2_000);
    // Summed over the role's processes (all threads) and intervals, not the busiest one's share.
    expect(meter.cpuMsByRole()).toEqual({ app: 1.5 * 1_450, 'alb-worker': 1.5 * 200 });
  });

  it('reads this process from the kernel (Linux /proc)', () => {
    const ns = procSource.cpuNs(process.pid);
    expect(ns).toBeGreaterThan(0);
    expect(procSource.parentOf(process.pid)).toBe(process.ppid);
    expect(procSource.cpuNs(2 ** 22 + 1)).toBeUndefined();
    // All threads: at least the main thread's, give or take a clock tick.
    expect(procSource.processCpuNs(process.pid)).toBeGreaterThanOrEqual(
      procSource.cpuNs(process.pid)! - 10e6,
    );
    expect(procSource.processCpuNs(2 ** 22 + 1)).toBeUndefined();
  });
});

describe('MachineStateMeter', () => {
  it("tells the run's share of the CPU left to it from the machine's: another job's load is not the run's", () => {
    // Two cores over a second: 1,000 ms of a hog, 600 ms of the run, 400 ms idle.
    const cpu: Record<number, number> = { 1: 0, 2: 0 };
    const source: ProcessSource = {
      pids: () => [1, 2],
      parentOf: (pid) => (pid === 2 ? 1 : undefined),
      commandLine: (pid) => (pid === 2 ? 'node --import tsx app/main.ts' : 'node runner'),
      cpuNs: (pid) => cpu[pid],
      processCpuNs: (pid) => cpu[pid],
    };
    const meter = new MachineStateMeter(
      () => ({ busy: 0.8, idleCoreMs: 400 }),
      new ProcessBusyMeter(1, source),
    );
    try {
      expect(meter.take(0, undefined).runCpuBusy).toBeUndefined();
      cpu[1] = 100e6;
      cpu[2] = 500e6;
      const state = meter.take(1_000, undefined);
      expect(state.cpuBusy).toBe(0.8);
      expect(state.runCpuBusy).toBe(0.6);
      expect(state.coreBusy).toEqual({ app: 0.5 });
    } finally {
      meter.stop();
    }
  });
});
