import { describe, expect, it } from 'vitest';
import { type Clock, ManualClock } from '../clock/clock.ts';
import { Schedule } from './schedule.ts';

const at = (ms: number) => new Date(ms).toISOString().slice(11, 19);

/** A manual clock that reads `lateMs` ahead: its timers fire that late, as a busy host's do. */
class LateClock implements Clock {
  lateMs = 0;
  constructor(private readonly inner: ManualClock) {}
  now = () => this.inner.now() + this.lateMs;
  setTimeout = (fn: () => void, delayMs: number) => this.inner.setTimeout(fn, delayMs);
  setInterval = (fn: () => void, intervalMs: number) => this.inner.setInterval(fn, intervalMs);
  sleep = (delayMs: number) => this.inner.sleep(delayMs);
}

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
    await clock.advanceAsync(60_000); // fourth is due while it runs: it waits
    await clock.advanceAsync(60_000); // fifth is due while the fourth waits: skipped
    expect(calls).toBe(3);
    release?.();
    await schedule.settled();
    expect(calls).toBe(4);
    expect(schedule.invocations.map((i) => [at(i.atMs), i.outcome])).toEqual([
      ['19:31:00', 'ok'],
      ['19:32:00', 'error'],
      ['19:35:00', 'skipped'],
      ['19:33:00', 'ok'],
      ['19:34:00', 'ok'],
    ]);
    expect(schedule.invocations[1]?.error).toBe('redis unavailable');
    schedule.stop();
  });

  it('tells each run the minute it was due, and runs the minutes a late timer missed', async () => {
    const manual = new ManualClock(Date.parse('2026-11-24T19:30:20Z'));
    const clock = new LateClock(manual);
    const told: string[] = [];
    const schedule = new Schedule(clock, 60, async (dueMs) => {
      told.push(`${at(dueMs)} run at ${at(clock.now())}`);
    });
    schedule.start();
    await manual.advanceAsync(40_000);
    clock.lateMs = 75_000; // the next timer fires 75 s late: 19:32 is due and passed by then
    await manual.advanceAsync(60_000);
    clock.lateMs = 0;
    await schedule.settled();
    await manual.advanceAsync(120_000);
    await schedule.settled();
    expect(told).toEqual([
      '19:31:00 run at 19:31:00',
      '19:32:00 run at 19:33:15',
      '19:33:00 run at 19:33:15',
      '19:34:00 run at 19:34:00',
    ]);
    expect(schedule.invocations.every((i) => i.outcome === 'ok')).toBe(true);
    schedule.stop();
  });

  it('is settled once its runs are done, or after the wall time it is given while one hangs', async () => {
    const clock = new ManualClock(Date.parse('2026-11-24T19:30:20Z'));
    let release: () => void = () => {};
    const schedule = new Schedule(clock, 60, () => new Promise<void>((r) => (release = r)));
    schedule.start();
    await clock.advanceAsync(40_000);
    const began = performance.now();
    await schedule.settled(100);
    expect(performance.now() - began).toBeGreaterThanOrEqual(95);
    expect(schedule.invocations).toEqual([]);
    let done = false;
    const settled = schedule.settled().then(() => (done = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    release();
    await settled;
    expect(schedule.invocations.map((i) => i.outcome)).toEqual(['ok']);
    schedule.stop();
  });
});
