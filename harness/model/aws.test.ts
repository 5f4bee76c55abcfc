import { describe, expect, it } from 'vitest';
import { countLifecycles, countTargetHealth, isAlarmState, isTargetHealthState } from './aws.ts';

describe('AWS nouns', () => {
  it('recognise their own states only', () => {
    expect(['OK', 'ALARM', 'INSUFFICIENT_DATA', 'ok', 'Alarm', 3, undefined].map(isAlarmState)).toEqual([
      true,
      true,
      true,
      false,
      false,
      false,
      false,
    ]);
    expect(['draining', 'unhealthy.draining', 'unavailable'].map(isTargetHealthState)).toEqual([
      true,
      false,
      false,
    ]);
  });

  it('count a sample’s instances and targets the same way in every world', () => {
    expect(
      countLifecycles([
        { lifecycle: 'Pending' },
        { lifecycle: 'InService' },
        { lifecycle: 'InService' },
        { lifecycle: 'Terminating' },
        { lifecycle: 'Terminated' },
        { lifecycle: 'Other' },
      ]),
    ).toEqual({ pending: 1, inService: 2, terminating: 1 });
    expect(
      countTargetHealth([
        { state: 'initial' },
        { state: 'healthy' },
        { state: 'healthy' },
        { state: 'unhealthy' },
        { state: 'draining' },
        { state: 'unused' },
        { state: 'unavailable' },
      ]),
    ).toEqual({ initial: 1, healthy: 2, unhealthy: 1, draining: 1 });
  });
});
