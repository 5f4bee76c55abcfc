import { describe, expect, it } from 'vitest';
import { procSource } from '../metrics/machine-state.ts';
import { startCpuHog } from './cpu-hog.ts';
import { isAlive } from './process-tree.ts';

describe('startCpuHog', () => {
  it('keeps one core busy until stopped, then is gone', async () => {
    const hog = await startCpuHog();
    // It spins: its CPU time grows by 100 ms of a core within seconds, however loaded the machine.
    const before = procSource.cpuNs(hog.pid) ?? 0;
    const deadline = Date.now() + 10_000;
    while ((procSource.cpuNs(hog.pid) ?? 0) - before < 100e6 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect((procSource.cpuNs(hog.pid) ?? 0) - before).toBeGreaterThanOrEqual(100e6);
    await hog.stop();
    expect(isAlive(hog.pid)).toBe(false);
    await hog.stop();
  });
});
