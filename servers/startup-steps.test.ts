import { describe, expect, it } from 'vitest';
import { StartupFailedError, TimedSteps } from './startup-steps.ts';

describe('TimedSteps', () => {
  it('prints one line per step as it ends, with its duration, and keeps the timings', async () => {
    let nowMs = 0;
    const lines: string[] = [];
    const steps = new TimedSteps(
      (l) => lines.push(l),
      () => nowMs,
    );
    const value = await steps.step('PostgreSQL writer + sync replica', async () => {
      nowMs += 900;
      return 42;
    });
    expect(value).toBe(42);
    await expect(
      steps.step('Redis', async () => {
        nowMs += 1_250;
        throw new Error('redis-server not found');
      }),
    ).rejects.toThrow('redis-server not found');
    expect(lines).toEqual([
      expect.stringMatching(/^✓ PostgreSQL writer \+ sync replica +0\.9 s$/),
      expect.stringMatching(/^✗ Redis +1\.3 s$/),
    ]);
    expect(steps.timings).toEqual([
      { label: 'PostgreSQL writer + sync replica', ms: 900, ok: true },
      { label: 'Redis', ms: 1_250, ok: false },
    ]);
  });

  it('a failed start-up says what failed, then the servers last lines', () => {
    const err = new StartupFailedError(new Error('redis-primary exited'), {
      failureLines: () => ['Last server output:', '  [redis-primary] bind: address in use'],
    });
    expect(err.message).toBe(
      'start-up failed: redis-primary exited\n\nLast server output:\n  [redis-primary] bind: address in use',
    );
  });
});
