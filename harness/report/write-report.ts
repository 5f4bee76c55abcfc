/**
 * The rehearsal report: `summary.json` (versioned, machine-readable), `junit.xml` (one test case
 * per expectation) and `index.html` (self-contained charts a person reads). Written into a
 * `.partial` sibling and renamed at the end, so a crash or Ctrl-C never leaves half a report.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Topology } from '../../infra/topology.ts';
import { failsTheRun, type Verdict } from '../expectations/evaluate.ts';
import { renderHtml } from './html.ts';
import type { RunRecord } from './run-record.ts';

export const SUMMARY_SCHEMA_VERSION = 1;

export interface Summary {
  schemaVersion: typeof SUMMARY_SCHEMA_VERSION;
  scenario: string;
  scenarioFile: string;
  passed: boolean;
  aborted: boolean;
  expectations: Verdict[];
  timeScale: { requested: number; effective: number };
  wallSeconds: number;
  users: number;
  peakSocketConnections: number;
  loadGenerator: RunRecord['loadGenerator'];
  latency: RunRecord['latency'];
  counters: RunRecord['counters'];
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
  series: RunRecord['samples'];
  alarmHistory: RunRecord['alarmHistory'];
  scalingActivities: RunRecord['scalingActivities'];
  instances: RunRecord['instances'];
  faults: RunRecord['faults'];
  /** The run was a 1:1/F scale model: F, and every scaled number beside the design's. */
  scaleModel?: RunRecord['scaleModel'];
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
    passed: !input.aborted && !verdicts.some(failsTheRun),
    aborted: input.aborted,
    expectations: verdicts,
    timeScale: { requested: record.timeScaleRequested, effective: record.timeScaleEffective },
    wallSeconds: record.wallSeconds,
    users: record.users,
    peakSocketConnections: record.peakSocketConnections,
    loadGenerator: record.loadGenerator,
    latency: record.latency,
    counters: record.counters,
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
    series: record.samples,
    alarmHistory: record.alarmHistory,
    scalingActivities: record.scalingActivities,
    instances: record.instances,
    faults: record.faults,
    scaleModel: record.scaleModel,
  };
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function renderJunit(summary: Summary): string {
  const failures = summary.expectations.filter(failsTheRun).length;
  const cases = summary.expectations.map((v) => {
    const message = xml(`expected ${v.expected}, observed ${v.observed}`);
    // A failed indicative verdict (a scale model's latency) is shown, not counted as a failure.
    const body = v.passed
      ? ''
      : v.indicative !== undefined
        ? `\n      <skipped message="${xml(v.indicative)}: ${message}"/>\n    `
        : `\n      <failure message="${message}"/>\n    `;
    return `    <testcase classname="tiketi-sim.${xml(summary.scenario)}" name="${xml(v.name)}" time="0">${body}</testcase>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="tiketi-sim" tests="${summary.expectations.length}" failures="${failures}" time="${summary.wallSeconds}">
  <testsuite name="${xml(summary.scenario)}" tests="${summary.expectations.length}" failures="${failures}" time="${summary.wallSeconds}">
${cases.join('\n')}
  </testsuite>
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
