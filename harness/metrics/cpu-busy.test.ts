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
