import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../report/run-record.ts';
import { NO_COUNTS } from '../report/run-record.ts';
import { mergeEngineReport } from './merge.ts';
import { LoadReportError, parseLoadReport, readLoadReport } from './parse.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'tiketi-load-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parseLoadReport', () => {
  it('reads an Artillery --output report (from a real run of the exported smoke script)', () => {
    const report = parseLoadReport(fixture('artillery-smoke.json'), 'artillery-smoke.json');
    expect(report.engine).toBe('artillery');
    expect(report.usersAdmitted).toBe(200);
    expect(report.paymentsConfirmed).toBe(108);
    expect(report.requests).toBe(942);
    expect(report.errors).toBe(0);
    expect(report.latency['POST /api/events/:eventId/queue']).toMatchObject({ count: 200, p95Ms: 2059.5 });
    expect(report.latency.all?.p95Ms).toBe(1525.7);
    expect(report.latency['socket.delivery']?.p95Ms).toBe(713.5);
    expect(report.checks).toEqual([]);
  });

  it('counts the users signed in ahead who joined late, in either engine (none when the counter is absent)', () => {
    const artillery = JSON.parse(fixture('artillery-smoke.json')) as {
      aggregate: { counters: Record<string, number> };
    };
    expect(parseLoadReport(JSON.stringify(artillery), 'a.json').usersJoinedLate).toBe(0);
    artillery.aggregate.counters['tiketi.users.joined_late'] = 7;
    expect(parseLoadReport(JSON.stringify(artillery), 'a.json').usersJoinedLate).toBe(7);
    const k6 = JSON.parse(fixture('k6-summary-export.json')) as { metrics: Record<string, object> };
    expect(parseLoadReport(JSON.stringify(k6), 'k.json').usersJoinedLate).toBe(0);
    k6.metrics.users_joined_late = { count: 4, rate: 0.1 };
    expect(parseLoadReport(JSON.stringify(k6), 'k.json').usersJoinedLate).toBe(4);
  });

  it('reads a k6 --summary-export report: percentiles per endpoint, errors, checks, thresholds', () => {
    const report = parseLoadReport(fixture('k6-summary-export.json'), 'summary.json');
    expect(report.engine).toBe('k6');
    expect(report.latency.all).toEqual({
      count: 700,
      p50Ms: 30.2,
      p90Ms: 120.3,
      p95Ms: 180.4,
      p99Ms: 700.2,
      maxMs: 1500.5,
      meanMs: 50.1,
    });
    expect(report.latency['POST /api/reservations/:id/payments']?.p95Ms).toBe(250.4);
    expect(report.latency['socket.delivery']?.count).toBe(2400);
    // http_req_failed is a Rate: its `passes` are the failed requests.
    expect(report.requests).toBe(1100);
    expect(report.errors).toBe(3);
    expect(report.usersAdmitted).toBe(198);
    expect(report.paymentsConfirmed).toBe(97);
    expect(report.checks).toContainEqual({
      name: 'admitted before the scenario ended',
      passes: 198,
      fails: 2,
    });
    expect(report.thresholds).toContainEqual({
      name: 'http_req_duration{endpoint:POST /api/reservations/:id/payments}: p(95)<200',
      passed: false,
    });
    expect(report.thresholds).toContainEqual({ name: 'http_req_failed: rate<0.01', passed: true });
  });

  it('a report of the wrong shape is an error naming the file and what is wrong', () => {
    const cases: [string, RegExp][] = [
      ['not json', /x\.json: .*\n.*is not JSON/],
      [
        '{"hello": 1}',
        /neither "metrics" \(k6 --summary-export\) nor "aggregate" \(artillery run --output\)/,
      ],
      ['{"aggregate": {"counters": {}}}', /looks like Artillery.*\n.*aggregate\.summaries/],
      [
        '{"metrics": {}, "root_group": {"checks": [{"name": 1}]}}',
        /looks like k6.*\n.*root_group\.checks\.0/,
      ],
      ['[1, 2]', /neither "metrics"/],
    ];
    for (const [text, message] of cases) {
      expect(() => parseLoadReport(text, 'x.json')).toThrow(LoadReportError);
      expect(() => parseLoadReport(text, 'x.json')).toThrow(message);
    }
    expect(() => readLoadReport(join(dir, 'missing.json'))).toThrow(/missing\.json: .*\n.*cannot be read/);
    const file = join(dir, 'k6.json');
    writeFileSync(file, fixture('k6-summary-export.json'));
    expect(readLoadReport(file).engine).toBe('k6');
  });
});

describe('mergeEngineReport', () => {
  const record = {
    scenario: 'smoke',
    latency: {},
    counters: { ...NO_COUNTS },
    alarmHistory: [{ alarm: 'tiketi-queue-scale-out', atMs: 1, from: 'OK', to: 'ALARM', reason: 'x' }],
  } as unknown as RunRecord;

  it("puts the engine's latencies and counts where the expectations read them; the world's observations stay", () => {
    const report = parseLoadReport(fixture('k6-summary-export.json'), 'summary.json');
    const merged = mergeEngineReport(record, report);
    expect(merged.latency.all?.p95Ms).toBe(180.4);
    expect(merged.latency['socket.delivery']?.p95Ms).toBe(70);
    expect(merged.counters).toMatchObject({
      requests: 1100,
      errors: 3,
      usersJoined: 200,
      usersAdmitted: 198,
      paymentsConfirmed: 97,
    });
    expect(merged.alarmHistory).toBe(record.alarmHistory);
    expect(merged.loadEngine).toBe(report);
    expect(record.counters.requests).toBe(0); // pure: the input is untouched
  });

  it('a latency the engine did not report in full is left out, not guessed', () => {
    const report = parseLoadReport(fixture('k6-summary-export.json'), 'summary.json');
    const { p99Ms: _, ...partial } = report.latency.all!;
    const merged = mergeEngineReport(record, { ...report, latency: { all: partial } });
    expect(merged.latency.all).toBeUndefined();
  });
});
