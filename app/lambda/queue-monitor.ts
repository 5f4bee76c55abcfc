/**
 * The queue-monitor Lambda (`tiketi-queue-monitor`): for each event with a live queue, ZCARD of
 * the queue and SCARD of the active set become `QueueSize` and `ActiveUsers` in CloudWatch. The
 * Redis client and the metrics sink are injected: AWS wires ioredis and the CloudWatch SDK, the
 * emulator wires its own CloudWatch — the same handler code runs in both.
 */
import { designTopology } from '../../infra/topology.ts';
import { keys } from '../core/keys.ts';

/** The part of PutMetricData's input the monitor uses (the AWS SDK's shape). */
export interface PutMetricDataInput {
  Namespace: string;
  MetricData: {
    MetricName: string;
    Value: number;
    Unit: 'Count';
    Timestamp?: Date;
    Dimensions: { Name: string; Value: string }[];
  }[];
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

export interface QueueMonitorResult {
  statusCode: 200;
  events: { eventId: string; queueSize: number; activeUsers: number }[];
}

export function createQueueMonitorHandler(deps: {
  redis: QueueReader;
  sink: MetricsSink;
  now?: () => Date;
  log?: (line: string) => void;
}): () => Promise<QueueMonitorResult> {
  const monitor = designTopology.queueMonitor;
  return async () => {
    const events: QueueMonitorResult['events'] = [];
    for (const eventId of (await deps.redis.smembers(keys.activeEvents)).sort()) {
      const [queueSize, activeUsers] = await Promise.all([
        deps.redis.zcard(keys.queue(eventId)),
        deps.redis.scard(keys.active(eventId)),
      ]);
      const Timestamp = deps.now?.();
      const Dimensions = [{ Name: monitor.dimensionName, Value: eventId }];
      await deps.sink.putMetricData({
        Namespace: monitor.namespace,
        MetricData: [
          {
            MetricName: monitor.queueSizeMetric,
            Value: queueSize,
            Unit: 'Count',
            Dimensions,
            ...(Timestamp ? { Timestamp } : {}),
          },
          {
            MetricName: monitor.activeUsersMetric,
            Value: activeUsers,
            Unit: 'Count',
            Dimensions,
            ...(Timestamp ? { Timestamp } : {}),
          },
        ],
      });
      deps.log?.(`[${eventId}] Queue: ${queueSize}, Active: ${activeUsers}`);
      events.push({ eventId, queueSize, activeUsers });
    }
    return { statusCode: 200, events };
  };
}
