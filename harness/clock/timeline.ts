/**
 * Wall time ↔ simulated time through every speed the clock ran at.
 *
 * A `ClockAnchor` is one straight piece of the mapping: from `wallMs` on, simulated time runs
 * `timeScale` times faster, starting at `simMs` (0 while paused). A `ClockTimeline` keeps every
 * anchor of a run, so a wall timestamp taken by a worker, a load generator or AWS maps to the
 * simulated moment the clock showed then, whatever speed changes came after.
 */

/** One piece of the wall → simulated mapping (sent to processes that compute simulated time). */
export interface ClockAnchor {
  simMs: number;
  wallMs: number;
  /** Simulated ms per wall ms from `wallMs` on; 0 while paused. */
  timeScale: number;
}

/** Simulated epoch ms at wall epoch ms `wallMs`, on the piece `anchor` starts. */
export function simAt(anchor: ClockAnchor, wallMs: number): number {
  return anchor.simMs + (wallMs - anchor.wallMs) * anchor.timeScale;
}

/** Wall ms until simulated time `simMs` is reached on `anchor`'s piece (Infinity while paused). */
export function wallDelayUntil(anchor: ClockAnchor, nowWallMs: number, simMs: number): number {
  const aheadSimMs = simMs - simAt(anchor, nowWallMs);
  if (aheadSimMs <= 0) return 0;
  return anchor.timeScale > 0 ? aheadSimMs / anchor.timeScale : Number.POSITIVE_INFINITY;
}

/**
 * The anchors of one run, in wall order. Wall times before the first anchor map backward along
 * it: an instance AWS launched ten wall minutes before a 1× run started did so ten simulated
 * minutes before the run's first simulated moment.
 */
export class ClockTimeline {
  private readonly anchors: ClockAnchor[] = [];

  constructor(first?: ClockAnchor) {
    if (first) this.record(first);
  }

  /** The piece that applies from now on; undefined until the clock first ran. */
  get latest(): ClockAnchor | undefined {
    return this.anchors.at(-1);
  }

  /** A new piece from `anchor.wallMs` on (a speed change, a pause or a resume). */
  record(anchor: ClockAnchor): void {
    const last = this.anchors.at(-1);
    if (last && anchor.wallMs < last.wallMs)
      throw new RangeError(`clock anchors must come in wall order (${anchor.wallMs} < ${last.wallMs})`);
    this.anchors.push({ ...anchor });
  }

  /** Simulated epoch ms the clock showed at wall epoch ms `wallMs`. */
  toSim(wallMs: number): number {
    const first = this.anchors[0];
    if (!first) throw new RangeError('the clock has not run yet: no wall time maps to simulated time');
    for (let i = this.anchors.length - 1; i > 0; i--) {
      const anchor = this.anchors[i]!;
      if (anchor.wallMs <= wallMs) return simAt(anchor, wallMs);
    }
    return simAt(first, wallMs);
  }
}
