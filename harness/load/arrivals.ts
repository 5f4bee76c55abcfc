/**
 * The open-model arrival schedule: when each virtual user joins, from the scenario's cumulative
 * curve (linear between points). Users arrive on schedule whether or not earlier requests have
 * returned — no coordinated omission.
 */
import { clockTimeToSeconds } from '../scenario/schema.ts';

export interface ArrivalPoint {
  at: string;
  joined: number;
}

/** Rescales the curve to another total (`--users`), keeping its shape. */
export function rescaleArrivals(points: ArrivalPoint[], users: number): ArrivalPoint[] {
  const total = points.at(-1)?.joined ?? 0;
  if (total === 0 || total === users) return points.map((p) => ({ ...p }));
  return points.map((p) => ({ at: p.at, joined: Math.round((p.joined * users) / total) }));
}

/**
 * Seconds after midnight at which user `i` (0-based) joins: the moment the cumulative curve
 * reaches `i + 1`. Users of a jump (two points at the same count…) spread evenly over its segment.
 */
export function arrivalOffsetsSeconds(points: ArrivalPoint[]): number[] {
  const out: number[] = [];
  let prevT = points[0] ? clockTimeToSeconds(points[0].at) : 0;
  let prevJoined = 0;
  for (const point of points) {
    const t = clockTimeToSeconds(point.at);
    const added = point.joined - prevJoined;
    for (let k = 1; k <= added; k++) out.push(prevT + ((t - prevT) * k) / added);
    prevT = t;
    prevJoined = point.joined;
  }
  return out;
}
