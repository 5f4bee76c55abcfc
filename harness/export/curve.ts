/**
 * The scenario's arrival curve in wall time, as the load engines take it. The curve is cumulative
 * and linear between points, so each segment arrives at a constant rate: k6 gets one
 * `ramping-arrival-rate` stage per segment (a 0 s stage steps the rate), Artillery one phase per
 * segment with `arrivalCount` (evenly spaced arrivals). Both are exact: the counts at each point
 * are the scenario's, rescaled to `--users` as `tiketi-sim run --users` rescales them.
 */
import { rescaleArrivals } from '../load/arrivals.ts';
import { clockTimeToSeconds, type Scenario } from '../scenario/schema.ts';
import type { ArrivalPoint } from './plan.ts';

export interface CurveSegment {
  /** Simulated clock times of the segment's ends (`19:50`). */
  from: string;
  to: string;
  /** Wall milliseconds (simulated time / timeScale), whole. */
  durationMs: number;
  /** Users who arrive during the segment. */
  arrivals: number;
}

export interface WallCurve {
  /** Wall ms from the scenario's start to its first arrival point. */
  idleBeforeMs: number;
  segments: CurveSegment[];
  /** Wall ms from the last arrival point to the scenario's end: users may still be queued. */
  tailMs: number;
  users: number;
}

/** `timeScale` 1 is the drop in real time; more compresses it (to rehearse a script locally). */
export function wallCurve(scenario: Scenario, users: number, timeScale = 1): WallCurve {
  const points = rescaleArrivals(scenario.arrivals, users);
  const wall = (fromAt: string, toAt: string) =>
    Math.round(((clockTimeToSeconds(toAt) - clockTimeToSeconds(fromAt)) * 1_000) / timeScale);
  const segments: CurveSegment[] = [];
  points.slice(1).forEach((point, i) => {
    const previous = points[i]!;
    segments.push({
      from: previous.at,
      to: point.at,
      durationMs: wall(previous.at, point.at),
      arrivals: point.joined - previous.joined,
    });
  });
  // Users of the first point would arrive all at one instant, which no arrival rate expresses:
  // exportProblems() refuses such a curve before this runs.
  return {
    idleBeforeMs: wall(scenario.startAt, points[0]!.at),
    segments,
    tailMs: wall(points.at(-1)!.at, scenario.endAt),
    users,
  };
}

/** The curve as cumulative shares of the users by wall time from the scenario's start. */
export function arrivalPoints(curve: WallCurve): ArrivalPoint[] {
  const points: ArrivalPoint[] = [{ atMs: curve.idleBeforeMs, share: 0 }];
  let arrived = 0;
  for (const s of curve.segments) {
    arrived += s.arrivals;
    points.push({ atMs: points.at(-1)!.atMs + s.durationMs, share: arrived / curve.users });
  }
  return points;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * The smallest k6 `timeUnit` (whole ms) in which every segment's rate is a whole number of
 * iterations: k6 stage targets are integers, and a rounded rate would miss the scenario's counts.
 */
export function exactTimeUnitMs(segments: readonly CurveSegment[]): number {
  let unit = 1;
  for (const s of segments) {
    if (s.arrivals === 0 || s.durationMs === 0) continue;
    const needed = s.durationMs / gcd(s.arrivals, s.durationMs);
    unit = (unit * needed) / gcd(unit, needed);
  }
  return unit;
}
