/**
 * The hybrid world's alarms with fake LocalStack clients: notifications from the alarm queue drive
 * the group's policies and become the report's transitions; states come from DescribeAlarms;
 * metrics go out through PutMetricData with wall-clock timestamps.
 */
import { readFileSync } from 'node:fs';
import { DescribeAlarmsCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { designTopology } from '../../../infra/topology.ts';
import { ManualClock } from '../../clock/clock.ts';
import type { SdkClient } from '../aws/observe.ts';
import { hybridWorld, localStackAlarms } from './hybrid-world.ts';

const QUEUE_URL =
  'http://sqs.ap-northeast-2.localhost.localstack.cloud:4566/000000000000/TiketiLocal-AlarmQueue';
const ALARMS = ['tiketi-queue-scale-out', 'tiketi-queue-scale-out-aggressive', 'tiketi-queue-scale-in'];
const WALL0 = Date.parse('2026-11-26T10:00:00Z');

function notification(alarm: string, newState: string, oldState: string | undefined, at: number, id: string) {
  return {
    MessageId: id,
    ReceiptHandle: `rh-${id}`,
    Body: JSON.stringify({
      AlarmName: alarm,
      NewStateValue: newState,
      ...(oldState ? { OldStateValue: oldState } : {}),
      NewStateReason: `Threshold Crossed: ${alarm} → ${newState}`,
      StateChangeTime: new Date(at).toISOString().replace('Z', '+0000'),
    }),
  };
}

/** An SQS stand-in that hands out each batch once, then long-polls empty until aborted. */
function fakeSqs(batches: object[][]) {
  const deleted: string[] = [];
  const client: SdkClient = {
    async send(command, options) {
      if (command instanceof DeleteMessageCommand) {
        deleted.push(command.input.ReceiptHandle!);
        return {};
      }
      if (command instanceof ReceiveMessageCommand) {
        expect(command.input.QueueUrl).toBe(QUEUE_URL);
        const batch = batches.shift();
        if (batch) return { Messages: batch };
        return new Promise((_, reject) =>
          options?.abortSignal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true }),
        );
      }
      throw new Error('unexpected');
    },
  };
  return { client, deleted };
}

function fakeCloudWatch() {
  const puts: PutMetricDataCommand[] = [];
  const client: SdkClient = {
    async send(command) {
      if (command instanceof PutMetricDataCommand) {
        puts.push(command);
        return {};
      }
      if (command instanceof DescribeAlarmsCommand)
        return JSON.parse(
          readFileSync(new URL('../aws/fixtures/describe-alarms.json', import.meta.url), 'utf8'),
        );
      throw new Error('unexpected');
    },
  };
  return { client, puts };
}

describe('localStackAlarms', () => {
  it('drives the group from alarm notifications, skips ones from before the run, and records transitions', async () => {
    const sqs = fakeSqs([
      [
        // Left in the queue by an earlier run: not acted on.
        notification('tiketi-queue-scale-out', 'ALARM', 'OK', WALL0 - 10 * 60_000, 'm0'),
        notification('tiketi-queue-scale-out', 'ALARM', 'OK', WALL0 + 120_000, 'm1'),
        // Another alarm of the account: not ours.
        notification('billing-alarm', 'ALARM', 'OK', WALL0 + 121_000, 'm2'),
        // No OldStateValue: taken from the state it was last seen in.
        notification('tiketi-queue-scale-in', 'ALARM', undefined, WALL0 + 180_000, 'm3'),
      ],
    ]);
    const cloudWatch = fakeCloudWatch();
    const lines: string[] = [];
    let stopped = 0;
    const alarms = localStackAlarms({
      cloudWatch: cloudWatch.client,
      sqs: sqs.client,
      queueUrl: QUEUE_URL,
      alarmNames: ALARMS,
      log: (line) => lines.push(line),
      now: () => WALL0,
      onStop: () => stopped++,
    });
    const executed: [string, string][] = [];
    const clock = new ManualClock(Date.parse('2026-11-24T19:27:00Z'));
    await alarms.start({
      group: { executePolicy: (policy, cause) => executed.push([policy, cause]) },
      clock,
      topology: designTopology,
    });
    expect(lines[0]).toBe(
      '[world] localstack: alarms tiketi-queue-scale-out ALARM, tiketi-queue-scale-out-aggressive ALARM, tiketi-queue-scale-in OK',
    );
    const deadline = Date.now() + 5_000;
    while (sqs.deleted.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(sqs.deleted.sort()).toEqual(['rh-m0', 'rh-m1', 'rh-m2', 'rh-m3']);
    expect(lines).toContain(
      `[world] skipped a notification from before the run: tiketi-queue-scale-out → ALARM at ${new Date(WALL0 - 10 * 60_000).toISOString()}`,
    );
    // ALARM invokes the policy at once, and again every minute while it stays there.
    expect(executed).toEqual([
      ['tiketi-scale-out', 'a monitor alarm tiketi-queue-scale-out in state ALARM'],
      ['tiketi-scale-in', 'a monitor alarm tiketi-queue-scale-in in state ALARM'],
    ]);
    clock.advance(60_000);
    expect(executed).toHaveLength(4);

    const toSim = (wallMs: number) => wallMs + 1_000_000;
    expect(await alarms.history(toSim)).toEqual([
      {
        alarm: 'tiketi-queue-scale-out',
        atMs: toSim(WALL0 + 120_000),
        from: 'OK',
        to: 'ALARM',
        reason: 'Threshold Crossed: tiketi-queue-scale-out → ALARM',
      },
      {
        alarm: 'tiketi-queue-scale-in',
        atMs: toSim(WALL0 + 180_000),
        from: 'OK',
        to: 'ALARM',
        reason: 'Threshold Crossed: tiketi-queue-scale-in → ALARM',
      },
    ]);
    expect(await alarms.states()).toEqual({
      'tiketi-queue-scale-out': 'ALARM',
      'tiketi-queue-scale-out-aggressive': 'ALARM',
      'tiketi-queue-scale-in': 'OK',
    });

    await alarms.stop();
    clock.advance(5 * 60_000);
    expect(executed).toHaveLength(4);
    expect(stopped).toBe(1);
  });

  it("publishes the queue monitor's metrics to LocalStack stamped with the wall clock", async () => {
    const cloudWatch = fakeCloudWatch();
    const alarms = localStackAlarms({
      cloudWatch: cloudWatch.client,
      sqs: fakeSqs([]).client,
      queueUrl: QUEUE_URL,
      alarmNames: ALARMS,
      log: () => {},
      now: () => WALL0,
    });
    expect(alarms.now()).toEqual(new Date(WALL0));
    await alarms.sink.putMetricData({
      Namespace: 'Tiketi/Queue',
      MetricData: [
        {
          MetricName: 'QueueSize',
          Value: 6_000,
          Unit: 'Count',
          Timestamp: alarms.now(),
          Dimensions: [{ Name: 'EventId', Value: 'default' }],
        },
      ],
    });
    expect(cloudWatch.puts[0]!.input.MetricData![0]).toMatchObject({
      Value: 6_000,
      Timestamp: new Date(WALL0),
    });
  });
});

describe('hybridWorld', () => {
  it('is the emulator at 1×, with a warm-up, and says which design changes LocalStack does not follow', async () => {
    const alarms = localStackAlarms({
      cloudWatch: fakeCloudWatch().client,
      sqs: fakeSqs([]).client,
      queueUrl: QUEUE_URL,
      alarmNames: ALARMS,
      log: () => {},
    });
    const failing = {
      kind: 'local',
      start: async () => Promise.reject(new Error('no backend in this test')),
    };
    const world = hybridWorld({ backend: failing as never, eventId: 'default', alarms });
    expect(world).toMatchObject({
      name: 'localstack',
      fixedTimeScale: 1,
      warmUpMs: 3 * 60_000,
      notEvaluable: {},
    });
    const lines: string[] = [];
    await expect(
      world.start({
        scenario: { topology: { alarms: [], autoScalingGroup: { desiredCapacity: 3 } }, faults: [] } as never,
        topology: designTopology,
        clock: new ManualClock(0) as never,
        users: 10,
        log: (line) => lines.push(line),
      }),
    ).rejects.toThrow('no backend in this test');
    expect(lines).toEqual([
      "[world] the scenario changes alarms: the emulator follows, LocalStack's deployed alarms do not (deploy again to change them)",
    ]);
  });
});
