/**
 * The queue monitor's metrics sink for the hybrid world: `PutMetricData` on LocalStack's
 * CloudWatch, so the real handler (`app/lambda/queue-monitor.ts`) run by the harness publishes
 * where LocalStack's alarms look. LocalStack 4.9 or newer: older CloudWatch there does not speak
 * the JSON protocol the AWS SDK v3 uses.
 */
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { MetricsSink, PutMetricDataInput } from '../../../app/lambda/queue-monitor.ts';
import { LOCALSTACK_ENDPOINT, localStackClientConfig } from '../cdk-cli.ts';

/** What the sink needs of a CloudWatch client (`CloudWatchClient` fits, and so does a fake). */
export interface CloudWatchLike {
  send(command: object): Promise<unknown>;
}

/** A sink that sends each batch to CloudWatch as one PutMetricData call. */
export function cloudWatchMetricSink(client: CloudWatchLike): MetricsSink {
  return {
    putMetricData: (input: PutMetricDataInput) => client.send(new PutMetricDataCommand(input)),
  };
}

/** A CloudWatch client for LocalStack (its endpoint, the topology's region, dummy credentials). */
export function localStackCloudWatch(endpoint = LOCALSTACK_ENDPOINT): CloudWatchClient {
  return new CloudWatchClient(localStackClientConfig(endpoint));
}

/** The sink on LocalStack's CloudWatch. */
export function localStackMetricSink(endpoint = LOCALSTACK_ENDPOINT): MetricsSink {
  return cloudWatchMetricSink(localStackCloudWatch(endpoint));
}
