/**
 * Which of the design's absolute thresholds a user count reaches, and when: a fluid model of the
 * queue (the arrival curve in, the admission rate out once sales open) published every schedule
 * tick into the emulator's own CloudWatch alarms on a manual clock. It is an estimate of the alarm
 * history, good enough to tell that `--users N` moves or loses an alarm a scenario expects.
 */
import { FLEET_DIMENSIONS, type Topology } from '../../infra/topology.ts';
import { ManualClock } from '../clock/clock.ts';
import { CloudWatch } from '../control-plane/cloudwatch.ts';
import { arrivalOffsetsSeconds, rescaleArrivals } from '../load/arrivals.ts';
import type { AlarmTransition as AlarmHistoryItem } from '../model/aws.ts';
import { clockTimeToSeconds, type Scenario } from './schema.ts';

const ESTIMATE_EVENT = 'estimate';

/** The alarm transitions the scenario's curve with `users` users would cause, by the fluid model. */
export function estimateAlarmHistory(
  scenario: Scenario,
  topology: Topology,
  users: number,
): AlarmHistoryItem[] {
  const dayMs = Date.parse(`${scenario.date}T00:00:00Z`);
  const start = clockTimeToSeconds(scenario.startAt);
  const end = clockTimeToSeconds(scenario.endAt);
  const salesOpen = clockTimeToSeconds(scenario.event.salesOpenAt ?? scenario.startAt);
  const clock = new ManualClock(dayMs + start * 1_000);
  const cloudwatch = new CloudWatch({ topology, clock, eventId: ESTIMATE_EVENT, onScalingAction: () => {} });
  cloudwatch.start();
  // The alarms watch the fleet-wide series (infra/topology.ts alarmSeriesOf): one event is the fleet here.
  const { namespace, queueSizeMetric, activeUsersMetric, scheduleSeconds } = topology.queueMonitor;
  const { admissionPerSecond, shoppingWindowSeconds } = topology.queue;
  const offsets = arrivalOffsetsSeconds(rescaleArrivals(scenario.arrivals, users));
  const admittedPerSecond: number[] = [];
  let next = 0;
  let queue = 0;
  for (let t = start; t <= end; t++) {
    while (next < offsets.length && offsets[next]! <= t) {
      queue++;
      next++;
    }
    const admitted = t >= salesOpen ? Math.min(queue, admissionPerSecond) : 0;
    queue -= admitted;
    admittedPerSecond.push(admitted);
    if ((t - start) % scheduleSeconds !== 0) continue;
    // Admitted users stay active for their shopping window (some leave sooner: an upper bound).
    const active = admittedPerSecond.slice(-shoppingWindowSeconds).reduce((a, b) => a + b, 0);
    clock.advanceTo(dayMs + t * 1_000);
    void cloudwatch.metrics.putMetricData({
      Namespace: namespace,
      MetricData: [
        {
          MetricName: queueSizeMetric,
          Value: queue,
          Dimensions: [...FLEET_DIMENSIONS],
        },
        {
          MetricName: activeUsersMetric,
          Value: active,
          Dimensions: [...FLEET_DIMENSIONS],
        },
      ],
    });
  }
  clock.advanceTo(dayMs + end * 1_000);
  cloudwatch.stop();
  return cloudwatch.history();
}

/** Alarms the scenario's expectations name. */
function expectedAlarms(scenario: Scenario): Set<string> {
  const names = new Set<string>();
  for (const e of scenario.expectations)
    if (e.expect === 'alarm-state' || e.expect === 'alarm-never') names.add(e.alarm);
  return names;
}

function alarmEntries(history: AlarmHistoryItem[], alarm: string): number[] {
  return history.filter((h) => h.alarm === alarm && h.to === 'ALARM').map((h) => h.atMs);
}

/** The same ALARM entries, each within one evaluation period of the other's. */
function sameEntries(a: number[], b: number[], periodMs: number): boolean {
  return a.length === b.length && a.every((atMs, i) => Math.abs(atMs - b[i]!) <= periodMs);
}

const count = (n: number) => n.toLocaleString('en-US');

function describeEntries(entries: number[]): string {
  return entries.length === 0
    ? 'never'
    : `at ${entries.map((ms) => new Date(ms).toISOString().slice(11, 16)).join(', ')}`;
}

const OPERATOR_SIGN = {
  GreaterThanThreshold: '>',
  GreaterThanOrEqualToThreshold: '>=',
  LessThanThreshold: '<',
  LessThanOrEqualToThreshold: '<=',
} as const;

/**
 * A warning when `users` moves (by more than the alarm's period) or loses an ALARM that the
 * scenario's expectations name, compared with the scenario's own user count (undefined when
 * nothing an expectation depends on changes).
 */
export function usersWarning(scenario: Scenario, topology: Topology, users: number): string | undefined {
  if (users === scenario.users) return undefined;
  const before = estimateAlarmHistory(scenario, topology, scenario.users);
  const after = estimateAlarmHistory(scenario, topology, users);
  const lines: string[] = [];
  for (const alarm of topology.alarms) {
    if (!expectedAlarms(scenario).has(alarm.name)) continue;
    const was = alarmEntries(before, alarm.name);
    const now = alarmEntries(after, alarm.name);
    if (sameEntries(was, now, alarm.periodSeconds * 1_000)) continue;
    lines.push(
      `  ${alarm.name} (${alarm.metricName} ${OPERATOR_SIGN[alarm.comparisonOperator]} ${alarm.threshold}): ALARM ${describeEntries(was)} with ${count(scenario.users)} users, ${describeEntries(now)} with ${count(users)}`,
    );
  }
  if (lines.length === 0) return undefined;
  const factor = users / scenario.users;
  const fix =
    factor < 1
      ? `For a smaller rehearsal whose verdicts still mean something, use --scale ${Number(factor.toPrecision(2))} instead: a scale model scales the thresholds, the admission rate and the seats with the users (docs/scale-models.md).`
      : 'A larger count needs a larger design: change the thresholds with --set alarms=… or in the scenario’s topology.';
  return [
    `[tiketi-sim] warning: --users ${users}: ${scenario.name}'s expectations depend on the design's absolute thresholds, and by the arrival curve ${count(users)} users cross them differently than ${count(scenario.users)} (estimate):`,
    ...lines,
    `  The thresholds, the admission rate (${topology.queue.admissionPerSecond}/s) and the seats stay those of ${count(scenario.users)} users. ${fix}`,
  ].join('\n');
}
