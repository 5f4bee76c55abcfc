/**
 * An engine's figures in a run record: what `tiketi-sim run --load external --load-report FILE`
 * puts beside the design verdicts. tiketi-sim sent no users, so the record's latency, request and
 * user counters are the engine's; everything the world observed (alarms, instances, integrity) stays.
 */
import type { LatencySummary } from '../metrics/latency.ts';
import type { RunRecord } from '../report/run-record.ts';
import type { EngineLatency, EngineLoadReport, EngineMetric } from './parse.ts';

/** A run record whose load came from an engine, with that engine's report as it read it. */
export type RunRecordWithEngine = RunRecord & { loadEngine: EngineLoadReport };

/** An engine summary as tiketi-sim's, when it has every figure (else it is left out, not guessed). */
function toSummary(l: EngineLatency): LatencySummary | undefined {
  const { count, p50Ms, p90Ms, p95Ms, p99Ms, maxMs, meanMs } = l;
  if ([count, p50Ms, p90Ms, p95Ms, p99Ms, maxMs, meanMs].some((v) => v === undefined)) return undefined;
  return {
    count: count!,
    p50Ms: p50Ms!,
    p90Ms: p90Ms!,
    p95Ms: p95Ms!,
    p99Ms: p99Ms!,
    maxMs: maxMs!,
    meanMs: meanMs!,
  };
}

export function mergeEngineReport(record: RunRecord, report: EngineLoadReport): RunRecordWithEngine {
  const latency: RunRecord['latency'] = {};
  for (const [metric, l] of Object.entries(report.latency) as [EngineMetric, EngineLatency][]) {
    const summary = toSummary(l);
    if (summary) latency[metric] = summary;
  }
  // The engine's machines measured these latencies: this machine's headroom says nothing of them.
  const { measurement: _, ...observed } = record;
  return {
    ...observed,
    latency,
    counters: {
      ...record.counters,
      requests: report.requests,
      errors: report.errors,
      usersJoined: report.latency['POST /api/events/:eventId/queue']?.count ?? record.counters.usersJoined,
      usersAdmitted: report.usersAdmitted,
      paymentsConfirmed: report.paymentsConfirmed,
    },
    loadEngine: report,
  };
}
