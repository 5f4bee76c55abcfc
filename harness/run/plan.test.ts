import { describe, expect, it } from 'vitest';
import { buyerArrivals, decideUser, userRandom } from '../load/user-plan.ts';
import { parseScenario } from '../scenario/schema.ts';
import { plannedChoices, planRun } from './plan.ts';

const scenario = parseScenario({
  name: 'seeded',
  description: 'choices from a seed',
  startAt: '19:30',
  endAt: '19:40',
  event: { seats: 100 },
  users: 400,
  arrivals: [
    { at: '19:30', joined: 0 },
    { at: '19:35', joined: 400 },
  ],
  behaviour: { buyShare: 0.3 },
  faults: [{ at: '19:36', fault: 'kill-instance' }],
  expectations: [{ expect: 'no-seat-sold-twice' }],
});
const world = { name: 'local' as const, fixedTimeScale: undefined };
const plan = (seed?: number) => planRun({ scenario, world, seed, log: () => {} });

describe('what a seed decides', () => {
  it('the same seed plans the same choices; another seed other buyers, the same arrivals and faults', () => {
    const a = plannedChoices(plan(7));
    expect(plannedChoices(plan(7))).toEqual(a);
    const b = plannedChoices(plan(8));
    expect(b.buyersDigest).not.toBe(a.buyersDigest);
    expect(b.arrivalsDigest).toBe(a.arrivalsDigest);
    expect(b.faultsAtMs).toEqual(a.faultsAtMs);
    // About the buy share of the users buy.
    expect(a.buyers).toBeGreaterThan(80);
    expect(a.buyers).toBeLessThan(160);
  });

  it('takes --seed over the scenario’s seed, and 1 when neither names one', () => {
    expect(plan().seed).toBe(1);
    expect(planRun({ scenario: { ...scenario, seed: 5 }, world, log: () => {} }).seed).toBe(5);
    expect(planRun({ scenario: { ...scenario, seed: 5 }, world, seed: 9, log: () => {} }).seed).toBe(9);
  });

  it('a user’s decisions depend on the seed and its arrival place only, as the worker draws them', () => {
    const buyers = new Set(buyerArrivals(7, 400, scenario.behaviour));
    // The worker draws each user's stream as it arrives, in whatever order: the same decisions.
    for (const arrival of [399, 0, 200, 17])
      expect(decideUser(userRandom(7, arrival), scenario.behaviour).buys).toBe(buyers.has(arrival));
  });

  it('an attacker never buys, and the hostile share is drawn first', () => {
    const hostile = { ...scenario.behaviour, hostile: { share: 1, attacks: [], attemptsPerAttack: 1 } };
    expect(decideUser(userRandom(3, 0), hostile as typeof scenario.behaviour)).toEqual({
      hostile: true,
      buys: false,
    });
  });
});
