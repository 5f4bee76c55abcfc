import { describe, expect, it } from 'vitest';
import type { Verdict } from '../expectations/evaluate.ts';
import { AWS_NOT_EVALUABLE } from './aws/aws-world.ts';
import { isNotEvaluable, markNotEvaluable, readyUsers } from './world.ts';

const verdicts: Verdict[] = [
  {
    kind: 'latency',
    name: 'P95 of all API requests < 200 ms',
    status: 'passed',
    passed: true,
    expected: '< 200 ms',
    observed: '87 ms over 900 requests',
  },
  {
    kind: 'no-seat-sold-twice',
    name: 'no seat sold twice',
    status: 'passed',
    passed: true,
    expected: '0 seats with two sales',
    observed: '-1 seats with two sales',
  },
  {
    kind: 'no-confirmed-reservation-lost',
    name: 'no confirmed reservation lost',
    status: 'passed',
    passed: true,
    expected: 'all 12 confirmed payments in the database',
    observed: '-1 lost; -1 confirmed in the database',
  },
  {
    kind: 'baseline',
    name: 'P95 within 20 %',
    status: 'failed',
    passed: false,
    expected: '<= 120 ms',
    observed: '130 ms',
  },
];

describe('markNotEvaluable', () => {
  it("turns the world's unevaluable expectations into not-passed verdicts that say why, and leaves the rest", () => {
    const marked = markNotEvaluable(verdicts, { name: 'aws', notEvaluable: AWS_NOT_EVALUABLE });
    expect(marked[0]).toBe(verdicts[0]);
    expect(marked[3]).toBe(verdicts[3]);
    for (const v of [marked[1]!, marked[2]!]) {
      expect(v).toMatchObject({ passed: false, status: 'inconclusive' });
      expect(v.reason).toMatch(/^not evaluable in the aws world/);
      expect(v.observed).toMatch(/^not evaluable in the aws world: it counts confirmed sales in Aurora/);
      expect(isNotEvaluable(v)).toBe(true);
    }
    expect(marked[1]).toMatchObject({
      kind: 'no-seat-sold-twice',
      name: 'no seat sold twice',
      expected: '0 seats with two sales',
    });
    expect(marked.filter(isNotEvaluable)).toHaveLength(2);
    // A real failure is not "not evaluable".
    expect(isNotEvaluable(verdicts[3]!)).toBe(false);
  });

  it('changes nothing in a world that can check everything', () => {
    expect(markNotEvaluable(verdicts, { name: 'local', notEvaluable: {} })).toEqual(verdicts);
  });
});

describe('readyUsers', () => {
  it('hands out users in order, all ready, as the load protocol wants them', () => {
    const supply = readyUsers([
      { userId: 'u1', token: 't1', email: 'fan1@rehearsal.tiketi.gg' } as never,
      { userId: 'u2', token: 't2' },
      { userId: 'u3', token: 't3' },
    ]);
    expect(supply.ready).toBe(3);
    expect(supply.take(0, 2)).toEqual([
      { userId: 'u1', token: 't1' },
      { userId: 'u2', token: 't2' },
    ]);
    expect(supply.take(2, 3)).toEqual([{ userId: 'u3', token: 't3' }]);
  });
});
