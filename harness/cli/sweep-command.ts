/**
 * `tiketi-sim run <scenario> --sweep N`: the rehearsal N times, its faults shifted evenly across
 * one period of the cycle they interact with, each run with its own seed derived from the
 * sweep's; one report with every run and the worst-case verdict (harness/sweep/).
 */
import { designTopology, mergeTopology } from '../../infra/topology.ts';
import { EXIT_CODES } from '../report/outcome.ts';
import { reportDirFor } from '../report/write-report.ts';
import { DEFAULT_SEED } from '../run/plan.ts';
import type { Scenario } from '../scenario/schema.ts';
import { combineVerdicts, type SweepRunOutcome } from '../sweep/combine.ts';
import { type PlannedRun, planSweep, type SweepRule, shiftFaults } from '../sweep/plan.ts';
import { SweepReportFolder, summarizeSweep } from '../sweep/sweep-report.ts';
import { type Rehearsal, type RunCommandOptions, rehearse, verdictLine } from './run.ts';
import { UsageError } from './usage-error.ts';

export interface SweepRequest {
  runs: number;
  periodSeconds?: number;
  rule: SweepRule;
  seed: number;
}

/** The sweep the command asks for (`--sweep`, else the scenario's `sweep`), or none. */
export function sweepRequest(
  scenario: Scenario,
  options: Pick<RunCommandOptions, 'sweep' | 'sweepPeriod' | 'require' | 'seed'>,
): SweepRequest | undefined {
  const runs = options.sweep ?? scenario.sweep?.runs;
  if (runs === undefined) {
    if (options.sweepPeriod !== undefined || options.require !== undefined)
      throw new UsageError(
        `${options.sweepPeriod !== undefined ? '--sweep-period' : '--require'} shapes a phase sweep: add --sweep <runs> (e.g. --sweep 6)`,
      );
    return undefined;
  }
  if (scenario.faults.length === 0)
    throw new UsageError(
      `--sweep ${runs}: ${scenario.name} injects no fault, so there is no phase to sweep; add faults to the scenario or leave --sweep out`,
    );
  return {
    runs,
    periodSeconds: options.sweepPeriod ?? scenario.sweep?.periodSeconds,
    rule: options.require ?? scenario.sweep?.require ?? 'all',
    seed: options.seed ?? scenario.seed ?? DEFAULT_SEED,
  };
}

type SweepInput = Omit<Rehearsal, 'seed' | 'dir'> & { sweep: SweepRequest };

/** Plans every run and checks that every shifted fault still falls inside the run: usage errors before anything starts. */
function planRuns(input: SweepInput): { runs: PlannedRun[]; scenarios: Scenario[]; periodSeconds: number } {
  const { scenario, sweep } = input;
  const topology = mergeTopology(designTopology, scenario.topology);
  const periodSeconds = sweep.periodSeconds ?? topology.loadBalancer.healthCheck.intervalSeconds;
  const runs = planSweep({ runs: sweep.runs, periodSeconds, seed: sweep.seed }, topology);
  try {
    return { runs, scenarios: runs.map((r) => shiftFaults(scenario, r.phaseSeconds)), periodSeconds };
  } catch (err) {
    throw new UsageError(`--sweep ${sweep.runs}: ${(err as Error).message}`);
  }
}

export async function runSweep(input: SweepInput): Promise<number> {
  const { sweep, say, signal } = input;
  const { runs, scenarios, periodSeconds } = planRuns(input);
  const folder = new SweepReportFolder(reportDirFor(input.options.reportDir, `${input.scenario.name}-sweep`));
  const outcomes: SweepRunOutcome[] = [];
  try {
    for (const [i, run] of runs.entries()) {
      if (signal.aborted) break;
      say(`[sweep] run ${run.index} of ${runs.length}: faults +${run.phaseSeconds} s, seed ${run.seed}`);
      const { summary } = await rehearse({
        ...input,
        scenario: scenarios[i]!,
        seed: run.seed,
        dir: folder.runDir(run.index),
      });
      for (const v of summary.expectations) say(`  ${verdictLine(v)}`);
      outcomes.push({
        ...run,
        aborted: summary.aborted,
        wallSeconds: summary.wallSeconds,
        verdicts: summary.expectations,
        reportDir: folder.finalRunDir(run.index),
      });
    }
    if (signal.aborted) {
      folder.discard();
      say('[sweep] interrupted: no report written');
      return 130;
    }
  } catch (err) {
    folder.discard();
    throw err;
  }
  const expectations = combineVerdicts(outcomes, sweep.rule);
  const summary = summarizeSweep({
    scenario: input.scenario.name,
    seed: sweep.seed,
    rule: sweep.rule,
    periodSeconds,
    outcomes,
    expectations,
    dir: folder.dir,
  });
  folder.commit(summary);
  return reportSweep(summary, folder.dir, input);
}

function reportSweep(
  summary: ReturnType<typeof summarizeSweep>,
  dir: string,
  input: Pick<SweepInput, 'options' | 'say'>,
): number {
  const outcome = summary.expectations.some((v) => v.status === 'failed')
    ? 'failed'
    : summary.expectations.some((v) => v.status === 'inconclusive')
      ? 'inconclusive'
      : 'passed';
  if (input.options.json)
    console.log(JSON.stringify({ passed: summary.passed, outcome, reportDir: dir, sweep: summary }));
  else {
    for (const v of summary.expectations)
      input.say(
        `${v.status === 'passed' ? 'PASS' : v.status === 'failed' ? 'FAIL' : 'INCONCLUSIVE'}  ${v.name}: ${v.passedRuns} of ${v.runs} runs passed${v.failedAtPhases.length > 0 ? `, failed at +${v.failedAtPhases.join(' s, +')} s` : ''}`,
      );
    input.say(
      `\n${outcome.toUpperCase()}: sweep of ${summary.runs.length} (seed ${summary.seed}, rule ${summary.rule}), worst run ${summary.worstRun}. Report: ${dir}/index.html`,
    );
  }
  return EXIT_CODES[outcome];
}
