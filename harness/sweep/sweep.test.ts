import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { designTopology } from '../../infra/topology.ts';
import type { Verdict } from '../expectations/evaluate.ts';
import { parseScenario } from '../scenario/schema.ts';
import { combineVerdicts, type SweepRunOutcome, worstRun } from './combine.ts';
import { planSweep, runSeed, shiftFaults } from './plan.ts';
import { SweepReportFolder, type SweepSummary, summarizeSweep } from './sweep-report.ts';

const scenario = parseScenario({
  name: 'sweepme',
  description: 'a fault to sweep',
  startAt: '19:30',
  endAt: '19:40',
  event: { seats: 10 },
  users: 10,
  arrivals: [
    { at: '19:30', joined: 0 },
    { at: '19:31', joined: 10 },
  ],
  faults: [
    { at: '19:35', fault: 'redis-failover' },
    { at: '19:36:50', fault: 'kill-instance' },
  ],
  expectations: [{ expect: 'no-seat-sold-twice' }],
});

const verdict = (name: string, passed: boolean, observed = passed ? 'ok' : 'bad'): Verdict => ({
  kind: 'reconnect',
  name,
  status: passed ? 'passed' : 'failed',
  passed,
  expected: 'x',
  observed,
});

function outcome(index: number, phaseSeconds: number, verdicts: Verdict[], aborted = false): SweepRunOutcome {
  return { index, phaseSeconds, seed: index, aborted, wallSeconds: 10, verdicts, reportDir: `run-${index}` };
}

describe('sweep plan', () => {
  it('spreads N offsets evenly over the ALB health-check interval by default', () => {
    const plan = planSweep({ runs: 6, seed: 42 }, designTopology);
    expect(designTopology.loadBalancer.healthCheck.intervalSeconds).toBe(30);
    expect(plan.map((r) => r.phaseSeconds)).toEqual([0, 5, 10, 15, 20, 25]);
    expect(plan.map((r) => r.index)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('takes another period, and the same seed gives the same runs', () => {
    const a = planSweep({ runs: 4, periodSeconds: 60, seed: 7 }, designTopology);
    expect(a.map((r) => r.phaseSeconds)).toEqual([0, 15, 30, 45]);
    expect(planSweep({ runs: 4, periodSeconds: 60, seed: 7 }, designTopology)).toEqual(a);
    const other = planSweep({ runs: 4, periodSeconds: 60, seed: 8 }, designTopology);
    expect(other.map((r) => r.seed)).not.toEqual(a.map((r) => r.seed));
    // Every run has its own stream.
    expect(new Set(a.map((r) => r.seed)).size).toBe(4);
  });

  it('derives run seeds that do not collide across neighbouring sweeps', () => {
    const seeds = new Set<number>();
    for (let sweep = 0; sweep < 50; sweep++) for (let i = 1; i <= 20; i++) seeds.add(runSeed(sweep, i));
    expect(seeds.size).toBe(1_000);
  });

  it('shifts every fault by the phase, whole seconds, and refuses one pushed past the end', () => {
    const shifted = shiftFaults(scenario, 12.5);
    expect(shifted.faults.map((f) => f.at)).toEqual(['19:35:12', '19:37:02']);
    expect(scenario.faults.map((f) => f.at)).toEqual(['19:35', '19:36:50']);
    expect(() => shiftFaults(scenario, 200)).toThrow(
      /19:36:50 shifted by 200 s falls after the run's end \(19:40\)/,
    );
  });
});

describe('sweep verdicts', () => {
  const runs = [
    outcome(1, 0, [verdict('reconnect', true, '12 s'), verdict('errors', true)]),
    outcome(2, 10, [verdict('reconnect', false, '75 s'), verdict('errors', true)]),
    outcome(3, 20, [verdict('reconnect', true, '14 s'), verdict('errors', false)]),
  ];

  it('takes the worst run under the rule `all`, with the phases at which each failed', () => {
    const swept = combineVerdicts(runs, 'all');
    expect(swept.map((v) => [v.name, v.passed, v.passedRuns, v.failedAtPhases])).toEqual([
      ['reconnect', false, 2, [10]],
      ['errors', false, 2, [20]],
    ]);
    expect(swept[0]!.observed.map((o) => o.observed)).toEqual(['12 s', '75 s', '14 s']);
  });

  it('passes an expectation that most runs passed under `majority`, and not one that half passed', () => {
    expect(combineVerdicts(runs, 'majority').map((v) => v.passed)).toEqual([true, true]);
    const half = [runs[0]!, runs[1]!];
    expect(combineVerdicts(half, 'majority')[0]!.passed).toBe(false);
  });

  it('never counts an inconclusive run as a pass', () => {
    const inconclusive: Verdict = { ...verdict('reconnect', false, 'not reached'), status: 'inconclusive' };
    const two = [runs[0]!, outcome(2, 10, [inconclusive, verdict('errors', true)])];
    expect(combineVerdicts(two, 'all')[0]).toMatchObject({
      status: 'inconclusive',
      passed: false,
      inconclusiveRuns: 1,
    });
    expect(combineVerdicts(two, 'majority')[0]!.status).toBe('inconclusive');
    const oneFailed = [...two, outcome(3, 20, [verdict('reconnect', false), verdict('errors', true)])];
    expect(combineVerdicts(oneFailed, 'all')[0]!.status).toBe('failed');
  });

  it('counts an expectation an aborted run did not report as failed in that run', () => {
    const withAbort = [...runs.slice(0, 1), outcome(2, 10, [], true)];
    const swept = combineVerdicts(withAbort, 'majority');
    expect(swept[0]).toMatchObject({ name: 'reconnect', passed: false, passedRuns: 1, failedAtPhases: [10] });
    expect(swept[0]!.observed[1]!.observed).toMatch(/ended early/);
  });

  it('names the run with the most failures as the worst, an aborted run first', () => {
    const both = outcome(4, 30, [verdict('reconnect', false), verdict('errors', false)]);
    expect(worstRun([...runs, both])?.index).toBe(4);
    expect(worstRun([...runs, both, outcome(5, 40, [], true)])?.index).toBe(5);
    expect(worstRun(runs)?.index).toBe(2);
  });
});

describe('sweep report', () => {
  it('writes one folder with the runs, the grid and the worst-case verdict; nothing if discarded', () => {
    const root = mkdtempSync(join(tmpdir(), 'tiketi-sweep-'));
    try {
      const folder = new SweepReportFolder(join(root, 'drop-sweep'));
      const outcomes = [1, 2, 3].map((i) => {
        mkdirSync(folder.runDir(i), { recursive: true });
        writeFileSync(join(folder.runDir(i), 'summary.json'), '{}');
        return {
          ...outcome(i, (i - 1) * 10, [verdict('reconnect', i !== 2, `${i * 10} s`)]),
          reportDir: folder.finalRunDir(i),
        };
      });
      const summary = summarizeSweep({
        scenario: 'drop',
        seed: 9,
        rule: 'all',
        periodSeconds: 30,
        outcomes,
        expectations: combineVerdicts(outcomes, 'all'),
        dir: folder.dir,
      });
      folder.commit(summary);
      const written = JSON.parse(
        readFileSync(join(root, 'drop-sweep', 'summary.json'), 'utf8'),
      ) as SweepSummary;
      expect(written).toMatchObject({ kind: 'sweep', passed: false, worstRun: 2, seed: 9 });
      expect(written.runs.map((r) => [r.report, r.passed])).toEqual([
        ['run-1', true],
        ['run-2', false],
        ['run-3', true],
      ]);
      expect(readdirSync(join(root, 'drop-sweep')).sort()).toEqual([
        'index.html',
        'junit.xml',
        'run-1',
        'run-2',
        'run-3',
        'summary.json',
      ]);
      const junit = readFileSync(join(root, 'drop-sweep', 'junit.xml'), 'utf8');
      expect(junit).toContain('passed 2 of 3, failed at phase 10 s');
      expect(readFileSync(join(root, 'drop-sweep', 'index.html'), 'utf8')).toContain(
        'href="run-2/index.html"',
      );

      const aborted = new SweepReportFolder(join(root, 'other-sweep'));
      mkdirSync(aborted.runDir(1), { recursive: true });
      aborted.discard();
      expect(readdirSync(root)).toEqual(['drop-sweep']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
