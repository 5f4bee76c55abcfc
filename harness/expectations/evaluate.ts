/** Checks a scenario's expectations against what a run recorded. Pure: record in, verdicts out. */
import type { LatencySummary } from '../metrics/latency.ts';
import type { RunRecord } from '../report/run-record.ts';
import { clockTimeToSeconds, type Expectation } from '../scenario/schema.ts';

export interface Verdict {
  /** The expectation's kind (`latency`, `error-rate`, …): lets a reader pick the verdicts it gates on. */
  kind: Expectation['expect'] | 'baseline';
  /** Short stable name, also the JUnit test case name. */
  name: string;
  passed: boolean;
  expected: string;
  observed: string;
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

export function evaluate(expectation: Expectation, record: RunRecord): Omit<Verdict, 'kind'> {
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
      const summary =
        expectation.endpoint === 'all'
          ? record.latency.all
          : record.latency[expectation.endpoint as keyof RunRecord['latency']];
      const name = `P${expectation.percentile} of ${expectation.endpoint === 'all' ? 'all API requests' : expectation.endpoint} < ${expectation.belowMs} ms`;
      if (!summary || summary.count === 0)
        return {
          name,
          passed: false,
          expected: `< ${expectation.belowMs} ms`,
          observed: 'no requests recorded',
        };
      const value = percentileOf(summary, expectation.percentile);
      return {
        name,
        passed: value < expectation.belowMs,
        expected: `< ${expectation.belowMs} ms`,
        observed: `${value} ms over ${summary.count} requests`,
      };
    }
    case 'socket-delivery': {
      const summary = record.latency['socket.delivery'];
      const name = `Socket.IO delivery P${expectation.percentile} < ${expectation.belowMs} ms`;
      if (!summary || summary.count === 0)
        return {
          name,
          passed: false,
          expected: `< ${expectation.belowMs} ms`,
          observed: 'no deliveries recorded',
        };
      const value = percentileOf(summary, expectation.percentile);
      return {
        name,
        passed: value < expectation.belowMs,
        expected: `< ${expectation.belowMs} ms`,
        observed: `${value} ms over ${summary.count} deliveries`,
      };
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
            : `${late.length} late or never back, ${lostState.length} lost state; slowest ${Number.isFinite(slowest) ? `${(slowest / 1_000).toFixed(1)} s` : 'never'}`,
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

export function evaluateAll(expectations: Expectation[], record: RunRecord): Verdict[] {
  return expectations.map((e) => ({ kind: e.expect, ...evaluate(e, record) }));
}
