/**
 * The live page's frame: the run so far, drawn by the report's renderer. Expectations stay
 * pending until a verdict exists; findings are the report's rules over what has been recorded.
 */
import type { Topology } from '../../infra/topology.ts';
import type { Verdict } from '../expectations/evaluate.ts';
import { evaluateFindings, type FindingsInput } from '../report/findings.ts';
import { type ReportFrame, verdictStatus } from '../report/html.ts';
import type { RunRecord } from '../report/run-record.ts';

/** The run so far, as the runner knows it each second. */
export interface LiveSnapshot extends FindingsInput {
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

export function liveFrame(snapshot: LiveSnapshot, topology: Topology): ReportFrame {
  const decided = new Map((snapshot.verdicts ?? []).map((v) => [v.name, v]));
  const seen = { ...snapshot, endMs: snapshot.nowMs };
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
      return v ? { ...v, status: verdictStatus(v) } : { ...e, status: 'pending' };
    }),
    findings: evaluateFindings(seen, topology).findings,
    series: snapshot.samples,
    alarmHistory: snapshot.alarmHistory,
    scalingActivities: snapshot.scalingActivities,
    faults: snapshot.faults,
    latency: snapshot.latency ?? {},
    counters: snapshot.counters,
    reconnectTimesSeconds: [],
  };
}
