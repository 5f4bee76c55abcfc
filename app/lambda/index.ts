/**
 * The AWS entry point of the queue monitor: ioredis to ElastiCache (TLS, as the stack enables
 * encryption in transit) and the CloudWatch SDK. Bundled by the CDK stack with esbuild.
 *
 * REDIS_CLUSTER=true (set by the stack, whose ElastiCache runs in cluster mode): REDIS_HOST is the
 * configuration endpoint and the client is a Redis Cluster client, which learns the shards from it
 * and sends each key to the shard that owns it.
 */
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { Cluster, Redis } from 'ioredis';
import { createQueueMonitorHandler } from './queue-monitor.ts';

function flag(name: string, fallback: boolean): boolean {
  const value = process.env[name];
  if (value === undefined) return fallback;
  if (value !== 'true' && value !== 'false')
    throw new Error(`${name} must be true or false (got "${value}")`);
  return value === 'true';
}

const host = process.env.REDIS_HOST;
if (!host) throw new Error('REDIS_HOST is not set: point it at the ElastiCache configuration endpoint');
const port = Number(process.env.REDIS_PORT ?? 6379);
const tls = flag('REDIS_TLS', true);
const cluster = flag('REDIS_CLUSTER', false);

// Created once per Lambda container and reused across invocations.
const redis = cluster
  ? new Cluster([{ host, port }], {
      // ElastiCache with TLS: connect by the announced name, or the certificate check fails.
      dnsLookup: (address, callback) => callback(null, address),
      redisOptions: { ...(tls ? { tls: {} } : {}), maxRetriesPerRequest: 2 },
    })
  : new Redis({
      host,
      port,
      ...(tls ? { tls: {} } : {}),
      maxRetriesPerRequest: 2,
      lazyConnect: false,
    });
const cloudwatch = new CloudWatchClient({});

export const handler = createQueueMonitorHandler({
  redis,
  sink: { putMetricData: (input) => cloudwatch.send(new PutMetricDataCommand(input)) },
  log: (line) => console.log(line),
});
