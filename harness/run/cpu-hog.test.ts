import { describe, expect, it } from 'vitest';
import { procSource } from '../metrics/machine-state.ts';
import { startCpuHog } from './cpu-hog.ts';
import { isAlive } from './process-tree.ts';

describe('startCpuHog', () => {
  it('keeps one core busy until stopped, then is gone', async () => {
    await using hog = await startCpuHog();
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

  it('stops by itself when its parent is gone (a crashed benchmark leaves no spinning orphan)', async () => {
    // A parent that starts a hog, prints its pid and dies without stopping it.
    const { execFileSync } = await import('node:child_process');
    const script = `import { startCpuHog } from ${JSON.stringify(new URL('./cpu-hog.ts', import.meta.url).href)};
const hog = await startCpuHog(); console.log(hog.pid); process.exit(0);`;
    const pid = Number(
      execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script])
        .toString()
        .trim(),
    );
    expect(pid).toBeGreaterThan(0);
    const deadline = Date.now() + 10_000;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const alive = isAlive(pid);
    if (alive) process.kill(pid, 'SIGKILL');
    expect(alive).toBe(false);
  });
});
