import { describe, expect, it } from 'vitest';
import { DrainCostCalibration } from './drain-cost.ts';

const quiet = { plannedShare: 0.8, cpuBusy: 0.3, saturated: false };
/** A decision's simulated ms at 5×: the 40 s window holds eight of them. */
const SECOND = 5_000;

describe('DrainCostCalibration', () => {
  it('counts the whole plan until its window of seconds is full, then the share the CPU showed', () => {
    const drain = new DrainCostCalibration();
    for (let s = 0; s < 8; s++) {
      drain.add(s * SECOND, quiet);
      expect(drain.scale(s * SECOND)).toBe(1);
    }
    drain.add(8 * SECOND, quiet);
    // 30 % busy where the plan put 80 % of its capacity.
    expect(drain.scale(8 * SECOND)).toBeCloseTo(0.375, 6);
  });

  it('takes the busiest second of the window: a wave of messages or purchases counts', () => {
    const drain = new DrainCostCalibration();
    for (let s = 0; s <= 8; s++) drain.add(s * SECOND, s === 5 ? { ...quiet, cpuBusy: 0.6 } : quiet);
    expect(drain.scale(8 * SECOND)).toBeCloseTo(0.75, 6);
    // Out of the window 40 simulated seconds later: the quiet seconds again.
    for (let s = 9; s <= 14; s++) drain.add(s * SECOND, quiet);
    expect(drain.scale(14 * SECOND)).toBeCloseTo(0.375, 6);
  });

  it('counts a saturated second as the whole plan, never more than the plan, never under a quarter', () => {
    const drain = new DrainCostCalibration();
    for (let s = 0; s <= 8; s++) drain.add(s * SECOND, { ...quiet, cpuBusy: 0.05 });
    expect(drain.scale(8 * SECOND)).toBe(0.25);
    drain.add(9 * SECOND, { ...quiet, cpuBusy: 0.5, saturated: true });
    expect(drain.scale(9 * SECOND)).toBe(1);
    const busy = new DrainCostCalibration();
    for (let s = 0; s <= 8; s++) busy.add(s * SECOND, { ...quiet, cpuBusy: 0.95 });
    expect(busy.scale(8 * SECOND)).toBe(1);
  });

  it('starts over after a break in the drain', () => {
    const drain = new DrainCostCalibration();
    for (let s = 0; s <= 8; s++) drain.add(s * SECOND, quiet);
    drain.reset();
    drain.add(9 * SECOND, quiet);
    expect(drain.scale(9 * SECOND)).toBe(1);
  });
});
