import { describe, expect, it } from 'vitest';
import { cpuBusyMeter } from './cpu-busy.ts';

describe('cpuBusyMeter', () => {
  it('reads a busy share between 0 and 1, higher while this process spins', async () => {
    const busy = cpuBusyMeter();
    await new Promise((r) => setTimeout(r, 300));
    const resting = busy();
    const until = Date.now() + 300;
    while (Date.now() < until) Math.sqrt(Math.random());
    const spinning = busy();
    expect(resting).toBeGreaterThanOrEqual(0);
    expect(spinning).toBeLessThanOrEqual(1);
    // One of the cores was fully busy spinning: at least a share of one core over all of them.
    expect(spinning!).toBeGreaterThan(0.9 / (await import('node:os')).cpus().length);
  });
});
