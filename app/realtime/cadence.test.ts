import { describe, expect, it } from 'vitest';
import { UpdateCadence } from './realtime.ts';

/** Which of `ticks` wall ticks (every `tickMs`) are due, at a given speed. */
function dueTicks(cadence: UpdateCadence, tickMs: number, ticks: number, scale: number, jitterMs = 0) {
  const due: number[] = [];
  for (let i = 0; i < ticks; i++)
    if (cadence.due(i * tickMs + (i % 2 ? -jitterMs : jitterMs), scale)) due.push(i);
  return due;
}

describe('UpdateCadence', () => {
  it('updates every tick in production (1 s of app time, 1 s ticks, 1×), timer jitter or not', () => {
    expect(dueTicks(new UpdateCadence(1_000, 1_000), 1_000, 6, 1, 3)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('follows the clock: 20 s of app time is every tick at 30×, every 4th at 5×, every 20th at 1×', () => {
    expect(dueTicks(new UpdateCadence(1_000, 20_000), 1_000, 4, 30)).toEqual([0, 1, 2, 3]);
    expect(dueTicks(new UpdateCadence(1_000, 20_000), 1_000, 9, 5)).toEqual([0, 4, 8]);
    expect(dueTicks(new UpdateCadence(1_000, 20_000), 1_000, 41, 1)).toEqual([0, 20, 40]);
  });

  it('picks up a new speed from the next tick', () => {
    const cadence = new UpdateCadence(1_000, 10_000);
    expect(cadence.due(0, 1)).toBe(true);
    expect(cadence.due(1_000, 1)).toBe(false);
    // Slow until now: 1 s of app time so far; at 10× the next tick brings 10 s more.
    expect(cadence.due(2_000, 10)).toBe(true);
  });
});
