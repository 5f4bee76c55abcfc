/**
 * The sweep's verdict of each expectation from its runs' verdicts: pass rate, the phases at which
 * it failed, the best and worst observation, and the verdict under the sweep's rule. Pure.
 */
import type { Verdict, VerdictStatus } from '../expectations/evaluate.ts';
import type { SweepRule } from './plan.ts';

/** What one run of the sweep gave. */
export interface SweepRunOutcome {
  index: number;
  phaseSeconds: number;
  seed: number;
  aborted: boolean;
  wallSeconds: number;
  verdicts: Verdict[];
  /** The run's own report folder. */
  reportDir: string;
}

export interface SweptVerdict {
  kind: Verdict['kind'];
  name: string;
  expected: string;
  /** Under the sweep's rule (`sweepStatus`). */
  status: VerdictStatus;
  passed: boolean;
  passedRuns: number;
  /** Runs whose verdict was inconclusive (a saturated machine, a run that ended early). */
  inconclusiveRuns: number;
  runs: number;
  /** Phases (simulated seconds) of the runs in which it failed. */
  failedAtPhases: number[];
  /** Each run's observation, in run order. */
  observed: { index: number; phaseSeconds: number; status: VerdictStatus; observed: string }[];
}

/**
 * The sweep's status from its runs'. `all`: one failed run fails it; otherwise one inconclusive
 * run leaves it inconclusive. `majority`: more than half passed passes it, half or more failed
 * fails it, anything else is inconclusive. An inconclusive run never counts as a pass.
 */
export function sweepStatus(rule: SweepRule, statuses: readonly VerdictStatus[]): VerdictStatus {
  const count = (s: VerdictStatus) => statuses.filter((x) => x === s).length;
  if (rule === 'all')
    return count('failed') > 0 ? 'failed' : count('inconclusive') > 0 ? 'inconclusive' : 'passed';
  if (count('passed') * 2 > statuses.length) return 'passed';
  return count('failed') * 2 >= statuses.length ? 'failed' : 'inconclusive';
}

/**
 * One swept verdict per expectation, in the order of the first run. An expectation that a run
 * did not report counts as failed in that run: a sweep never passes by absence.
 */
export function combineVerdicts(outcomes: SweepRunOutcome[], rule: SweepRule): SweptVerdict[] {
  const names = [...new Set(outcomes.flatMap((o) => o.verdicts.map((v) => v.name)))];
  return names.map((name) => {
    const first = outcomes.flatMap((o) => o.verdicts).find((v) => v.name === name)!;
    const observed = outcomes.map((o) => {
      const v = o.verdicts.find((x) => x.name === name);
      const status: VerdictStatus = v === undefined ? 'failed' : v.status;
      return {
        index: o.index,
        phaseSeconds: o.phaseSeconds,
        status,
        observed: v ? v.observed : 'not evaluated (the run ended early)',
      };
    });
    const status = sweepStatus(
      rule,
      observed.map((o) => o.status),
    );
    return {
      kind: first.kind,
      name,
      expected: first.expected,
      status,
      passed: status === 'passed',
      passedRuns: observed.filter((o) => o.status === 'passed').length,
      inconclusiveRuns: observed.filter((o) => o.status === 'inconclusive').length,
      runs: outcomes.length,
      failedAtPhases: observed.filter((o) => o.status === 'failed').map((o) => o.phaseSeconds),
      observed,
    };
  });
}

/** The run with the most failed expectations (the earliest of equals): the one to read first. */
export function worstRun(outcomes: SweepRunOutcome[]): SweepRunOutcome | undefined {
  const failures = (o: SweepRunOutcome) =>
    o.aborted ? Number.POSITIVE_INFINITY : o.verdicts.filter((v) => v.status === 'failed').length;
  return outcomes.reduce<SweepRunOutcome | undefined>(
    (worst, o) => (worst === undefined || failures(o) > failures(worst) ? o : worst),
    undefined,
  );
}
