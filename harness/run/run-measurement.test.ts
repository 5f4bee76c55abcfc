import { describe, expect, it } from 'vitest';
import { aggregateOf } from './drop-fakes.ts';
import { steeringSamples } from './run-measurement.ts';

describe('steeringSamples', () => {
  const all = aggregateOf([10, 12, 15, 300, 400, 500]);
  const count = (a: ReturnType<typeof aggregateOf>) => a.endpointCount();

  it('are the samples clear of stalls, when the workers file them apart and most are', () => {
    expect(count(steeringSamples(all, aggregateOf([10, 12, 15])))).toBe(3);
  });

  it('are all of them when most were held up, or when nothing was filed apart', () => {
    expect(count(steeringSamples(all, aggregateOf([10, 12])))).toBe(6);
    expect(count(steeringSamples(all, undefined))).toBe(6);
  });
});
