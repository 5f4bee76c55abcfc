/**
 * Checks a scenario's expectations against what a run recorded. Pure: record in, verdicts out.
 *
 * A verdict is valid, or it says that it is not. Two things make one inconclusive rather than
 * passed or failed:
 * - the run never reached the expectation's time or window (an aborted run): what was not
 *   observed is not judged, unless what was observed already decides it (an alarm that fired
 *   where it must never fire fails, one that fired inside its window passes);
 * - a latency or delivery expectation whose samples were mostly taken while this machine was
 *   saturated (`harness/metrics/headroom.ts`): it is judged on the samples taken with headroom,
 *   and when those are too few of all, it says so and why.
 * Everything else is judged on the simulated clock and stays valid on a slow machine.
 */
import type { MeasurementRecord, SaturatedStretch } from '../metrics/headroom.ts';
import type { LatencyMetric, LatencySummary } from '../metrics/latency.ts';
import type { RunRecord } from '../report/run-record.ts';
import { clockTimeToSeconds, type Expectation } from '../scenario/schema.ts';

export type VerdictStatus = 'passed' | 'failed' | 'inconclusive';

export interface Verdict {
  /** The expectation's kind (`latency`, `error-rate`, …): lets a reader pick the verdicts it gates on. */
  kind: Expectation['expect'] | 'baseline';
  /** Short stable name, also the JUnit test case name. */
  name: string;
  status: VerdictStatus;
  /** `status === 'passed'`. */
  passed: boolean;
  expected: string;
  observed: string;
  /** Why the verdict is inconclusive (only then). */
  reason?: string;
  /** Why this verdict is shown but does not gate the run (a scale model's latency); absent: it gates. */
  indicative?: string;
}

/** A verdict that fails the run: failed, and not merely indicative. */
export function failsTheRun(verdict: Verdict): boolean {
  return verdict.status === 'failed' && verdict.indicative === undefined;
}

/** What one expectation's check found, before the validity rules. */
interface Judgement {
  name: string;
  passed: boolean;
  expected: string;
  observed: string;
  /** Set when the observation cannot decide the expectation. */
  inconclusive?: string;
}

/** Simulated epoch ms of a `HH:MM[:SS]` on the run's day. */
export function atOf(record: RunRecord, time: string): number {
  const day = record.startMs - (record.startMs % 86_400_000);
  return day + clockTimeToSeconds(time) * 1_000;
}

export function clockOf(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

function percentileOf(summary: LatencySummary, p: 50 | 90 | 95 | 99): number {
  return { 50: summary.p50Ms, 90: summary.p90Ms, 95: summary.p95Ms, 99: summary.p99Ms }[p];
}

/** State of an alarm at a moment, from its transitions (INSUFFICIENT_DATA before the first). */
function alarmStateAt(record: RunRecord, alarm: string, atMs: number): string {
  let state = 'INSUFFICIENT_DATA';
  for (const t of record.alarmHistory) if (t.alarm === alarm && t.atMs <= atMs) state = t.to;
  return state;
}

/** Instances that are not terminated at a moment (Pending, InService or Terminating). */
function instancesAt(record: RunRecord, atMs: number, lifecycle: 'InService' | 'any'): number {
  return record.instances.filter((i) => {
    const started = lifecycle === 'InService' ? i.inServiceAtMs : i.launchedAtMs;
    return (
      started !== undefined && started <= atMs && (i.terminatedAtMs === undefined || i.terminatedAtMs > atMs)
    );
  }).length;
}

function judge(expectation: Expectation, record: RunRecord): Judgement {
  switch (expectation.expect) {
    case 'alarm-state': {
      const from = atOf(record, expectation.within.from);
      const to = atOf(record, expectation.within.to);
      const entered = record.alarmHistory.find(
        (t) => t.alarm === expectation.alarm && t.to === expectation.state && t.atMs >= from,
      );
      return {
        name: `${expectation.alarm} enters ${expectation.state} between ${expectation.within.from} and ${expectation.within.to}`,
        passed: entered !== undefined && entered.atMs <= to,
        expected: `${expectation.state} between ${expectation.within.from} and ${expectation.within.to}`,
        observed: entered
          ? `${expectation.state} at ${clockOf(entered.atMs)}`
          : `never entered ${expectation.state}`,
      };
    }
    case 'alarm-never': {
      const from = expectation.during ? atOf(record, expectation.during.from) : record.startMs;
      const to = expectation.during ? atOf(record, expectation.during.to) : record.endMs;
      const already = alarmStateAt(record, expectation.alarm, from) === expectation.state;
      const entered = record.alarmHistory.find(
        (t) => t.alarm === expectation.alarm && t.to === expectation.state && t.atMs >= from && t.atMs <= to,
      );
      const window = expectation.during
        ? ` between ${expectation.during.from} and ${expectation.during.to}`
        : '';
      return {
        name: `${expectation.alarm} never in ${expectation.state}${window}`,
        passed: !already && entered === undefined,
        expected: `not ${expectation.state}${window}`,
        observed: already
          ? `already ${expectation.state} at ${clockOf(from)}`
          : entered
            ? `${expectation.state} at ${clockOf(entered.atMs)}`
            : `not ${expectation.state}`,
      };
    }
    case 'instances': {
      const count = instancesAt(record, atOf(record, expectation.at), expectation.lifecycle);
      const bounds = [
        expectation.min !== undefined && `>= ${expectation.min}`,
        expectation.max !== undefined && `<= ${expectation.max}`,
      ]
        .filter(Boolean)
        .join(' and ');
      return {
        name: `${expectation.lifecycle} instances at ${expectation.at} ${bounds}`,
        passed:
          (expectation.min === undefined || count >= expectation.min) &&
          (expectation.max === undefined || count <= expectation.max),
        expected: bounds,
        observed: String(count),
      };
    }
    case 'max-instances': {
      const moments = record.instances.map((i) => i.launchedAtMs);
      const peak = Math.max(0, ...moments.map((m) => instancesAt(record, m, 'any')));
      return {
        name: `never more than ${expectation.max} instances`,
        passed: peak <= expectation.max,
        expected: `<= ${expectation.max}`,
        observed: `peak ${peak}`,
      };
    }
    case 'latency': {
      const metric = expectation.endpoint === 'all' ? 'all' : (expectation.endpoint as LatencyMetric);
      const name = `P${expectation.percentile} of ${expectation.endpoint === 'all' ? 'all API requests' : expectation.endpoint} < ${expectation.belowMs} ms`;
      return latencyJudgement(record, metric, expectation, name, 'requests');
    }
    case 'socket-delivery': {
      const name = `Socket.IO delivery P${expectation.percentile} < ${expectation.belowMs} ms`;
      return latencyJudgement(record, 'socket.delivery', expectation, name, 'deliveries');
    }
    case 'error-rate': {
      const { requests, errors } = record.counters;
      const rate = requests === 0 ? 1 : errors / requests;
      return {
        name: `error rate < ${(expectation.below * 100).toFixed(2)} %`,
        passed: requests > 0 && rate < expectation.below,
        expected: `< ${(expectation.below * 100).toFixed(2)} %`,
        observed:
          requests === 0 ? 'no requests recorded' : `${(rate * 100).toFixed(3)} % (${errors} of ${requests})`,
      };
    }
    case 'sticky': {
      const { sameInstance, instanceSwitches } = record.counters;
      const pairs = sameInstance + instanceSwitches;
      const share = pairs === 0 ? 0 : sameInstance / pairs;
      return {
        name: `users stay on their instance (>= ${(expectation.atLeast * 100).toFixed(1)} % of consecutive responses)`,
        passed: pairs > 0 && share >= expectation.atLeast,
        expected: `>= ${(expectation.atLeast * 100).toFixed(1)} %`,
        observed:
          pairs === 0
            ? 'no user made two requests'
            : `${(share * 100).toFixed(2)} % (${instanceSwitches} switches in ${pairs})`,
      };
    }
    case 'admission-rate': {
      // Minutes with people waiting from start to end, so supply never limited admission.
      const busy = record.samples.filter(
        (s, i) => i > 0 && s.queueSize > 0 && record.samples[i - 1]!.queueSize > 0,
      );
      const admitted = busy.reduce((sum, s) => sum + s.admitted, 0);
      const seconds = busy.length * 60;
      const rate = seconds === 0 ? 0 : admitted / seconds;
      return {
        name: `admission >= ${expectation.atLeastPerSecond} users/s while people wait`,
        passed: seconds > 0 && rate >= expectation.atLeastPerSecond,
        expected: `>= ${expectation.atLeastPerSecond}/s`,
        observed: seconds === 0 ? 'the queue was never busy' : `${rate.toFixed(1)}/s over ${busy.length} min`,
      };
    }
    case 'no-seat-sold-twice':
      return {
        name: 'no seat sold twice',
        passed: record.integrity.seatsSoldTwice === 0,
        expected: '0 seats with two sales',
        observed: `${record.integrity.seatsSoldTwice} seats with two sales`,
      };
    case 'no-confirmed-reservation-lost':
      return {
        name: 'no confirmed reservation lost',
        passed: record.integrity.confirmedReservationsLost === 0,
        expected: `all ${record.counters.paymentsConfirmed} confirmed payments in the database`,
        observed: `${record.integrity.confirmedReservationsLost} lost; ${record.integrity.confirmedInDatabase} confirmed in the database`,
      };
    case 'max-seats-per-user': {
      const most = record.integrity.mostSeatsPerUser ?? -1;
      return {
        name: `no user holds more than ${expectation.max} seats`,
        passed: most >= 0 && most <= expectation.max,
        expected: `<= ${expectation.max} seats per user`,
        observed: most < 0 ? 'not counted' : `at most ${most} seats per user`,
      };
    }
    case 'no-instance-lost': {
      const lost = record.instances.filter((i) => i.terminatedAtMs !== undefined);
      return {
        name: 'no instance lost',
        passed: lost.length === 0,
        expected: 'every instance serves to the end',
        observed:
          lost.length === 0
            ? `${record.instances.length} instances, none terminated`
            : `terminated: ${lost.map((i) => `${i.id} at ${clockOf(i.terminatedAtMs!)}`).join(', ')}`,
      };
    }
    case 'purchases':
      return {
        name: `at least ${expectation.atLeast} purchases`,
        passed: record.counters.paymentsConfirmed >= expectation.atLeast,
        expected: `>= ${expectation.atLeast} confirmed payments`,
        observed: `${record.counters.paymentsConfirmed} confirmed payments`,
      };
    case 'reconnect': {
      const limitMs = expectation.withinSeconds * 1_000;
      // Still away at the end counts only once the limit has passed: the run may just have ended.
      const late = record.reconnects.filter((r) =>
        r.reconnectedAtMs === undefined
          ? record.endMs - r.disconnectedAtMs > limitMs
          : r.reconnectedAtMs - r.disconnectedAtMs > limitMs,
      );
      const lostState = expectation.keepsState ? record.reconnects.filter((r) => r.stateKept === false) : [];
      const slowest = Math.max(
        0,
        ...record.reconnects.map((r) => (r.reconnectedAtMs ?? Number.POSITIVE_INFINITY) - r.disconnectedAtMs),
      );
      return {
        name: `every disconnected user back within ${expectation.withinSeconds} s${expectation.keepsState ? ' with its state' : ''}`,
        passed: late.length === 0 && lostState.length === 0,
        expected: `${record.reconnects.length} reconnects within ${expectation.withinSeconds} s`,
        observed:
          record.reconnects.length === 0
            ? 'no disconnects'
            : `${late.length} late or never back, ${lostState.length} lost state${lostExamples(lostState)}; slowest ${Number.isFinite(slowest) ? `${(slowest / 1_000).toFixed(1)} s` : 'never'}`,
      };
    }
    case 'max-request-gap':
      return {
        name: `no client went ${expectation.belowSeconds} s without a successful request`,
        passed: record.longestClientGapMs < expectation.belowSeconds * 1_000,
        expected: `< ${expectation.belowSeconds} s`,
        observed: `${(record.longestClientGapMs / 1_000).toFixed(1)} s`,
      };
  }
}

/**
 * A latency expectation, judged on the samples taken while the machine had headroom. A record
 * without a measurement (written before it existed) is judged on every sample.
 */
function latencyJudgement(
  record: RunRecord,
  metric: LatencyMetric | 'all',
  expectation: { percentile: 50 | 90 | 95 | 99; belowMs: number },
  name: string,
  noun: 'requests' | 'deliveries',
): Judgement {
  const expected = `< ${expectation.belowMs} ms`;
  const all = record.latency[metric];
  if (!all || all.count === 0) return { name, passed: false, expected, observed: `no ${noun} recorded` };
  const measurement = record.measurement;
  if (!measurement) {
    const value = percentileOf(all, expectation.percentile);
    return {
      name,
      passed: value < expectation.belowMs,
      expected,
      observed: `${value} ms over ${all.count} ${noun}`,
    };
  }
  const counted = measurement.latencyWithHeadroom[metric];
  const countedCount = counted?.count ?? 0;
  const share = countedCount / all.count;
  if (!counted || share < measurement.thresholds.minHeadroomShare)
    return {
      name,
      passed: false,
      expected,
      observed: `${percentileOf(all, expectation.percentile)} ms over ${all.count} ${noun}, ${percent(share)} of them taken with headroom`,
      inconclusive: `${saturatedText(measurement)}; ${percent(share)} of the ${all.count} ${noun} were taken with headroom, the verdict needs ${percent(measurement.thresholds.minHeadroomShare)}`,
    };
  const value = percentileOf(counted, expectation.percentile);
  return {
    name,
    passed: value < expectation.belowMs,
    expected,
    observed: `${value} ms over ${countedCount} ${noun}${countedCount < all.count ? ` taken with headroom (of ${all.count}; all: ${percentileOf(all, expectation.percentile)} ms)` : ''}`,
  };
}

function percent(share: number): string {
  return `${Math.floor(share * 1_000) / 10} %`;
}

/** `machine saturated 19:56–20:03: CPU 100 %, load-worker lag 580 ms`, the longest stretches first. */
export function saturatedText(measurement: Pick<MeasurementRecord, 'saturated'>): string {
  const stretches = [...measurement.saturated].sort((a, b) => b.toMs - b.fromMs - (a.toMs - a.fromMs));
  // Samples can miss the count without a stretch of its own: those that arrived just after one.
  if (stretches.length === 0) return 'samples arrived right after seconds without headroom';
  const shown = stretches.slice(0, 3).sort((a, b) => a.fromMs - b.fromMs);
  const hhmm = (ms: number) => clockOf(ms).slice(0, 5);
  const one = (s: SaturatedStretch) => `${hhmm(s.fromMs)}–${hhmm(s.toMs)}: ${s.reasons.join(', ')}`;
  const more = stretches.length > shown.length ? ` (and ${stretches.length - shown.length} shorter)` : '';
  return `machine saturated ${shown.map(one).join('; ')}${more}`;
}

/**
 * The simulated moment by which the run must have got for an expectation to be judged; undefined
 * for checks of the database's state, which hold whenever the run stopped.
 */
function neededUntilMs(expectation: Expectation, record: RunRecord): number | undefined {
  const plannedEndMs = record.plannedEndMs ?? record.endMs;
  switch (expectation.expect) {
    case 'alarm-state':
      return atOf(record, expectation.within.to);
    case 'alarm-never':
      return expectation.during ? atOf(record, expectation.during.to) : plannedEndMs;
    case 'instances':
      return atOf(record, expectation.at);
    case 'no-seat-sold-twice':
    case 'no-confirmed-reservation-lost':
      return undefined;
    default:
      return plannedEndMs;
  }
}

/** What was seen before the run stopped already decides these, whatever came after. */
function decidedEarly(expectation: Expectation, judgement: Judgement): boolean {
  switch (expectation.expect) {
    case 'alarm-state':
      return judgement.passed;
    case 'alarm-never':
    case 'max-instances':
    case 'max-request-gap':
    case 'reconnect':
      return !judgement.passed;
    default:
      return false;
  }
}

export function evaluate(expectation: Expectation, record: RunRecord): Omit<Verdict, 'kind'> {
  const judgement = judge(expectation, record);
  const neededMs = neededUntilMs(expectation, record);
  let reason = judgement.inconclusive;
  if (neededMs !== undefined && record.endMs < neededMs && !decidedEarly(expectation, judgement))
    reason = `not reached: the run ended at ${clockOf(record.endMs)}, the expectation needs it to run until ${clockOf(neededMs)}`;
  const { inconclusive: _, ...rest } = judgement;
  if (reason !== undefined) return { ...rest, status: 'inconclusive', passed: false, reason };
  return { ...rest, status: judgement.passed ? 'passed' : 'failed' };
}

export function evaluateAll(expectations: Expectation[], record: RunRecord): Verdict[] {
  return expectations.map((e) => ({ kind: e.expect, ...evaluate(e, record) }));
}

/** The first few lost states, in words: what a reconnect did not restore, and whose. */
function lostExamples(lost: readonly { userId: string; stateLost?: string }[]): string {
  const told = lost.filter((r) => r.stateLost !== undefined).slice(0, 3);
  if (told.length === 0) return '';
  const more = lost.length > told.length ? `; ${lost.length - told.length} more` : '';
  return ` (${told.map((r) => `${r.userId}: ${r.stateLost}`).join('; ')}${more})`;
}
