import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { lastJsonLine } from '../cli/cli-child.ts';
import { EXIT_CODES } from '../report/outcome.ts';
import type { Summary } from '../report/write-report.ts';

const BIN = fileURLToPath(new URL('../../bin/tiketi-sim.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'tiketi-scale-e2e-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * A small design, cheap to run at 1:1: 400 queued users against thresholds of 80 / 320 / 16 and
 * admission at 3/s, every time as designed. The queue crosses 80 (19:35: +2) and 320 (19:40: the
 * +5 is refused, the group in the +2's cooldown), drains once sales open at 19:40, and stays empty
 * for two 5-minute periods (19:55: −1). Each activity starts on an alarm's evaluation, minutes
 * away from any cooldown's end, so how long an app process takes to start on a busy machine does
 * not move it. Crossings fall mid-minute, away from the monitor's samples.
 *
 * The +2's cooldown is 600 s here, not the design's 180: it starts when the launches are InService
 * (19:38:38 or 19:39:08 on the health checks' grid, as the app boots), and 180 s from there ended
 * within seconds of 19:42, while the scale-out alarm was still in ALARM until 19:43 — a second +2
 * or not, by how fast this machine booted the app. 600 s ends by 19:51, before the −1 at 19:55.
 */
const SMALL_DESIGN = {
  name: 'small-design',
  description: 'A small design that crosses every alarm threshold',
  startAt: '19:30',
  endAt: '19:56',
  timeScale: 30,
  topology: {
    queue: { admissionPerSecond: 3 },
    alarms: [
      { name: 'tiketi-queue-scale-out', threshold: 80, periodSeconds: 60, evaluationPeriods: 1 },
      { name: 'tiketi-queue-scale-out-aggressive', threshold: 320, periodSeconds: 60, evaluationPeriods: 1 },
      { name: 'tiketi-queue-scale-in', threshold: 16, periodSeconds: 300, evaluationPeriods: 2 },
    ].map((a, i) => ({
      ...a,
      metricName: 'QueueSize',
      statistic: 'Average',
      comparisonOperator: i === 2 ? 'LessThanThreshold' : 'GreaterThanThreshold',
      scalingPolicy: a.name.replace('-queue', ''),
    })),
    scalingPolicies: [
      { name: 'tiketi-scale-out', scalingAdjustment: 2, cooldownSeconds: 600 },
      { name: 'tiketi-scale-out-aggressive', scalingAdjustment: 5, cooldownSeconds: 300 },
      { name: 'tiketi-scale-in', scalingAdjustment: -1, cooldownSeconds: 600 },
    ].map((p) => ({ ...p, adjustmentType: 'ChangeInCapacity' })),
  },
  event: { seats: 100, salesOpenAt: '19:40' },
  users: 400,
  arrivals: [
    { at: '19:30', joined: 0 },
    { at: '19:36', joined: 150 },
    { at: '19:40', joined: 400 },
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
      within: { from: '19:54', to: '19:56' },
    },
    { expect: 'instances', at: '19:50', lifecycle: 'any', min: 4 },
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
  const { reportDir } = lastJsonLine<{ reportDir?: string }>({ code, stdout, stderr });
  if (!reportDir) throw new Error(`tiketi-sim ${args.join(' ')} wrote no report (exit ${code}):\n${log}`);
  return { code, log, summary: JSON.parse(readFileSync(join(reportDir, 'summary.json'), 'utf8')) as Summary };
}

const minute = (ms: number) => new Date(ms).toISOString().slice(11, 16);

describe('a 1:4 scale model and the design it models (real processes)', () => {
  it('fire the same alarms and scaling activities within one evaluation period', async () => {
    const file = join(work, 'small-design.ts');
    writeFileSync(file, `export default ${JSON.stringify(SMALL_DESIGN)};`);
    const full = await run([file], 300_000);
    const model = await run([file, '--scale', '0.25'], 200_000);

    for (const r of [full, model]) {
      // Every non-latency expectation holds in both (a latency one may be inconclusive on a busy
      // machine); the exit code is the gate's.
      const failed = r.summary.expectations.filter((v) => !v.passed && v.kind !== 'latency');
      expect(failed, r.log).toEqual([]);
      expect(r.summary.aborted, r.log).toBe(false);
      expect(r.code, r.log).toBe(EXIT_CODES[r.summary.outcome]);
    }
    expect(model.summary.users).toBe(100);
    expect(model.summary.scaleModel).toMatchObject({ factor: 0.25, ratio: '1:4' });
    expect(model.summary.expectations.find((v) => v.kind === 'latency')?.indicative).toMatch(
      /^scale model 1:4/,
    );
    expect(model.summary.scaleModel?.scaled).toContainEqual({
      path: 'topology.alarms[tiketi-queue-scale-out-aggressive].threshold',
      design: 320,
      model: 80,
    });

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
      expect.arrayContaining(['Launching 2 new EC2 instances', 'Terminating 1 EC2 instance']),
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
