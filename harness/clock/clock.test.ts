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

  it('ScaledClock follows another clock’s pieces: a pending timer fires at its simulated time across the change', async () => {
    // A load worker's think time: 3 simulated s set at 2× (1,500 wall ms), then the run's clock
    // goes to 100×. On the followed clock it ends about 2.9 simulated s later (29 wall ms), not
    // at 1,500: the bound below leaves a noisy runner most of a second.
    const wallStart = Date.now();
    const clock = new ScaledClock({ timeScale: 2, startSimMs: 0 });
    const fired = new Promise<{ simMs: number; wallMs: number }>((resolve) =>
      clock.setTimeout(() => resolve({ simMs: clock.now(), wallMs: Date.now() - wallStart }), 3_000),
    );
    await new Promise((r) => setTimeout(r, 50));
    const wallMs = Date.now();
    clock.follow({ wallMs, simMs: 100, timeScale: 100 });
    // From the piece's own wall time on: a few wall ms later is a few hundred simulated ms on.
    expect(clock.now()).toBeGreaterThanOrEqual(100);
    expect(clock.now()).toBeLessThan(100 + 100 * 30);
    const { simMs, wallMs: firedAfter } = await fired;
    expect(simMs).toBeGreaterThanOrEqual(3_000);
    expect(firedAfter).toBeLessThan(1_000);
    // A piece sent from before the clock's own latest continues from there on the same line.
    const paused = new ScaledClock({ timeScale: 1, startSimMs: 0, wallNow: () => 2_000 });
    paused.follow({ wallMs: 1_000, simMs: 10_000, timeScale: 5 });
    expect(paused.now()).toBe(15_000);
    paused.follow({ wallMs: 2_000, simMs: 15_000, timeScale: 0 });
    expect(paused.isPaused).toBe(true);
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
