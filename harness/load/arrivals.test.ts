import { describe, expect, it } from 'vitest';
import { arrivalOffsetsSeconds, rescaleArrivals } from './arrivals.ts';

describe('arrival schedule', () => {
  const curve = [
    { at: '19:30', joined: 0 },
    { at: '19:50', joined: 3_000 },
    { at: '19:55', joined: 8_000 },
    { at: '19:58', joined: 25_000 },
  ];

  it('follows the cumulative curve, linear between points', () => {
    const offsets = arrivalOffsetsSeconds(curve);
    expect(offsets).toHaveLength(25_000);
    const by = (hhmm: string) => {
      const [h, m] = hhmm.split(':').map(Number) as [number, number];
      return offsets.filter((s) => s <= h * 3600 + m * 60).length;
    };
    expect(by('19:40')).toBe(1_500);
    expect(by('19:50')).toBe(3_000);
    expect(by('19:55')).toBe(8_000);
    expect(by('19:58')).toBe(25_000);
    // Sorted: users join in order.
    expect(offsets.every((s, i) => i === 0 || s >= offsets[i - 1]!)).toBe(true);
  });

  it('rescales to another total keeping the shape', () => {
    expect(rescaleArrivals(curve, 6_000).map((p) => p.joined)).toEqual([0, 720, 1_920, 6_000]);
  });
});
