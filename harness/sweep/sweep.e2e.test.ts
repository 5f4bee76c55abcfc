import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli as cli, lastJsonLine } from '../cli/cli-child.ts';
import type { RunRecord } from '../report/run-record.ts';
import type { SweepSummary } from './sweep-report.ts';

const work = mkdtempSync(join(tmpdir(), 'tiketi-sweep-e2e-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A small failover rehearsal: 60 users, an instance killed at 19:33, four simulated minutes at 20×. */
const SCENARIO = join(work, 'small-failover.ts');
writeFileSync(
  SCENARIO,
  `export default ${JSON.stringify({
    name: 'small-failover',
    description: 'sixty users and an instance kill',
    startAt: '19:30',
    endAt: '19:34',
    timeScale: 30,
    event: { seats: 200, salesOpenAt: '19:31' },
    users: 60,
    arrivals: [
      { at: '19:30', joined: 0 },
      { at: '19:31', joined: 60 },
    ],
    behaviour: {
      buyShare: 0.5,
      thinkTime: { minSeconds: 1, maxSeconds: 5 },
      stayConnectedAfterPurchase: true,
    },
    faults: [{ at: '19:32:30', fault: 'kill-instance' }],
    expectations: [{ expect: 'no-seat-sold-twice' }, { expect: 'max-instances', max: 4 }],
  })};\n`,
);

async function recordOf(reports: string, seed: number): Promise<RunRecord & { plannedChoices: object }> {
  const run = await cli(
    ['run', SCENARIO, '--seed', String(seed), '--report-dir', reports, '--json', '--no-dashboard'],
    240_000,
  );
  expect([0, 1, 3], run.stderr).toContain(run.code);
  return JSON.parse(
    readFileSync(join(lastJsonLine<{ reportDir: string }>(run).reportDir, 'summary.json'), 'utf8'),
  );
}

describe('seeded runs and phase sweeps (real processes)', () => {
  it('two runs with one seed make the same choices', async () => {
    const a = await recordOf(join(work, 'a'), 7);
    const b = await recordOf(join(work, 'b'), 7);
    expect(a.seed).toBe(7);
    expect(a.plannedChoices).toEqual(b.plannedChoices);
    // The buyers were those the seed chose, in both: as many reservations as buyers could make.
    expect(a.counters.usersAdmitted).toBe(b.counters.usersAdmitted);
    // The fault ran at its scheduled time in both (within one tick of the drop's loop).
    const injected = (r: RunRecord) => r.faults.map((f) => f.atMs);
    expect(injected(a)).toHaveLength(1);
    expect(Math.abs(injected(a)[0]! - injected(b)[0]!)).toBeLessThanOrEqual(2_000);
  }, 760_000);

  it('a sweep of 3 writes one report: three runs, their phases, and the worst-case verdict', async () => {
    const reports = join(work, 'sweep');
    const run = await cli(
      ['run', SCENARIO, '--sweep', '3', '--seed', '11', '--report-dir', reports, '--json', '--no-dashboard'],
      760_000,
    );
    const { reportDir, outcome } = lastJsonLine<{ reportDir: string; outcome: string }>(run);
    expect([0, 1, 3], run.stderr).toContain(run.code);
    const summary = JSON.parse(readFileSync(join(reportDir, 'summary.json'), 'utf8')) as SweepSummary;
    expect(summary).toMatchObject({ kind: 'sweep', seed: 11, rule: 'all', periodSeconds: 30 });
    expect(summary.runs.map((r) => r.phaseSeconds)).toEqual([0, 10, 20]);
    expect(new Set(summary.runs.map((r) => r.seed)).size).toBe(3);
    expect(readdirSync(reportDir).sort()).toEqual([
      'index.html',
      'junit.xml',
      'run-1',
      'run-2',
      'run-3',
      'summary.json',
    ]);
    // Each run's faults were shifted by its phase.
    const faultAt = (i: number) =>
      (JSON.parse(readFileSync(join(reportDir, `run-${i}`, 'summary.json'), 'utf8')) as RunRecord)
        .plannedChoices!.faultsAtMs[0]!;
    expect([faultAt(2) - faultAt(1), faultAt(3) - faultAt(1)]).toEqual([10_000, 20_000]);
    // The worst case decides: an expectation passes only if it passed in every run.
    for (const v of summary.expectations)
      expect(v.status === 'passed').toBe(v.observed.every((o) => o.status === 'passed'));
    const statuses = summary.expectations.map((v) => v.status);
    const expected = statuses.includes('failed')
      ? 'failed'
      : statuses.includes('inconclusive')
        ? 'inconclusive'
        : 'passed';
    expect(outcome).toBe(expected);
    expect(run.code).toBe({ passed: 0, failed: 1, inconclusive: 3 }[expected]);
  }, 800_000);
});
