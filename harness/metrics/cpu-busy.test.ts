import { describe, expect, it } from 'vitest';
import { cpuBusyMeter } from './cpu-busy.ts';

describe('cpuBusyMeter', () => {
  it('reads a busy share between 0 and 1, higher while this process spins', async () => {
    const busy = cpuBusyMeter();
    await new Promise((r) => setTimeout(r, 300));
    const resting = busy()!.busy;
    const until = Date.now() + 300;
    while (Date.now() < until) Math.sqrt(Math.random());
    const spinning = busy()!;
    const cores = (await import('node:os')).cpus().length;
    expect(resting).toBeGreaterThanOrEqual(0);
    expect(spinning.busy).toBeLessThanOrEqual(1);
    // One of the cores was fully busy spinning: at least a share of one core over all of them.
    expect(spinning.busy).toBeGreaterThan(0.9 / cores);
    // …and not idle meanwhile: of the 300 ms on every core, at most the other cores' were.
    expect(spinning.idleCoreMs).toBeLessThanOrEqual(300 * (cores - 1) + 50);
  });
});

describe('cpuBusyMeter: time the hypervisor stole', () => {
  const statLine = (user: number, idle: number, steal: number) =>
    `cpu  ${user} 0 0 ${idle} 0 0 0 ${steal} 0 0\ncpu0 ${user} 0 0 ${idle} 0 0 0 ${steal} 0 0\n`;

  // The cores' own counters must move between the calls for the meter to answer at all.
  const tick = () => new Promise((r) => setTimeout(r, 50));

  it('gives the share of the cores’ time stolen between two calls', async () => {
    const lines = [statLine(100, 900, 0), statLine(200, 1_000, 200)];
    const meter = cpuBusyMeter(() => lines.shift());
    await tick();
    // 400 ticks went by: 100 user, 100 idle, 200 stolen.
    expect(meter()?.stolen).toBe(0.5);
  });

  it('says nothing of steal where the kernel does not count it', async () => {
    const meter = cpuBusyMeter(() => undefined);
    await tick();
    const interval = meter();
    expect(interval).toBeDefined();
    expect(interval).not.toHaveProperty('stolen');
  });
});
