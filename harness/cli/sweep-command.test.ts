import { describe, expect, it } from 'vitest';
import { parseScenario } from '../scenario/schema.ts';
import { sweepRequest } from './sweep-command.ts';
import { UsageError } from './usage-error.ts';

const base = {
  name: 'drop',
  description: 'a fault to sweep',
  startAt: '19:30',
  endAt: '19:40',
  event: { seats: 10 },
  users: 10,
  arrivals: [
    { at: '19:30', joined: 0 },
    { at: '19:31', joined: 10 },
  ],
  faults: [{ at: '19:35', fault: 'redis-failover' }],
  expectations: [{ expect: 'no-seat-sold-twice' }],
};

describe('sweepRequest', () => {
  it('is none without --sweep or a scenario sweep, and refuses sweep flags on their own', () => {
    expect(sweepRequest(parseScenario(base), {})).toBeUndefined();
    expect(() => sweepRequest(parseScenario(base), { require: 'majority' })).toThrow(
      /--require shapes a phase sweep: add --sweep <runs>/,
    );
    expect(() => sweepRequest(parseScenario(base), { sweepPeriod: 60 })).toThrow(UsageError);
  });

  it('takes the flags over the scenario, the scenario over the defaults', () => {
    const scenario = parseScenario({
      ...base,
      seed: 5,
      sweep: { runs: 4, periodSeconds: 60, require: 'majority' },
    });
    expect(sweepRequest(scenario, {})).toEqual({ runs: 4, periodSeconds: 60, rule: 'majority', seed: 5 });
    expect(sweepRequest(scenario, { sweep: 6, sweepPeriod: 30, require: 'all', seed: 9 })).toEqual({
      runs: 6,
      periodSeconds: 30,
      rule: 'all',
      seed: 9,
    });
    expect(sweepRequest(parseScenario(base), { sweep: 3 })).toEqual({
      runs: 3,
      periodSeconds: undefined,
      rule: 'all',
      seed: 1,
    });
  });

  it('refuses a sweep of a scenario without faults, naming why', () => {
    expect(() => sweepRequest(parseScenario({ ...base, faults: [] }), { sweep: 3 })).toThrow(
      /injects no fault, so there is no phase to sweep/,
    );
  });
});
