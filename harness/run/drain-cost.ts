/**
 * How much of the drain's planned cost (the admissions and the position messages, in joins:
 * pacer.ts) the CPU shows, learnt from the pacer's own seconds once every user has arrived. The
 * plan's costs per admission and per message are fixed, fitted to the drain's busiest part, where
 * admitted users hold, reserve and pay. Once the seats are sold, an admission is a notice and a
 * socket closing: a full peak's last queued 10,000 drained with the CPU 27–47 % busy while the
 * plan held the clock at 11–30×, for 10 wall seconds (2026-12-03).
 *
 * Each second gives the CPU busy share over the share of the planned capacity the plan put on
 * it. The highest of the last WINDOW_SIM_MS counts (simulated: a wave of position messages, or of
 * purchases after their think time, comes within it at any speed), and only once the window is
 * full; a saturated second counts as the whole plan. The result scales the plan's drain costs,
 * never above what they are.
 */
export class DrainCostCalibration {
  private seconds: { simMs: number; ratio: number }[] = [];
  private firstSimMs: number | undefined;

  /**
   * One decision's interval of the drain. `plannedShare`: the planned drain load per wall second
   * at the speed that ran, over the planned capacity; `cpuBusy`: the run's CPU busy share then.
   */
  add(simMs: number, second: { plannedShare: number; cpuBusy: number; saturated: boolean }): void {
    this.firstSimMs ??= simMs;
    const ratio = second.saturated || second.plannedShare <= 0 ? 1 : second.cpuBusy / second.plannedShare;
    this.seconds.push({ simMs, ratio });
    this.seconds = this.seconds.filter((s) => simMs - s.simMs <= WINDOW_SIM_MS);
  }

  /** A break in the drain (arrivals again, a fault): the seconds seen no longer tell. */
  reset(): void {
    this.seconds = [];
    this.firstSimMs = undefined;
  }

  /** The share of the plan's drain costs to count now: 1 until the window is full. */
  scale(simMs: number): number {
    if (this.firstSimMs === undefined || simMs - this.firstSimMs < WINDOW_SIM_MS) return 1;
    const highest = Math.max(...this.seconds.map((s) => s.ratio));
    return Math.min(1, Math.max(MIN_SCALE, highest));
  }
}

/**
 * Simulated ms the highest ratio is taken over: two position updates (20 simulated seconds each),
 * longer than a purchase's think time (5–30 simulated seconds). Over 8 wall seconds instead, the
 * busy seconds of the last purchases held the whole plan until the queue had nearly emptied.
 */
const WINDOW_SIM_MS = 40_000;
/** The least share of the plan's drain costs counted: its rise is still gradual (`maxSpeedUp`). */
const MIN_SCALE = 0.25;
