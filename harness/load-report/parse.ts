/**
 * Load reports of the engines the export drives — k6 `--summary-export` JSON and Artillery
 * `--output` JSON — parsed (zod, the shapes those engines write) into one typed record on
 * tiketi-sim's metric names. A report of another shape is an error naming the file and what is
 * wrong, never a half-read report.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { JOURNEY_ENDPOINTS, type JourneyEndpoint, ENGINE_METRICS as M } from '../export/plan.ts';

/** Latency as an engine reports it, wall ms; a percentile the engine did not compute is absent. */
export interface EngineLatency {
  count?: number;
  p50Ms?: number;
  p90Ms?: number;
  p95Ms?: number;
  p99Ms?: number;
  maxMs?: number;
  meanMs?: number;
}

export type EngineMetric = JourneyEndpoint | 'all' | 'socket.delivery';

export interface EngineLoadReport {
  engine: 'k6' | 'artillery';
  /** The file it was read from (`readLoadReport`). */
  file?: string;
  latency: Partial<Record<EngineMetric, EngineLatency>>;
  /** The script's requests and those that failed (5xx or no response). */
  requests: number;
  errors: number;
  usersAdmitted: number;
  paymentsConfirmed: number;
  /** Users signed in ahead (`--sign-in-lead`) who joined the queue after their place on the curve. */
  usersJoinedLate: number;
  /** k6 checks (name, passes, fails); Artillery has none in its report. */
  checks: { name: string; passes: number; fails: number }[];
  /** The engine's own verdicts where its report holds them (k6 thresholds). */
  thresholds: { name: string; passed: boolean }[];
}

export class LoadReportError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(
      `${file}: not a k6 --summary-export or Artillery --output report\n${problems.map((p) => `  ${p}`).join('\n')}`,
    );
    this.name = 'LoadReportError';
  }
}

const number = z.number();
const k6Trend = z
  .object({ avg: number, min: number, med: number, max: number, 'p(90)': number, 'p(95)': number })
  .catchall(z.unknown());
const k6Check = z.object({ name: z.string(), passes: number, fails: number }).passthrough();
type K6Group = { checks?: z.infer<typeof k6Check>[]; groups?: K6Group[] };
const k6Group: z.ZodType<K6Group> = z.lazy(() =>
  z.object({ checks: z.array(k6Check).optional(), groups: z.array(k6Group).optional() }).passthrough(),
);
const k6Summary = z
  .object({
    root_group: k6Group,
    metrics: z.record(z.string(), z.record(z.string(), z.unknown())),
  })
  .passthrough();

const artillerySummary = z
  .object({
    min: number,
    max: number,
    count: number,
    mean: number,
    p50: number,
    p90: number,
    p95: number,
    p99: number,
  })
  .passthrough();
const artilleryReport = z
  .object({
    aggregate: z
      .object({
        counters: z.record(z.string(), number),
        summaries: z.record(z.string(), artillerySummary),
      })
      .passthrough(),
  })
  .passthrough();

function k6Latency(metric: Record<string, unknown> | undefined): EngineLatency | undefined {
  const trend = k6Trend.safeParse(metric);
  if (!trend.success) return undefined;
  const t = trend.data;
  const p99 = t['p(99)'];
  const count = t.count;
  return {
    p50Ms: t.med,
    p90Ms: t['p(90)'],
    p95Ms: t['p(95)'],
    maxMs: t.max,
    meanMs: t.avg,
    ...(typeof p99 === 'number' ? { p99Ms: p99 } : {}),
    ...(typeof count === 'number' ? { count } : {}),
  };
}

function flattenChecks(group: K6Group): { name: string; passes: number; fails: number }[] {
  return [
    ...(group.checks ?? []).map((c) => ({ name: c.name, passes: c.passes, fails: c.fails })),
    ...(group.groups ?? []).flatMap(flattenChecks),
  ];
}

function fromK6(summary: z.infer<typeof k6Summary>): EngineLoadReport {
  const metrics = summary.metrics;
  const latency: EngineLoadReport['latency'] = {};
  const set = (key: EngineMetric, metric: Record<string, unknown> | undefined) => {
    const l = k6Latency(metric);
    if (l) latency[key] = l;
  };
  set('all', metrics[`http_req_duration{${M.stepTag}:journey}`]);
  for (const e of JOURNEY_ENDPOINTS) set(e, metrics[`http_req_duration{${M.endpointTag}:${e}}`]);
  set('socket.delivery', metrics[M.k6SocketDelivery]);
  // A k6 Rate counts its true samples as `passes`: for http_req_failed, the failed requests.
  const failed = metrics.http_req_failed ?? {};
  const passes = typeof failed.passes === 'number' ? failed.passes : 0;
  const fails = typeof failed.fails === 'number' ? failed.fails : 0;
  const count = (name: string) => {
    const c = metrics[name]?.count;
    return typeof c === 'number' ? c : 0;
  };
  const thresholds = Object.entries(metrics).flatMap(([metric, values]) => {
    const t = z.record(z.string(), z.boolean()).safeParse(values.thresholds);
    // `--summary-export` writes true for a threshold that failed.
    return t.success
      ? Object.entries(t.data).map(([rule, failed]) => ({ name: `${metric}: ${rule}`, passed: !failed }))
      : [];
  });
  return {
    engine: 'k6',
    latency,
    requests: passes + fails,
    errors: passes,
    usersAdmitted: count(M.k6Admitted),
    paymentsConfirmed: count(M.k6PaymentsConfirmed),
    usersJoinedLate: count(M.k6JoinedLate),
    checks: flattenChecks(summary.root_group),
    thresholds,
  };
}

function fromArtillery(report: z.infer<typeof artilleryReport>): EngineLoadReport {
  const { counters, summaries } = report.aggregate;
  const latency: EngineLoadReport['latency'] = {};
  const set = (key: EngineMetric, name: string) => {
    const s = summaries[name];
    if (s)
      latency[key] = {
        count: s.count,
        p50Ms: s.p50,
        p90Ms: s.p90,
        p95Ms: s.p95,
        p99Ms: s.p99,
        maxMs: s.max,
        meanMs: s.mean,
      };
  };
  set('all', M.artilleryJourneyLatency);
  for (const e of JOURNEY_ENDPOINTS) set(e, `${M.artilleryEndpointLatencyPrefix}${e}`);
  set('socket.delivery', M.artillerySocketDelivery);
  const counter = (name: string) => counters[name] ?? 0;
  return {
    engine: 'artillery',
    latency,
    requests: counter(M.artilleryRequests),
    // A user whose flow failed (no response, not admitted) counts as a failed request, as in the ensure check.
    errors: counter(M.artilleryErrors) + Math.max(0, counter('vusers.created') - counter('vusers.completed')),
    usersAdmitted: counter(M.artilleryAdmitted),
    paymentsConfirmed: counter(M.artilleryPaymentsConfirmed),
    usersJoinedLate: counter(M.artilleryJoinedLate),
    checks: [],
    thresholds: [],
  };
}

function issues(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
}

/** Parses a report's JSON text; `file` names it in errors. */
export function parseLoadReport(text: string, file: string): EngineLoadReport {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new LoadReportError(file, [`is not JSON (${(err as Error).message})`]);
  }
  const keys = typeof json === 'object' && json !== null ? Object.keys(json) : [];
  if (keys.includes('aggregate')) {
    const parsed = artilleryReport.safeParse(json);
    if (!parsed.success)
      throw new LoadReportError(file, [
        'looks like Artillery (has "aggregate") but:',
        ...issues(parsed.error),
      ]);
    return fromArtillery(parsed.data);
  }
  if (keys.includes('metrics')) {
    const parsed = k6Summary.safeParse(json);
    if (!parsed.success)
      throw new LoadReportError(file, ['looks like k6 (has "metrics") but:', ...issues(parsed.error)]);
    return fromK6(parsed.data);
  }
  throw new LoadReportError(file, [
    'has neither "metrics" (k6 --summary-export) nor "aggregate" (artillery run --output); pass the file the engine wrote',
  ]);
}

export function readLoadReport(file: string): EngineLoadReport {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new LoadReportError(file, [`cannot be read (${(err as Error).message}); check the path`]);
  }
  return { ...parseLoadReport(text, file), file };
}
