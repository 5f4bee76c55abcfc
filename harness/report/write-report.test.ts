import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { designTopology } from '../../infra/topology.ts';
import type { Verdict } from '../expectations/evaluate.ts';
import { EXIT_CODES, outcomeOf } from './outcome.ts';
import type { RunRecord } from './run-record.ts';
import { renderJunit, reportDirFor, summarize, writeReport } from './write-report.ts';

const T = (hhmm: string) => Date.parse(`2026-11-24T${hhmm}:00Z`);
const root = mkdtempSync(join(tmpdir(), 'tiketi-report-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function record(): RunRecord {
  const samples = Array.from({ length: 30 }, (_, i) => ({
    atMs: T('19:31') + i * 60_000,
    queueSize: i < 20 ? i * 1_000 : 0,
    activeUsers: i < 20 ? 0 : 3_000,
    instances: { pending: i >= 24 && i < 28 ? 2 : 0, inService: i >= 28 ? 4 : 2, terminating: 0 },
    targets: { initial: 0, healthy: 2, unhealthy: 0, draining: 0 },
    alarms: { 'tiketi-queue-scale-out': i >= 23 ? ('ALARM' as const) : ('OK' as const) },
    connectionsPerInstance: { 'app-1': 100 + i, 'app-2': 90 + i },
    requests: 100,
    errors: 0,
    admitted: i >= 20 ? 3_000 : 0,
    apiP95Ms: 40 + i,
    apiP99Ms: 80 + i,
    socketDeliveryP95Ms: 20,
    socketsConnected: 200,
    wallSeconds: i * 4,
    timeScale: i >= 20 && i < 25 ? 3 : 30,
    clockLimitedBy: i >= 20 && i < 25 ? ('arrivals' as const) : ('requested' as const),
  }));
  return {
    scenario: 'report-test',
    startMs: T('19:30'),
    endMs: T('20:00'),
    timeScaleRequested: 30,
    timeScaleEffective: 27.5,
    wallSeconds: 66,
    users: 20_000,
    samples,
    alarmHistory: [
      {
        alarm: 'tiketi-queue-scale-out',
        atMs: T('19:31'),
        from: 'INSUFFICIENT_DATA',
        to: 'OK',
        reason: 'Threshold Crossed',
      },
      {
        alarm: 'tiketi-queue-scale-out',
        atMs: T('19:54'),
        from: 'OK',
        to: 'ALARM',
        reason: 'Threshold Crossed <&">',
      },
    ],
    scalingActivities: [
      {
        startMs: T('19:54'),
        endMs: T('19:58'),
        status: 'Successful',
        description: 'Launching 2 new EC2 instances',
        cause: 'alarm',
      },
    ],
    instances: [
      { id: 'app-1', az: 'a', launchedAtMs: T('19:27') },
      { id: 'app-2', az: 'b', launchedAtMs: T('19:27') },
      { id: 'app-3', az: 'a', launchedAtMs: T('19:54'), inServiceAtMs: T('19:58') },
    ],
    faults: [
      {
        fault: 'db-failover',
        detail: 'aurora-writer az-a',
        atMs: T('19:40'),
        timeline: [
          { label: 'database writer killed', atMs: T('19:40') },
          { label: 'failure detected', atMs: T('19:40') + 5_000 },
          { label: 'replica promoted to writer', atMs: T('19:40') + 30_000 },
          { label: 'writer endpoint switched', atMs: T('19:40') + 35_000 },
        ],
        complete: true,
      },
    ],
    reconnects: [
      {
        userId: 'u',
        disconnectedAtMs: T('19:40'),
        reason: 'ping timeout',
        reconnectedAtMs: T('19:40') + 3_000,
        stateKept: true,
      },
    ],
    latency: { all: { count: 3_000, p50Ms: 10, p90Ms: 30, p95Ms: 45, p99Ms: 90, maxMs: 300, meanMs: 15 } },
    counters: {
      usersJoined: 20_000,
      usersAdmitted: 20_000,
      requests: 3_000,
      errors: 0,
      conflicts: 10,
      seatsHeld: 5,
      reservations: 5,
      paymentsConfirmed: 5,
      socketDisconnects: 1,
      sameInstance: 990,
      instanceSwitches: 10,
    },
    integrity: { seatsSoldTwice: 0, confirmedReservationsLost: 0, confirmedInDatabase: 5 },
    peakSocketConnections: 200,
    longestClientGapMs: 0,
    loadGenerator: { workers: 2, maxEventLoopDelayMs: 12 },
  };
}

const verdicts: Verdict[] = [
  {
    kind: 'no-seat-sold-twice',
    name: 'ok one',
    status: 'passed',
    passed: true,
    expected: 'x',
    observed: 'x',
  },
  {
    kind: 'latency',
    name: 'bad <one> & "quoted"',
    status: 'failed',
    passed: false,
    expected: '< 200 ms',
    observed: '250 ms & more',
  },
  {
    kind: 'socket-delivery',
    name: 'Socket.IO delivery P95 < 100 ms',
    status: 'inconclusive',
    passed: false,
    expected: '< 100 ms',
    observed: '180 ms over 1000 deliveries, 40 % of them taken with headroom',
    reason: 'machine saturated 19:56–20:03: CPU 100 %, load-worker lag 580 ms',
  },
];

describe('the report', () => {
  const summary = summarize({
    scenarioFile: 'scenarios/report-test.ts',
    record: record(),
    verdicts,
    topology: designTopology,
    aborted: false,
  });

  it('summarizes with a schema version, costs the instance-hours at the design price', () => {
    expect(summary).toMatchObject({
      schemaVersion: 2,
      passed: false,
      outcome: 'failed',
      timeScale: { requested: 30, effective: 27.5 },
    });
    // Two instances for the whole 30 minutes and one for the last 6: 1.1 instance-hours.
    expect(summary.instanceHours).toBe(1.1);
    expect(summary.instanceCostKrw).toBe(
      Math.round((1.1 / 730) * designTopology.monthlyCostKrw.ec2PerInstance),
    );
    expect(summary.reconnects).toMatchObject({ count: 1, maxSeconds: 3 });
  });

  it('states how waiting users learned of their admission, and the finding when some did not hear it', () => {
    const notices = { delivered: 19_990, rescuedByApp: 6, rescuedByPoll: 0, lost: 4 };
    const withNotices = summarize({
      scenarioFile: 'scenarios/report-test.ts',
      record: { ...record(), admissionNotices: notices },
      verdicts,
      topology: designTopology,
      aborted: false,
    });
    expect(withNotices.admissionNotices).toEqual(notices);
    expect(withNotices.findings.map((f) => f.rule)).toEqual(
      expect.arrayContaining(['admission-notices-lost', 'admission-notices-rescued']),
    );
    expect('admissionNotices' in summary).toBe(false);
  });

  it('junit has one test case per expectation, a failure for the failing one, all escaped', () => {
    const xml = renderJunit(summary);
    expect(xml.match(/<testcase /g)).toHaveLength(3);
    expect(xml).toContain('tests="3" failures="1" skipped="1"');
    expect(xml).toContain(
      '<skipped message="inconclusive: machine saturated 19:56–20:03: CPU 100 %, load-worker lag 580 ms"/>',
    );
    expect(xml).toContain('name="bad &lt;one&gt; &amp; &quot;quoted&quot;"');
    expect(xml).toContain('<failure message="expected &lt; 200 ms, observed 250 ms &amp; more"/>');
  });

  it('states the outcome the exit code follows: failed over inconclusive over passed', () => {
    const [passed, failed, inconclusive] = verdicts as [Verdict, Verdict, Verdict];
    expect(outcomeOf([passed, failed, inconclusive], false)).toBe('failed');
    expect(outcomeOf([passed, inconclusive], false)).toBe('inconclusive');
    expect(outcomeOf([passed], false)).toBe('passed');
    // Stopped early with nothing failed: not a pass.
    expect(outcomeOf([passed], true)).toBe('inconclusive');
    expect([EXIT_CODES.passed, EXIT_CODES.failed, EXIT_CODES.inconclusive]).toEqual([0, 1, 3]);
  });

  /** A run's measurement record: the default thresholds, nothing saturated. */
  const measurement = (
    latencyWithHeadroom: NonNullable<RunRecord['measurement']>['latencyWithHeadroom'],
    intervals: NonNullable<RunRecord['measurement']>['intervals'],
  ): NonNullable<RunRecord['measurement']> => ({
    thresholds: { maxCpuBusy: 0.95, maxEventLoopLagMs: 50, maxProcessCoreBusy: 0.9, minHeadroomShare: 0.8 },
    latencyWithHeadroom,
    saturated: [],
    intervals,
  });
  const summarizeRun = (run: RunRecord, aborted: boolean) =>
    summarize({ scenarioFile: 'x.ts', record: run, verdicts, topology: designTopology, aborted });

  it('states the share of each latency metric counted with headroom', () => {
    const measured = record();
    measured.latency = {
      all: { count: 1_000, p50Ms: 10, p90Ms: 50, p95Ms: 509, p99Ms: 900, maxMs: 1_000, meanMs: 30 },
    };
    measured.measurement = measurement(
      { all: { count: 620, p50Ms: 10, p90Ms: 50, p95Ms: 120, p99Ms: 300, maxMs: 400, meanMs: 20 } },
      { total: 100, withHeadroom: 70 },
    );
    const out = summarizeRun(measured, false);
    expect(out.measurement?.countedShare).toEqual({ all: 0.62 });
    expect(summary.measurement).toBeUndefined();
  });

  it('summarizes a run stopped before its first request (Ctrl-C while users were created)', () => {
    const stopped = record();
    stopped.latency = { all: undefined };
    stopped.measurement = measurement({}, { total: 0, withHeadroom: 0 });
    const out = summarizeRun(stopped, true);
    expect(out.measurement?.countedShare).toEqual({});
    expect(out.aborted).toBe(true);
  });

  it('writes the folder whole or not at all', () => {
    const broken = reportDirFor(root, 'broken', new Date('2026-11-24T23:00:00Z'));
    expect(() =>
      writeReport(broken, summary, designTopology, {
        afterFirstFile: () => {
          throw new Error('Ctrl-C');
        },
      }),
    ).toThrow('Ctrl-C');
    expect(existsSync(broken)).toBe(false);
    expect(existsSync(`${broken}.partial`)).toBe(false);
    const dir = reportDirFor(root, 'report-test', new Date('2026-11-24T23:00:00Z'));
    expect(dir.endsWith('report-test-20261124-230000')).toBe(true);
    writeReport(dir, summary, designTopology);
    expect(JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')).scenario).toBe('report-test');
  });
});
