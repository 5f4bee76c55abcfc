/** A run's outcome as a gate sees it, and the CLI's exit code for it. */
import { failsTheRun, type Verdict } from '../expectations/evaluate.ts';

/** The run as a gate sees it; `EXIT_CODES` maps it to the CLI's exit code. */
export type RunOutcome = 'passed' | 'failed' | 'inconclusive';

/** 0 every expectation passed, 1 one failed, 3 none failed but one was inconclusive (or the run stopped early). */
export const EXIT_CODES: Record<RunOutcome, number> = { passed: 0, failed: 1, inconclusive: 3 };

export function outcomeOf(verdicts: readonly Verdict[], aborted: boolean): RunOutcome {
  // An indicative verdict (a scale model's latency) is shown, and gates nothing.
  const gating = verdicts.filter((v) => v.indicative === undefined);
  if (gating.some(failsTheRun)) return 'failed';
  if (aborted || gating.some((v) => v.status === 'inconclusive')) return 'inconclusive';
  return 'passed';
}
