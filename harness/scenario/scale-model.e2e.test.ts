import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { Summary } from '../report/write-report.ts';

const BIN = fileURLToPath(new URL('../../bin/tiketi-sim.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'tiketi-scale-e2e-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * A small design, cheap to run at 1:1: 800 queued users against thresholds of 160 / 640 / 32 and
 * admission at 4/s; scale-in judged over 2 × 1 minute so the run stays short. It crosses every
 * alarm: +2 while the room fills (19:35), +5 at the peak once the +2's cooldown ends (about
 * 19:44: the aggressive alarm is in ALARM from 19:40 until the queue drains below 640 after sales
 * open at 19:45, a minute and more either side of that moment), scale-in once drained (19:51).
 * Crossings fall mid-minute, away from the monitor's samples.
 */
const SMALL_DESIGN = {
  name: 'small-design',
  description: 'A small design that crosses every alarm threshold',
  startAt: '19:30',
  endAt: '19:53',
  timeScale: 60,
  topology: {
    queue: { admissionPerSecond: 4 },
    alarms: [
      { name: 'tiketi-queue-scale-out', threshold: 160, periodSeconds: 60, evaluationPeriods: 1 },
      { name: 'tiketi-queue-scale-out-aggressive', threshold: 640, periodSeconds: 60, evaluationPeriods: 1 },
      { name: 'tiketi-queue-scale-in', threshold: 32, periodSeconds: 60, evaluationPeriods: 2 },
    ].map((a, i) => ({
      ...a,
      metricName: 'QueueSize',
      statistic: 'Average',
      comparisonOperator: i === 2 ? 'LessThanThreshold' : 'GreaterThanThreshold',
      scalingPolicy: a.name.replace('-queue', ''),
    })),
  },
  event: { seats: 200, salesOpenAt: '19:45' },
  users: 800,
  arrivals: [
    { at: '19:30', joined: 0 },
    { at: '19:36', joined: 300 },
    { at: '19:40', joined: 800 },
  ],
  behaviour: { buyShare: 0.1, seatsPerOrder: 1, thinkTime: { minSeconds: 5, maxSeconds: 20 } },
  expectations: [
    {
      expect: 'alarm-state',
      alarm: 'tiketi-queue-scale-out',
      state: 'ALARM',
      within: { from: '19:34', to: '19:36' },
    },
    {
      expect: 'alarm-state',
      alarm: 'tiketi-queue-scale-out-aggressive',
      state: 'ALARM',
      within: { from: '19:39', to: '19:41' },
    },
    {
      expect: 'alarm-state',
      alarm: 'tiketi-queue-scale-in',
      state: 'ALARM',
      within: { from: '19:49', to: '19:53' },
    },
    { expect: 'instances', at: '19:46', min: 4 },
    { expect: 'admission-rate', atLeastPerSecond: 3 },
    { expect: 'latency', endpoint: 'all', percentile: 95, belowMs: 2_000 },
    { expect: 'no-seat-sold-twice' },
    { expect: 'error-rate', below: 0.01 },
  ],
};

/** One run of the CLI, stopped (SIGINT: it cleans up) if it outlives `deadlineMs`. */
async function run(
  args: string[],
  deadlineMs: number,
): Promise<{ code: number | null; summary: Summary; log: string }> {
  const child = spawn(process.execPath, [BIN, 'run', ...args, '--report-dir', work, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const stop = setTimeout(() => child.kill('SIGINT'), deadlineMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(stop);
  const log = stderr.slice(-3_000);
  const { reportDir } = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { reportDir?: string };
  if (!reportDir) throw new Error(`tiketi-sim ${args.join(' ')} wrote no report (exit ${code}):\n${log}`);
  return { code, log, summary: JSON.parse(readFileSync(join(reportDir, 'summary.json'), 'utf8')) as Summary };
}

const minute = (ms: number) => new Date(ms).toISOString().slice(11, 16);

describe('a 1:4 scale model and the design it models (real processes)', () => {
  it('fire the same alarms and scaling activities within one evaluation period', async () => {
    const file = join(work, 'small-design.ts');
    writeFileSync(file, `export default ${JSON.stringify(SMALL_DESIGN)};`);
    const full = await run([file], 270_000);
    const model = await run([file, '--scale', '0.25'], 240_000);

    for (const r of [full, model]) {
      // Every non-latency expectation holds in both; the exit code is the gate.
      const failed = r.summary.expectations.filter((v) => !v.passed && v.kind !== 'latency');
      expect(failed, r.log).toEqual([]);
      expect(r.summary.aborted, r.log).toBe(false);
      expect(r.code).toBe(r.summary.passed ? 0 : 1);
    }
    expect(model.summary.users).toBe(200);
    expect(model.summary.scaleModel).toMatchObject({ factor: 0.25, ratio: '1:4' });
    expect(model.summary.expectations.find((v) => v.kind === 'latency')?.indicative).toMatch(
      /^scale model 1:4/,
    );
    expect(model.summary.expectations.find((v) => v.kind === 'admission-rate')?.name).toContain(
      '>= 1.5 users/s',
    );

    // Alarm transitions: the same states in the same order, each within its alarm's period.
    const apart: string[] = [];
    for (const alarm of SMALL_DESIGN.topology.alarms) {
      const of = (s: Summary) => s.alarmHistory.filter((t) => t.alarm === alarm.name);
      const [a, b] = [of(full.summary), of(model.summary)];
      expect(
        b.map((t) => t.to),
        alarm.name,
      ).toEqual(a.map((t) => t.to));
      for (const [i, t] of a.entries())
        if (Math.abs(t.atMs - b[i]!.atMs) > alarm.periodSeconds * 1_000)
          apart.push(`${alarm.name} → ${t.to} at ${minute(t.atMs)} (1:1) and ${minute(b[i]!.atMs)} (1:4)`);
    }
    expect(apart).toEqual([]);
    expect(full.summary.alarmHistory.filter((t) => t.to === 'ALARM').map((t) => t.alarm)).toEqual(
      expect.arrayContaining(SMALL_DESIGN.topology.alarms.map((a) => a.name)),
    );

    // Scaling activities: the same ones, started within one evaluation period (a minute) of each other.
    const [a, b] = [full.summary.scalingActivities, model.summary.scalingActivities];
    expect(a.map((x) => x.description)).toEqual(
      expect.arrayContaining(['Launching 2 new EC2 instances', 'Launching 5 new EC2 instances']),
    );
    expect(b.map((x) => x.description)).toEqual(a.map((x) => x.description));
    const activitiesApart = a.flatMap((x, i) =>
      Math.abs(x.startMs - b[i]!.startMs) > 60_000
        ? [`${x.description} at ${minute(x.startMs)} (1:1) and ${minute(b[i]!.startMs)} (1:4)`]
        : [],
    );
    expect(activitiesApart).toEqual([]);
  }, 580_000);
});
