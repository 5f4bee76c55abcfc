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

  it('ScaledClock keeps an interval on its grid when one firing comes late (no drift with the load)', async () => {
    // 1 simulated second every 500 wall ms; the event loop is held 1.2 s once. A noisy machine's
    // ordinary lateness (tens of ms) stays well inside the 150 wall ms the check allows.
    const clock = new ScaledClock({ timeScale: 2, startSimMs: 0 });
    const firedAt: number[] = [];
    const done = new Promise<void>((resolve) => {
      const interval = clock.setInterval(() => {
        firedAt.push(clock.now());
        if (firedAt.length === 2) {
          const until = Date.now() + 1_200;
          while (Date.now() < until); // a busy event loop
        }
        if (firedAt.length === 5) {
          interval.cancel();
          resolve();
        }
      }, 1_000);
    });
    await done;
    clock.dispose();
    // The third comes late (about 4,400); the ones after it are back on the whole seconds.
    expect(firedAt[2]!).toBeGreaterThan(4_200);
    for (const at of firedAt.slice(3)) expect(at % 1_000).toBeLessThan(300);
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
    const phased = clock.setInterval(() => fired.push('phased'), 12, 4);
    clock.advance(25);
    interval.cancel();
    phased.cancel();
    expect(fired).toEqual(['phased', 'a', 'tick', 'a2', 'phased', 'b', 'tick']);
    const controller = new AbortController();
    const sleeping = clock.sleep(1_000, controller.signal);
    controller.abort(new Error('stopped'));
    await expect(sleeping).rejects.toThrow('stopped');
  });
});
