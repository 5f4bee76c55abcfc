/**
 * The AWS entry point of the queue monitor: ioredis to ElastiCache (TLS and an AUTH token, as the
 * stack configures them) and the CloudWatch SDK. Bundled by the CDK stack with esbuild. Everything
 * it needs comes from the environment the stack writes (`environment.ts`).
 *
 * REDIS_CLUSTER=true (ElastiCache in cluster mode): REDIS_HOST is the configuration endpoint and
 * the client is a Redis Cluster client, which learns the shards from it.
 */
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { Cluster, Redis } from 'ioredis';
import { parseQueueMonitorEnvironment, type QueueMonitorConfig } from './environment.ts';
import {
  createQueueMonitorHandler,
  type QueueMonitorResult,
  type QueueReader,
  type ScheduledEvent,
} from './queue-monitor.ts';
import { readSecretString } from './secrets.ts';

async function connect(redis: QueueMonitorConfig['redis']): Promise<QueueReader> {
  const password = redis.authSecretArn ? await readSecretString(redis.authSecretArn) : undefined;
  const options = {
    ...(redis.tls ? { tls: {} } : {}),
    ...(password ? { password } : {}),
    maxRetriesPerRequest: 2,
  };
  return redis.cluster
    ? new Cluster([{ host: redis.host, port: redis.port }], {
        // ElastiCache with TLS: connect by the announced name, or the certificate check fails.
        dnsLookup: (address, callback) => callback(null, address),
        redisOptions: options,
      })
    : new Redis({ host: redis.host, port: redis.port, ...options });
}

const config = parseQueueMonitorEnvironment(process.env);
const cloudwatch = new CloudWatchClient({});
// Created on the first invocation (the AUTH token is read then) and reused by the container.
let monitor: Promise<(event?: ScheduledEvent) => Promise<QueueMonitorResult>> | undefined;

export function handler(event?: ScheduledEvent): Promise<QueueMonitorResult> {
  monitor ??= connect(config.redis).then((redis) =>
    createQueueMonitorHandler({
      redis,
      settings: config.settings,
      sink: { putMetricData: (input) => cloudwatch.send(new PutMetricDataCommand(input)) },
      log: (line) => console.log(line),
    }),
  );
  return monitor.then((run) => run(event));
}
