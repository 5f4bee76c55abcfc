/**
 * How fast the simulated clock may run around a fault. The drop's clock runs as fast as the
 * machine keeps up, and faster still through stretches with nothing due; around a fault two
 * things cap it, so a rehearsal's verdict does not depend on how fast it was run.
 */
import type { Fault } from '../scenario/schema.ts';

/**
 * Sentinel's `down-after` and failover timeout, PostgreSQL's promotion, the fault proxy's added
 * latency and the app's dependency-check timeouts run on wall time: at 10× they take about the
 * design's seconds in simulated time; a faster clock would stretch them past the design.
 */
export const WALL_TIME_RECOVERY_MAX_SCALE = 10;

/**
 * A fault starts at the first tick (50 wall ms) after its time: at 10× within half a simulated
 * second of it, a tenth of a phase sweep's 5 s step.
 */
export const FAULT_APPROACH_MAX_SCALE = 10;

/**
 * How far ahead, in wall ms at the current speed, a fault counts as approaching: two of the
 * pacer's once-a-second decisions, so it has slowed before the fault is due.
 */
export const FAULT_APPROACH_WALL_MS = 2_000;

/**
 * While users recover — away (their socket dropped, not yet back with their state) or failing
 * (their requests fail and they keep trying) — how long that lasts is measured on the simulated
 * clock, but part of it is this machine's work: a storm of reconnects at the instances that
 * remain, CPU-bound for a wall second or so; requests answered late by instances whose pools
 * reconnect. That wall time times the clock's speed adds to every reconnect time and request gap:
 * at 30–60× the slowest client came back 20–30 simulated s after the design says (and a
 * different 20–30 in each run), and at the idle speed one order-page reload stretched a
 * 40-second gap to 230. At 10× those seconds shrink to a few.
 */
export const USERS_RECOVERING_MAX_SCALE = 10;

/** Whether the system's recovery from this fault runs partly on wall time (see above). */
export function recoversOnWallTime(fault: Fault['fault']): boolean {
  // A killed or terminated instance is detected and replaced on the simulated clock alone.
  return fault !== 'kill-instance' && fault !== 'terminate-instance';
}
