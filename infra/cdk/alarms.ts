/**
 * The design's queue alarms, one per `topology.alarms` entry, on the fleet-wide series the queue
 * monitor publishes (`alarmSeriesOf`: the one definition the emulator's CloudWatch reads too). What an alarm triggers is passed in: the matching scaling policy on AWS, an SNS topic
 * on LocalStack (whose Community edition runs alarm actions only to SNS and Lambda).
 */
import { Duration, Stack } from 'aws-cdk-lib';
import type * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { type AlarmDefinition, alarmSeriesOf, type ComparisonOperator, type Topology } from '../topology.ts';
import { acceptFinding } from './nag-suppressions.ts';
import { deployedAlarmName } from './stack-outputs.ts';

export type AlarmActionOf = (alarm: AlarmDefinition) => cloudwatch.IAlarmAction;

const COMPARISON: Record<ComparisonOperator, cloudwatch.ComparisonOperator> = {
  GreaterThanThreshold: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
  GreaterThanOrEqualToThreshold: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
  LessThanThreshold: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
  LessThanOrEqualToThreshold: cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
};

const MISSING_DATA: Record<AlarmDefinition['treatMissingData'], cloudwatch.TreatMissingData> = {
  breaching: cloudwatch.TreatMissingData.BREACHING,
  notBreaching: cloudwatch.TreatMissingData.NOT_BREACHING,
  ignore: cloudwatch.TreatMissingData.IGNORE,
  missing: cloudwatch.TreatMissingData.MISSING,
};

export function createQueueAlarms(
  scope: Construct,
  options: { topology: Topology; actionOf: AlarmActionOf },
): cloudwatch.Alarm[] {
  const { stackName } = Stack.of(scope);
  return options.topology.alarms.map((definition) => {
    const series = alarmSeriesOf(options.topology, definition);
    const metric = new cloudwatch.Metric({
      namespace: series.namespace,
      metricName: series.metricName,
      dimensionsMap: Object.fromEntries(series.dimensions.map((d) => [d.Name, d.Value])),
      statistic: definition.statistic,
      period: Duration.seconds(definition.periodSeconds),
    });
    const alarm = new cloudwatch.Alarm(scope, `Alarm-${definition.name}`, {
      alarmName: deployedAlarmName(stackName, definition.name),
      alarmDescription: `${definition.name}: ${definition.metricName} ${definition.comparisonOperator} ${definition.threshold} → ${definition.scalingPolicy}`,
      metric,
      threshold: definition.threshold,
      evaluationPeriods: definition.evaluationPeriods,
      datapointsToAlarm: definition.datapointsToAlarm ?? definition.evaluationPeriods,
      comparisonOperator: COMPARISON[definition.comparisonOperator],
      treatMissingData: MISSING_DATA[definition.treatMissingData],
    });
    alarm.addAlarmAction(options.actionOf(definition));
    return alarm;
  });
}

/** Alarm → the scaling policy the alarm definition names. */
export function scalingPolicyActions(policies: Map<string, autoscaling.CfnScalingPolicy>): AlarmActionOf {
  return (alarm) => {
    const policy = policies.get(alarm.scalingPolicy);
    if (!policy) throw new Error(`alarm ${alarm.name} names no scaling policy: ${alarm.scalingPolicy}`);
    // The L1 policy is not an IAlarmAction itself; its ARN is all CloudWatch needs.
    return { bind: () => ({ alarmActionArn: policy.attrArn }) };
  };
}

export interface AlarmNotifications {
  topic: sns.Topic;
  /** Receives every alarm transition as the raw SNS message, for a harness to read. */
  queue: sqs.Queue;
}

export function createAlarmNotifications(scope: Construct): AlarmNotifications {
  const topic = new sns.Topic(scope, 'AlarmTopic', { displayName: 'tiketi scaling alarms' });
  const queue = new sqs.Queue(scope, 'AlarmQueue');
  topic.addSubscription(new subscriptions.SqsSubscription(queue, { rawMessageDelivery: true }));
  const loopback =
    'Only in the LocalStack stack, which the harness reaches over plain HTTP on loopback (127.0.0.1:4566): a policy requiring TLS would lock it out.';
  acceptFinding(topic, 'AwsSolutions-SNS3', loopback);
  acceptFinding(queue, 'AwsSolutions-SQS4', loopback);
  acceptFinding(
    queue,
    'AwsSolutions-SQS3',
    'The queue is the last stop: the harness reads and deletes each alarm notification; a dead-letter queue would hold nothing anyone reads.',
  );
  return { topic, queue };
}

/** Every alarm → the notification topic, whichever policy it names. */
export function topicActions(topic: sns.ITopic): AlarmActionOf {
  const action = new cloudwatchActions.SnsAction(topic);
  return () => action;
}
