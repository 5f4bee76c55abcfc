import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { designTopology } from '../../infra/topology.ts';
import { commandLineOf, descendantsOf, isAlive } from '../run/process-tree.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/tiketi-sim.js', import.meta.url));

interface Status {
  simulatedTime: string;
  timeScale: number;
  autoScalingGroup: { desiredCapacity: number; instances: { lifecycle: string; az: string }[] };
  alarms: { name: string; state: string }[];
  targets: { state: string }[];
  latestMetrics: { queueSize?: number };
}

/** `tiketi-sim status --json`, as a user runs it next to `up`. */
function statusJson(): Promise<Status> {
  return new Promise((resolve, reject) => {
    const s = spawn(process.execPath, [BIN, 'status', '--json'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    s.stdout.on('data', (d: Buffer) => (out += d));
    s.once('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as Status) : reject(new Error(`status exited ${code}`)),
    );
  });
}

/** The figures /metrics must agree with; a scrape between two equal ones is compared. */
const stable = (s: Status) =>
  JSON.stringify([
    s.latestMetrics.queueSize,
    s.autoScalingGroup.desiredCapacity,
    s.autoScalingGroup.instances,
    s.targets.map((t) => t.state),
    s.alarms.map((a) => [a.name, a.state]),
  ]);

function value(families: Map<string, ParsedFamily>, name: string, labels: Record<string, string> = {}) {
  const sample = families
    .get(name)
    ?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return sample?.value === undefined ? undefined : Number(sample.value);
}

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
        metricsUrl: string;
        dashboardUrl: string;
      };
      // Ready means ready: the very first request after the endpoints are printed is served.
      const first = await fetch(`${ready.edgeUrl}/api/events/demo`);
      expect(first.status).toBe(200);
      await first.body?.cancel();
      // Progress lines on stderr (--json keeps stdout for the object); server logs go to files.
      expect(stderr).toMatch(/✓ PostgreSQL writer \+ sync replica +\d+\.\d s/);
      expect(stderr).toMatch(/✓ ready: targets healthy, edge answers 200 +\d+\.\d s/);
      expect(stderr).not.toMatch(/^\[(redis|aurora)/m);
      expect(ready.instances.map((i) => i.az).sort()).toEqual(['a', 'b']);
      // Every instance the group may run (its maxSize) has its process booted ahead: a scale-out
      // launch loads no code at the peak (AppPreboot). Two serve, the rest wait for a launch.
      const appProcesses = descendantsOf(up.pid!).filter((pid) => commandLineOf(pid).includes('app-boot'));
      expect(appProcesses).toHaveLength(designTopology.autoScalingGroup.maxSize);
      expect(ready.postgres.writerUrl).toMatch(/^postgres:\/\//);

      const parsed = await statusJson();
      expect(parsed.autoScalingGroup.desiredCapacity).toBe(2);
      expect(parsed.autoScalingGroup.instances.map((i) => i.lifecycle)).toEqual(['InService', 'InService']);
      expect(parsed.alarms.map((a) => a.name)).toEqual([
        'tiketi-queue-scale-out',
        'tiketi-queue-scale-out-aggressive',
        'tiketi-queue-scale-in',
      ]);

      expect(parsed.targets.map((t) => t.state)).toEqual(['healthy', 'healthy']);
      const res = await fetch(`${ready.edgeUrl}/api/events/demo`);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-cache')).toBe('Miss from cloudfront');
      expect(['app-1', 'app-2']).toContain(res.headers.get('x-instance-id'));
      expect(await res.json()).toMatchObject({ id: 'demo', seatCount: 5_000 });

      // /metrics, scraped while it runs: Prometheus text (parsed by a parser), equal to `status --json`.
      // The clock runs at 60×: a scrape counts when the statuses taken just before and after it agree.
      let compared = false;
      for (let attempt = 0; attempt < 5 && !compared; attempt++) {
        const before = await statusJson();
        const scrape = await fetch(ready.metricsUrl);
        expect(scrape.headers.get('content-type')).toContain('text/plain');
        const families = new Map(parsePrometheusTextFormat(await scrape.text()).map((f) => [f.name, f]));
        const after = await statusJson();
        if (stable(before) !== stable(after)) continue;
        compared = true;
        expect(value(families, 'tiketi_desired_capacity')).toBe(after.autoScalingGroup.desiredCapacity);
        for (const az of ['a', 'b'])
          for (const lifecycle of ['Pending', 'InService', 'Terminating'])
            expect(value(families, 'tiketi_instances', { lifecycle, az }), `${lifecycle} ${az}`).toBe(
              after.autoScalingGroup.instances.filter((i) => i.az === az && i.lifecycle === lifecycle).length,
            );
        for (const state of ['initial', 'healthy', 'unhealthy', 'draining'])
          expect(value(families, 'tiketi_target_health', { state }), state).toBe(
            after.targets.filter((t) => t.state === state).length,
          );
        for (const a of after.alarms)
          for (const state of ['OK', 'ALARM', 'INSUFFICIENT_DATA'])
            expect(value(families, 'tiketi_alarm_state', { alarm: a.name, state }), a.name).toBe(
              a.state === state ? 1 : 0,
            );
        expect(value(families, 'tiketi_queue_size')).toBe(after.latestMetrics.queueSize ?? 0);
        expect(value(families, 'tiketi_clock_speed')).toBe(after.timeScale);
        const simulatedMs = value(families, 'tiketi_simulated_time_seconds')! * 1_000;
        expect(simulatedMs).toBeGreaterThanOrEqual(Date.parse(before.simulatedTime));
        expect(simulatedMs).toBeLessThanOrEqual(Date.parse(after.simulatedTime));
        // `up` runs no load: no load-generator figures rather than zeros.
        expect([...families.keys()].filter((n) => n.startsWith('tiketi_load_'))).toEqual([]);
      }
      expect(compared).toBe(true);
      // The live page is served too, following the topology.
      const page = await fetch(ready.dashboardUrl);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('data-events="/dashboard/events"');
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
