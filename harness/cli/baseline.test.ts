import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Summary } from '../report/write-report.ts';
import { compareWithBaseline } from './run.ts';

const dir = mkdtempSync(join(tmpdir(), 'tiketi-baseline-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const p95 = (p95Ms: number, count = 1_000) => ({
  count,
  p50Ms: 5,
  p90Ms: p95Ms,
  p95Ms,
  p99Ms: p95Ms,
  maxMs: p95Ms,
  meanMs: 10,
});

/** The parts of a summary the comparison reads. */
function summary(allP95Ms: number, measured?: { p95Ms: number; share: number }): Summary {
  return {
    schemaVersion: 2,
    latency: { all: p95(allP95Ms) },
    ...(measured && {
      measurement: {
        thresholds: {
          maxCpuBusy: 0.95,
          maxEventLoopLagMs: 50,
          maxProcessCoreBusy: 0.9,
          minHeadroomShare: 0.8,
        },
        latencyWithHeadroom: { all: p95(measured.p95Ms, Math.round(1_000 * measured.share)) },
        countedShare: { all: measured.share },
        saturated: [
          {
            fromMs: Date.UTC(2026, 10, 24, 19, 56),
            toMs: Date.UTC(2026, 10, 24, 20, 3),
            worst: { cpuBusy: 1, lagMs: {}, coreBusy: {} },
            reasons: ['CPU 100 %'],
          },
        ],
        intervals: { total: 100, withHeadroom: 80 },
      },
    }),
  } as Summary;
}

function baselineFile(s: Summary): string {
  const file = join(dir, `${Math.random()}.json`);
  writeFileSync(file, JSON.stringify(s));
  return file;
}

describe('compareWithBaseline', () => {
  it('compares the samples taken with headroom, as latency expectations do', () => {
    const baseline = baselineFile(summary(100));
    const [verdict] = compareWithBaseline(summary(509, { p95Ms: 110, share: 0.9 }), baseline, 20);
    expect(verdict).toMatchObject({ status: 'passed', observed: '110 ms' });
  });

  it('is inconclusive when too few samples were taken with headroom', () => {
    const baseline = baselineFile(summary(100));
    const [verdict] = compareWithBaseline(summary(509, { p95Ms: 110, share: 0.5 }), baseline, 20);
    expect(verdict).toMatchObject({ status: 'inconclusive', observed: '509 ms over all samples' });
    expect(verdict?.reason).toBe(
      'machine saturated 19:56–20:03: CPU 100 %; 50 % of the samples were taken with headroom',
    );
  });

  it('still fails a regression, and reads a schema 1 baseline', () => {
    const baseline = baselineFile({ ...summary(100), schemaVersion: 1 } as unknown as Summary);
    const [verdict] = compareWithBaseline(summary(300), baseline, 20);
    expect(verdict).toMatchObject({ status: 'failed', passed: false, observed: '300 ms' });
  });
});
