/**
 * The hybrid world's pieces against a real LocalStack on 127.0.0.1:4566: the queue monitor's
 * handler publishing through the metric sink, an alarm on that metric notifying SNS, SQS
 * subscribed with raw delivery, and the alarm feed reading the notification back.
 *
 * Skipped (and says so) when no LocalStack answers:
 * `docker compose -f docker-compose.localstack.yml up -d` starts one.
 */
import { randomUUID } from 'node:crypto';
import {
  CloudWatchClient,
  DeleteAlarmsCommand,
  ListMetricsCommand,
  type ListMetricsCommandOutput,
  PutMetricAlarmCommand,
  SetAlarmStateCommand,
} from '@aws-sdk/client-cloudwatch';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  type GetQueueAttributesCommandOutput,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { createQueueMonitorHandler } from '../../../app/lambda/queue-monitor.ts';
import { designTopology, queueMetricSettingsOf } from '../../../infra/topology.ts';
import { checkDeployTarget, LOCALSTACK_ENDPOINT, localStackClientConfig } from '../cdk-cli.ts';
import { type AlarmNotification, startAlarmFeed } from './alarm-feed.ts';
import { cloudWatchMetricSink } from './metric-sink.ts';
import { probeLocalStack } from './probe-for-tests.ts';

const { localstackUp, suffix } = await probeLocalStack();

/**
 * SNS through its Query API: this project has no SNS SDK client (the stack creates the topic; only
 * this test needs one). LocalStack routes by the credential scope and does not check signatures.
 */
async function sns(params: Record<string, string>): Promise<string> {
  const res = await fetch(`${LOCALSTACK_ENDPOINT}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      authorization: `AWS4-HMAC-SHA256 Credential=test/20250101/${designTopology.region}/sns/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: new URLSearchParams({ ...params, Version: '2010-03-31' }).toString(),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`SNS ${params.Action}: ${res.status} ${text}`);
  return text;
}

const tag = (xml: string, name: string) => new RegExp(`<${name}>([^<]+)</${name}>`).exec(xml)?.[1];

describe(`hybrid world against LocalStack${suffix}`, () => {
  it.skipIf(!localstackUp)(`LocalStack passes the deploy preflight${suffix}`, async () => {
    expect(await checkDeployTarget('localstack')).toMatchObject({ ok: true });
  });

  it.skipIf(!localstackUp)(
    `metric sink → alarm → SNS → SQS → alarm feed${suffix}`,
    async () => {
      const config = localStackClientConfig();
      const cloudWatch = new CloudWatchClient(config);
      const sqs = new SQSClient(config);
      const id = randomUUID().slice(0, 8);
      const eventId = `it-${id}`;
      const alarmName = `tiketi-it-${id}`;
      const monitor = designTopology.queueMonitor;
      let queueUrl: string | undefined;
      let topicArn: string | undefined;
      const feedLogs: string[] = [];
      let feed: ReturnType<typeof startAlarmFeed> | undefined;
      try {
        // The real queue-monitor handler, publishing through the sink to LocalStack's CloudWatch.
        const handler = createQueueMonitorHandler({
          redis: {
            smembers: async () => [eventId],
            zcard: async () => 7_000,
            scard: async () => 50,
          },
          sink: cloudWatchMetricSink(cloudWatch),
          settings: queueMetricSettingsOf(designTopology),
        });
        expect((await handler()).events).toEqual([{ eventId, queueSize: 7_000, activeUsers: 50 }]);
        const metrics = (await cloudWatch.send(
          new ListMetricsCommand({
            Namespace: monitor.namespace,
            Dimensions: [{ Name: monitor.dimensionName, Value: eventId }],
          }),
        )) as ListMetricsCommandOutput;
        expect((metrics.Metrics ?? []).map((m) => m.MetricName).sort()).toEqual(
          [monitor.activeUsersMetric, monitor.queueSizeMetric].sort(),
        );

        topicArn = tag(await sns({ Action: 'CreateTopic', Name: `tiketi-it-alarms-${id}` }), 'TopicArn');
        expect(topicArn).toMatch(/^arn:aws:sns:/);
        queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `tiketi-it-alarms-${id}` }))).QueueUrl;
        const attributes = (await sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
        )) as GetQueueAttributesCommandOutput;
        await sns({
          Action: 'Subscribe',
          TopicArn: topicArn!,
          Protocol: 'sqs',
          Endpoint: attributes.Attributes!.QueueArn!,
          'Attributes.entry.1.key': 'RawMessageDelivery',
          'Attributes.entry.1.value': 'true',
          ReturnSubscriptionArn: 'true',
        });

        // An alarm on the published series that its own evaluation never trips.
        await cloudWatch.send(
          new PutMetricAlarmCommand({
            AlarmName: alarmName,
            Namespace: monitor.namespace,
            MetricName: monitor.queueSizeMetric,
            Dimensions: [{ Name: monitor.dimensionName, Value: eventId }],
            Statistic: 'Average',
            Period: 60,
            EvaluationPeriods: 1,
            Threshold: 1e12,
            ComparisonOperator: 'GreaterThanThreshold',
            AlarmActions: [topicArn!],
          }),
        );

        const delivered = new Promise<AlarmNotification>((resolve) => {
          feed = startAlarmFeed({
            sqs,
            queueUrl: queueUrl!,
            waitTimeSeconds: 2,
            log: (line) => feedLogs.push(line),
            onAlarm: (n) => {
              if (n.alarmName === alarmName) resolve(n);
            },
          });
        });
        const before = Date.now();
        await cloudWatch.send(
          new SetAlarmStateCommand({
            AlarmName: alarmName,
            StateValue: 'ALARM',
            StateReason: 'tiketi-sim integration test',
          }),
        );
        const notification = await Promise.race([
          delivered,
          new Promise<never>((_, reject) =>
            setTimeout(
              () => reject(new Error(`no notification in 30 s; feed log: ${feedLogs.join(' | ')}`)),
              30_000,
            ),
          ),
        ]);
        expect(notification).toMatchObject({
          alarmName,
          newState: 'ALARM',
          reason: 'tiketi-sim integration test',
        });
        expect(notification.atMs).toBeGreaterThan(before - 60_000);
        expect(feedLogs).toEqual([]);
      } finally {
        await feed?.stop();
        await cloudWatch.send(new DeleteAlarmsCommand({ AlarmNames: [alarmName] })).catch(() => {});
        if (queueUrl) await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl })).catch(() => {});
        if (topicArn) await sns({ Action: 'DeleteTopic', TopicArn: topicArn }).catch(() => {});
        cloudWatch.destroy();
        sqs.destroy();
      }
    },
    60_000,
  );
});
