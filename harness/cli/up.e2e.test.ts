import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { descendantsOf, isAlive } from '../run/process-tree.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/tiketi-sim.js', import.meta.url));

describe('tiketi-sim up / status (real processes)', () => {
  it('starts the topology, answers status, serves through the edge, and leaves nothing after Ctrl-C', async () => {
    const up = spawn(process.execPath, [BIN, 'up', '--json', '--time-scale', '60'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    up.stderr.on('data', (d: Buffer) => (stderr += d));
    const seen = new Set<number>();
    const watch = setInterval(() => {
      for (const pid of descendantsOf(up.pid!)) seen.add(pid);
    }, 250);
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        up.stdout.on('data', (d: Buffer) => {
          out += d;
          if (out.includes('\n')) resolve(out.split('\n')[0]!);
        });
        up.once('exit', (code) => reject(new Error(`up exited ${code}: ${stderr}`)));
      });
      const ready = JSON.parse(line) as {
        edgeUrl: string;
        albUrl: string;
        controlUrl: string;
        instances: { id: string; az: string; url: string }[];
        postgres: { writerUrl: string; readerUrl: string };
      };
      expect(ready.instances.map((i) => i.az).sort()).toEqual(['a', 'b']);
      expect(ready.postgres.writerUrl).toMatch(/^postgres:\/\//);

      const status = await new Promise<string>((resolve) => {
        const s = spawn(process.execPath, [BIN, 'status', '--json'], {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        s.stdout.on('data', (d: Buffer) => (out += d));
        s.once('exit', () => resolve(out));
      });
      const parsed = JSON.parse(status) as {
        autoScalingGroup: { desiredCapacity: number; instances: { lifecycle: string }[] };
        alarms: { name: string }[];
        targets: { state: string }[];
      };
      expect(parsed.autoScalingGroup.desiredCapacity).toBe(2);
      expect(parsed.autoScalingGroup.instances.map((i) => i.lifecycle)).toEqual(['InService', 'InService']);
      expect(parsed.alarms.map((a) => a.name)).toEqual([
        'tiketi-queue-scale-out',
        'tiketi-queue-scale-out-aggressive',
        'tiketi-queue-scale-in',
      ]);

      // Once the targets pass their health checks, the API answers through the edge and the ALB.
      const deadline = Date.now() + 30_000;
      let res: Response | undefined;
      while (Date.now() < deadline) {
        res = await fetch(`${ready.edgeUrl}/api/events/demo`);
        if (res.status === 200) break;
        await res.body?.cancel();
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(res?.status).toBe(200);
      expect(res?.headers.get('x-cache')).toBe('Miss from cloudfront');
      expect(['app-1', 'app-2']).toContain(res?.headers.get('x-instance-id'));
      expect(await res?.json()).toMatchObject({ id: 'demo', seatCount: 5_000 });
    } finally {
      clearInterval(watch);
      up.kill('SIGINT');
      await new Promise((r) => up.once('exit', r));
    }
    const deadline = Date.now() + 10_000;
    const pids = [...seen];
    while (pids.some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(pids.filter(isAlive)).toEqual([]);
    expect(pids.length).toBeGreaterThan(8);
  }, 120_000);
});
