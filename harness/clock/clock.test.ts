import { describe, expect, it } from 'vitest';
import { ManualClock, ScaledClock } from './clock.ts';

describe('clocks', () => {
  it('ScaledClock runs timeScale times faster, keeps time continuous across scale changes, and pauses', () => {
    let wall = 1_000;
    const clock = new ScaledClock({ timeScale: 30, startSimMs: 0, wallNow: () => wall });
    wall += 1_000;
    expect(clock.now()).toBe(30_000);
    clock.setTimeScale(10);
    wall += 1_000;
    expect(clock.now()).toBe(40_000);
    clock.pause();
    wall += 5_000;
    expect(clock.now()).toBe(40_000);
    clock.resume();
    wall += 1_000;
    expect(clock.now()).toBe(50_000);
    clock.dispose();
  });

  it('ScaledClock fires timers at their simulated due time', async () => {
    const clock = new ScaledClock({ timeScale: 100, startSimMs: 0 });
    const firedAt = await new Promise<number>((resolve) =>
      clock.setTimeout(() => resolve(clock.now()), 5_000),
    );
    expect(firedAt).toBeGreaterThanOrEqual(5_000);
    clock.dispose();
  });

  it('ManualClock fires timers in order, including ones they schedule, and sleep honours abort', async () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b'), 20);
    clock.setTimeout(() => {
      fired.push('a');
      clock.setTimeout(() => fired.push('a2'), 5);
    }, 10);
    const interval = clock.setInterval(() => fired.push('tick'), 12);
    clock.advance(25);
    interval.cancel();
    expect(fired).toEqual(['a', 'tick', 'a2', 'b', 'tick']);
    const controller = new AbortController();
    const sleeping = clock.sleep(1_000, controller.signal);
    controller.abort(new Error('stopped'));
    await expect(sleeping).rejects.toThrow('stopped');
  });
});
