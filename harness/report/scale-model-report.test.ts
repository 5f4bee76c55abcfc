import { describe, expect, it } from 'vitest';
import { designTopology } from '../../infra/topology.ts';
import peakDrop from '../../scenarios/peak-drop.ts';
import type { Verdict } from '../expectations/evaluate.ts';
import { markIndicative, scaleModel } from '../scenario/scale-model.ts';
import { parseScenario } from '../scenario/schema.ts';
import type { RunRecord } from './run-record.ts';
import { NO_COUNTS } from './run-record.ts';
import { renderJunit, summarize } from './write-report.ts';

const model = scaleModel(parseScenario(peakDrop), 0.25);

/** A run of the 1:4 model with nothing in it but what the report reads. */
const record: RunRecord = {
  scenario: 'peak-drop',
  startMs: Date.parse('2026-11-24T19:30:00Z'),
  endMs: Date.parse('2026-11-24T21:00:00Z'),
  timeScaleRequested: 60,
  timeScaleEffective: 60,
  wallSeconds: 90,
  users: 6_250,
  samples: [],
  alarmHistory: [],
  scalingActivities: [],
  instances: [],
  faults: [],
  reconnects: [],
  latency: {},
  counters: { ...NO_COUNTS, usersJoined: 6_250, usersAdmitted: 6_250, requests: 10 },
  integrity: { seatsSoldTwice: 0, confirmedReservationsLost: 0, confirmedInDatabase: 0 },
  peakSocketConnections: 0,
  longestClientGapMs: 0,
  loadGenerator: { workers: 2, maxEventLoopDelayMs: 0 },
  scaleModel: model.record,
};

const latency: Verdict = {
  kind: 'latency',
  name: 'P95 of all API requests < 200 ms',
  status: 'failed',
  passed: false,
  expected: '< 200 ms',
  observed: '250 ms over 10 requests',
};
const alarm: Verdict = {
  kind: 'alarm-state',
  name: 'scale-out in ALARM',
  status: 'passed',
  passed: true,
  expected: 'ALARM between 19:53 and 19:57',
  observed: 'ALARM at 19:54:00',
};

describe('the report of a scale model', () => {
  it('passes when only an indicative latency verdict failed; JUnit shows it skipped with the reason', () => {
    const verdicts = markIndicative([latency, alarm], model.record);
    const summary = summarize({
      scenarioFile: 'x',
      record,
      verdicts,
      topology: model.topology,
      aborted: false,
    });
    expect(summary.passed).toBe(true);
    expect(summary.scaleModel).toMatchObject({ factor: 0.25, ratio: '1:4' });
    const junit = renderJunit(summary);
    expect(junit).toContain('failures="0"');
    expect(junit).toMatch(
      /<skipped message="scale model 1:4: indicative .*: expected &lt; 200 ms, observed 250 ms/,
    );
  });

  it('fails on the same latency when it gates (the design, or a scenario that opted in)', () => {
    const summary = summarize({
      scenarioFile: 'x',
      record: { ...record, scaleModel: undefined },
      verdicts: [latency, alarm],
      topology: designTopology,
      aborted: false,
    });
    expect(summary.passed).toBe(false);
    expect(renderJunit(summary)).toContain('<failure message="expected &lt; 200 ms, observed 250 ms');
  });
});
