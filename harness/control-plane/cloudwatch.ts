/**
 * CloudWatch's stand-in: a metric store fed like PutMetricData, statistics over aligned periods
 * like GetMetricStatistics, and alarms with AWS's documented semantics, all on the injected clock.
 *
 * Alarm semantics implemented (docs: "Using Amazon CloudWatch alarms" → "Alarm evaluation",
 * "Configuring how CloudWatch alarms treat missing data", "Alarm actions"):
 * - every minute the alarm looks at its evaluation range: the last `evaluationPeriods` periods,
 *   aligned to multiples of the period, ending at the last complete period;
 * - a datapoint breaches when `statistic(period) <comparison> threshold`; ALARM when at least
 *   `datapointsToAlarm` (M) of the N datapoints breach, OK otherwise;
 * - missing datapoints: `breaching` / `notBreaching` count as such; `ignore` keeps the current
 *   state when the range has no datapoint; `missing` (the default) judges on the datapoints
 *   present and goes to INSUFFICIENT_DATA when there are none;
 * - a new alarm starts in INSUFFICIENT_DATA; every change is kept in the history with a reason;
 * - actions run on a change of state; Auto Scaling actions are invoked again once per minute for
 *   as long as the alarm stays in ALARM ("the alarm continues to invoke the action once per minute
 *   that the alarm remains in the new state").
 */
import {
  type AlarmDefinition,
  alarmSeriesOf,
  type ComparisonOperator,
  type Statistic,
  type Topology,
} from '../../infra/topology.ts';
import type { Clock, Timer } from '../clock/clock.ts';
import type { AlarmState, AlarmTransition, MetricDataPoint } from '../model/aws.ts';

export interface MetricDatum {
  MetricName: string;
  Value: number;
  Unit?: string;
  Timestamp?: Date;
  Dimensions?: { Name: string; Value: string }[];
}

export interface PutMetricDataInput {
  Namespace: string;
  MetricData: MetricDatum[];
}

function metricKey(
  namespace: string,
  metricName: string,
  dimensions: { Name: string; Value: string }[] = [],
): string {
  const dims = [...dimensions]
    .sort((a, b) => a.Name.localeCompare(b.Name))
    .map((d) => `${d.Name}=${d.Value}`);
  return `${namespace}|${metricName}|${dims.join(',')}`;
}

export interface Datapoint {
  startMs: number;
  value: number;
  sampleCount: number;
}

export class MetricStore {
  private readonly series = new Map<string, MetricDataPoint[]>();

  constructor(private readonly clock: Clock) {}

  /** PutMetricData. */
  async putMetricData(input: PutMetricDataInput): Promise<void> {
    for (const datum of input.MetricData) {
      const key = metricKey(input.Namespace, datum.MetricName, datum.Dimensions);
      const list = this.series.get(key) ?? [];
      list.push({ atMs: datum.Timestamp?.getTime() ?? this.clock.now(), value: datum.Value });
      this.series.set(key, list);
    }
  }

  /** GetMetricStatistics: one datapoint per period that has samples, periods aligned to epoch. */
  statistics(q: {
    namespace: string;
    metricName: string;
    dimensions?: { Name: string; Value: string }[];
    startMs: number;
    endMs: number;
    periodSeconds: number;
    statistic: Statistic;
  }): Datapoint[] {
    const periodMs = q.periodSeconds * 1_000;
    const buckets = new Map<number, number[]>();
    for (const s of this.series.get(metricKey(q.namespace, q.metricName, q.dimensions)) ?? []) {
      if (s.atMs < q.startMs || s.atMs >= q.endMs) continue;
      const start = Math.floor(s.atMs / periodMs) * periodMs;
      const bucket = buckets.get(start) ?? [];
      bucket.push(s.value);
      buckets.set(start, bucket);
    }
    return [...buckets.entries()]
      .sort(([a], [b]) => a - b)
      .map(([startMs, values]) => ({
        startMs,
        value: aggregate(values, q.statistic),
        sampleCount: values.length,
      }));
  }

  /** Every metric with its dimensions (ListMetrics). */
  listMetrics(): { namespace: string; metricName: string; dimensions: string }[] {
    return [...this.series.keys()].map((k) => {
      const [namespace, metricName, dimensions] = k.split('|') as [string, string, string];
      return { namespace, metricName, dimensions };
    });
  }
}

export function aggregate(values: number[], statistic: Statistic): number {
  switch (statistic) {
    case 'Average':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'Sum':
      return values.reduce((a, b) => a + b, 0);
    case 'Minimum':
      return Math.min(...values);
    case 'Maximum':
      return Math.max(...values);
    case 'SampleCount':
      return values.length;
  }
}

export function breaches(value: number, operator: ComparisonOperator, threshold: number): boolean {
  switch (operator) {
    case 'GreaterThanThreshold':
      return value > threshold;
    case 'GreaterThanOrEqualToThreshold':
      return value >= threshold;
    case 'LessThanThreshold':
      return value < threshold;
    case 'LessThanOrEqualToThreshold':
      return value <= threshold;
  }
}

const OPERATOR_TEXT: Record<ComparisonOperator, string> = {
  GreaterThanThreshold: 'greater than',
  GreaterThanOrEqualToThreshold: 'greater than or equal to',
  LessThanThreshold: 'less than',
  LessThanOrEqualToThreshold: 'less than or equal to',
};

function stamp(ms: number): string {
  // AWS writes datapoint times as (dd/MM/yy HH:mm:ss).
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${p(d.getUTCMonth() + 1)}/${String(d.getUTCFullYear()).slice(2)} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

/** One alarm on one metric (the design's alarms watch QueueSize of one event). */
export class Alarm {
  state: AlarmState = 'INSUFFICIENT_DATA';
  stateReason = 'Unchecked: Initial alarm creation';
  readonly history: AlarmTransition[] = [];

  constructor(
    readonly definition: AlarmDefinition,
    private readonly metric: { namespace: string; dimensions: { Name: string; Value: string }[] },
    private readonly store: MetricStore,
    private readonly actions: { onAlarm?: (alarm: Alarm) => void; onOk?: (alarm: Alarm) => void },
  ) {}

  get name(): string {
    return this.definition.name;
  }

  /** One evaluation at `nowMs` (called every minute). */
  evaluate(nowMs: number): void {
    const d = this.definition;
    const periodMs = d.periodSeconds * 1_000;
    const rangeEnd = Math.floor(nowMs / periodMs) * periodMs;
    const rangeStart = rangeEnd - d.evaluationPeriods * periodMs;
    const points = this.store.statistics({
      namespace: this.metric.namespace,
      metricName: d.metricName,
      dimensions: this.metric.dimensions,
      startMs: rangeStart,
      endMs: rangeEnd,
      periodSeconds: d.periodSeconds,
      statistic: d.statistic,
    });
    const m = d.datapointsToAlarm ?? d.evaluationPeriods;
    const missing = d.evaluationPeriods - points.length;
    const breaching = points.filter((p) => breaches(p.value, d.comparisonOperator, d.threshold));
    let next: AlarmState;
    let breachCount = breaching.length;
    if (
      missing === d.evaluationPeriods &&
      (d.treatMissingData === 'missing' || d.treatMissingData === 'ignore')
    ) {
      next = d.treatMissingData === 'ignore' ? this.state : 'INSUFFICIENT_DATA';
    } else {
      if (d.treatMissingData === 'breaching') breachCount += missing;
      next = breachCount >= m ? 'ALARM' : 'OK';
    }
    const previous = this.state;
    if (next !== previous) {
      const shown = points.slice(-Math.max(m, 1));
      const reason =
        next === 'INSUFFICIENT_DATA'
          ? `Insufficient Data: ${d.evaluationPeriods} datapoint${d.evaluationPeriods > 1 ? 's were' : ' was'} unknown.`
          : `Threshold Crossed: ${shown.length} datapoint${shown.length === 1 ? '' : 's'} [${shown
              .map((p) => `${p.value.toFixed(1)} (${stamp(p.startMs)})`)
              .join(
                ', ',
              )}] ${next === 'ALARM' ? 'was' : 'was not'} ${OPERATOR_TEXT[d.comparisonOperator]} the threshold (${d.threshold.toFixed(1)}).`;
      this.state = next;
      this.stateReason = reason;
      this.history.push({ alarm: d.name, atMs: nowMs, from: previous, to: next, reason });
      if (next === 'OK') this.actions.onOk?.(this);
    }
    // Auto Scaling actions: on the change, and once per minute while the alarm stays in ALARM.
    if (next === 'ALARM') this.actions.onAlarm?.(this);
  }
}

export interface CloudWatchOptions {
  topology: Topology;
  clock: Clock;
  /** The event whose QueueSize the alarms watch (the alarms' EventId dimension). */
  eventId: string;
  /** Invoked with the alarm's scaling policy name while it is in ALARM. */
  onScalingAction: (policyName: string, alarm: Alarm) => void;
  /**
   * Resolves once the datapoints due before now have been put (the monitor's invocation still
   * reading Redis). Without it the alarms evaluate at once.
   */
  dataSettled?: () => Promise<void>;
}

/** The metric store and the design's alarms, evaluated every minute on the clock. */
export class CloudWatch {
  readonly metrics: MetricStore;
  readonly alarms: Alarm[];
  private timer: Timer | undefined;
  private evaluations: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: CloudWatchOptions) {
    this.metrics = new MetricStore(options.clock);
    this.alarms = options.topology.alarms.map(
      (definition) =>
        new Alarm(
          definition,
          // The series the stack's alarms watch too (fleet-wide, every event summed).
          alarmSeriesOf(options.topology, definition),
          this.metrics,
          {
            onAlarm: (alarm) => options.onScalingAction(definition.scalingPolicy, alarm),
          },
        ),
    );
  }

  /** Alarms evaluate on each minute boundary, as CloudWatch does. */
  start(): void {
    const now = this.options.clock.now();
    const toNextMinute = 60_000 - (now % 60_000);
    this.timer = this.options.clock.setTimeout(() => {
      this.evaluateAll();
      this.timer = this.options.clock.setInterval(() => this.evaluateAll(), 60_000);
    }, toNextMinute);
  }

  /**
   * Every alarm at this minute, once the data due before it is in: at 480× an emulator host busy
   * for 125 ms is a simulated minute, and a datapoint put that late would leave its period empty.
   */
  evaluateAll(): void {
    const now = this.options.clock.now();
    const evaluate = () => {
      // Stopped while waiting: no scaling action may start once the world is being torn down.
      if (this.stopped) return;
      for (const alarm of this.alarms) alarm.evaluate(now);
    };
    // Asked now, not after the last minute's evaluation: each minute's wait runs from its own start.
    const settled = this.options.dataSettled?.();
    if (settled) this.evaluations = this.evaluations.then(() => settled).then(evaluate);
    else evaluate();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  history(): AlarmTransition[] {
    return this.alarms.flatMap((a) => a.history).sort((a, b) => a.atMs - b.atMs);
  }

  describe(): { name: string; state: AlarmState; reason: string }[] {
    return this.alarms.map((a) => ({ name: a.name, state: a.state, reason: a.stateReason }));
  }
}
