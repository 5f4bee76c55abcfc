/**
 * The rehearsal report: `summary.json` (versioned, machine-readable), `junit.xml` (one test case
 * per expectation) and `index.html` (self-contained charts a person reads). Written into a
 * `.partial` sibling and renamed at the end, so a crash or Ctrl-C never leaves half a report.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Topology } from '../../infra/topology.ts';
import { failsTheRun, type Verdict } from '../expectations/evaluate.ts';
import type { MeasurementRecord } from '../metrics/headroom.ts';
import type { LatencyMetric } from '../metrics/latency.ts';
import { evaluateFindings, type FindingsResult } from './findings.ts';
import { renderHtml } from './html.ts';
import { outcomeOf, type RunOutcome } from './outcome.ts';
import type { RunRecord } from './run-record.ts';

/**
 * 2: a verdict has a `status` (`passed`, `failed`, `inconclusive` with its `reason`), so
 * `passed: false` no longer means failed; `outcome`, `measurement` and `series[].machine` are new.
 */
export const SUMMARY_SCHEMA_VERSION = 2;

/** Whether the machine could measure, as `summary.json` states it. */
export interface MeasurementSummary extends MeasurementRecord {
  /** Share of each latency metric's samples taken with headroom (0–1): the ones the verdicts count. */
  countedShare: Partial<Record<LatencyMetric | 'all', number>>;
}

export interface Summary {
  schemaVersion: typeof SUMMARY_SCHEMA_VERSION;
  scenario: string;
  scenarioFile: string;
  /** Every expectation passed and the run was not aborted. */
  passed: boolean;
  outcome: RunOutcome;
  aborted: boolean;
  expectations: Verdict[];
  timeScale: { requested: number; effective: number };
  wallSeconds: number;
  users: number;
  peakSocketConnections: number;
  loadGenerator: RunRecord['loadGenerator'];
  latency: RunRecord['latency'];
  counters: RunRecord['counters'];
  /** How users who waited with a socket learned of their admission; absent when an engine sent the users. */
  admissionNotices?: RunRecord['admissionNotices'];
  integrity: RunRecord['integrity'];
  instanceHours: number;
  instanceCostKrw: number;
  reconnects: {
    count: number;
    p50Seconds?: number;
    p95Seconds?: number;
    maxSeconds?: number;
    timesSeconds: number[];
  };
  /** The reconnects' drops per instance, Socket.IO reason and inferred cause (absent: no client of the run watched). */
  disconnects?: RunRecord['disconnects'];
  series: RunRecord['samples'];
  alarmHistory: RunRecord['alarmHistory'];
  scalingActivities: RunRecord['scalingActivities'];
  instances: RunRecord['instances'];
  faults: RunRecord['faults'];
  /** What the run found, in words (findings.ts); rules the record could not feed in `findingsNotEvaluated`. */
  findings: FindingsResult['findings'];
  findingsNotEvaluated: FindingsResult['notEvaluated'];
  measurement?: MeasurementSummary;
  /** The run was a 1:1/F scale model: F, and every scaled number beside the design's. */
  scaleModel?: RunRecord['scaleModel'];
  /** An engine sent the users: its report (checks, thresholds); `latency` and the user counters are its figures. */
  loadEngine?: RunRecord['loadEngine'];
  /** The seed the run drew its random choices from (`--seed` repeats them), and what it decided. */
  seed?: number;
  plannedChoices?: RunRecord['plannedChoices'];
}

/** Hours of a month in the design's per-month prices (365 × 24 / 12). */
export const HOURS_PER_MONTH = 730;

export function instanceHours(record: RunRecord): number {
  const ms = record.instances.reduce((sum, i) => {
    const from = Math.max(i.launchedAtMs, record.startMs);
    const to = Math.min(i.terminatedAtMs ?? record.endMs, record.endMs);
    return sum + Math.max(0, to - from);
  }, 0);
  return ms / 3_600_000;
}

function percentile(sorted: number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export function summarize(input: {
  scenarioFile: string;
  record: RunRecord;
  verdicts: Verdict[];
  topology: Topology;
  aborted: boolean;
}): Summary {
  const { record, verdicts, topology } = input;
  const hours = instanceHours(record);
  const times = record.reconnects
    .filter((r) => r.reconnectedAtMs !== undefined)
    .map((r) => (r.reconnectedAtMs! - r.disconnectedAtMs) / 1_000)
    .sort((a, b) => a - b);
  return {
    schemaVersion: SUMMARY_SCHEMA_VERSION,
    scenario: record.scenario,
    scenarioFile: input.scenarioFile,
    passed: outcomeOf(verdicts, input.aborted) === 'passed',
    outcome: outcomeOf(verdicts, input.aborted),
    aborted: input.aborted,
    expectations: verdicts,
    timeScale: { requested: record.timeScaleRequested, effective: record.timeScaleEffective },
    wallSeconds: record.wallSeconds,
    users: record.users,
    peakSocketConnections: record.peakSocketConnections,
    loadGenerator: record.loadGenerator,
    latency: record.latency,
    counters: record.counters,
    ...(record.admissionNotices ? { admissionNotices: record.admissionNotices } : {}),
    integrity: record.integrity,
    instanceHours: Math.round(hours * 100) / 100,
    instanceCostKrw: Math.round((hours / HOURS_PER_MONTH) * topology.monthlyCostKrw.ec2PerInstance),
    reconnects: {
      count: record.reconnects.length,
      p50Seconds: percentile(times, 50),
      p95Seconds: percentile(times, 95),
      maxSeconds: times.at(-1),
      timesSeconds: times,
    },
    ...(record.disconnects ? { disconnects: record.disconnects } : {}),
    series: record.samples,
    alarmHistory: record.alarmHistory,
    scalingActivities: record.scalingActivities,
    instances: record.instances,
    faults: record.faults,
    ...findingsFields(evaluateFindings(record, topology)),
    ...(record.measurement ? { measurement: measurementSummary(record) } : {}),
    scaleModel: record.scaleModel,
    ...(record.loadEngine ? { loadEngine: record.loadEngine } : {}),
    seed: record.seed,
    plannedChoices: record.plannedChoices,
  };
}

const findingsFields = (r: FindingsResult) => ({
  findings: r.findings,
  findingsNotEvaluated: r.notEvaluated,
});

function measurementSummary(record: RunRecord): MeasurementSummary {
  const measurement = record.measurement!;
  const countedShare: MeasurementSummary['countedShare'] = {};
  // A run stopped before its first request has no summary at all (`all: undefined`).
  for (const [metric, all] of Object.entries(record.latency) as [
    LatencyMetric | 'all',
    { count: number } | undefined,
  ][]) {
    const counted = measurement.latencyWithHeadroom[metric]?.count ?? 0;
    if (all && all.count > 0) countedShare[metric] = Math.round((counted / all.count) * 1_000) / 1_000;
  }
  return { ...measurement, countedShare };
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * A verdict's JUnit body: nothing when passed, `<failure>` when it fails the run, `<skipped>` with
 * the reason when inconclusive or merely indicative (a scale model's latency).
 */
function junitBody(v: Verdict): string {
  if (v.status === 'passed') return '';
  const observed = `expected ${v.expected}, observed ${v.observed}`;
  const element =
    v.status === 'inconclusive'
      ? `<skipped message="${xml(`inconclusive: ${v.reason ?? v.observed}`)}"/>`
      : v.indicative !== undefined
        ? `<skipped message="${xml(`${v.indicative}: ${observed}`)}"/>`
        : `<failure message="${xml(observed)}"/>`;
  return `\n      ${element}\n    `;
}

/** A JUnit test case; `body` holds its `<failure>` or `<skipped>`, empty when it passed. */
interface JunitCase {
  classname: string;
  name: string;
  body: string;
  failed: boolean;
  skipped: boolean;
}

function junitSuite(name: string, cases: readonly JunitCase[], wallSeconds: number): string {
  const lines = cases.map(
    (c) =>
      `    <testcase classname="${xml(c.classname)}" name="${xml(c.name)}" time="0">${c.body}</testcase>`,
  );
  return `  <testsuite name="${xml(name)}" ${junitCounts(cases, wallSeconds)}>
${lines.join('\n')}
  </testsuite>`;
}

function junitCounts(cases: readonly JunitCase[], wallSeconds: number): string {
  const failures = cases.filter((c) => c.failed).length;
  const skipped = cases.filter((c) => c.skipped).length;
  return `tests="${cases.length}" failures="${failures}" skipped="${skipped}" time="${wallSeconds}"`;
}

/**
 * The engine's own verdicts, one test case each, in a suite of their own: they are shown, and
 * the run's outcome stays the scenario's expectations (judged on the engine's figures).
 */
function engineCases(summary: Summary): JunitCase[] {
  const engine = summary.loadEngine;
  if (!engine) return [];
  const classname = `tiketi-sim.${summary.scenario}.${engine.engine}`;
  const failure = (message: string) => `\n      <failure message="${xml(message)}"/>\n    `;
  return [
    ...engine.checks.map((c) => ({
      classname,
      name: `check: ${c.name}`,
      body: c.fails > 0 ? failure(`${c.fails} of ${c.passes + c.fails} failed`) : '',
      failed: c.fails > 0,
      skipped: false,
    })),
    ...engine.thresholds.map((t) => ({
      classname,
      name: `threshold: ${t.name}`,
      body: t.passed ? '' : failure('the threshold was crossed'),
      failed: !t.passed,
      skipped: false,
    })),
  ];
}

export function renderJunit(summary: Summary): string {
  const cases: JunitCase[] = summary.expectations.map((v) => ({
    classname: `tiketi-sim.${summary.scenario}`,
    name: v.name,
    body: junitBody(v),
    failed: failsTheRun(v),
    skipped: !v.passed && !failsTheRun(v),
  }));
  const engine = engineCases(summary);
  const suites = [junitSuite(summary.scenario, cases, summary.wallSeconds)];
  if (summary.loadEngine)
    suites.push(junitSuite(`${summary.scenario} (${summary.loadEngine.engine} report)`, engine, 0));
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="tiketi-sim" ${junitCounts([...cases, ...engine], summary.wallSeconds)}>
${suites.join('\n')}
</testsuites>
`;
}

export function reportDirFor(root: string, scenario: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return join(root, `${scenario}-${stamp}`);
}

/** Writes all three files, atomically as a folder. */
export function writeReport(
  dir: string,
  summary: Summary,
  topology: Topology,
  hooks: { afterFirstFile?: () => void } = {},
): string[] {
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  try {
    writeFileSync(join(partial, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    hooks.afterFirstFile?.();
    writeFileSync(join(partial, 'junit.xml'), renderJunit(summary));
    writeFileSync(join(partial, 'index.html'), renderHtml(summary, topology));
    renameSync(partial, dir);
  } catch (err) {
    rmSync(partial, { recursive: true, force: true });
    throw err;
  }
  return ['summary.json', 'junit.xml', 'index.html'].map((f) => join(dir, f));
}
