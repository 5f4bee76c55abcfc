import { describe, expect, it } from 'vitest';
import { PhaseRunner } from './phases.ts';

describe('PhaseRunner', () => {
  it('runs phases in order and cleans up what they started, last first', async () => {
    const events: string[] = [];
    const phases = new PhaseRunner((l) => events.push(l));
    const world = await phases.run(
      'start world',
      async () => 'world',
      async (w) => void events.push(`stop ${w}`),
    );
    await phases.run(
      'prepare users',
      async () => events.push(`prepare on ${world}`),
      async () => void events.push('stop load'),
    );
    await phases.close();
    expect(events).toEqual(['prepare on world', 'stop load', 'stop world']);
    expect(phases.failedPhase).toBeUndefined();
  });

  it('a failure names its phase, keeps its error, and still cleans up', async () => {
    const lines: string[] = [];
    const phases = new PhaseRunner((l) => lines.push(l));
    await phases.run(
      'start world',
      async () => 1,
      async () => void lines.push('world stopped'),
    );
    const cause = new TypeError('queue unreachable');
    await expect(
      phases.run('drop', async () => {
        throw cause;
      }),
    ).rejects.toBe(cause);
    expect(phases.failedPhase).toBe('drop');
    await phases.close();
    expect(lines).toEqual(['[runner] the "drop" phase failed: queue unreachable', 'world stopped']);
  });

  it('every cleanup runs even when one fails; the first failure is thrown', async () => {
    const lines: string[] = [];
    const phases = new PhaseRunner((l) => lines.push(l));
    await phases.run(
      'start world',
      async () => 0,
      async () => void lines.push('world stopped'),
    );
    await phases.run(
      'prepare users',
      async () => 0,
      async () => {
        throw new Error('worker hung');
      },
    );
    await expect(phases.close()).rejects.toThrow('worker hung');
    expect(lines).toEqual([
      '[runner] cleaning up after "prepare users" failed: worker hung',
      'world stopped',
    ]);
  });
});
