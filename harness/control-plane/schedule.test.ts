import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/clock.ts';
import { Schedule } from './schedule.ts';

describe('Lambda schedule', () => {
  it('runs every minute from the next whole minute, records errors and never overlaps runs', async () => {
    const clock = new ManualClock(Date.parse('2026-11-24T19:30:20Z'));
    let calls = 0;
    let release: (() => void) | undefined;
    const schedule = new Schedule(clock, 60, async () => {
      calls++;
      if (calls === 2) throw new Error('redis unavailable');
      if (calls === 3) await new Promise<void>((r) => (release = r));
    });
    schedule.start();
    await clock.advanceAsync(40_000);
    expect(schedule.invocations.map((i) => i.outcome)).toEqual(['ok']);
    expect(new Date(schedule.invocations[0]!.atMs).toISOString()).toBe('2026-11-24T19:31:00.000Z');
    await clock.advanceAsync(60_000);
    await clock.advanceAsync(60_000); // third run hangs
    await clock.advanceAsync(60_000); // fourth is due while it runs
    release?.();
    await new Promise((r) => setImmediate(r));
    expect(schedule.invocations.map((i) => i.outcome)).toEqual(['ok', 'error', 'skipped', 'ok']);
    expect(schedule.invocations[1]?.error).toBe('redis unavailable');
    schedule.stop();
  });
});
