import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { designTopology } from '../../infra/topology.ts';
import { type StartedRedis, startRedisServer } from '../../servers/redis-server.ts';
import { keys } from '../core/keys.ts';
import { createQueueMonitorHandler, type PutMetricDataInput } from './queue-monitor.ts';

describe('queue-monitor Lambda handler on real Redis', () => {
  let server: StartedRedis;
  let redis: Redis;
  beforeAll(async () => {
    server = await startRedisServer({ name: 'lambda-redis' });
    redis = new Redis(server.url);
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  it('puts QueueSize and ActiveUsers per event in the Tiketi/Queue namespace', async () => {
    await redis.sadd(keys.activeEvents, 'e1', 'e2');
    await redis.zadd(keys.queue('e1'), 1, 'u1', 2, 'u2', 3, 'u3');
    await redis.sadd(keys.active('e1'), 'u9');
    await redis.sadd(keys.active('e2'), 'u7', 'u8');
    const sent: PutMetricDataInput[] = [];
    const at = new Date('2026-11-24T19:58:00Z');
    const handler = createQueueMonitorHandler({
      redis,
      sink: { putMetricData: async (input) => sent.push(input) },
      now: () => at,
    });
    const result = await handler();
    expect(result).toEqual({
      statusCode: 200,
      events: [
        { eventId: 'e1', queueSize: 3, activeUsers: 1 },
        { eventId: 'e2', queueSize: 0, activeUsers: 2 },
      ],
    });
    const { namespace, dimensionName, queueSizeMetric, activeUsersMetric } = designTopology.queueMonitor;
    expect(sent[0]).toEqual({
      Namespace: namespace,
      MetricData: [
        {
          MetricName: queueSizeMetric,
          Value: 3,
          Unit: 'Count',
          Timestamp: at,
          Dimensions: [{ Name: dimensionName, Value: 'e1' }],
        },
        {
          MetricName: activeUsersMetric,
          Value: 1,
          Unit: 'Count',
          Timestamp: at,
          Dimensions: [{ Name: dimensionName, Value: 'e1' }],
        },
      ],
    });
    expect(sent).toHaveLength(2);
  });

  it('puts nothing when no event has a live queue', async () => {
    await redis.del(keys.activeEvents);
    const sent: PutMetricDataInput[] = [];
    const result = await createQueueMonitorHandler({
      redis,
      sink: { putMetricData: async (i) => sent.push(i) },
    })();
    expect(result.events).toEqual([]);
    expect(sent).toEqual([]);
  });
});
