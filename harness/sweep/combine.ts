/**
 * The sweep's verdict of each expectation from its runs' verdicts: pass rate, the phases at which
 * it failed, the best and worst observation, and the verdict under the sweep's rule. Pure.
 */
import type { Verdict } from '../expectations/evaluate.ts';
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
  /** Under the sweep's rule. */
  passed: boolean;
  passedRuns: number;
  runs: number;
  /** Phases (simulated seconds) of the runs in which it failed. */
  failedAtPhases: number[];
  /** Each run's observation, in run order. */
  observed: { index: number; phaseSeconds: number; passed: boolean; observed: string }[];
}

export function ruleHolds(rule: SweepRule, passedRuns: number, runs: number): boolean {
  return rule === 'all' ? passedRuns === runs : passedRuns * 2 > runs;
}

/**
 * One swept verdict per expectation, in the order of the first run. An expectation that a run
 * did not report (an aborted run) counts as failed in that run: a sweep never passes by absence.
 */
export function combineVerdicts(outcomes: SweepRunOutcome[], rule: SweepRule): SweptVerdict[] {
  const names = [...new Set(outcomes.flatMap((o) => o.verdicts.map((v) => v.name)))];
  return names.map((name) => {
    const first = outcomes.flatMap((o) => o.verdicts).find((v) => v.name === name)!;
    const observed = outcomes.map((o) => {
      const v = o.verdicts.find((x) => x.name === name);
      return {
        index: o.index,
        phaseSeconds: o.phaseSeconds,
        passed: !o.aborted && v?.passed === true,
        observed: v ? v.observed : 'not evaluated (the run ended early)',
      };
    });
    const passedRuns = observed.filter((o) => o.passed).length;
    return {
      kind: first.kind,
      name,
      expected: first.expected,
      passed: ruleHolds(rule, passedRuns, outcomes.length),
      passedRuns,
      runs: outcomes.length,
      failedAtPhases: observed.filter((o) => !o.passed).map((o) => o.phaseSeconds),
      observed,
    };
  });
}

/** The run with the most failed expectations (the earliest of equals): the one to read first. */
export function worstRun(outcomes: SweepRunOutcome[]): SweepRunOutcome | undefined {
  const failures = (o: SweepRunOutcome) =>
    o.aborted ? Infinity : o.verdicts.filter((v) => !v.passed).length;
  return outcomes.reduce<SweepRunOutcome | undefined>(
    (worst, o) => (worst === undefined || failures(o) > failures(worst) ? o : worst),
    undefined,
  );
}
