import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { designTopology } from '../../infra/topology.ts';
import { ManualClock } from '../clock/clock.ts';
import { evaluateAll } from '../expectations/evaluate.ts';
import { mergeEngineReport } from '../load-report/merge.ts';
import { type EngineLoadReport, parseLoadReport } from '../load-report/parse.ts';
import { frameFromSummary } from '../report/html.ts';
import { recordedPeakDrop } from '../report/record-fixture.ts';
import { renderJunit, summarize } from '../report/write-report.ts';
import { loadScenario } from '../scenario/load.ts';
import type { Expectation } from '../scenario/schema.ts';
import type { PreparedDrop } from '../worlds/world.ts';
import { ArrivalFeeder } from './arrival-feeder.ts';
import { FakeWorld, fakeMeasure } from './drop-fakes.ts';
import { runDropLoop } from './drop-loop.ts';
import {
  ExternalLoad,
  MEASURED_BY_ENGINE,
  markIdleDesign,
  markMeasuredByEngine,
  NO_ENGINE_USERS,
  prepareForEngine,
} from './external-load.ts';
import { ClockPacer } from './pacer.ts';
import { PacerDuty } from './pacer-duty.ts';
import { planRun } from './plan.ts';
import { SalesOpener } from './sales-opener.ts';
import { Sampler } from './sampler.ts';

const MINUTE = 60_000;
const { scenario: smoke } = await loadScenario('smoke');
const fixture = (name: string) =>
  readFileSync(new URL(`../load-report/fixtures/${name}`, import.meta.url), 'utf8');

describe('planRun with an external load', () => {
  it("follows the wall clock (1×) whatever the scenario's scale, and says so", () => {
    const lines: string[] = [];
    const plan = planRun({
      scenario: smoke,
      world: { name: 'local' },
      load: { source: 'external' },
      log: (l) => lines.push(l),
    });
    expect(smoke.timeScale).toBe(30);
    expect(plan).toMatchObject({ requestedScale: 1, fixedTimeScale: 1, load: { source: 'external' } });
    expect(lines.join('\n')).toMatch(
      /an external load engine sends users on the wall clock \(1×\), not the scenario's 30×/,
    );
    expect(planRun({ scenario: smoke, world: { name: 'local' }, log: () => {} })).toMatchObject({
      requestedScale: 30,
      fixedTimeScale: undefined,
    });
  });
});

describe('the null load through the drop', () => {
  it('prepares the event and no users, sends nobody, opens sales, samples every minute, keeps 1×', async () => {
    const plan = planRun({
      scenario: smoke,
      world: { name: 'local' },
      load: { source: 'external' },
      log: () => {},
    });
    const prepared: { seats: number; users: number; arrivals: number }[] = [];
    const lines: string[] = [];
    const run = await prepareForEngine(
      plan,
      {
        clientUrl: 'http://127.0.0.1:8080',
        eventId: 'drop',
        prepare: async (drop): Promise<PreparedDrop> => {
          prepared.push({ seats: drop.seats, users: drop.users, arrivals: drop.arrivalsSimMs.length });
          return { seatIds: ['s1'], users: { ready: 0, take: () => [] } };
        },
      },
      (l) => lines.push(l),
      undefined,
    );
    expect(prepared).toEqual([{ seats: 500, users: 0, arrivals: 0 }]);
    expect(lines[0]).toMatch(
      /tiketi-sim sends no users; the engine's users go to http:\/\/127\.0\.0\.1:8080, event drop/,
    );
    expect(run.users.ready).toBe(0);

    const clock = new ManualClock(plan.startMs);
    const wall = new ManualClock(0);
    const world = new FakeWorld(clock);
    const { load } = run;
    const arrivals = new ArrivalFeeder({ arrivalsSimMs: plan.arrivalsSimMs, users: run.users, load });
    const pacer: PacerDuty = new PacerDuty({
      pacer: new ClockPacer({
        requestedScale: plan.requestedScale,
        minScale: plan.fixedTimeScale!,
        idleScale: plan.fixedTimeScale!,
        arrivalsSimMs: plan.arrivalsSimMs,
        initialJoinsPerSecond: 150,
      }),
      requestedScale: plan.requestedScale,
      world,
      load,
      clockAnchor: () => world.anchor(wall.now()),
      sent: () => arrivals.sent,
      faultsInProgress: () => false,
      queueSize: () => sampler.lastQueueSize,
      measure: fakeMeasure(load, 0.2),
      activityInFlight: () => false,
      wallNow: () => wall.now(),
    });
    const sampler = new Sampler({
      world,
      load,
      startSimMs: plan.startMs,
      endSimMs: plan.endMs,
      salesOpenSimMs: plan.salesOpenMs,
      users: plan.users,
      speed: pacer,
      wallNow: () => wall.now(),
      wallStartMs: 0,
      progress: () => {},
    });
    await runDropLoop({
      clock,
      endSimMs: plan.endMs,
      duties: [new SalesOpener({ world, salesOpenSimMs: plan.salesOpenMs }), arrivals, pacer, sampler],
      signal: new AbortController().signal,
      idle: async () => {
        wall.advance(1_000);
        clock.advance(1_000 * pacer.scale);
      },
    });
    // smoke runs 19:30–19:45 with sales at 19:32: opened once, on time, in wall time.
    expect(world.openSalesCalls).toEqual([plan.salesOpenMs]);
    expect(arrivals.sent).toBe(0);
    expect(world.timeScales).toEqual([]);
    expect(pacer.scale).toBe(1);
    expect(sampler.samples.map((s) => (s.atMs - plan.startMs) / MINUTE)).toEqual(
      Array.from({ length: 14 }, (_, i) => i + 1),
    );
    expect(sampler.samples.every((s) => s.requests === 0 && s.errors === 0 && s.apiP95Ms === undefined)).toBe(
      true,
    );
    expect(await run.stop()).toMatchObject({ requests: 0, joined: 0, confirmedReservationIds: [] });
  });

  it('refuses users handed to it: the run prepares none for an engine', () => {
    expect(() => new ExternalLoad().arrive([{ userId: 'u', token: 't' }])).toThrow(
      /an engine sends this run's users/,
    );
  });
});

const expectations: Expectation[] = [
  { expect: 'instances', at: '19:44', lifecycle: 'InService', min: 2, max: 2 },
  { expect: 'latency', endpoint: 'all', percentile: 95, belowMs: 200 },
  { expect: 'latency', endpoint: 'GET /api/events/:eventId/seats', percentile: 95, belowMs: 200 },
  { expect: 'error-rate', below: 0.01 },
  { expect: 'sticky', atLeast: 0.99 },
  { expect: 'no-seat-sold-twice' },
];

describe('verdicts measured by the engine', () => {
  const record = recordedPeakDrop();

  it("without a report: what users saw is inconclusive, measured by the engine; the design's verdicts stay", () => {
    const judged = evaluateAll(expectations, record);
    const marked = markMeasuredByEngine(judged, expectations, undefined);
    expect(marked.map((v) => v.status)).toEqual([
      judged[0]!.status,
      'inconclusive',
      'inconclusive',
      'inconclusive',
      'inconclusive',
      judged[5]!.status,
    ]);
    expect(marked[0]).toEqual(judged[0]);
    expect(marked[5]).toEqual(judged[5]);
    for (const v of marked.slice(1, 5)) {
      expect(v.passed).toBe(false);
      expect(v.reason).toMatch(
        new RegExp(
          `^${MEASURED_BY_ENGINE}: tiketi-sim sent no users \\(--load external\\); pass the engine's report with --load-report`,
        ),
      );
    }
  });

  it("with a report: judged on the engine's figures, which the verdict names; what it lacks stays inconclusive", () => {
    const report: EngineLoadReport = {
      ...parseLoadReport(fixture('k6-summary-export.json'), 'k6.json'),
      file: 'k6.json',
    };
    const merged = mergeEngineReport(record, report);
    const marked = markMeasuredByEngine(evaluateAll(expectations, merged), expectations, report);
    const [, all, seats, errors, sticky] = marked;
    // P95 180.4 ms < 200: passed, whatever this machine's headroom was (the engine measured it).
    expect(all).toMatchObject({
      status: 'passed',
      observed: '180.4 ms over 700 requests (k6 report k6.json)',
    });
    expect(errors).toMatchObject({ status: 'passed', observed: '0.273 % (3 of 1100) (k6 report k6.json)' });
    expect(seats).toMatchObject({ status: 'inconclusive' });
    expect(seats!.reason).toBe(
      `${MEASURED_BY_ENGINE}: its k6 report has no request latency of GET /api/events/:eventId/seats`,
    );
    expect(sticky!.reason).toBe(
      `${MEASURED_BY_ENGINE}: its k6 report carries no figure for this; only the engine's users saw it`,
    );
    // A latency the engine measured too slow fails, as it would from tiketi-sim's own users.
    const strict: Expectation[] = [{ expect: 'latency', endpoint: 'all', percentile: 95, belowMs: 150 }];
    expect(markMeasuredByEngine(evaluateAll(strict, merged), strict, report)[0]!.status).toBe('failed');
  });
});

describe('a design no engine user reached', () => {
  const record = recordedPeakDrop();
  const idle = { samples: record.samples.map((s) => ({ ...s, queueSize: 0, activeUsers: 0 })) };

  it("passes for want of load, so its verdicts are inconclusive and say so; the users' side is left to the engine", () => {
    const judged = evaluateAll(expectations, record);
    const marked = markIdleDesign(judged, expectations, idle);
    expect(marked.map((v) => v.status)).toEqual([
      'inconclusive',
      judged[1]!.status,
      judged[2]!.status,
      judged[3]!.status,
      judged[4]!.status,
      'inconclusive',
    ]);
    expect(marked[0]).toMatchObject({
      passed: false,
      reason: NO_ENGINE_USERS,
      observed: judged[0]!.observed,
    });
  });

  it('a user queued or active in any sample, or a world that cannot count them (-1), leaves the verdicts as judged', () => {
    const judged = evaluateAll(expectations, record);
    const oneQueued = { samples: idle.samples.map((s, i) => (i === 3 ? { ...s, queueSize: 1 } : s)) };
    expect(markIdleDesign(judged, expectations, oneQueued)).toEqual(judged);
    const uncounted = { samples: idle.samples.map((s) => ({ ...s, queueSize: -1, activeUsers: -1 })) };
    expect(markIdleDesign(judged, expectations, uncounted)).toEqual(judged);
  });
});

describe("the engine's report in the summary, JUnit and the page", () => {
  it('summary.loadEngine holds it; JUnit has a suite of its checks and thresholds, a failed one failing', () => {
    const report = { ...parseLoadReport(fixture('k6-summary-export.json'), 'k6.json'), file: 'k6.json' };
    const record = mergeEngineReport(recordedPeakDrop(), report);
    const verdicts = evaluateAll(expectations.slice(0, 2), record);
    const summary = summarize({
      scenarioFile: 'x.ts',
      record,
      verdicts,
      topology: designTopology,
      aborted: false,
    });
    expect(summary.loadEngine).toEqual(report);
    expect(summary.latency.all?.p95Ms).toBe(180.4);
    expect(summary.measurement).toBeUndefined();
    const junit = renderJunit(summary);
    expect(junit).toContain(`<testsuite name="${summary.scenario}" tests="2" failures="0"`);
    expect(junit).toContain(
      `<testsuite name="${summary.scenario} (k6 report)" tests="10" failures="3" skipped="0"`,
    );
    expect(junit).toContain('<testsuites name="tiketi-sim" tests="12" failures="3"');
    expect(junit).toMatch(
      /name="check: admitted before the scenario ended" time="0">\s*<failure message="2 of 200 failed"\/>/,
    );
    expect(junit).toMatch(/name="threshold: http_req_failed: rate&lt;0.01" time="0"><\/testcase>/);
    expect(junit).toMatch(
      /name="threshold: http_req_duration\{endpoint:POST \/api\/reservations\/:id\/payments\}: p\(95\)&lt;200" time="0">\s*<failure message="the threshold was crossed"\/>/,
    );
    expect(frameFromSummary(summary).loadEngine).toEqual({
      engine: 'k6',
      file: 'k6.json',
      checks: report.checks,
      thresholds: report.thresholds,
    });
  });

  it('a run without an engine has no engine suite and no loadEngine', () => {
    const summary = summarize({
      scenarioFile: 'x.ts',
      record: recordedPeakDrop(),
      verdicts: [],
      topology: designTopology,
      aborted: false,
    });
    expect(summary.loadEngine).toBeUndefined();
    expect(renderJunit(summary)).not.toContain('report)"');
    expect(frameFromSummary(summary).loadEngine).toBeUndefined();
  });
});
