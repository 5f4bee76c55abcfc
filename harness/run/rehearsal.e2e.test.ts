import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli as cli, lastJsonLine, stillAlive as noneAlive } from '../cli/cli-child.ts';
import type { DisconnectGroup } from '../report/run-record.ts';
import { startCpuHog } from './cpu-hog.ts';
import { isAlive } from './process-tree.ts';

const work = mkdtempSync(join(tmpdir(), 'tiketi-e2e-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface RunOutput {
  passed: boolean;
  reportDir: string;
  expectations: { kind: string; name: string; status: string; passed: boolean; observed: string }[];
}

/** The exit code the verdicts call for: 1 if one failed, else 3 if one was inconclusive, else 0. */
function exitCodeFor(expectations: { status: string }[]): number {
  if (expectations.some((e) => e.status === 'failed')) return 1;
  return expectations.some((e) => e.status === 'inconclusive') ? 3 : 0;
}

describe('rehearsals end to end (real processes)', () => {
  it('smoke: the whole path passes, writes its report and leaves no process behind', async () => {
    const reports = join(work, 'smoke');
    const run = await cli(['run', 'smoke', '--report-dir', reports, '--json'], 150_000);
    const result = lastJsonLine<RunOutput>(run);
    // The exit code is the gate: 0 exactly when every expectation held, 3 when some could not be judged.
    expect(run.code, run.stderr).toBe(exitCodeFor(result.expectations));
    // A machine too loaded to measure latency says so (inconclusive); nothing may fail.
    expect(result.expectations.filter((e) => e.status === 'failed')).toEqual([]);
    for (const f of ['summary.json', 'junit.xml', 'index.html'])
      expect(existsSync(join(result.reportDir, f))).toBe(true);
    const summary = JSON.parse(readFileSync(join(result.reportDir, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ schemaVersion: 2, scenario: 'smoke', passed: result.passed, users: 200 });
    // Whether the machine could measure is stated, minute by minute.
    expect(summary.measurement.intervals.total).toBeGreaterThan(0);
    expect(summary.series.some((s: { machine?: unknown }) => s.machine !== undefined)).toBe(true);
    expect(summary.loadGenerator.workers).toBeGreaterThanOrEqual(2);
    expect(summary.counters.usersJoined).toBe(200);
    // Honest users never meet a limit: no 429, no other refusal.
    expect(summary.counters.rejected).toBe(0);
    expect(summary.integrity.confirmedReservationsLost).toBe(0);
    expect(readFileSync(join(result.reportDir, 'junit.xml'), 'utf8')).toContain(
      '<testcase classname="tiketi-sim.smoke"',
    );
    // Redis ×2, Sentinels ×3, PostgreSQL ×2, ALB workers, app instances, load workers at least.
    expect(run.descendants.length).toBeGreaterThan(10);
    expect(await noneAlive(run.descendants)).toEqual([]);
  }, 200_000);

  it('a CPU hog through the burst: no expectation fails because of it, and the exit code matches the verdicts', async () => {
    // One core spins for the whole run, the burst of 200 joins included.
    await using hog = await startCpuHog();
    const run = await cli(['run', 'smoke', '--report-dir', join(work, 'hog'), '--json'], 400_000);
    const result = lastJsonLine<RunOutput>(run);
    expect(run.code, run.stderr).toBe(exitCodeFor(result.expectations));
    expect(result.expectations.filter((e) => e.status === 'failed')).toEqual([]);
    const summary = JSON.parse(readFileSync(join(result.reportDir, 'summary.json'), 'utf8'));
    // Every latency verdict is judged on samples taken with headroom, or says why it cannot be.
    for (const v of summary.expectations.filter((e: { kind: string }) => e.kind === 'latency'))
      if (v.status === 'inconclusive') expect(v.reason).toMatch(/machine saturated|not reached/);
      else expect(summary.measurement.countedShare.all).toBeGreaterThanOrEqual(0.8);
    expect(isAlive(hog.pid)).toBe(true);
    expect(await noneAlive(run.descendants)).toEqual([]);
  }, 460_000);

  it('bot-storm: a tenth of the users attack; every instance keeps serving, limits hold, fans buy', async () => {
    const reports = join(work, 'bot-storm');
    const run = await cli(['run', 'bot-storm', '--report-dir', reports, '--json'], 400_000);
    const result = lastJsonLine<RunOutput>(run);
    expect(run.code, run.stderr).toBe(exitCodeFor(result.expectations));
    // Latency is judged only with headroom (else inconclusive); everything else must hold.
    expect(result.expectations.filter((e) => e.status === 'failed' && e.kind !== 'latency')).toEqual([]);
    const kinds = result.expectations.map((e) => e.kind);
    expect(kinds).toEqual(
      expect.arrayContaining(['no-instance-lost', 'max-seats-per-user', 'purchases', 'no-seat-sold-twice']),
    );
    const summary = JSON.parse(readFileSync(join(result.reportDir, 'summary.json'), 'utf8'));
    // The attackers were refused (rate limits, limits, validation): 4xx, not 5xx.
    expect(summary.counters.usersJoined).toBe(300);
    expect(summary.counters.rejected).toBeGreaterThan(0);
    expect(await noneAlive(run.descendants)).toEqual([]);
  }, 460_000);

  it('a reduced peak: queue over 5,000 fires the scale-out alarm and two more instances serve traffic', async () => {
    const file = join(work, 'reduced-peak.ts');
    writeFileSync(
      file,
      `export default ${JSON.stringify({
        name: 'reduced-peak',
        description:
          'CI-sized peak: 6,000 queued users, run as a 1:2 scale model (3,000 users, thresholds halved)',
        startAt: '19:30',
        endAt: '20:12',
        timeScale: 30,
        // Half the load for the same dynamics (docs/scale-models.md): the clock keeps its headroom
        // through the burst on two cores without slowing the run past the test's time.
        scale: 0.5,
        event: { seats: 1_000, salesOpenAt: '19:44' },
        users: 6_000,
        arrivals: [
          { at: '19:30', joined: 0 },
          { at: '19:38', joined: 2_000 },
          { at: '19:43', joined: 5_600 },
          // Late arrivals once the new instances are in service: the ALB spreads them there.
          { at: '19:58', joined: 6_000 },
        ],
        behaviour: {
          buyShare: 0.1,
          seatsPerOrder: 1,
          thinkTime: { minSeconds: 5, maxSeconds: 20 },
          stayConnectedAfterPurchase: true,
        },
        expectations: [
          {
            expect: 'alarm-never',
            alarm: 'tiketi-queue-scale-out',
            state: 'ALARM',
            during: { from: '19:30', to: '19:39' },
          },
          {
            expect: 'alarm-state',
            alarm: 'tiketi-queue-scale-out',
            state: 'ALARM',
            within: { from: '19:40', to: '19:46' },
          },
          { expect: 'instances', at: '19:52', min: 4 },
          // Scale-in after two 5-minute periods under 1,000, one instance per 600 s cooldown.
          { expect: 'instances', at: '20:11', max: 3 },
          { expect: 'max-instances', max: 10 },
          { expect: 'no-seat-sold-twice' },
          { expect: 'error-rate', below: 0.01 },
        ],
      })};`,
    );
    const run = await cli(['run', file, '--report-dir', join(work, 'peak'), '--json'], 540_000);
    const result = lastJsonLine<RunOutput>(run);
    expect(run.code, run.stderr).toBe(exitCodeFor(result.expectations));
    // The control plane's behaviour must hold; the error rate depends on how loaded the machine is.
    expect(result.expectations.filter((e) => e.status !== 'passed' && e.kind !== 'error-rate')).toEqual([]);
    const summary = JSON.parse(readFileSync(join(result.reportDir, 'summary.json'), 'utf8'));
    // Still, the topology served: a broken route or proxy shows as most requests failing.
    expect(summary.counters.errors).toBeLessThan(summary.counters.requests * 0.2);
    const launched = summary.scalingActivities.filter((a: { description: string }) =>
      /Launching 2 new EC2 instances/.test(a.description),
    );
    expect(launched.length).toBeGreaterThanOrEqual(1);
    // The new instances took traffic: connections were seen on more than the first two.
    const busy = new Set(
      summary.series.flatMap((s: { connectionsPerInstance: Record<string, number> }) =>
        Object.entries(s.connectionsPerInstance)
          .filter(([, n]) => n > 0)
          .map(([id]) => id),
      ),
    );
    expect(busy.size).toBeGreaterThanOrEqual(3);
    expect(await noneAlive(run.descendants)).toEqual([]);
  }, 600_000);

  it('az-failure: AZ a dies under load; the timeline, zero loss and reconnects are reported; nothing outlives the run', async () => {
    const run = await cli(
      ['run', 'az-failure', '--users', '300', '--report-dir', join(work, 'az'), '--json'],
      400_000,
    );
    const result = lastJsonLine<RunOutput>(run);
    expect(run.code, run.stderr).toBe(exitCodeFor(result.expectations));
    const summary = JSON.parse(readFileSync(join(result.reportDir, 'summary.json'), 'utf8'));
    const [fault] = summary.faults as {
      fault: string;
      detail: string;
      atMs: number;
      timeline: { label: string; atMs: number }[];
    }[];
    expect(fault?.fault).toBe('kill-az');
    expect(fault?.detail).toMatch(
      /^AZ a: .*Redis primary redis-primary az-a; database writer aurora-writer az-a/,
    );
    const labels = fault!.timeline.map((e) => e.label);
    for (const step of [
      /Sentinel promoted/,
      /failure detected/,
      /replica promoted/,
      /writer endpoint switched/,
    ])
      expect(
        labels.some((l) => step.test(l)),
        `${step} in ${labels.join(' | ')}`,
      ).toBe(true);
    // Why it went as it did: AZ a's target failed its checks, and the group replaced it.
    const health = (fault as { targetHealth?: { target: string; az: string; to: string }[] }).targetHealth;
    expect(health?.some((t) => t.az === 'a' && t.to === 'unhealthy')).toBe(true);
    // What the design promises whatever else happened: no sale lost, none sold twice.
    expect(summary.integrity).toMatchObject({ seatsSoldTwice: 0, confirmedReservationsLost: 0 });
    expect(summary.counters.paymentsConfirmed).toBeGreaterThan(0);
    // Users on the dead AZ were disconnected; their reconnects are measured, and why they dropped.
    expect(summary.reconnects.count).toBeGreaterThan(0);
    const azA = new Set(
      (summary.instances as { id: string; az: string }[]).filter((i) => i.az === 'a').map((i) => i.id),
    );
    const killed = (summary.disconnects as DisconnectGroup[]).filter(
      (d) => d.cause === 'process-exited' && d.fault === 'kill-az',
    );
    expect(killed.length, JSON.stringify(summary.disconnects)).toBeGreaterThan(0);
    for (const d of killed) expect(azA.has(d.instanceId!)).toBe(true);
    expect((summary.findings as { rule: string }[]).some((f) => f.rule === 'clients-dropped')).toBe(true);
    const html = readFileSync(join(result.reportDir, 'index.html'), 'utf8');
    expect(html).toContain('data-chart="fault-timeline"');
    expect(await noneAlive(run.descendants)).toEqual([]);
  }, 460_000);
});
