/**
 * The AWS entry point of the queue monitor: ioredis to ElastiCache (TLS, as the stack enables
 * encryption in transit) and the CloudWatch SDK. Bundled by the CDK stack with esbuild.
 */
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { Redis } from 'ioredis';
import { createQueueMonitorHandler } from './queue-monitor.ts';

const host = process.env.REDIS_HOST;
if (!host) throw new Error('REDIS_HOST is not set: point it at the ElastiCache configuration endpoint');
const port = Number(process.env.REDIS_PORT ?? 6379);
const tls = process.env.REDIS_TLS !== 'false';

// Created once per Lambda container and reused across invocations.
const redis = new Redis({
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
