import { describe, expect, it } from 'vitest';
import type { SpawnedProcess } from '../../servers/process.ts';
import { AppPreboot } from './app-instance.ts';

/** A stand-in for a booting app process: running until killed or "crashed". */
function fakeProcess(name: string): SpawnedProcess & { crash(): void } {
  let running = true;
  return {
    name,
    pid: 0,
    exited: new Promise(() => {}),
    get running() {
      return running;
    },
    stdin: null,
    channel: undefined,
    rename() {},
    outputTail: () => [],
    stop: async () => {
      running = false;
    },
    kill: async () => {
      running = false;
    },
    untilReady: async () => {},
    crash() {
      running = false;
    },
  };
}

describe('AppPreboot', () => {
  it('boots every process at once, hands them out in order, then none', async () => {
    const booted: ReturnType<typeof fakeProcess>[] = [];
    const preboot = new AppPreboot(2, undefined, async (name) => {
      const p = fakeProcess(name);
      booted.push(p);
      return p;
    });
    await Promise.resolve();
    expect(booted.map((p) => p.name)).toEqual(['app-boot-1', 'app-boot-2']);
    expect((await preboot.take())?.name).toBe('app-boot-1');
    expect((await preboot.take())?.name).toBe('app-boot-2');
    expect(await preboot.take()).toBeUndefined();
  });

  it('skips a process that died or failed to spawn, and stops the ones no launch took', async () => {
    const booted: ReturnType<typeof fakeProcess>[] = [];
    const preboot = new AppPreboot(3, undefined, async (name) => {
      if (name === 'app-boot-2') throw new Error('spawn failed');
      const p = fakeProcess(name);
      booted.push(p);
      return p;
    });
    await Promise.resolve();
    booted[0]!.crash();
    expect((await preboot.take())?.name).toBe('app-boot-3');
    const left = new AppPreboot(2, undefined, async (name) => {
      const p = fakeProcess(name);
      booted.push(p);
      return p;
    });
    await left.take();
    await left.stop();
    expect(booted.slice(-2).map((p) => p.running)).toEqual([true, false]);
    expect(await left.take()).toBeUndefined();
  });
});
