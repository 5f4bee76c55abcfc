import type { Stage } from 'k6/options';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../scenario/load.ts';
import { clockTimeToSeconds } from '../scenario/schema.ts';
import { artilleryPhases, SIGN_IN_PHASE } from './artillery.ts';
import { buildPlan } from './build-plan.ts';
import { arrivalPoints, wallCurve } from './curve.ts';
import { k6Options, k6Scenario } from './k6.ts';
import { arrivalAtShare } from './plan.ts';

/** Iterations a k6 ramping-arrival-rate scenario has started `wallMs` after the test's start (k6's rule: the rate ramps linearly within a stage). */
function k6StartedBy(options: ReturnType<typeof k6Options>, wallMs: number): number {
  const scenario = Object.values(options.scenarios ?? {})[0] as {
    startTime: string;
    timeUnit: string;
    startRate: number;
    stages: Stage[];
  };
  const ms = (d: string) => (d.endsWith('ms') ? Number(d.slice(0, -2)) : Number(d.slice(0, -1)) * 1_000);
  const unitMs = ms(scenario.timeUnit);
  let t = ms(scenario.startTime);
  let rate = scenario.startRate;
  let started = 0;
  for (const stage of scenario.stages) {
    const d = ms(stage.duration);
    const until = Math.min(wallMs, t + d);
    if (until > t) {
      const rateAtUntil = rate + ((stage.target - rate) * (until - t)) / d;
      started += (((rate + rateAtUntil) / 2) * (until - t)) / unitMs;
    }
    rate = stage.target;
    t += d;
  }
  return Math.round(started * 1e6) / 1e6;
}

/** Arrivals an Artillery phase list has started `wallMs` after the test's start (`arrivalCount`: evenly spaced). */
function artilleryStartedBy(phases: ReturnType<typeof artilleryPhases>, wallMs: number): number {
  let t = 0;
  let started = 0;
  for (const phase of phases) {
    if ('pause' in phase) {
      t += phase.pause * 1_000;
      continue;
    }
    const d = phase.duration * 1_000;
    if (wallMs >= t + d) started += phase.arrivalCount;
    else if (wallMs > t) started += Math.floor((phase.arrivalCount * (wallMs - t)) / d);
    t += d;
  }
  return started;
}

const OPTIONS = {
  format: 'k6',
  target: 'http://x',
  eventId: 'demo',
  timeScale: 1,
  withoutFaults: false,
} as const;

describe('the exported arrival curve (golden: peak-drop)', async () => {
  const { scenario } = await loadScenario('peak-drop');
  const since = (at: string) => (clockTimeToSeconds(at) - clockTimeToSeconds(scenario.startAt)) * 1_000;

  it("k6 has started the scenario's joined counts by 19:50, 19:55 and 19:58, in wall time", () => {
    const curve = wallCurve(scenario, scenario.users);
    const options = k6Options(curve, buildPlan(scenario, curve, { ...OPTIONS, users: scenario.users }));
    expect(k6StartedBy(options, since('19:50'))).toBe(3_000);
    expect(k6StartedBy(options, since('19:55'))).toBe(8_000);
    expect(k6StartedBy(options, since('19:58'))).toBe(25_000);
    expect(k6StartedBy(options, since('21:00'))).toBe(25_000);
    // Linear between points: half of 19:30–19:50's 3,000 by 19:40.
    expect(k6StartedBy(options, since('19:40'))).toBe(1_500);
  });

  it('Artillery has the same counts at the same times', () => {
    const phases = artilleryPhases(wallCurve(scenario, scenario.users));
    expect(artilleryStartedBy(phases, since('19:50'))).toBe(3_000);
    expect(artilleryStartedBy(phases, since('19:55'))).toBe(8_000);
    expect(artilleryStartedBy(phases, since('19:58'))).toBe(25_000);
    expect(artilleryStartedBy(phases, since('19:40'))).toBe(1_500);
  });

  it('--users rescales the curve as tiketi-sim run --users does; --time-scale compresses it', () => {
    const curve = wallCurve(scenario, 2_000, 60);
    const options = k6Options(curve, buildPlan(scenario, curve, { ...OPTIONS, users: 2_000, timeScale: 60 }));
    const fast = (at: string) => since(at) / 60;
    expect(k6StartedBy(options, fast('19:50'))).toBe(240);
    expect(k6StartedBy(options, fast('19:55'))).toBe(640);
    expect(k6StartedBy(options, fast('19:58'))).toBe(2_000);
    expect(artilleryStartedBy(artilleryPhases(curve), fast('19:55'))).toBe(640);
  });

  it('users still queued after the last arrival are given until the scenario ends', () => {
    const curve = wallCurve(scenario, scenario.users);
    const options = k6Options(curve, buildPlan(scenario, curve, { ...OPTIONS, users: scenario.users }));
    const drop = Object.values(options.scenarios ?? {})[0] as { gracefulStop: string; maxVUs: number };
    expect(drop.gracefulStop).toBe(
      `${(clockTimeToSeconds('21:00') - clockTimeToSeconds('19:58')) * 1_000}ms`,
    );
    expect(drop.maxVUs).toBe(25_000);
  });

  it('signed in ahead, users join on the same curve: a place in the sign-in stretch is a place on the curve', () => {
    const curve = wallCurve(scenario, scenario.users);
    const points = arrivalPoints(curve);
    // The user after the first 3,000 joins at 19:50, after 8,000 at 19:55, the last at 19:58.
    expect(arrivalAtShare(points, 3_000 / 25_000)).toBe(since('19:50'));
    expect(arrivalAtShare(points, 8_000 / 25_000)).toBe(since('19:55'));
    expect(arrivalAtShare(points, 1)).toBe(since('19:58'));
    expect(arrivalAtShare(points, 1_500 / 25_000)).toBe(since('19:40'));
    expect(arrivalAtShare(points, 0)).toBe(points[0]!.atMs);
    // Shares outside 0–1 (a worker's clock a little past the lead) stay on the curve.
    expect(arrivalAtShare(points, 1.01)).toBe(since('19:58'));
    expect(arrivalAtShare(points, -0.1)).toBe(points[0]!.atMs);
  });

  it('a pause in the curve: nobody joins inside it', () => {
    const points = [
      { atMs: 0, share: 0 },
      { atMs: 10_000, share: 0.5 },
      { atMs: 20_000, share: 0.5 },
      { atMs: 30_000, share: 1 },
    ];
    expect(arrivalAtShare(points, 0.5)).toBe(10_000);
    expect(arrivalAtShare(points, 0.5000001)).toBeCloseTo(20_000, -1);
    expect(arrivalAtShare(points, 0.75)).toBe(25_000);
  });

  it('with a sign-in lead, the engines start every user over the lead and wait out the whole scenario', () => {
    const curve = wallCurve(scenario, 2_000, 60);
    const plan = buildPlan(scenario, curve, {
      ...OPTIONS,
      users: 2_000,
      timeScale: 60,
      signInLeadMs: 30_000,
    });
    expect(plan.journey.signInLeadMs).toBe(30_000);
    expect(artilleryPhases(curve, plan.journey.signInLeadMs)).toEqual([
      { name: SIGN_IN_PHASE, duration: 30, arrivalCount: 2_000 },
    ]);
    const drop = k6Scenario(curve, plan.journey.signInLeadMs) as {
      executor: string;
      rate: number;
      timeUnit: string;
      duration: string;
      gracefulStop: string;
    };
    expect(drop).toMatchObject({
      executor: 'constant-arrival-rate',
      rate: 2_000,
      timeUnit: '30000ms',
      duration: '30000ms',
    });
    expect(drop.gracefulStop).toBe(`${plan.journey.runMs}ms`);
  });
});
