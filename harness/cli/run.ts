/** `tiketi-sim run <scenario>`: the rehearsal, its report, and the exit code CI gates on. */

import { readFileSync } from 'node:fs';
import { deepMerge, designTopology, mergeTopology } from '../../infra/topology.ts';
import { TimedSteps } from '../../servers/startup-steps.ts';
import type { BackendChoice } from '../backends/backend.ts';
import { saturatedText, type Verdict } from '../expectations/evaluate.ts';
import { liveUrlLines } from '../live/mount.ts';
import { readLoadReport } from '../load-report/parse.ts';
import { frameFromSummary } from '../report/html.ts';
import { EXIT_CODES, outcomeOf } from '../report/outcome.ts';
import {
  reportDirFor,
  SUMMARY_SCHEMA_VERSION,
  type Summary,
  summarize,
  writeReport,
} from '../report/write-report.ts';
import {
  EXTERNAL_LOAD_TIME_SCALE,
  type LoadChoice,
  type LoadSource,
  MEASURED_BY_ENGINE,
} from '../run/external-load.ts';
import { DEFAULT_SEED } from '../run/plan.ts';
import { type Progress, type RunResult, runScenario } from '../run/run-scenario.ts';
import { loadScenario } from '../scenario/load.ts';
import { markIndicative, type ScaleModel, scaleModel } from '../scenario/scale-model.ts';
import type { Scenario } from '../scenario/schema.ts';
import { usersWarning } from '../scenario/threshold-reach.ts';
import type { SweepRule } from '../sweep/plan.ts';
import { selectWorld } from '../worlds/select-world.ts';
import { isNotEvaluable, type WorldName } from '../worlds/world.ts';
import { openInBrowser } from './open-browser.ts';
import { topologyOverrides } from './overrides.ts';
import { LOGS_ROOT, ServerLogs } from './server-logs.ts';
import { runSweep, sweepRequest } from './sweep-command.ts';
import { UsageError } from './usage-error.ts';

export interface RunCommandOptions {
  /** Where the rehearsal runs. @default 'local' */
  world?: WorldName;
  /** The deployed stack (aws: required; localstack: @default TiketiLocal). */
  stack?: string;
  timeScale?: number;
  users?: number;
  /** Run the design as a 1:1/F scale model (overrides the scenario's `scale`). */
  scale?: number;
  /** The run's seed (overrides the scenario's). */
  seed?: number;
  /** A phase sweep of this many runs (overrides the scenario's `sweep.runs`). */
  sweep?: number;
  /** Simulated seconds the sweep spreads its faults over. */
  sweepPeriod?: number;
  require?: SweepRule;
  backend: BackendChoice;
  reportDir: string;
  baseline?: string;
  /** Allowed P95 regression against the baseline, percent. */
  tolerance: number;
  json: boolean;
  /** What-if overrides of the design, `key.path=value`. */
  set?: string[];
  /** Serve the live dashboard on the control server (`--no-dashboard`: `/metrics` only). @default true */
  dashboard?: boolean;
  /** Open the live dashboard in a browser. @default false */
  open?: boolean;
  /** Who sends the users: tiketi-sim's load generator, or an engine beside the run. @default 'generator' */
  load?: LoadSource;
  /** With `load: 'external'`: the engine's report (k6 --summary-export, Artillery --output), read at start. */
  loadReport?: string;
  /** Stream server logs to stderr as well as to their files. @default false */
  verbose?: boolean;
}

/** P95s that may not regress beyond the tolerance (and by more than a noise floor). */
const NOISE_FLOOR_MS = 5;

export function compareWithBaseline(
  current: Summary,
  baselinePath: string,
  tolerancePercent: number,
): Verdict[] {
  let baseline: Summary;
  try {
    baseline = JSON.parse(readFileSync(baselinePath, 'utf8')) as Summary;
  } catch (err) {
    throw new UsageError(
      `--baseline ${baselinePath}: cannot read it (${(err as Error).message}); pass the summary.json of an earlier run`,
    );
  }
  // Version 1 wrote `latency` as version 2 does: a baseline from it still compares.
  if (baseline.schemaVersion !== SUMMARY_SCHEMA_VERSION && (baseline.schemaVersion as number) !== 1) {
    throw new UsageError(
      `--baseline ${baselinePath}: summary schema version ${baseline.schemaVersion}, this tiketi-sim writes ${SUMMARY_SCHEMA_VERSION}; record a new baseline`,
    );
  }
  // Both sides judged like latency expectations: on the samples taken with headroom.
  const counted = (summary: Summary) => summary.measurement?.latencyWithHeadroom ?? summary.latency;
  const verdicts: Verdict[] = [];
  for (const [metric, all] of Object.entries(current.latency)) {
    const key = metric as keyof Summary['latency'];
    const now = counted(current)[key];
    const before = counted(baseline)[key];
    if (!all || !before) continue;
    const name = `P95 of ${metric === 'all' ? 'all API requests' : metric} within ${tolerancePercent} % of the baseline`;
    const limit = before.p95Ms * (1 + tolerancePercent / 100);
    const expected = `<= ${limit.toFixed(1)} ms (baseline ${before.p95Ms} ms + ${tolerancePercent} %)`;
    const share = current.measurement?.countedShare[key] ?? 1;
    if (!now || share < (current.measurement?.thresholds.minHeadroomShare ?? 0)) {
      const reason = `${saturatedText(current.measurement!)}; ${Math.floor(share * 100)} % of the samples were taken with headroom`;
      verdicts.push({
        kind: 'baseline',
        name,
        status: 'inconclusive',
        passed: false,
        expected,
        observed: `${all.p95Ms} ms over all samples`,
        reason,
      });
      continue;
    }
    const passed = now.p95Ms <= limit || now.p95Ms - before.p95Ms <= NOISE_FLOOR_MS;
    verdicts.push({
      kind: 'baseline',
      name,
      status: passed ? 'passed' : 'failed',
      passed,
      expected,
      observed: `${now.p95Ms} ms`,
    });
  }
  return verdicts;
}

function progressPrinter(json: boolean): (p: Progress) => void {
  const tty = process.stdout.isTTY && !json;
  const out = json ? process.stderr : process.stdout;
  return (p) => {
    const alarms = Object.entries(p.alarms)
      .map(
        ([name, state]) =>
          `${name.replace('tiketi-queue-', '')}:${state === 'INSUFFICIENT_DATA' ? '-' : state}`,
      )
      .join(' ');
    const line = `${p.simulated} ${p.phase.padEnd(24)} queue ${(p.queueSize < 0 ? '?' : String(p.queueSize)).padStart(6)}  instances ${p.instances.inService}+${p.instances.pending}  P95 ${p.apiP95Ms === undefined ? '-' : Math.round(p.apiP95Ms)} ms  joined ${p.joined}/${p.users}  ${p.timeScale.toFixed(1)}×  ${alarms}`;
    if (tty) out.write(`\r\x1b[2K${line}`);
    else out.write(`${line}\n`);
  };
}

function withOverrides(scenario: Scenario, assignments: string[]): Scenario {
  const overrides = topologyOverrides(assignments);
  if (!overrides) return scenario;
  const topology = deepMerge(scenario.topology ?? {}, overrides) as Scenario['topology'];
  try {
    mergeTopology(designTopology, topology);
  } catch (err) {
    throw new UsageError(`--set: ${(err as Error).message.replace('invalid topology:\n', '').trim()}`);
  }
  return { ...scenario, topology };
}

/** Flag combinations that cannot work, named before anything starts. */
export function checkWorldFlags(options: Pick<RunCommandOptions, 'world' | 'stack' | 'timeScale'>): void {
  const world = options.world ?? 'local';
  if (world === 'aws' && !options.stack)
    throw new UsageError(
      '--world aws needs --stack <name>: the CloudFormation stack to rehearse against (Tiketi when deployed with `tiketi-sim deploy --target aws`)',
    );
  if (world === 'local' && options.stack)
    throw new UsageError(
      `--stack ${options.stack} names a deployed stack: use it with --world aws or --world localstack`,
    );
  if (world !== 'local' && options.timeScale !== undefined && options.timeScale !== 1)
    throw new UsageError(
      `--time-scale ${options.timeScale}: the ${world} world runs on the wall clock (1×); ${world === 'aws' ? 'AWS evaluates alarms, cooldowns and boots' : 'LocalStack evaluates alarms'} in real time. Leave --time-scale out.`,
    );
}

/**
 * `--load external [--load-report FILE]`: checked, and the report read, before anything starts
 * (a report of the wrong shape is a `LoadReportError`, exit 2).
 */
export function loadChoiceFor(
  options: Pick<RunCommandOptions, 'load' | 'loadReport' | 'timeScale' | 'scale'>,
): LoadChoice {
  const source = options.load ?? 'generator';
  if (source === 'generator') {
    if (options.loadReport !== undefined)
      throw new UsageError(
        `--load-report ${options.loadReport}: an engine's report is read only when the engine sent the users; add --load external`,
      );
    return { source };
  }
  if (options.timeScale !== undefined && options.timeScale !== EXTERNAL_LOAD_TIME_SCALE)
    throw new UsageError(
      `--time-scale ${options.timeScale}: with --load external the engine sends its users in wall time, so the run follows at 1×. Leave --time-scale out (export the script with --time-scale N to rehearse compressed time against tiketi-sim up).`,
    );
  if (options.scale !== undefined && options.scale < 1)
    throw new UsageError(
      `--scale ${options.scale}: a scale model rescales tiketi-sim's own users; with --load external the engine's script sets them (tiketi-sim export --users N). Leave --scale out.`,
    );
  return options.loadReport === undefined
    ? { source }
    : { source, report: readLoadReport(options.loadReport) };
}

/**
 * The scale model the run asks for (`--scale`, else the scenario's `scale`; 1 is the design), or
 * a usage error when it cannot mean anything here. Without one, `--users` warns when it moves an
 * alarm the scenario's expectations name.
 */
export function scaleModelFor(
  scenario: Scenario,
  options: Pick<RunCommandOptions, 'world' | 'users' | 'scale'>,
  warn: (text: string) => void,
): ScaleModel | undefined {
  const factor = options.scale ?? scenario.scale ?? 1;
  const source = options.scale !== undefined ? `--scale ${options.scale}` : `the scenario's scale ${factor}`;
  if (factor < 1 && (options.world ?? 'local') !== 'local')
    throw new UsageError(
      `${source}: the ${options.world} world rehearses deployed alarms with the design's thresholds; a scale model runs in the local world (leave --world out), or deploy a stack with the scaled thresholds`,
    );
  if (factor < 1 && options.users !== undefined)
    throw new UsageError(
      `--users ${options.users} and ${source} both set the user count: a scale model scales the scenario's ${scenario.users} users to ${Math.round(scenario.users * factor)}; drop --users, or pass --scale 1 to rescale the arrival curve alone`,
    );
  if (factor < 1) return scaleModel(scenario, factor);
  if (options.users !== undefined) {
    const warning = usersWarning(scenario, mergeTopology(designTopology, scenario.topology), options.users);
    if (warning) warn(warning);
  }
  return undefined;
}

function writeRunReport(
  result: RunResult,
  scenarioFile: string,
  model: ScaleModel | undefined,
  dir: string,
  options: Pick<RunCommandOptions, 'baseline' | 'tolerance'>,
): Summary {
  const summary = summarize({
    scenarioFile,
    record: model ? { ...result.record, scaleModel: model.record } : result.record,
    verdicts: model ? markIndicative(result.verdicts, model.record) : result.verdicts,
    topology: result.topology,
    aborted: result.aborted,
  });
  if (options.baseline) {
    const baseline = compareWithBaseline(summary, options.baseline, options.tolerance);
    summary.expectations.push(...(model ? markIndicative(baseline, model.record) : baseline));
    summary.outcome = outcomeOf(summary.expectations, summary.aborted);
    summary.passed = summary.outcome === 'passed';
  }
  writeReport(dir, summary, result.topology);
  return summary;
}

/** One rehearsal as the command runs it: its world, the run, its report in `dir`. */
export interface Rehearsal {
  scenario: Scenario;
  /** The scenario's design when `scenario` is a scale model of it. */
  design: Scenario;
  model: ScaleModel | undefined;
  file: string;
  seed?: number;
  /** Who sends the users (read and checked before anything starts). */
  load: LoadChoice;
  dir: string;
  options: RunCommandOptions;
  signal: AbortSignal;
  say: (line: string) => void;
}

export async function rehearse(r: Rehearsal): Promise<{ summary: Summary; worldName: string }> {
  const { options } = r;
  // Server logs go to files (the last lines are printed if a start-up step fails); --verbose streams them.
  const logs = ServerLogs.inRunFolder(LOGS_ROOT, {
    verbose: options.verbose ?? false,
    stderr: (line) => process.stderr.write(`${line}\n`),
  });
  try {
    return await rehearseLogged(r, logs);
  } finally {
    logs.close();
  }
}

async function rehearseLogged(
  r: Rehearsal,
  logs: ServerLogs,
): Promise<{ summary: Summary; worldName: string }> {
  const { scenario, options, say } = r;
  const { world, description } = await selectWorld({
    world: options.world ?? 'local',
    stackName: options.stack,
    backend: options.backend,
    log: say,
    startup: { steps: new TimedSteps(say), serverLog: logs.sink, failureLines: () => logs.failureLines() },
  });
  say(
    `[tiketi-sim] ${scenario.name}: ${options.users ?? scenario.users} users${r.load.source === 'external' ? ` sent by an engine${r.load.report ? ` (its ${r.load.report.engine} report: ${options.loadReport})` : ''}` : ''}${r.model ? ` (a ${r.model.record.ratio} scale model of ${r.design.users}: docs/scale-models.md)` : ''}, ${scenario.startAt}–${scenario.endAt} at ${world.fixedTimeScale ?? (r.load.source === 'external' ? EXTERNAL_LOAD_TIME_SCALE : undefined) ?? options.timeScale ?? scenario.timeScale}×, seed ${r.seed ?? scenario.seed ?? DEFAULT_SEED}, ${description}`,
  );
  let summary: Summary | undefined;
  await runScenario({
    scenario,
    world,
    timeScale: options.timeScale,
    users: options.users,
    seed: r.seed,
    load: r.load,
    signal: r.signal,
    progress: progressPrinter(options.json),
    log: say,
    live: {
      dashboard: options.dashboard ?? true,
      scenarioFile: r.file,
      onReady(urls) {
        for (const line of liveUrlLines(urls)) say(line);
        if (options.open && urls.dashboardUrl) openInBrowser(urls.dashboardUrl, say);
      },
    },
    // Written while the world still runs, so the live page's last frame is the report's.
    report(result, live) {
      summary = writeRunReport(result, r.file, r.model, r.dir, options);
      live.dashboard?.finish(frameFromSummary(summary));
    },
  });
  if (process.stdout.isTTY && !options.json) process.stdout.write('\n');
  return { summary: summary!, worldName: world.name };
}

export async function runCommand(
  nameOrPath: string,
  options: RunCommandOptions,
  signal: AbortSignal,
): Promise<number> {
  checkWorldFlags(options);
  const load = loadChoiceFor(options);
  const loaded = await loadScenario(nameOrPath);
  const { file } = loaded;
  const design = withOverrides(loaded.scenario, options.set ?? []);
  const model = scaleModelFor(design, options, (text) => process.stderr.write(`${text}\n`));
  const scenario = model?.scenario ?? design;
  const say = (line: string) => (options.json ? process.stderr : process.stdout).write(`${line}\n`);
  const base = { scenario, design, model, file, load, options, signal, say };
  const sweep = sweepRequest(scenario, options);
  if (sweep && load.source === 'external')
    throw new UsageError(
      `--sweep ${sweep.runs} and --load external: a sweep runs the drop ${sweep.runs} times, and an engine's run is one drop; leave --sweep out`,
    );
  if (sweep) return runSweep({ ...base, sweep });
  const dir = reportDirFor(options.reportDir, scenario.name);
  const { summary, worldName } = await rehearse({ ...base, seed: options.seed, dir });
  if (options.json)
    console.log(
      JSON.stringify({
        passed: summary.passed,
        outcome: summary.outcome,
        reportDir: dir,
        expectations: summary.expectations,
        timeScale: summary.timeScale,
        wallSeconds: summary.wallSeconds,
      }),
    );
  else {
    for (const v of summary.expectations) say(verdictLine(v));
    // Not evaluable is not passed: the gate cannot say the expectation holds.
    const notEvaluable = summary.expectations.filter(isNotEvaluable).length;
    const byEngine = summary.expectations.filter((v) => v.reason?.startsWith(MEASURED_BY_ENGINE)).length;
    const headline =
      summary.aborted && summary.outcome !== 'failed' ? 'ABORTED' : summary.outcome.toUpperCase();
    say(
      `\n${headline}${notEvaluable > 0 ? ` (${notEvaluable} not evaluable in the ${worldName} world)` : ''}${byEngine > 0 ? ` (${byEngine} measured by the engine, not judged here)` : ''} in ${summary.wallSeconds} s wall (effective ${summary.timeScale.effective}× of ${summary.timeScale.requested}×). Report: ${dir}/index.html`,
    );
  }
  return EXIT_CODES[summary.outcome];
}

export function verdictLine(v: Verdict): string {
  if (v.status === 'inconclusive')
    return `${isNotEvaluable(v) ? 'N/A ' : 'INCONCLUSIVE'}  ${v.name}: ${v.reason ?? v.observed}`;
  // A scale model's latency is shown, and gates nothing.
  const mark = v.status === 'passed' ? 'PASS' : v.indicative ? 'INFO' : 'FAIL';
  return `${mark}  ${v.name}: expected ${v.expected}, observed ${v.observed}${v.indicative ? ` (${v.indicative})` : ''}`;
}
