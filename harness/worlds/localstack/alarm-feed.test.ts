import { DeleteMessageCommand, type Message, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it, vi } from 'vitest';
import { designTopology, mergeTopology } from '../../../infra/topology.ts';
import { ManualClock } from '../../clock/clock.ts';
import {
  type AlarmNotification,
  alarmScalingBridge,
  parseAlarmNotification,
  parseStateChangeTime,
  policyForAlarm,
  type SqsLike,
  startAlarmFeed,
} from './alarm-feed.ts';

const QUEUE_URL =
  'http://sqs.ap-northeast-2.localhost.localstack.cloud:4566/000000000000/TiketiLocal-AlarmQueue';

/** A CloudWatch alarm notification as SNS delivers it raw (AWS's format). */
function notification(overrides: Record<string, unknown> = {}) {
  return JSON.stringify({
    AlarmName: 'tiketi-queue-scale-out',
    AlarmDescription: 'QueueSize GreaterThanThreshold 5000: tiketi-scale-out',
    AWSAccountId: '000000000000',
    AlarmConfigurationUpdatedTimestamp: '2025-11-26T10:29:58.331+0000',
    NewStateValue: 'ALARM',
    NewStateReason:
      'Threshold Crossed: 1 out of the last 1 datapoints [8123.0 (26/11/25 10:53:00)] was greater than the threshold (5000.0) (minimum 1 datapoint for OK -> ALARM transition).',
    StateChangeTime: '2025-11-26T10:54:12.610+0000',
    Region: 'Asia Pacific (Seoul)',
    AlarmArn: 'arn:aws:cloudwatch:ap-northeast-2:000000000000:alarm:tiketi-queue-scale-out',
    OldStateValue: 'OK',
    OKActions: [],
    AlarmActions: ['arn:aws:sns:ap-northeast-2:000000000000:TiketiLocal-AlarmTopic'],
    InsufficientDataActions: [],
    Trigger: {
      MetricName: 'QueueSize',
      Namespace: 'Tiketi/Queue',
      StatisticType: 'Statistic',
      Statistic: 'AVERAGE',
      Unit: null,
      Dimensions: [{ value: 'default', name: 'EventId' }],
      Period: 60,
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 5000.0,
      TreatMissingData: 'missing',
      EvaluateLowSampleCountPercentile: '',
    },
    ...overrides,
  });
}

/** A fake SQS: hands out queued batches one ReceiveMessage at a time, records deletes. */
function fakeSqs(batches: Message[][], options: { failFirstReceive?: boolean } = {}) {
  const receives: ReceiveMessageCommand[] = [];
  const deleted: string[] = [];
  let failed = false;
  const sqs: SqsLike = {
    async send(command, opts) {
      if (command instanceof ReceiveMessageCommand) {
        receives.push(command);
        if (options.failFirstReceive && !failed) {
          failed = true;
          throw new Error('connect ECONNREFUSED 127.0.0.1:4566');
        }
        const batch = batches.shift();
        if (batch) return { Messages: batch };
        // an empty long poll: wait until aborted, as the SDK does
        await new Promise<void>((resolve, reject) => {
          const signal = opts?.abortSignal;
          const timer = setTimeout(resolve, 50);
          signal?.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(new Error('aborted'));
          });
        });
        return {};
      }
      if (command instanceof DeleteMessageCommand) {
        deleted.push(command.input.ReceiptHandle!);
        return {};
      }
      throw new Error('unexpected command');
    },
  };
  return { sqs, receives, deleted };
}

const message = (id: string, body: string | undefined, sent = '1764154452700'): Message => ({
  MessageId: id,
  ReceiptHandle: `rh-${id}`,
  ...(body !== undefined ? { Body: body } : {}),
  Attributes: { SentTimestamp: sent },
});

async function until(check: () => boolean, ms = 2_000) {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('startAlarmFeed', () => {
  it('long-polls, hands each notification to onAlarm, deletes handled and bad messages, logs why', async () => {
    const { sqs, receives, deleted } = fakeSqs([
      [
        message('m1', notification()),
        message('m2', 'not json at all'),
        message('m3', JSON.stringify({ Records: [] })),
        message('m4', notification({ NewStateValue: 'PANIC' })),
      ],
      [
        message(
          'm5',
          notification({
            AlarmName: 'tiketi-queue-scale-in',
            NewStateValue: 'OK',
            OldStateValue: 'ALARM',
            StateChangeTime: '2025-11-26T11:31:12.104Z',
          }),
        ),
        message('m6', undefined),
      ],
    ]);
    const alarms: AlarmNotification[] = [];
    const logs: string[] = [];
    const feed = startAlarmFeed({
      sqs,
      queueUrl: QUEUE_URL,
      onAlarm: (n) => {
        alarms.push(n);
      },
      log: (line) => logs.push(line),
      waitTimeSeconds: 20,
    });
    await until(() => deleted.length === 6);
    await feed.stop();

    expect(receives[0]!.input).toEqual({
      QueueUrl: QUEUE_URL,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 20,
      MessageSystemAttributeNames: ['SentTimestamp'],
    });
    expect(alarms).toEqual([
      {
        alarmName: 'tiketi-queue-scale-out',
        newState: 'ALARM',
        oldState: 'OK',
        reason:
          'Threshold Crossed: 1 out of the last 1 datapoints [8123.0 (26/11/25 10:53:00)] was greater than the threshold (5000.0) (minimum 1 datapoint for OK -> ALARM transition).',
        atMs: Date.parse('2025-11-26T10:54:12.610Z'),
      },
      expect.objectContaining({
        alarmName: 'tiketi-queue-scale-in',
        newState: 'OK',
        oldState: 'ALARM',
        atMs: Date.parse('2025-11-26T11:31:12.104Z'),
      }),
    ]);
    expect(deleted.sort()).toEqual(['rh-m1', 'rh-m2', 'rh-m3', 'rh-m4', 'rh-m5', 'rh-m6']);
    expect(feed.delivered).toBe(2);
    expect(logs).toEqual([
      'alarm feed: skipped message m2: body is not JSON: not json at all',
      'alarm feed: skipped message m3: not a CloudWatch alarm notification: no AlarmName',
      'alarm feed: skipped message m4: alarm tiketi-queue-scale-out: NewStateValue PANIC is not a state',
      'alarm feed: skipped message m6: empty message body',
    ]);
  });

  it('leaves a message whose handler failed for redelivery, and keeps going', async () => {
    const { sqs, deleted } = fakeSqs([
      [message('m1', notification()), message('m2', notification({ AlarmName: 'tiketi-queue-scale-in' }))],
    ]);
    const logs: string[] = [];
    const handled: string[] = [];
    const feed = startAlarmFeed({
      sqs,
      queueUrl: QUEUE_URL,
      onAlarm: (n) => {
        if (n.alarmName === 'tiketi-queue-scale-out') throw new Error('boom');
        handled.push(n.alarmName);
      },
      log: (line) => logs.push(line),
    });
    await until(() => handled.length === 1);
    await feed.stop();
    expect(deleted).toEqual(['rh-m2']);
    expect(logs).toEqual([
      'alarm feed: onAlarm failed for tiketi-queue-scale-out (ALARM), left for redelivery: boom',
    ]);
  });

  it('survives a failing ReceiveMessage and handles a redelivered message once', async () => {
    const { sqs, receives } = fakeSqs([[message('m1', notification())], [message('m1', notification())]], {
      failFirstReceive: true,
    });
    const alarms: AlarmNotification[] = [];
    const logs: string[] = [];
    const feed = startAlarmFeed({
      sqs,
      queueUrl: QUEUE_URL,
      onAlarm: (n) => {
        alarms.push(n);
      },
      log: (line) => logs.push(line),
      retryDelayMs: 10,
    });
    await until(() => receives.length >= 4);
    await feed.stop();
    expect(logs[0]).toBe('alarm feed: ReceiveMessage failed, retrying: connect ECONNREFUSED 127.0.0.1:4566');
    expect(alarms).toHaveLength(1);
  });

  it('stop() ends an in-flight long poll', async () => {
    const { sqs } = fakeSqs([]);
    const feed = startAlarmFeed({ sqs, queueUrl: QUEUE_URL, onAlarm: () => {}, log: () => {} });
    await new Promise((r) => setTimeout(r, 10));
    await expect(feed.stop()).resolves.toBeUndefined();
  });

  it('accepts the real SQS client', () => {
    const sqs: SqsLike = new SQSClient({ region: 'ap-northeast-2' });
    expect(typeof sqs.send).toBe('function');
  });
});

describe('parseAlarmNotification', () => {
  it('unwraps an SNS envelope (a subscription without raw delivery)', () => {
    const envelope = JSON.stringify({
      Type: 'Notification',
      MessageId: '4e1f2a3b-5c6d-7e8f-9a0b-1c2d3e4f5a6b',
      TopicArn: 'arn:aws:sns:ap-northeast-2:000000000000:TiketiLocal-AlarmTopic',
      Subject: 'ALARM: "tiketi-queue-scale-out" in Asia Pacific (Seoul)',
      Message: notification(),
      Timestamp: '2025-11-26T10:54:12.700Z',
    });
    const parsed = parseAlarmNotification(envelope);
    expect(parsed).toMatchObject({
      ok: true,
      notification: { alarmName: 'tiketi-queue-scale-out', newState: 'ALARM' },
    });
  });

  it('falls back to the message send time when the notification has no StateChangeTime', () => {
    const parsed = parseAlarmNotification(notification({ StateChangeTime: undefined }), 1_764_154_452_700);
    expect(parsed).toMatchObject({ ok: true, notification: { atMs: 1_764_154_452_700 } });
  });

  it.each([
    ['2025-11-26T10:54:12.610+0000', Date.parse('2025-11-26T10:54:12.610Z')],
    ['2025-11-26T10:54:12.610Z', Date.parse('2025-11-26T10:54:12.610Z')],
    ['2025-11-26T19:54:12.610+0900', Date.parse('2025-11-26T10:54:12.610Z')],
    [1_764_154_452_610, 1_764_154_452_610],
    ['yesterday', undefined],
  ])('StateChangeTime %s', (value, expected) => {
    expect(parseStateChangeTime(value)).toBe(expected);
  });
});

describe('policyForAlarm', () => {
  it('maps each design alarm to its scaling policy', () => {
    expect(
      Object.fromEntries(designTopology.alarms.map((a) => [a.name, policyForAlarm(designTopology, a.name)])),
    ).toEqual({
      'tiketi-queue-scale-out': 'tiketi-scale-out',
      'tiketi-queue-scale-out-aggressive': 'tiketi-scale-out-aggressive',
      'tiketi-queue-scale-in': 'tiketi-scale-in',
    });
    expect(policyForAlarm(designTopology, 'someone-elses-alarm')).toBeUndefined();
  });

  it('follows the topology it is given', () => {
    const topology = mergeTopology(designTopology, {
      alarms: [
        {
          name: 'queue-high',
          metricName: 'QueueSize',
          statistic: 'Average',
          periodSeconds: 60,
          evaluationPeriods: 1,
          threshold: 10,
          comparisonOperator: 'GreaterThanThreshold',
          scalingPolicy: 'tiketi-scale-out-aggressive',
        },
      ],
    });
    expect(policyForAlarm(topology, 'queue-high')).toBe('tiketi-scale-out-aggressive');
    expect(policyForAlarm(topology, 'tiketi-queue-scale-out')).toBeUndefined();
  });
});

describe('alarmScalingBridge', () => {
  const at = (alarmName: string, newState: AlarmNotification['newState']): AlarmNotification => ({
    alarmName,
    newState,
    reason: '',
    atMs: 0,
  });

  it('invokes the policy on ALARM and once a minute until the alarm leaves ALARM', () => {
    const clock = new ManualClock(0);
    const executePolicy = vi.fn();
    const bridge = alarmScalingBridge({ topology: designTopology, clock, executePolicy });
    bridge.onAlarm(at('tiketi-queue-scale-out', 'ALARM'));
    expect(executePolicy).toHaveBeenLastCalledWith(
      'tiketi-scale-out',
      'a monitor alarm tiketi-queue-scale-out in state ALARM',
    );
    clock.advance(150_000);
    expect(executePolicy).toHaveBeenCalledTimes(3);
    bridge.onAlarm(at('tiketi-queue-scale-out', 'OK'));
    clock.advance(300_000);
    expect(executePolicy).toHaveBeenCalledTimes(3);
  });

  it('ignores alarms the topology does not have, and stop() ends every re-invocation', () => {
    const clock = new ManualClock(0);
    const executePolicy = vi.fn();
    const logs: string[] = [];
    const bridge = alarmScalingBridge({
      topology: designTopology,
      clock,
      executePolicy,
      log: (l) => logs.push(l),
    });
    bridge.onAlarm(at('someone-elses-alarm', 'ALARM'));
    expect(executePolicy).not.toHaveBeenCalled();
    expect(logs).toEqual(['alarm someone-elses-alarm is not in the topology: no policy to invoke']);
    bridge.onAlarm(at('tiketi-queue-scale-in', 'ALARM'));
    bridge.stop();
    clock.advance(600_000);
    expect(executePolicy).toHaveBeenCalledTimes(1);
    expect(executePolicy).toHaveBeenCalledWith(
      'tiketi-scale-in',
      'a monitor alarm tiketi-queue-scale-in in state ALARM',
    );
  });
});
