import { describe, expect, it } from 'vitest';
import { reconnectBackoff } from './user-journey.ts';

describe('a virtual user’s reconnect backoff', () => {
  it('is a browser’s 1–5 s in simulated time at any clock speed (a reconnect verdict must not follow the speed)', () => {
    for (const timeScale of [0.25, 1, 10, 30, 240]) {
      const { reconnectionDelay, reconnectionDelayMax } = reconnectBackoff(timeScale);
      expect(reconnectionDelay * timeScale).toBeCloseTo(1_000, 6);
      expect(reconnectionDelayMax * timeScale).toBeCloseTo(5_000, 6);
    }
  });
});
