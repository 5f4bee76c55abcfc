import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/clock.ts';
import { ClockPacer, latencyTargetMs, type PacerInput, type PacerOptions } from './pacer.ts';

const MINUTE = 60_000;

/** `count` arrivals spread evenly over [fromMs, toMs). */
function spread(fromMs: number, toMs: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => fromMs + ((toMs - fromMs) * i) / count);
}

const AT_30 = { requestedScale: 30, minScale: 1 };

/** A pacer asked for 30×, never below 1×. */
function pacer30(options: Omit<PacerOptions, 'requestedScale' | 'minScale'>): ClockPacer {
  return new ClockPacer({ ...AT_30, ...options });
}

function input(over: Partial<PacerInput>): PacerInput {
  return { wallMs: 0, simMs: 0, sent: 0, settled: 0, p95Ms: 20, faultsInProgress: false, ...over };
}

describe('ClockPacer', () => {
  it('runs at the requested speed when the curve ahead is within what the machine answers', () => {
    // 60 users per simulated minute: 30 per wall second at 30×, against 150 answered.
    const pacer = pacer30({
      arrivalsSimMs: spread(0, 10 * MINUTE, 600),
      initialJoinsPerSecond: 150,
    });
    expect(pacer.next(input({}))).toMatchObject({ scale: 30, limitedBy: 'requested' });
  });

  it('slows before a burst, not after: the next 2 wall seconds of the curve set the speed', () => {
    // Quiet until 3 minutes (simulated), then 6,000 users in one minute: 100 per simulated second.
    const arrivals = [...spread(0, 3 * MINUTE, 180), ...spread(3 * MINUTE, 4 * MINUTE, 6_000)];
    const pacer = pacer30({
      arrivalsSimMs: arrivals,
      initialJoinsPerSecond: 150,
    });
    // The burst is 180 simulated seconds away: beyond 2 wall seconds at 30× (60 s).
    expect(pacer.next(input({ simMs: 0 }))).toMatchObject({ scale: 30, limitedBy: 'requested' });
    // 10 s away: what the next 2 wall seconds bring at speed s, (2s − 10) × 100 users, must fit
    // in what 0.8 × 150 joins/s answers in them plus a tenth of that: s ≤ 6.3.
    const nearing = pacer.next(input({ wallMs: 1_000, simMs: 170_000, sent: 100, settled: 100 }));
    expect(nearing.limitedBy).toBe('arrivals');
    expect(nearing.scale).toBeCloseTo(6.3, 1);
    // In it: 0.8 × 150 joins/s ÷ 100 per simulated second, the tenth's worth taken by the 50
    // still waiting (so no room to spare, and no probing of a higher capacity either).

    const during = pacer.next(input({ wallMs: 2_000, simMs: 181_000, sent: 200, settled: 150 }));
    expect(during.scale).toBeCloseTo(1.2, 1);
  });

  it('plans for a share of its capacity in the first seconds: the processes have answered nothing yet', () => {
    // 5 users per simulated second: 150 a wall second at 30×, within 0.8 × 250 once warm.
    const options = { arrivalsSimMs: spread(0, 10 * MINUTE, 3_000), initialJoinsPerSecond: 250 };
    expect(pacer30(options).next(input({ wallMs: 0 }))).toMatchObject({ scale: 30, limitedBy: 'requested' });
    const pacer = pacer30({ ...options, coldStart: { wallMs: 5_000, share: 0.3 } });
    // 0.8 × 250 × 0.3 = 60 joins a second: about 12×.
    const cold = pacer.next(input({ wallMs: 0, cpuBusy: 0.3 }));
    expect(cold.limitedBy).toBe('arrivals');
    expect(cold.scale).toBeGreaterThan(10);
    expect(cold.scale).toBeLessThan(14);
    let sent = 0;
    let simMs = 0;
    let decision = cold;
    for (let wallMs = 1_000; wallMs <= 4_000; wallMs += 1_000) {
      simMs += decision.scale * 1_000;
      sent = Math.round(simMs / 200);
      decision = pacer.next(input({ wallMs, simMs, sent, settled: sent, cpuBusy: 0.3 }));
    }
    expect(decision.limitedBy).toBe('arrivals');
    // Five seconds on: the whole capacity again, counted on as the answers reach it (at most
    // twice the best rate answered; the speed rises by at most 30 % a decision).
    const speeds: number[] = [];
    for (let wallMs = 5_000; wallMs <= 9_000; wallMs += 1_000) {
      simMs += decision.scale * 1_000;
      sent = Math.round(simMs / 200);
      decision = pacer.next(input({ wallMs, simMs, sent, settled: sent, cpuBusy: 0.3 }));
      speeds.push(decision.scale);
    }
    expect(speeds[0]).toBeGreaterThan(cold.scale);
    expect(decision).toMatchObject({ scale: 30, limitedBy: 'requested' });
  });

  it('counts on at most twice the best rate answered: a first guess is not a capacity', () => {
    // 45 users a wall second at 30× (1.5 per simulated second), then 10 a simulated second from minute 10.
    const arrivalsSimMs = [...spread(0, 10 * MINUTE, 900), ...spread(10 * MINUTE, 20 * MINUTE, 6_000)];
    const pacer = pacer30({ arrivalsSimMs, initialJoinsPerSecond: 250 });
    let simMs = 0;
    let decision = pacer.next(input({ wallMs: 0, cpuBusy: 0.3 }));
    let wallMs = 0;
    while (simMs + decision.scale * 1_000 < 10 * MINUTE) {
      wallMs += 1_000;
      simMs += decision.scale * 1_000;
      const sent = Math.round(simMs / 666.7);
      decision = pacer.next(input({ wallMs, simMs, sent, settled: sent, cpuBusy: 0.3 }));
    }
    decision = pacer.next(input({ wallMs: wallMs + 1_000, simMs: 10 * MINUTE, sent: 900, settled: 900 }));
    // The trickle answered 45 a second: the step is planned for 0.8 × 90, 7.2× at 10 a simulated second.
    expect(decision.limitedBy).toBe('arrivals');
    expect(decision.scale).toBeGreaterThan(6);
    expect(decision.scale).toBeLessThan(8);
    // The first guess alone plans for 0.8 × 250 (and half a second's burst): over 20×.
    const guessing = pacer30({ arrivalsSimMs, initialJoinsPerSecond: 250 });
    expect(
      guessing.next(input({ wallMs: 0, simMs: 10 * MINUTE, sent: 900, settled: 900 })).scale,
    ).toBeGreaterThan(20);
  });

  it('learns a lower capacity from a standing backlog and slows further', () => {
    const pacer = pacer30({
      arrivalsSimMs: spread(0, 60 * MINUTE, 60_000), // 1,000 per simulated minute
      initialJoinsPerSecond: 400,
    });
    const first = pacer.next(input({ wallMs: 0, sent: 0, settled: 0 }));
    // (0.8 × 400 × 5 s + half a second's worth) / (5 s × 16.7 per simulated second) ≈ 21×.
    expect(first.scale).toBeCloseTo(21.1, 0);
    // A second later 900 users are waiting: only 100 were answered.
    const second = pacer.next(input({ wallMs: 1_000, simMs: 19_000, sent: 1_000, settled: 100 }));
    expect(second.joinsPerSecond).toBe(280); // 0.6 × 400 + 0.4 × 100
    expect(second.scale).toBeLessThan(first.scale);
  });

  it("takes the load's own backlog gauge over sent − settled, which lags by a report", () => {
    const options = {
      ...AT_30,
      arrivalsSimMs: spread(0, 60 * MINUTE, 60_000),
      initialJoinsPerSecond: 400,
    };
    const lagging = { wallMs: 1_000, simMs: 19_000, sent: 1_000, settled: 100 };
    // Counted from the counters, 900 users look stuck and the capacity is cut…
    const fromCounters = new ClockPacer(options);
    fromCounters.next(input({}));
    expect(fromCounters.next(input(lagging)).joinsPerSecond).toBeLessThan(400);
    // …while the workers see 20 waiting: the machine kept up and nothing is cut.
    const fromGauge = new ClockPacer(options);
    fromGauge.next(input({}));
    expect(fromGauge.next(input({ ...lagging, backlog: 20 })).joinsPerSecond).toBeGreaterThanOrEqual(400);
  });

  it('probes a higher capacity while the curve limits it and the machine keeps up', () => {
    const pacer = pacer30({
      arrivalsSimMs: spread(0, 60 * MINUTE, 60_000),
      initialJoinsPerSecond: 100,
    });
    let decision = pacer.next(input({}));
    const slowest = decision.scale;
    let settled = 0;
    for (let s = 1; s <= 5; s++) {
      // The machine answers every arrival the clock's speed brings (1,000 per simulated minute).
      settled += Math.round((decision.scale * 1_000) / 60);
      decision = pacer.next(input({ wallMs: s * 1_000, simMs: s * 5_000, sent: settled, settled }));
    }
    expect(decision.limitedBy).toBe('arrivals');
    expect(decision.scale).toBeGreaterThan(slowest * 1.5);
  });

  /** 30 wall seconds of a curve held back by the arrivals, 80 joins answered each, at `cpuBusy`. */
  function probedAt80(cpuBusy?: number) {
    const pacer = pacer30({
      arrivalsSimMs: spread(0, 60 * MINUTE, 60_000),
      initialJoinsPerSecond: 100,
    });
    let decision = pacer.next(input({}));
    for (let s = 1; s <= 30; s++)
      decision = pacer.next(
        input({ wallMs: s * 1_000, simMs: s * 5_000, sent: s * 80, settled: s * 80, cpuBusy }),
      );
    return decision;
  }

  it('does not plan far beyond what was answered: probing is bounded by the best rate seen', () => {
    const decision = probedAt80();
    // 80 answered per second at most: planning 0.8 × capacity never goes above 1.25 × 80.
    expect(decision.joinsPerSecond).toBeLessThanOrEqual(125);
  });

  it('probes further on an idle CPU: what was answered, scaled to a busy one, at most twice over', () => {
    const decision = probedAt80(0.3);
    // 80 answered at 30 % CPU: at 70 % it would answer 187; the probe plans for at most 2 × 80 = 160.
    expect(decision.joinsPerSecond).toBeGreaterThan(125);
    expect(decision.joinsPerSecond).toBeLessThanOrEqual(200);
  });

  it('probes to where the join-cost line puts the CPU at 75 %, once the rates seen tell it', () => {
    // Five seconds at 60 joins, five at 160: the CPU is 25 % busy anyway and 0.2 % per join/s.
    const probed = (cpuOf: (joins: number) => number) => {
      const pacer = pacer30({ arrivalsSimMs: spread(0, 60 * MINUTE, 60_000), initialJoinsPerSecond: 100 });
      let decision = pacer.next(input({}));
      let settled = 0;
      for (let s = 1; s <= 40; s++) {
        const joins = Math.floor(s / 5) % 2 === 0 ? 60 : 160;
        settled += joins;
        const at = { wallMs: s * 1_000, simMs: s * 5_000, sent: settled, settled, cpuBusy: cpuOf(joins) };
        decision = pacer.next(input(at));
      }
      return decision.joinsPerSecond;
    };
    // 75 % busy at 160 + 0.18 / 0.002 = 250 joins/s, planned at 80 %: a capacity of ~312,
    // at most twice the best rate answered.
    const byLine = probed((joins) => 0.25 + 0.002 * joins);
    expect(byLine).toBeGreaterThan(280);
    expect(byLine).toBeLessThanOrEqual(320);
    // A CPU that does not follow the joins tells nothing: a quarter above the best rate answered.
    expect(probed(() => 0.45)).toBeLessThanOrEqual((1.25 * 160) / 0.8 + 1);
  });

  it('slows on a saturated P95 and comes back once it falls, but not during a fault', () => {
    const pacer = pacer30({
      arrivalsSimMs: [],
      initialJoinsPerSecond: 150,
    });
    expect(pacer.next(input({ p95Ms: 900 }))).toMatchObject({ scale: 21, limitedBy: 'latency' });
    expect(pacer.next(input({ wallMs: 1_000, p95Ms: 900 })).scale).toBeCloseTo(14.7, 1);
    // Between half the threshold and the threshold: hold.
    expect(pacer.next(input({ wallMs: 2_000, p95Ms: 300 })).scale).toBeCloseTo(14.7, 1);
    expect(pacer.next(input({ wallMs: 3_000, p95Ms: 50 })).scale).toBeCloseTo(19.1, 1);
    // During a fault slow answers are the rehearsal: a busy CPU holds the speed…
    const during = pacer.next(input({ wallMs: 4_000, p95Ms: 5_000, cpuBusy: 0.9, faultsInProgress: true }));
    expect(during.scale).toBeCloseTo(19.1, 1);
    // …an idle one lets it come back, whatever the fault does to the answers.
    const idleDuring = pacer.next(
      input({ wallMs: 5_000, p95Ms: 5_000, cpuBusy: 0.3, faultsInProgress: true }),
    );
    expect(idleDuring.scale).toBeCloseTo(24.8, 1);
    // A quiet stretch (no request finished) is not saturation either: back to full speed.
    expect(pacer.next(input({ wallMs: 6_000, p95Ms: undefined })).scale).toBe(30);
  });

  it('does not slow for slow answers while the CPU is idle: the clock is not their cause', () => {
    const pacer = pacer30({
      arrivalsSimMs: [],
      initialJoinsPerSecond: 150,
    });
    expect(pacer.next(input({ p95Ms: 900, cpuBusy: 0.5 }))).toMatchObject({ scale: 30 });
    expect(pacer.next(input({ wallMs: 1_000, p95Ms: 900, cpuBusy: 0.95 }))).toMatchObject({
      scale: 21,
      limitedBy: 'latency',
    });
  });

  it('speeds back up fast on an idle CPU, carefully on a busy one, and holds near the top', () => {
    const pacer = pacer30({
      arrivalsSimMs: [],
      initialJoinsPerSecond: 150,
    });
    expect(pacer.next(input({ p95Ms: 900, cpuBusy: 0.95 })).scale).toBe(21);
    expect(pacer.next(input({ wallMs: 1_000, p95Ms: 50, cpuBusy: 0.9 })).scale).toBe(21);
    expect(pacer.next(input({ wallMs: 2_000, p95Ms: 50, cpuBusy: 0.6 })).scale).toBeCloseTo(24.15, 1);
    expect(pacer.next(input({ wallMs: 3_000, p95Ms: 50, cpuBusy: 0.2 })).scale).toBe(30);
  });

  it('plans for the admissions while the queue drains, not only for arrivals', () => {
    const pacer = pacer30({
      arrivalsSimMs: [],
      initialJoinsPerSecond: 200,
      admissionsPerSimSecond: 50,
    });
    expect(pacer.next(input({ queueSize: 0 }))).toMatchObject({ scale: 30 });
    // 50 admissions per simulated second at half a join each: (0.8 × 200 × 5 s + 80) / (5 s × 25) = 7×.
    const draining = pacer.next(input({ wallMs: 1_000, queueSize: 5_000 }));
    expect(draining.limitedBy).toBe('arrivals');
    expect(draining.scale).toBeCloseTo(7.04, 1);
  });

  it('plans for telling every queued user their moved place while admissions run', () => {
    const options = { arrivalsSimMs: [], initialJoinsPerSecond: 200, admissionsPerSimSecond: 50 };
    const queued = input({ queueSize: 20_000 });
    expect(pacer30(options).next(queued).scale).toBeCloseTo(7.04, 1);
    // 20,000 told every 20 simulated seconds, 0.065 of a join each: 65 joins' worth a simulated
    // second beside the admissions' 25, so 0.8 × 200 × 1.1 / 90 = 2×.
    const told = pacer30({ ...options, positionUpdateSimMs: 20_000 });
    expect(told.next(queued)).toMatchObject({ limitedBy: 'arrivals' });
    expect(told.next(input({ wallMs: 1_000, queueSize: 20_000 })).scale).toBeCloseTo(1.96, 1);
    // Before sales open no place moves: the arrivals alone.
    const beforeSales = pacer30({ ...options, positionUpdateSimMs: 20_000, salesOpenSimMs: 10 * MINUTE });
    expect(beforeSales.next(queued).scale).toBe(30);
  });

  it('counts the drain at the share of its planned cost the CPU showed, once every user arrived', () => {
    const options = { arrivalsSimMs: [], initialJoinsPerSecond: 200, admissionsPerSimSecond: 50 };
    // A decision a wall second, 8 simulated seconds apart: the 40 s window is full at the fifth.
    const drain = (pacer: ClockPacer, second: number, cpuBusy: number) =>
      pacer.next(input({ wallMs: second * 1_000, simMs: second * 8_000, queueSize: 20_000, cpuBusy }));
    // Planned at 7× (0.8 × 200 joins' worth a second) with the CPU 20 % busy: under a quarter.
    const quiet = pacer30(options);
    for (let s = 0; s < 5; s++) expect(drain(quiet, s, 0.2).scale).toBeCloseTo(7.04, 1);
    // The window full, a quarter of the cost counts: 4× the plan's speed, risen to 1.6× a second
    // on a CPU under 30 %.
    expect(drain(quiet, 5, 0.2).scale).toBeCloseTo(11.26, 1);
    expect(drain(quiet, 6, 0.2).scale).toBeCloseTo(18.02, 1);
    const quarter = drain(quiet, 7, 0.2);
    expect(quarter.limitedBy).toBe('arrivals');
    expect(quarter.scale).toBeCloseTo(28.16, 1);
    // The CPU as busy as the plan put it (88 % of the capacity at 7×) or more: the plan stands.
    const busy = pacer30(options);
    for (let s = 0; s <= 12; s++) expect(drain(busy, s, 0.9).scale).toBeCloseTo(7.04, 1);
  });

  it('plans no more admissions than there are users to admit', () => {
    const pacer = pacer30({
      arrivalsSimMs: [],
      initialJoinsPerSecond: 200,
      admissionsPerSimSecond: 50,
    });
    // 100 queued: at most 50 joins' worth ahead, within a second of 0.8 × 200.
    expect(pacer.next(input({ queueSize: 100 }))).toMatchObject({ scale: 30, limitedBy: 'requested' });
    // 5,000 queued: the design's rate fills the lookahead.
    const draining = pacer.next(input({ wallMs: 1_000, queueSize: 5_000 }));
    expect(draining.limitedBy).toBe('arrivals');
    expect(draining.scale).toBeCloseTo(7.04, 1);
  });

  it('counts users still due among those to admit', () => {
    // 100 queued, 600 more due over the next 150 simulated seconds (5 wall s at 30×): 600 joins
    // and 50 admitted fit in 0.8 × 200 × 5 + 80 a second at a time; with the 600 admitted too, not.
    const pacer = pacer30({
      arrivalsSimMs: spread(0, 150_000, 600),
      initialJoinsPerSecond: 200,
      admissionsPerSimSecond: 50,
    });
    const due = pacer.next(input({ queueSize: 100 }));
    expect(due.limitedBy).toBe('arrivals');
    expect(due.scale).toBeLessThan(30);
  });

  it('is already slow when sales open: the lookahead sees the admissions coming', () => {
    // Users queued before sales open at 10 simulated minutes; no arrivals after.
    const salesOpenSimMs = 10 * MINUTE;
    const pacer = pacer30({
      arrivalsSimMs: spread(0, 4 * MINUTE, 5_000),
      initialJoinsPerSecond: 200,
      admissionsPerSimSecond: 50,
      salesOpenSimMs,
    });
    const queued = { sent: 5_000, settled: 5_000, queueSize: 5_000 };
    // Sales are 5 simulated minutes away: beyond 2 wall seconds even at 30×.
    expect(pacer.next(input({ simMs: 5 * MINUTE, ...queued })).scale).toBe(30);
    // 10 simulated seconds before: the next 2 wall seconds at 30× would take 50 simulated seconds
    // of admissions (25 joins' worth each) where 352 fit: (2s − 10) × 25 ≤ 352, s ≤ 12.
    const before = pacer.next(input({ wallMs: 1_000, simMs: salesOpenSimMs - 10_000, ...queued }));
    expect(before.limitedBy).toBe('arrivals');
    expect(before.scale).toBeCloseTo(12.04, 1);
    // At the opening itself: the admissions' rate, as while draining.
    const opening = pacer.next(input({ wallMs: 2_000, simMs: salesOpenSimMs, ...queued }));
    expect(opening.scale).toBeCloseTo(7.04, 1);
  });

  it('speeds up gradually, so a wrong estimate shows in latency before work piles up', () => {
    const pacer = pacer30({
      arrivalsSimMs: [],
      initialJoinsPerSecond: 200,
      admissionsPerSimSecond: 50,
    });
    expect(pacer.next(input({ queueSize: 5_000 })).scale).toBeCloseTo(7.04, 1);
    // The queue is empty: nothing limits the clock any more, yet it rises by at most 30 % a second.
    const speeds = [1, 2, 3, 4, 5, 6, 7].map(
      (s) => pacer.next(input({ wallMs: s * 1_000, queueSize: 0 })).scale,
    );
    expect(speeds[0]).toBeCloseTo(9.15, 1);
    expect(speeds[1]).toBeCloseTo(11.9, 1);
    expect(speeds.at(-1)).toBe(30);
  });

  it('never goes below the minimum or above the requested speed', () => {
    const pacer = new ClockPacer({
      requestedScale: 10,
      minScale: 1,
      arrivalsSimMs: spread(0, MINUTE, 100_000),
      initialJoinsPerSecond: 10,
    });
    expect(pacer.next(input({ p95Ms: 10_000 })).scale).toBe(1);
    const calm = new ClockPacer({
      requestedScale: 10,
      minScale: 1,
      arrivalsSimMs: [],
      initialJoinsPerSecond: 10,
    });
    for (let s = 0; s < 20; s++) expect(calm.next(input({ wallMs: s * 1_000, p95Ms: 1 })).scale).toBe(10);
  });
});

describe('ClockPacer: valid measurement first', () => {
  it('aims below the scenario’s own API threshold, never above 300 ms', () => {
    expect(latencyTargetMs([200])).toBe(160);
    expect(latencyTargetMs([2_000])).toBe(300);
    expect(latencyTargetMs([])).toBe(300);
  });

  it('slows below 1× while the machine lacks headroom, down to the minimum, and recovers', () => {
    const pacer = new ClockPacer({
      requestedScale: 2,
      minScale: 0.25,
      arrivalsSimMs: [],
      initialJoinsPerSecond: 150,
    });
    const saturation = ['CPU 100 %', 'load-worker lag 580 ms'];
    // Saturated with answers that look fine: the verdicts need the headroom, not the P95.
    const speeds = [0, 1, 2, 3, 4, 5, 6, 7].map(
      (s) => pacer.next(input({ wallMs: s * 1_000, p95Ms: 20, cpuBusy: 1, saturation })).scale,
    );
    expect(speeds.slice(0, 3).map((x) => Math.round(x * 100) / 100)).toEqual([1.4, 0.98, 0.69]);
    expect(speeds.at(-1)).toBe(0.25);
    // Even during a fault: the machine's saturation is not the rehearsal.
    expect(
      pacer.next(input({ wallMs: 8_000, p95Ms: 20, cpuBusy: 1, saturation, faultsInProgress: true }))
        .limitedBy,
    ).toBe('latency');
    // Headroom again, answers quick, CPU busy: it holds under the speed that ran out of headroom
    // for half a minute, then comes back by 15 % a second…
    const calm = { p95Ms: 20, cpuBusy: 0.6, saturation: [] };
    expect(pacer.next(input({ ...calm, wallMs: 9_000 })).scale).toBe(0.25);
    expect(pacer.next(input({ ...calm, wallMs: 40_000 })).scale).toBeCloseTo(0.2875, 3);
    // …and by 30 % once the CPU is mostly idle.
    expect(pacer.next(input({ ...calm, cpuBusy: 0.3, wallMs: 41_000 })).scale).toBeCloseTo(0.374, 3);
  });

  it('remembers the speed a saturation began at, not the next second’s, which clears its backlog', () => {
    const saturation = ['CPU 96 %'];
    const afterSaturatedSeconds = (seconds: number) => {
      const pacer = pacer30({ arrivalsSimMs: [], initialJoinsPerSecond: 150 });
      for (let s = 0; s < seconds; s++) pacer.next(input({ wallMs: s * 1_000, cpuBusy: 0.96, saturation }));
      let scale = 0;
      for (let s = seconds; s < seconds + 15; s++)
        scale = pacer.next(input({ wallMs: s * 1_000, cpuBusy: 0.6 })).scale;
      return scale;
    };
    // At 30×, then at 21× (cut by 30 %): back up to 0.9 × 30 within the half minute's memory.
    expect(afterSaturatedSeconds(2)).toBeCloseTo(27, 5);
    // A third saturated second, at 14.7×, is that speed's own: 0.9 × 14.7.
    expect(afterSaturatedSeconds(3)).toBeCloseTo(13.23, 2);
  });

  it('forgets the speed that ran out of headroom once the CPU is mostly idle: the burst is over', () => {
    const pacer = pacer30({ arrivalsSimMs: [], initialJoinsPerSecond: 150 });
    const saturation = ['CPU 100 %'];
    pacer.next(input({ wallMs: 0, cpuBusy: 1, saturation }));
    const slowed = pacer.next(input({ wallMs: 1_000, cpuBusy: 1, saturation })).scale;
    let scale = slowed;
    for (let s = 2; s <= 12; s++) scale = pacer.next(input({ wallMs: s * 1_000, cpuBusy: 0.2 })).scale;
    // Within the half minute's memory, yet back at the requested speed.
    expect(slowed).toBeLessThan(15);
    expect(scale).toBe(30);
  });

  it('forgets it for good at the first mostly idle second: a busier one after it brings no memory back', () => {
    const pacer = pacer30({ arrivalsSimMs: [], initialJoinsPerSecond: 150 });
    const saturation = ['CPU 100 %'];
    pacer.next(input({ wallMs: 0, cpuBusy: 1, saturation }));
    const slowed = pacer.next(input({ wallMs: 1_000, cpuBusy: 1, saturation })).scale;
    // One second with the CPU mostly idle (the drain's buyers are done), then the queued users'
    // position messages keep it half busy, within the half minute's memory.
    pacer.next(input({ wallMs: 2_000, cpuBusy: 0.35 }));
    let scale = 0;
    for (let s = 3; s <= 12; s++) scale = pacer.next(input({ wallMs: s * 1_000, cpuBusy: 0.45 })).scale;
    expect(slowed).toBeLessThan(15);
    expect(scale).toBe(30);
  });

  it('remembers no speed that ran out of headroom in the cold start: the processes were compiling', () => {
    const afterColdSaturation = (coldMs: number) => {
      const pacer = pacer30({
        arrivalsSimMs: [],
        initialJoinsPerSecond: 150,
        coldStart: { wallMs: coldMs, share: 0.3 },
      });
      const saturation = ['CPU 100 %'];
      pacer.next(input({ wallMs: 0, cpuBusy: 0.5 }));
      const slowed = pacer.next(input({ wallMs: 2_000, cpuBusy: 1, saturation })).scale;
      let scale = 0;
      // Then calm seconds on a CPU half busy, within the half minute's memory.
      for (let s = 3; s <= 15; s++) scale = pacer.next(input({ wallMs: s * 1_000, cpuBusy: 0.5 })).scale;
      return { slowed, scale };
    };
    // Saturated at 2 s, within a 5 s cold start: slowed all the same, then back up to 30×.
    const cold = afterColdSaturation(5_000);
    expect(cold.slowed).toBeLessThan(30);
    expect(cold.scale).toBe(30);
    // The same saturation after a 1 s cold start: held under 0.9 × the speed it happened at.
    expect(afterColdSaturation(1_000).scale).toBeLessThanOrEqual(27);
  });

  it('stops rising on a busy CPU while the run’s samples with headroom come near the verdict’s share', () => {
    const afterCalm = (headroomShare: number | undefined, cpuBusy: number) => {
      const pacer = pacer30({ arrivalsSimMs: [], initialJoinsPerSecond: 150, minHeadroomShare: 0.8 });
      pacer.next(input({ wallMs: 0, cpuBusy: 1, saturation: ['CPU 100 %'] }));
      let scale = 0;
      // Past the half minute the speed that lost headroom is remembered.
      for (let s = 31; s <= 36; s++)
        scale = pacer.next(input({ wallMs: s * 1_000, cpuBusy, p95Ms: 20, headroomShare })).scale;
      return scale;
    };
    // 21× after the saturation; 95 % of the samples counted: back up by 15 % a second.
    expect(afterCalm(0.95, 0.6)).toBe(30);
    expect(afterCalm(undefined, 0.6)).toBe(30);
    // 82 %, within 3 points of the 80 % needed: held while the CPU is 60 % busy or more…
    expect(afterCalm(0.82, 0.6)).toBeCloseTo(21, 6);
    expect(afterCalm(0.82, 0.8)).toBeCloseTo(21, 6);
    // …and rising carefully below that.
    const calmer = afterCalm(0.82, 0.5);
    expect(calmer).toBeGreaterThan(21);
    expect(calmer).toBeLessThan(afterCalm(0.95, 0.5) + 1e-9);
  });

  it('forgets a speed that ran out of headroom while users arrived once the last has arrived', () => {
    // Two users: one arrives before the saturation, the last after it.
    const options = { arrivalsSimMs: [0, 1_000], initialJoinsPerSecond: 150, salesOpenSimMs: 0 };
    const busy = { cpuBusy: 0.6, p95Ms: 20, queueSize: 1 };
    const run = (lastArrives: boolean) => {
      const pacer = pacer30(options);
      pacer.next(input({ wallMs: 0, sent: 1, settled: 1, cpuBusy: 1, saturation: ['CPU 100 %'] }));
      const sent = lastArrives ? 2 : 1;
      // The clock past the last arrival once it has arrived: none is still ahead.
      const simMs = lastArrives ? 1_001 : 0;
      let scale = 0;
      for (let s = 1; s <= 12; s++)
        scale = pacer.next(input({ ...busy, wallMs: s * 1_000, simMs, sent, settled: sent })).scale;
      return scale;
    };
    // Still arriving: held under 0.9 × the speed that lost headroom (30 × 0.9) for half a minute.
    expect(run(false)).toBeLessThanOrEqual(27);
    // The drain asks other work of a simulated second: back up at 15 % a second.
    expect(run(true)).toBe(30);
  });

  it('keeps a slow machine measuring validly: on a ManualClock, a burst it cannot take at 1× runs slower', () => {
    // The machine answers 40 joins a wall second; 100 users a simulated second arrive for 2 minutes.
    const clock = new ManualClock(0);
    const arrivals = spread(10_000, 130_000, 12_000);
    const pacer = new ClockPacer({
      requestedScale: 10,
      minScale: 0.25,
      arrivalsSimMs: arrivals,
      initialJoinsPerSecond: 150,
    });
    const capacity = 40;
    let scale = 10;
    let sent = 0;
    let settled = 0;
    let saturatedSeconds = 0;
    const scales: number[] = [];
    for (let wall = 1; wall <= 2_000 && clock.now() < 130_000; wall++) {
      clock.advance(scale * 1_000);
      while (sent < arrivals.length && arrivals[sent]! <= clock.now()) sent++;
      const waiting = sent - settled;
      settled += Math.min(waiting, capacity);
      const saturated = waiting > capacity;
      if (saturated && clock.now() > 20_000) saturatedSeconds++;
      scale = pacer.next({
        wallMs: wall * 1_000,
        simMs: clock.now(),
        sent,
        settled,
        backlog: sent - settled,
        p95Ms: saturated ? 900 : 30,
        cpuBusy: saturated ? 1 : 0.6,
        faultsInProgress: false,
        queueSize: sent,
        saturation: saturated ? ['CPU 100 %'] : [],
      }).scale;
      if (clock.now() > 20_000) scales.push(scale);
    }
    // 0.8 × 40 joins a second ÷ 100 users a simulated second: about 0.3×, in slow motion.
    const median = [...scales].sort((a, b) => a - b)[Math.floor(scales.length / 2)]!;
    expect(median).toBeLessThan(0.5);
    expect(Math.min(...scales)).toBeGreaterThanOrEqual(0.25);
    // Once the pacer has learnt the machine, it has headroom nearly all the time.
    expect(saturatedSeconds / scales.length).toBeLessThan(0.1);
  });

  it('does not slow for a lone event-loop stall on a CPU with headroom; two in a row, or a busy CPU, do', () => {
    const speedsAfter = (seconds: Partial<PacerInput>[]) => {
      const pacer = pacer30({ arrivalsSimMs: [], initialJoinsPerSecond: 150 });
      return seconds.map((over, s) => pacer.next(input({ wallMs: s * 1_000, cpuBusy: 0.6, ...over })).scale);
    };
    const clear = { saturation: [] };
    const stall = { saturation: ['load-worker lag 62 ms'], stallAlone: true };
    // A stall of 62 ms now and then: the speed holds.
    expect(speedsAfter([clear, stall, clear, clear, stall, clear])).toEqual([30, 30, 30, 30, 30, 30]);
    // Two seconds in a row: the second slows.
    expect(speedsAfter([clear, stall, stall])).toEqual([30, 30, 21]);
    // A stall on a CPU 90 % busy, or with the CPU itself over its limit, is the load's.
    expect(speedsAfter([clear, { ...stall, cpuBusy: 0.9 }])).toEqual([30, 21]);
    expect(
      speedsAfter([clear, { saturation: ['CPU 96 %', 'load-worker lag 62 ms'], stallAlone: false }]),
    ).toEqual([30, 21]);
  });

  it('holds the speed through stalls while the hypervisor takes part of the cores, however long', () => {
    const speedsAfter = (seconds: Partial<PacerInput>[]) => {
      const pacer = pacer30({ arrivalsSimMs: [], initialJoinsPerSecond: 150 });
      return seconds.map((over, s) => pacer.next(input({ wallMs: s * 1_000, cpuBusy: 0.5, ...over })).scale);
    };
    const clear = { saturation: [] };
    const stolen = {
      saturation: ['runner lag 463 ms', 'load-worker lag 802 ms'],
      stallAlone: true,
      cpuStolen: 0.4,
    };
    // Five seconds of the host's stalls in a row: neither slower nor faster.
    expect(speedsAfter([clear, stolen, stolen, stolen, stolen, stolen])).toEqual([30, 30, 30, 30, 30, 30]);
    // A little steal does not make the stalls the host's: the second in a row slows.
    const littleStolen = { ...stolen, cpuStolen: 0.05 };
    expect(speedsAfter([clear, littleStolen, littleStolen])).toEqual([30, 30, 21]);
    // Stolen time or not, a busy CPU is the load's.
    expect(speedsAfter([clear, { ...stolen, cpuBusy: 0.9 }])).toEqual([30, 21]);
  });

  it('slows for the runner’s stalls only while a join or a connect is due or under way', () => {
    // Sales open, everyone queued: 20 users still to arrive, then none.
    const arrivals = spread(0, MINUTE, 20);
    const speedsAfter = (seconds: Partial<PacerInput>[]) => {
      const pacer = pacer30({ arrivalsSimMs: arrivals, initialJoinsPerSecond: 150 });
      return seconds.map(
        (over, s) => pacer.next(input({ wallMs: s * 1_000, cpuBusy: 0.6, queueSize: 5_000, ...over })).scale,
      );
    };
    const clear = { saturation: [], offRunnerPath: { saturation: [], stallAlone: false } };
    const runnerStall = {
      saturation: ['runner lag 110 ms'],
      stallAlone: true,
      offRunnerPath: { saturation: [], stallAlone: false },
    };
    const drain = { sent: 20, settled: 20, simMs: 2 * MINUTE };
    // Every user arrived and connected: the runner's stall delays no sample, and the clock holds.
    expect(
      speedsAfter([clear, runnerStall, runnerStall, runnerStall].map((s) => ({ ...s, ...drain }))),
    ).toEqual([30, 30, 30, 30]);
    // Users still to arrive, a join unanswered or a user reconnecting: it slows as for any stall.
    expect(speedsAfter([clear, runnerStall, runnerStall])).toEqual([30, 30, 21]);
    const unanswered = { ...drain, settled: 19 };
    expect(speedsAfter([clear, runnerStall, runnerStall].map((s) => ({ ...s, ...unanswered })))).toEqual([
      30, 30, 21,
    ]);
    const reconnecting = { ...drain, usersRecovering: 3 };
    expect(speedsAfter([clear, runnerStall, runnerStall].map((s) => ({ ...s, ...reconnecting })))).toEqual([
      30, 30, 21,
    ]);
  });

  it('comes back up between pairs of stalls: they set no ceiling on the speed', () => {
    const pacer = new ClockPacer({
      requestedScale: 2,
      minScale: 0.25,
      arrivalsSimMs: [],
      initialJoinsPerSecond: 150,
    });
    const stall = { saturation: ['load-worker lag 64 ms'], stallAlone: true, cpuBusy: 0.5 };
    const speeds: number[] = [];
    for (let s = 0; s < 90; s++) {
      // Two stalls in a row every 12 s, on a CPU half busy, from the minimum speed.
      const over = s % 12 < 2 ? stall : { saturation: [], cpuBusy: 0.5 };
      speeds.push(pacer.next(input({ wallMs: s * 1_000, p95Ms: 20, ...over })).scale);
    }
    expect(Math.min(...speeds)).toBeLessThan(1.5);
    // Each pair cuts 30 %, the ten seconds between give it back (15–30 % a second).
    expect(speeds.at(-1)).toBe(2);
  });

  it('stops slowing for a saturation slowing does not cure (another job on the machine)', () => {
    const pacer = new ClockPacer({
      requestedScale: 30,
      minScale: 0.25,
      arrivalsSimMs: [],
      initialJoinsPerSecond: 150,
    });
    const busy = { p95Ms: 20, cpuBusy: 1, saturation: ['CPU 100 %'] };
    const speeds = Array.from(
      { length: 45 },
      (_, s) => pacer.next(input({ ...busy, wallMs: s * 1_000 })).scale,
    );
    // It slows first, as for any saturation…
    expect(Math.min(...speeds)).toBeLessThanOrEqual(30 / 16);
    // …and, 16 times slower 15 s on with nothing better, goes back up to where it was (by 30 % a second).
    expect(speeds.at(-1)).toBe(30);
    // Nothing due meanwhile: it runs ahead of the requested speed all the same.
    const idle = new ClockPacer({
      requestedScale: 30,
      minScale: 0.25,
      idleScale: 120,
      arrivalsSimMs: [],
      initialJoinsPerSecond: 150,
    });
    const quiet = { ...busy, sent: 0, settled: 0, backlog: 0, queueSize: 0 };
    const idleSpeeds = Array.from(
      { length: 60 },
      (_, s) => idle.next(input({ ...quiet, wallMs: s * 1_000 })).scale,
    );
    expect(idleSpeeds.at(-1)).toBe(120);
    // Headroom, then saturation again: a new episode, slowed for anew.
    pacer.next(input({ wallMs: 46_000, p95Ms: 20, cpuBusy: 0.5, saturation: [] }));
    expect(pacer.next(input({ ...busy, wallMs: 47_000 })).scale).toBe(21);
  });

  it('runs a stretch with nothing due far faster than requested, and stops at the first sign of work', () => {
    // The last user arrived at 10 simulated minutes; the next burst is at 60 minutes.
    const pacer = new ClockPacer({
      requestedScale: 60,
      minScale: 0.25,
      idleScale: 240,
      arrivalsSimMs: [...spread(0, 10 * MINUTE, 100), ...spread(60 * MINUTE, 61 * MINUTE, 100)],
      initialJoinsPerSecond: 150,
    });
    const quiet = { sent: 100, settled: 100, backlog: 0, queueSize: 0, p95Ms: undefined, cpuBusy: 0.2 };
    // Straight to the idle speed: with nothing due, no estimate can be wrong.
    expect(pacer.next(input({ ...quiet, wallMs: 1_000, simMs: 20 * MINUTE }))).toMatchObject({
      scale: 240,
      limitedBy: 'idle',
    });
    // An instance starts draining: a scaling activity is in flight.
    expect(
      pacer.next(input({ ...quiet, wallMs: 7_000, simMs: 21 * MINUTE, activityInFlight: true })),
    ).toMatchObject({ scale: 60, limitedBy: 'requested' });
    // Users wait in the queue: admissions are due.
    expect(pacer.next(input({ ...quiet, wallMs: 8_000, simMs: 22 * MINUTE, queueSize: 5 })).scale).toBe(60);
    // The queue is empty, but admitted users are still on their way to paying.
    expect(pacer.next(input({ ...quiet, wallMs: 8_500, simMs: 22 * MINUTE, usersActive: 3 })).scale).toBe(60);
    // The next burst is 20 simulated minutes ahead: within 5 wall seconds at 240×.
    expect(pacer.next(input({ ...quiet, wallMs: 9_000, simMs: 41 * MINUTE })).limitedBy).not.toBe('idle');
  });

  it('after a stretch with nothing due, the next work starts at the requested speed, not the last burst’s cap', () => {
    const pacer = new ClockPacer({
      requestedScale: 60,
      minScale: 0.25,
      idleScale: 960,
      arrivalsSimMs: spread(0, 10 * MINUTE, 100),
      initialJoinsPerSecond: 150,
    });
    const quiet = { sent: 100, settled: 100, backlog: 0, queueSize: 0, p95Ms: undefined, cpuBusy: 0.2 };
    // The drain took the headroom: the cap comes down to a fraction of 60×.
    for (let s = 1; s <= 4; s++)
      pacer.next(
        input({ ...quiet, wallMs: s * 1_000, simMs: 20 * MINUTE, queueSize: 500, saturation: ['cpu'] }),
      );
    expect(
      pacer.next(input({ ...quiet, wallMs: 5_000, simMs: 20 * MINUTE, queueSize: 500 })).scale,
    ).toBeLessThan(30);
    expect(pacer.next(input({ ...quiet, wallMs: 6_000, simMs: 21 * MINUTE })).limitedBy).toBe('idle');
    // A scale-in begins.
    expect(
      pacer.next(input({ ...quiet, wallMs: 7_000, simMs: 40 * MINUTE, activityInFlight: true })),
    ).toMatchObject({ scale: 60, limitedBy: 'requested' });
  });

  it('a fault holds it down: no idle run-ahead and no faster than the fault allows, then free again', () => {
    const pacer = new ClockPacer({
      requestedScale: 30,
      minScale: 0.25,
      idleScale: 240,
      arrivalsSimMs: spread(0, MINUTE, 100),
      initialJoinsPerSecond: 150,
    });
    const quiet = { sent: 100, settled: 100, backlog: 0, queueSize: 0, p95Ms: undefined, cpuBusy: 0.2 };
    const speeds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((s) =>
      pacer.next(input({ ...quiet, wallMs: s * 1_000, simMs: 5 * MINUTE, faultSpeedLimit: 10 })),
    );
    expect(speeds.every((d) => d.scale === 10 && d.limitedBy === 'fault')).toBe(true);
    // The fault's recovery is over: the quiet stretch runs ahead again, at once.
    const after = pacer.next(input({ ...quiet, wallMs: 11_000, simMs: 6 * MINUTE }));
    expect(after).toMatchObject({ scale: 240, limitedBy: 'idle' });
    // A limit above what is asked for changes nothing.
    expect(
      pacer.next(input({ ...quiet, wallMs: 14_000, simMs: 7 * MINUTE, faultSpeedLimit: 1_000 })).limitedBy,
    ).toBe('requested');
  });

  it('users away hold it at 10× (their return is this machine’s work), under a fault’s limit too, then free again', () => {
    const pacer = new ClockPacer({
      holdWhileUsersRecover: true,
      requestedScale: 60,
      minScale: 0.25,
      idleScale: 240,
      arrivalsSimMs: spread(0, MINUTE, 100),
      initialJoinsPerSecond: 150,
    });
    const quiet = { sent: 100, settled: 100, backlog: 0, queueSize: 0, p95Ms: undefined, cpuBusy: 0.2 };
    const away = [1, 2, 3].map((s) =>
      pacer.next(input({ ...quiet, wallMs: s * 1_000, simMs: 5 * MINUTE, usersRecovering: 500 })),
    );
    expect(away.every((d) => d.scale === 10 && d.limitedBy === 'users-recovering')).toBe(true);
    // A fault's limit below it wins, and says so.
    expect(
      pacer.next(
        input({ ...quiet, wallMs: 4_000, simMs: 5 * MINUTE, usersRecovering: 5, faultSpeedLimit: 4 }),
      ),
    ).toMatchObject({ scale: 4, limitedBy: 'fault' });
    // Every user is back: the quiet stretch runs ahead again.
    expect(
      pacer.next(input({ ...quiet, wallMs: 5_000, simMs: 6 * MINUTE, usersRecovering: 0 })),
    ).toMatchObject({
      scale: 240,
      limitedBy: 'idle',
    });
  });

  it('users away change nothing when the scenario does not judge their return', () => {
    const pacer = new ClockPacer({
      requestedScale: 60,
      minScale: 0.25,
      arrivalsSimMs: spread(0, MINUTE, 100),
      initialJoinsPerSecond: 150,
    });
    const quiet = { sent: 100, settled: 100, backlog: 0, queueSize: 0, p95Ms: undefined, cpuBusy: 0.2 };
    expect(
      pacer.next(input({ ...quiet, wallMs: 1_000, simMs: 5 * MINUTE, usersRecovering: 500 })),
    ).toMatchObject({
      scale: 60,
      limitedBy: 'requested',
    });
  });
});
