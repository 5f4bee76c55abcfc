/**
 * The queue-monitor Lambda (`tiketi-queue-monitor`): for each event with a live queue, ZCARD of
 * the queue and SCARD of the active set become `QueueSize` and `ActiveUsers` in CloudWatch, per
 * event (`EventId`) and summed over every event without a dimension: the fleet-wide series the
 * scaling alarms watch (`alarmSeriesOf` in infra/topology.ts). The Redis client, the metrics sink
 * and the metric names are injected: AWS wires ioredis, the CloudWatch SDK and the names the stack
 * put in the function's environment; the emulator wires its own CloudWatch and the run's
 * topology — the same handler code runs in both.
 */
import {
  eventDimensions,
  FLEET_DIMENSIONS,
  type MetricDimension,
  type QueueMetricSettings,
} from '../../infra/topology.ts';
import { keys } from '../core/keys.ts';

/** One datum of PutMetricData's input, as the monitor sends it (the AWS SDK's shape). */
export interface QueueMetricDatum {
  MetricName: string;
  Value: number;
  Unit: 'Count';
  Timestamp?: Date;
  Dimensions: MetricDimension[];
}

/** The part of PutMetricData's input the monitor uses (the AWS SDK's shape). */
export interface PutMetricDataInput {
  Namespace: string;
  MetricData: QueueMetricDatum[];
}

export interface MetricsSink {
  putMetricData(input: PutMetricDataInput): Promise<unknown>;
}

/** The Redis commands the monitor needs (ioredis `Redis` and `Cluster` satisfy it). */
export interface QueueReader {
  smembers(key: string): Promise<string[]>;
  zcard(key: string): Promise<number>;
  scard(key: string): Promise<number>;
}

export interface QueueCounts {
  queueSize: number;
  activeUsers: number;
}

export interface QueueMonitorResult {
  statusCode: 200;
  events: ({ eventId: string } & QueueCounts)[];
  /** The sums over `events`; undefined (and not published) when no event has a live queue. */
  fleet: QueueCounts | undefined;
}

/** The part of EventBridge's scheduled event the monitor reads: the minute it was due. */
export interface ScheduledEvent {
  time?: string;
}

export interface QueueMonitorDeps {
  redis: QueueReader;
  sink: MetricsSink;
  /** Namespace, metric and dimension names (the run's or the stack's topology). */
  settings: QueueMetricSettings;
  /**
   * Stamps the datums (a clock of the caller's own). Without it the scheduled event's time does:
   * the datapoint belongs to the minute the invocation was due, however late its reads finish.
   */
  now?: () => Date;
  log?: (line: string) => void;
}

export function createQueueMonitorHandler(
  deps: QueueMonitorDeps,
): (event?: ScheduledEvent) => Promise<QueueMonitorResult> {
  const { settings } = deps;
  const datums = (
    counts: QueueCounts,
    dimensions: readonly MetricDimension[],
    Timestamp: Date | undefined,
  ): QueueMetricDatum[] => {
    const datum = (MetricName: string, Value: number): QueueMetricDatum => ({
      MetricName,
      Value,
      Unit: 'Count',
      Dimensions: [...dimensions],
      ...(Timestamp ? { Timestamp } : {}),
    });
    return [
      datum(settings.queueSizeMetric, counts.queueSize),
      datum(settings.activeUsersMetric, counts.activeUsers),
    ];
  };
  const put = (MetricData: QueueMetricDatum[]) =>
    deps.sink.putMetricData({ Namespace: settings.namespace, MetricData });

  return async (event?: ScheduledEvent) => {
    // Read once, before Redis is: at a high time scale the emulator's reads take simulated minutes.
    const Timestamp = deps.now?.() ?? (event?.time ? new Date(event.time) : undefined);
    const events: QueueMonitorResult['events'] = [];
    for (const eventId of (await deps.redis.smembers(keys.activeEvents)).sort()) {
      const [queueSize, activeUsers] = await Promise.all([
        deps.redis.zcard(keys.queue(eventId)),
        deps.redis.scard(keys.active(eventId)),
      ]);
      await put(datums({ queueSize, activeUsers }, eventDimensions(settings, eventId), Timestamp));
      deps.log?.(`[${eventId}] Queue: ${queueSize}, Active: ${activeUsers}`);
      events.push({ eventId, queueSize, activeUsers });
    }
    if (events.length === 0) return { statusCode: 200, events, fleet: undefined };
    const fleet = {
      queueSize: events.reduce((sum, e) => sum + e.queueSize, 0),
      activeUsers: events.reduce((sum, e) => sum + e.activeUsers, 0),
    };
    await put(datums(fleet, FLEET_DIMENSIONS, Timestamp));
    deps.log?.(`[fleet] Queue: ${fleet.queueSize}, Active: ${fleet.activeUsers}`);
    return { statusCode: 200, events, fleet };
  };
}
