import { describe, expect, it } from 'vitest';
import { designTopology } from '../../infra/topology.ts';
import type { ReportFrame } from '../report/html.ts';
import { recordedPeakDrop } from '../report/record-fixture.ts';
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
