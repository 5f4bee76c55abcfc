import { describe, expect, it } from 'vitest';
import { designTopology } from '../../infra/topology.ts';
import { evaluateAll } from '../expectations/evaluate.ts';
import { LatencyAggregate, LatencyRecorder } from '../metrics/latency.ts';
import type { ReportFrame } from '../report/html.ts';
import { at, recordedPeakDrop } from '../report/record-fixture.ts';
import { loadScenario } from '../scenario/load.ts';
import { LiveFeed } from './live-feed.ts';
import { pendingExpectations } from './live-run.ts';
import { planRun } from './plan.ts';

const record = recordedPeakDrop();

function latencyOf(ms: number[]): LatencyAggregate {
  const recorder = new LatencyRecorder();
  for (const v of ms) recorder.record('POST /api/events/:eventId/queue', v);
  const aggregate = new LatencyAggregate();
  aggregate.add(recorder.drain());
  return aggregate;
}

describe('LiveFeed (the drop duty behind the live page)', () => {
  it('publishes the run so far once per wall second: samples, faults, latency, history, pending expectations', () => {
    const published: ReportFrame[] = [];
    let wallMs = 10_000;
    let taken = 0;
    const feed = new LiveFeed({
      dashboard: { publish: (f) => published.push(f) },
      facts: {
        scenario: 'peak-drop',
        scenarioFile: 'scenarios/peak-drop.ts',
        users: record.users,
        timeScaleRequested: 30,
        startMs: record.startMs,
        endMs: record.endMs,
        topology: designTopology,
        expectations: [{ kind: 'latency', name: 'P95 of all API requests < 200 ms', expected: '< 200 ms' }],
      },
      samples: () => record.samples.slice(0, taken),
      faults: () => record.faults.filter((f) => f.atMs <= record.samples[taken - 1]!.atMs),
      latency: () => latencyOf([10, 20, 30]),
      history: () => ({ scalingActivities: record.scalingActivities.slice(0, 1), policyRefusals: [] }),
      wallNow: () => wallMs,
      wallStartMs: 10_000,
    });
    // The loop ticks every 50 wall ms; a frame goes out at the first tick of each wall second.
    for (let tick = 0; tick < 60; tick++) {
      taken = 1 + Math.floor(tick / 2);
      feed.tick(record.samples[taken - 1]!.atMs);
      wallMs += 50;
    }
    expect(published.map((f) => f.series.length)).toEqual([1, 11, 21]);
    expect(published.map((f) => f.nowMs)).toEqual([at('19:31'), at('19:41'), at('19:51')]);
    expect(published.map((f) => f.wallSeconds)).toEqual([0, 1, 2]);
    const last = published.at(-1)!;
    expect(last.state).toBe('running');
    expect(last.expectations).toEqual([
      { kind: 'latency', name: 'P95 of all API requests < 200 ms', expected: '< 200 ms', status: 'pending' },
    ]);
    expect(last.latency.all?.count).toBe(3);
    expect(last.latency['POST /api/events/:eventId/queue']?.count).toBe(3);
    expect(last.scalingActivities).toEqual(record.scalingActivities.slice(0, 1));
    // No alarm history from the world: the bands come from the samples.
    expect(last.alarmHistory.every((t) => t.reason === 'as sampled')).toBe(true);
  });
});

describe('pendingExpectations', () => {
  it('names each expectation as its verdict will, before anything is recorded', async () => {
    const { scenario } = await loadScenario('peak-drop');
    const plan = planRun({ scenario, world: { name: 'local' }, log: () => {} });
    const pending = pendingExpectations(plan);
    expect(pending.map((e) => e.name)).toEqual(evaluateAll(scenario.expectations, record).map((v) => v.name));
    expect(pending.map((e) => e.kind)).toEqual(scenario.expectations.map((e) => e.expect));
  });
});
