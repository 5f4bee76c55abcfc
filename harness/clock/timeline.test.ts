import { describe, expect, it } from 'vitest';
import { ScaledClock } from './clock.ts';
import { ClockTimeline, simAt, wallDelayUntil } from './timeline.ts';

describe('wall ↔ simulated time', () => {
  it('maps a wall time through the speed that applied then, not the latest one', () => {
    const timeline = new ClockTimeline({ wallMs: 1_000, simMs: 0, timeScale: 30 });
    timeline.record({ wallMs: 2_000, simMs: 30_000, timeScale: 10 });
    timeline.record({ wallMs: 3_000, simMs: 40_000, timeScale: 0 });
    expect(timeline.toSim(1_500)).toBe(15_000);
    expect(timeline.toSim(2_500)).toBe(35_000);
    expect(timeline.toSim(9_000)).toBe(40_000);
    // Before the first anchor: backward along the first speed.
    expect(timeline.toSim(0)).toBe(-30_000);
  });

  it('refuses anchors out of wall order and a mapping before the clock ran', () => {
    expect(() => new ClockTimeline().toSim(0)).toThrow('has not run yet');
    const timeline = new ClockTimeline({ wallMs: 1_000, simMs: 0, timeScale: 1 });
    expect(() => timeline.record({ wallMs: 999, simMs: 0, timeScale: 1 })).toThrow('wall order');
  });

  it('simAt and wallDelayUntil read one anchor', () => {
    const anchor = { wallMs: 100, simMs: 5_000, timeScale: 60 };
    expect(simAt(anchor, 200)).toBe(11_000);
    expect(wallDelayUntil(anchor, 200, 17_000)).toBe(100);
    expect(wallDelayUntil(anchor, 200, 1_000)).toBe(0);
    expect(wallDelayUntil({ ...anchor, timeScale: 0 }, 200, 17_000)).toBe(Number.POSITIVE_INFINITY);
  });

  it('ScaledClock keeps its timeline: toSim agrees with what now() read at each wall moment', () => {
    let wall = 10_000;
    const clock = new ScaledClock({ timeScale: 60, startSimMs: 0, wallNow: () => wall, paused: true });
    wall += 4_000; // setup, paused
    clock.resume();
    const readings: [number, number][] = [];
    for (const [stepMs, scale] of [
      [500, 60],
      [700, 12],
      [300, 1],
      [900, 45],
    ] as const) {
      clock.setTimeScale(scale);
      wall += stepMs;
      readings.push([wall, clock.now()]);
    }
    for (const [wallMs, simMs] of readings) expect(clock.toSim(wallMs)).toBe(simMs);
    // Setup happened before the clock ran: it maps backward at the first speed.
    expect(clock.toSim(12_000)).toBe(-2_000 * 60);
    expect(clock.anchor()).toEqual({ wallMs: wall, simMs: clock.now(), timeScale: 45 });
    clock.pause();
    expect(clock.anchor().timeScale).toBe(0);
    clock.dispose();
  });
});
