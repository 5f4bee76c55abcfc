/**
 * The live page's frame: the run so far, drawn by the report's renderer. Expectations stay
 * pending until a verdict exists; findings are the report's rules over what has been recorded.
 */
import type { Topology } from '../../infra/topology.ts';
import type { Verdict } from '../expectations/evaluate.ts';
import { evaluateFindings, type FindingsInput } from '../report/findings.ts';
import { frameExpectation, type ReportFrame } from '../report/html.ts';
import type { AlarmStateName, AlarmTransition, RunRecord, Sample } from '../report/run-record.ts';

type WorldHistorySoFar = 'alarmHistory' | 'scalingActivities' | 'instances' | 'faults';

/**
 * The run so far, as the runner knows it each second. The world's history (alarm transitions,
 * scaling activities, instances, faults) is optional: without it the alarm bands come from the
 * per-minute samples and the findings that need it wait for the report.
 */
export interface LiveSnapshot
  extends Omit<FindingsInput, WorldHistorySoFar>,
    Partial<Pick<FindingsInput, WorldHistorySoFar>> {
  scenario: string;
  scenarioFile: string;
  users: number;
  timeScaleRequested: number;
  /** Simulated time now; `endMs` is the run's planned end. */
  nowMs: number;
  wallSeconds: number;
  /** The scenario's expectations, in its order. */
  expectations: { kind: string; name: string; expected: string }[];
  /** Verdicts already reached (by name); the others show as pending. */
  verdicts?: Verdict[];
  latency?: RunRecord['latency'];
  counters?: Partial<RunRecord['counters'] & RunRecord['integrity']>;
}

/** Alarm transitions as the per-minute samples saw them (to the minute, without reasons). */
export function transitionsFromSamples(samples: Sample[]): AlarmTransition[] {
  const out: AlarmTransition[] = [];
  const last = new Map<string, AlarmStateName>();
  for (const s of samples)
    for (const [alarm, to] of Object.entries(s.alarms)) {
      const from = last.get(alarm) ?? 'INSUFFICIENT_DATA';
      if (from !== to || !last.has(alarm)) out.push({ alarm, atMs: s.atMs, from, to, reason: 'as sampled' });
      last.set(alarm, to);
    }
  return out;
}

export function liveFrame(snapshot: LiveSnapshot, topology: Topology): ReportFrame {
  const decided = new Map((snapshot.verdicts ?? []).map((v) => [v.name, v]));
  const seen: FindingsInput = {
    ...snapshot,
    endMs: snapshot.nowMs,
    alarmHistory: snapshot.alarmHistory ?? transitionsFromSamples(snapshot.samples),
    scalingActivities: snapshot.scalingActivities ?? [],
    instances: snapshot.instances ?? [],
    faults: snapshot.faults ?? [],
  };
  return {
    scenario: snapshot.scenario,
    scenarioFile: snapshot.scenarioFile,
    state: 'running',
    startMs: snapshot.startMs,
    endMs: snapshot.endMs,
    nowMs: snapshot.nowMs,
    users: snapshot.users,
    timeScale: {
      requested: snapshot.timeScaleRequested,
      effective: snapshot.samples.at(-1)?.timeScale,
    },
    wallSeconds: Math.round(snapshot.wallSeconds),
    peakSocketConnections: Math.max(0, ...snapshot.samples.map((s) => s.socketsConnected)),
    expectations: snapshot.expectations.map((e) => {
      const v = decided.get(e.name);
      return v ? frameExpectation(v) : { ...e, status: 'pending' };
    }),
    findings: evaluateFindings(seen, topology).findings,
    series: snapshot.samples,
    alarmHistory: seen.alarmHistory,
    scalingActivities: seen.scalingActivities,
    faults: seen.faults,
    latency: snapshot.latency ?? {},
    counters: snapshot.counters,
    reconnectTimesSeconds: [],
  };
}
