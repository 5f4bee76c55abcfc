import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  alarmSeriesOf,
  designTopology,
  mergeTopology,
  type QueueMetricSettings,
  queueMetricSettingsOf,
} from '../../infra/topology.ts';
import { type StartedRedis, startRedisServer } from '../../servers/redis-server.ts';
import { keys } from '../core/keys.ts';
import { parseQueueMonitorEnvironment, queueMonitorEnvironment } from './environment.ts';
import { createQueueMonitorHandler, type PutMetricDataInput } from './queue-monitor.ts';
import { readSecretString } from './secrets.ts';

const seriesKey = (namespace: string, metricName: string, dimensions: { Name: string; Value: string }[]) =>
  `${namespace}|${metricName}|${dimensions.map((d) => `${d.Name}=${d.Value}`).join(',')}`;

/** Every series a batch of PutMetricData calls wrote, with its values. */
function publishedSeries(sent: PutMetricDataInput[]): Map<string, number[]> {
  const series = new Map<string, number[]>();
  for (const input of sent) {
    for (const datum of input.MetricData) {
      const key = seriesKey(input.Namespace, datum.MetricName, datum.Dimensions);
      series.set(key, [...(series.get(key) ?? []), datum.Value]);
    }
  }
  return series;
}

describe('queue-monitor Lambda handler on real Redis', () => {
  let server: StartedRedis;
  let redis: Redis;
  const settings = queueMetricSettingsOf(designTopology);
  beforeAll(async () => {
    server = await startRedisServer({ name: 'lambda-redis' });
    redis = new Redis(server.url);
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  it('puts QueueSize and ActiveUsers per event, then summed over every event without a dimension', async () => {
    await redis.sadd(keys.activeEvents, 'e1', 'e2');
    await redis.zadd(keys.queue('e1'), 1, 'u1', 2, 'u2', 3, 'u3');
    await redis.zadd(keys.queue('e2'), 1, 'u4', 2, 'u5');
    await redis.sadd(keys.active('e1'), 'u9');
    await redis.sadd(keys.active('e2'), 'u7', 'u8');
    const sent: PutMetricDataInput[] = [];
    const at = new Date('2026-11-24T19:58:00Z');
    const handler = createQueueMonitorHandler({
      redis,
      settings,
      sink: { putMetricData: async (input) => sent.push(input) },
      now: () => at,
    });
    const result = await handler();
    expect(result).toEqual({
      statusCode: 200,
      events: [
        { eventId: 'e1', queueSize: 3, activeUsers: 1 },
        { eventId: 'e2', queueSize: 2, activeUsers: 2 },
      ],
      fleet: { queueSize: 5, activeUsers: 3 },
    });
    expect(sent[0]).toEqual({
      Namespace: 'Tiketi/Queue',
      MetricData: [
        {
          MetricName: 'QueueSize',
          Value: 3,
          Unit: 'Count',
          Timestamp: at,
          Dimensions: [{ Name: 'EventId', Value: 'e1' }],
        },
        {
          MetricName: 'ActiveUsers',
          Value: 1,
          Unit: 'Count',
          Timestamp: at,
          Dimensions: [{ Name: 'EventId', Value: 'e1' }],
        },
      ],
    });
    expect(sent).toHaveLength(3);
    expect(sent[2]!.MetricData.map((d) => [d.MetricName, d.Value, d.Dimensions])).toEqual([
      ['QueueSize', 5, []],
      ['ActiveUsers', 3, []],
    ]);
  });

  it('feeds the series every scaling alarm watches, whatever the event ids', async () => {
    await redis.del(keys.activeEvents);
    await redis.sadd(keys.activeEvents, 'concert-42');
    await redis.zadd(keys.queue('concert-42'), 1, 'a', 2, 'b');
    const sent: PutMetricDataInput[] = [];
    await createQueueMonitorHandler({
      redis,
      settings,
      sink: { putMetricData: async (i) => sent.push(i) },
    })();
    const published = publishedSeries(sent);
    for (const alarm of designTopology.alarms) {
      const series = alarmSeriesOf(designTopology, alarm);
      expect(
        published.get(seriesKey(series.namespace, series.metricName, series.dimensions)),
        alarm.name,
      ).toEqual([2]);
    }
  });

  it('publishes under the names it is given, not the design', async () => {
    const renamed = mergeTopology(designTopology, {
      queueMonitor: { namespace: 'Rehearsal/Queue', queueSizeMetric: 'Waiting', dimensionName: 'Drop' },
      alarms: designTopology.alarms.map((a) => ({ ...a, metricName: 'Waiting' })),
    });
    const sent: PutMetricDataInput[] = [];
    await createQueueMonitorHandler({
      redis,
      settings: queueMetricSettingsOf(renamed),
      sink: { putMetricData: async (i) => sent.push(i) },
    })();
    expect([...publishedSeries(sent).keys()].sort()).toEqual([
      'Rehearsal/Queue|ActiveUsers|',
      'Rehearsal/Queue|ActiveUsers|Drop=concert-42',
      'Rehearsal/Queue|Waiting|',
      'Rehearsal/Queue|Waiting|Drop=concert-42',
    ]);
    const watched = alarmSeriesOf(renamed, renamed.alarms[0]!);
    expect(
      publishedSeries(sent).get(seriesKey(watched.namespace, watched.metricName, watched.dimensions)),
    ).toEqual([2]);
  });

  it('stamps every datum with the minute its scheduled event was due, however late the reads end', async () => {
    const sent: PutMetricDataInput[] = [];
    const slowRedis = {
      ...{ smembers: (k: string) => redis.smembers(k), scard: (k: string) => redis.scard(k) },
      zcard: async (k: string) => {
        await new Promise((r) => setTimeout(r, 30));
        return redis.zcard(k);
      },
    };
    await createQueueMonitorHandler({
      redis: slowRedis,
      settings,
      sink: { putMetricData: async (i) => sent.push(i) },
    })({ time: '2026-11-24T19:58:00Z' });
    const stamps = sent.flatMap((i) => i.MetricData.map((d) => d.Timestamp?.toISOString()));
    expect(stamps.length).toBeGreaterThan(0);
    expect(new Set(stamps)).toEqual(new Set(['2026-11-24T19:58:00.000Z']));
  });

  it('puts nothing when no event has a live queue', async () => {
    await redis.del(keys.activeEvents);
    const sent: PutMetricDataInput[] = [];
    const result = await createQueueMonitorHandler({
      redis,
      settings,
      sink: { putMetricData: async (i) => sent.push(i) },
    })();
    expect(result.events).toEqual([]);
    expect(result.fleet).toBeUndefined();
    expect(sent).toEqual([]);
  });
});

describe('queue-monitor environment (written by the stack, read by the function)', () => {
  const settings: QueueMetricSettings = queueMetricSettingsOf(designTopology);

  it('reads back what the stack writes', () => {
    const env = queueMonitorEnvironment(
      { host: 'clustercfg.example', port: '6379', tls: true, clusterMode: true, authSecretArn: 'arn:secret' },
      settings,
    );
    expect(parseQueueMonitorEnvironment(env)).toEqual({
      redis: {
        host: 'clustercfg.example',
        port: 6379,
        tls: true,
        cluster: true,
        authSecretArn: 'arn:secret',
      },
      settings,
    });
  });

  it('names every missing or malformed variable at once', () => {
    expect(() => parseQueueMonitorEnvironment({ REDIS_TLS: 'yes', REDIS_PORT: 'x' })).toThrow(
      /REDIS_HOST[\s\S]*REDIS_PORT[\s\S]*REDIS_TLS[\s\S]*METRIC_NAMESPACE/,
    );
  });
});

describe('readSecretString through the Parameters and Secrets extension', () => {
  it('asks the extension with the session token and returns the secret string', async () => {
    const seen: { url?: string; token?: string } = {};
    const server = createServer((req, res) => {
      seen.url = req.url;
      seen.token = req.headers['x-aws-parameters-secrets-token'] as string;
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ SecretString: 's3cr3t' }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = String((server.address() as AddressInfo).port);
    try {
      const value = await readSecretString('arn:aws:secretsmanager:x:1:secret:a/b', {
        PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: port,
        AWS_SESSION_TOKEN: 'tok',
      });
      expect(value).toBe('s3cr3t');
      expect(seen).toEqual({
        url: `/secretsmanager/get?secretId=${encodeURIComponent('arn:aws:secretsmanager:x:1:secret:a/b')}`,
        token: 'tok',
      });
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
