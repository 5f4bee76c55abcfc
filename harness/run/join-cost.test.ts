import { describe, expect, it } from 'vitest';
import { JoinCostFit } from './join-cost.ts';

describe('JoinCostFit', () => {
  it('separates a join’s own CPU cost from the work that does not grow with the joins', () => {
    // busy = 0.25 + 0.002 × joins/s: 4 ms of CPU a join on two cores, a quarter busy anyway.
    const fit = new JoinCostFit();
    for (const joins of [50, 120, 80, 180, 60, 150, 100, 170]) fit.add(joins, 0.25 + 0.002 * joins);
    expect(fit.costPerJoin).toBeCloseTo(0.002, 6);
    // From 100 joins/s at 45 % busy, 75 % busy is 150 joins/s further.
    expect(fit.rateAt(0.75, { joinsPerSecond: 100, cpuBusy: 0.45 })).toBeCloseTo(250, 3);
    // Scaling 100 joins/s at 45 % to 75 % (no base) would have said 167.
  });

  it('says nothing until the rates seen spread enough to tell the base from the cost', () => {
    const fit = new JoinCostFit();
    for (let s = 0; s < 20; s++) fit.add(100 + (s % 2), 0.4 + (s % 2) * 0.01);
    expect(fit.costPerJoin).toBeUndefined();
    expect(fit.rateAt(0.75, { joinsPerSecond: 100, cpuBusy: 0.4 })).toBeUndefined();
    const young = new JoinCostFit();
    for (const joins of [50, 150, 60]) young.add(joins, 0.25 + 0.002 * joins);
    expect(young.costPerJoin).toBeUndefined();
  });

  it('forgets old seconds: a cost that changed is the new one within a few tens of seconds', () => {
    const fit = new JoinCostFit();
    const rates = [50, 150, 80, 120, 60, 170, 100, 140];
    for (let s = 0; s < 40; s++) fit.add(rates[s % rates.length]!, 0.2 + 0.001 * rates[s % rates.length]!);
    for (let s = 0; s < 40; s++) fit.add(rates[s % rates.length]!, 0.2 + 0.003 * rates[s % rates.length]!);
    expect(fit.costPerJoin).toBeGreaterThan(0.0029);
  });

  it('says nothing when the CPU hardly follows the joins: other work moves it', () => {
    const fit = new JoinCostFit();
    const noise = [0.3, 0.7, 0.45, 0.2, 0.65, 0.35, 0.5, 0.25];
    [50, 150, 80, 120, 60, 170, 100, 140].forEach((joins, i) => {
      fit.add(joins, noise[i]! + 0.0001 * joins);
    });
    expect(fit.costPerJoin).toBeUndefined();
    const flat = new JoinCostFit();
    for (const joins of [50, 150, 80, 120, 60, 170]) flat.add(joins, 0.45);
    expect(flat.costPerJoin).toBeUndefined();
  });

  it('never reports a cost that falls as joins rise', () => {
    const fit = new JoinCostFit();
    for (const joins of [50, 150, 80, 120, 60, 170]) fit.add(joins, 0.8 - 0.002 * joins);
    expect(fit.costPerJoin).toBeUndefined();
  });
});
