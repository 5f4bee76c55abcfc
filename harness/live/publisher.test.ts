import { describe, expect, it } from 'vitest';
import { designTopology } from '../../infra/topology.ts';
import type { ReportFrame } from '../report/html.ts';
import { at, recordedPeakDrop } from '../report/record-fixture.ts';
import { liveFrame } from './live-frame.ts';
import { LivePublisher } from './publisher.ts';

describe('LivePublisher', () => {
  it('publishes the run so far at most once per interval, building a frame only when one is due', () => {
    const record = recordedPeakDrop();
    const published: ReportFrame[] = [];
    let snapshots = 0;
    let minutes = 1;
    const publisher = new LivePublisher({
      dashboard: { publish: (f) => published.push(f) },
      topology: designTopology,
      intervalMs: 1_000,
      snapshot: () => {
        snapshots++;
        const samples = record.samples.slice(0, minutes);
        return {
          ...record,
          scenarioFile: 'scenarios/peak-drop.ts',
          nowMs: samples.at(-1)!.atMs,
          samples,
          expectations: [{ kind: 'latency', name: 'p95', expected: '< 200 ms' }],
        };
      },
    });
    for (const wallMs of [0, 250, 999, 1_000, 1_500, 2_100]) {
      publisher.tick(wallMs);
      minutes += 5;
    }
    expect(snapshots).toBe(3);
    expect(published.map((f) => f.series.length)).toEqual([1, 16, 26]);
    expect(published.every((f) => f.state === 'running')).toBe(true);
  });
});

describe('live frames without the world history', () => {
  it('take the alarm bands from the per-minute samples', () => {
    const record = recordedPeakDrop();
    const frame = liveFrame(
      {
        scenario: 'peak-drop',
        scenarioFile: 'scenarios/peak-drop.ts',
        users: 1,
        timeScaleRequested: 30,
        startMs: record.startMs,
        endMs: record.endMs,
        nowMs: at('20:10'),
        wallSeconds: 0,
        samples: record.samples.filter((s) => s.atMs <= at('20:10')),
        expectations: [],
      },
      designTopology,
    );
    const changes = frame.alarmHistory.map(
      (t) => `${t.alarm} ${t.to} ${new Date(t.atMs).toISOString().slice(11, 16)}`,
    );
    expect(changes).toEqual([
      'tiketi-queue-scale-out OK 19:31',
      'tiketi-queue-scale-out-aggressive OK 19:31',
      'tiketi-queue-scale-out ALARM 19:55',
      'tiketi-queue-scale-out-aggressive ALARM 19:58',
      'tiketi-queue-scale-out-aggressive OK 20:05',
    ]);
    expect(frame.scalingActivities).toEqual([]);
  });
});
