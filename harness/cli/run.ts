/** `tiketi-sim run <scenario>`: the rehearsal, its report, and the exit code CI gates on. */
import { readFileSync } from 'node:fs';
import { deepMerge, designTopology, mergeTopology } from '../../infra/topology.ts';
import { TimedSteps } from '../../servers/startup-steps.ts';
import type { BackendChoice } from '../backends/backend.ts';
import { saturatedText, type Verdict } from '../expectations/evaluate.ts';
import { liveUrlLines } from '../live/mount.ts';
import { frameFromSummary } from '../report/html.ts';
import {
  EXIT_CODES,
  outcomeOf,
  reportDirFor,
  SUMMARY_SCHEMA_VERSION,
  type Summary,
  summarize,
  writeReport,
} from '../report/write-report.ts';
import { type Progress, type RunResult, runScenario } from '../run/run-scenario.ts';
import { loadScenario } from '../scenario/load.ts';
import { markIndicative, type ScaleModel, scaleModel } from '../scenario/scale-model.ts';
import type { Scenario } from '../scenario/schema.ts';
import { usersWarning } from '../scenario/threshold-reach.ts';
import { selectWorld } from '../worlds/select-world.ts';
import { isNotEvaluable, type WorldName } from '../worlds/world.ts';
import { openInBrowser } from './open-browser.ts';
import { ServerLogs } from './server-logs.ts';
import { LOGS_ROOT, UsageError } from './up.ts';

export interface RunCommandOptions {
  /** Where the rehearsal runs. @default 'local' */
  world?: WorldName;
  /** The deployed stack (aws: required; localstack: @default TiketiLocal). */
  stack?: string;
  timeScale?: number;
  users?: number;
  /** Run the design as a 1:1/F scale model (overrides the scenario's `scale`). */
  scale?: number;
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
    const line = `${p.simulated} ${p.phase.padEnd(24)} queue ${String(p.queueSize).padStart(6)}  instances ${p.instances.inService}+${p.instances.pending}  P95 ${p.apiP95Ms ?? '-'} ms  joined ${p.joined}/${p.users}  ${p.timeScale.toFixed(1)}×  ${alarms}`;
    if (tty) out.write(`\r\x1b[2K${line}`);
    else out.write(`${line}\n`);
  };
}

/**
 * `--set autoScalingGroup.healthCheckType=EC2`: a what-if on the design for this run only. Values
 * are JSON where they parse (numbers, booleans, arrays), strings otherwise; the merged topology
 * is validated by the design's strict schema, so a wrong key or value is named.
 */
export function topologyOverrides(assignments: string[]): Record<string, unknown> | undefined {
  if (assignments.length === 0) return undefined;
  const root: Record<string, unknown> = {};
  for (const assignment of assignments) {
    const eq = assignment.indexOf('=');
    const path = eq > 0 ? assignment.slice(0, eq).split('.') : [];
    if (path.length === 0 || path.some((k) => k === ''))
      throw new UsageError(
        `--set ${assignment}: expected <key.path>=<value>, e.g. --set autoScalingGroup.healthCheckType=EC2`,
      );
    const raw = assignment.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // a bare word is a string
    }
    let node = root;
    for (const key of path.slice(0, -1)) {
      if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path.at(-1)!] = value;
  }
  return root;
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
  options: Pick<RunCommandOptions, 'baseline' | 'tolerance' | 'reportDir'>,
): { summary: Summary; dir: string } {
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
  const dir = reportDirFor(options.reportDir, result.record.scenario);
  writeReport(dir, summary, result.topology);
  return { summary, dir };
}

export async function runCommand(
  nameOrPath: string,
  options: RunCommandOptions,
  signal: AbortSignal,
): Promise<number> {
  checkWorldFlags(options);
  const loaded = await loadScenario(nameOrPath);
  const { file } = loaded;
  const design = withOverrides(loaded.scenario, options.set ?? []);
  const model = scaleModelFor(design, options, (text) => process.stderr.write(`${text}\n`));
  const scenario = model?.scenario ?? design;
  const say = (line: string) => (options.json ? process.stderr : process.stdout).write(`${line}\n`);
  const logs = ServerLogs.inRunFolder(LOGS_ROOT, {
    verbose: options.verbose ?? false,
    stderr: (line) => process.stderr.write(`${line}\n`),
  });
  const { world, description } = await selectWorld({
    world: options.world ?? 'local',
    stackName: options.stack,
    backend: options.backend,
    log: say,
    startup: { steps: new TimedSteps(say), serverLog: logs.sink, failureLines: () => logs.failureLines() },
  });
  say(
    `[tiketi-sim] ${scenario.name}: ${options.users ?? scenario.users} users${model ? ` (a ${model.record.ratio} scale model of ${design.users}: docs/scale-models.md)` : ''}, ${scenario.startAt}–${scenario.endAt} at ${world.fixedTimeScale ?? options.timeScale ?? scenario.timeScale}×, ${description}`,
  );
  let written: { summary: Summary; dir: string } | undefined;
  await runScenario({
    scenario,
    world,
    timeScale: options.timeScale,
    users: options.users,
    signal,
    progress: progressPrinter(options.json),
    log: say,
    live: {
      dashboard: options.dashboard ?? true,
      scenarioFile: file,
      onReady(urls) {
        for (const line of liveUrlLines(urls)) say(line);
        if (options.open && urls.dashboardUrl) openInBrowser(urls.dashboardUrl, say);
      },
    },
    // Written while the world still runs, so the live page's last frame is the report's.
    report(result, live) {
      written = writeRunReport(result, file, model, options);
      live.dashboard?.finish(frameFromSummary(written.summary));
    },
  }).finally(() => logs.close());
  if (process.stdout.isTTY && !options.json) process.stdout.write('\n');
  const { summary, dir } = written!;
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
    const headline =
      summary.aborted && summary.outcome !== 'failed' ? 'ABORTED' : summary.outcome.toUpperCase();
    say(
      `\n${headline}${notEvaluable > 0 ? ` (${notEvaluable} not evaluable in the ${world.name} world)` : ''} in ${summary.wallSeconds} s wall (effective ${summary.timeScale.effective}× of ${summary.timeScale.requested}×). Report: ${dir}/index.html`,
    );
  }
  return EXIT_CODES[summary.outcome];
}

function verdictLine(v: Verdict): string {
  if (v.status === 'inconclusive')
    return `${isNotEvaluable(v) ? 'N/A ' : 'INCONCLUSIVE'}  ${v.name}: ${v.reason ?? v.observed}`;
  // A scale model's latency is shown, and gates nothing.
  const mark = v.status === 'passed' ? 'PASS' : v.indicative ? 'INFO' : 'FAIL';
  return `${mark}  ${v.name}: expected ${v.expected}, observed ${v.observed}${v.indicative ? ` (${v.indicative})` : ''}`;
}
