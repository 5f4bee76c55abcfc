import { readFileSync } from 'node:fs';
import {
  type ActivitiesType,
  AutoScalingClient,
  type AutoScalingGroupsType,
  DescribeAutoScalingGroupsCommand,
  DescribeScalingActivitiesCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CloudWatchClient,
  DescribeAlarmHistoryCommand,
  type DescribeAlarmHistoryOutput,
  DescribeAlarmsCommand,
  type DescribeAlarmsOutput,
  GetMetricDataCommand,
  type GetMetricDataOutput,
} from '@aws-sdk/client-cloudwatch';
import {
  DescribeTargetHealthCommand,
  type DescribeTargetHealthOutput,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { describe, expect, it } from 'vitest';
import { designTopology } from '../../../infra/topology.ts';
import {
  AwsObserver,
  alarmStatesFrom,
  alarmTransitionsFrom,
  instanceCounts,
  instancesFrom,
  instanceTimesFrom,
  lifecycleOf,
  queueMetricFrom,
  queueMetricQueries,
  type SdkClient,
  scalingActivitiesFrom,
  targetHealthFrom,
  trackInstances,
} from './observe.ts';

/** Timestamp members the SDK turns into Date objects. */
const DATE_KEYS = new Set([
  'Timestamp',
  'StartTime',
  'EndTime',
  'CreatedTime',
  'StateUpdatedTimestamp',
  'StateTransitionedTimestamp',
]);

/** A fixture as the SDK hands it over: timestamps deserialized to Date. */
function fixture<T>(name: string): T {
  const text = readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8');
  return JSON.parse(text, (key, value) => {
    if (DATE_KEYS.has(key) && typeof value === 'string') return new Date(value);
    if (key === 'Timestamps' && Array.isArray(value)) return value.map((v: string) => new Date(v));
    return value;
  }) as T;
}

const t = (iso: string) => Date.parse(iso);

describe('alarmTransitionsFrom', () => {
  it('turns StateUpdate items into transitions, oldest first, with the new state reason', () => {
    const transitions = alarmTransitionsFrom(fixture<DescribeAlarmHistoryOutput>('describe-alarm-history'));
    expect(transitions).toEqual([
      {
        alarm: 'tiketi-queue-scale-out',
        atMs: t('2025-11-26T10:31:40.022Z'),
        from: 'INSUFFICIENT_DATA',
        to: 'OK',
        reason:
          'Threshold Crossed: 1 out of the last 1 datapoints [0.0 (26/11/25 10:30:00)] was not greater than the threshold (5000.0) (minimum 1 datapoint for ALARM -> OK transition).',
      },
      {
        alarm: 'tiketi-queue-scale-out',
        atMs: t('2025-11-26T10:54:12.610Z'),
        from: 'OK',
        to: 'ALARM',
        reason:
          'Threshold Crossed: 1 out of the last 1 datapoints [8123.0 (26/11/25 10:53:00)] was greater than the threshold (5000.0) (minimum 1 datapoint for OK -> ALARM transition).',
      },
      {
        alarm: 'tiketi-queue-scale-out',
        atMs: t('2025-11-26T11:31:12.104Z'),
        from: 'ALARM',
        to: 'OK',
        reason:
          'Threshold Crossed: 1 out of the last 1 datapoints [812.0 (26/11/25 11:30:00)] was not greater than the threshold (5000.0) (minimum 1 datapoint for ALARM -> OK transition).',
      },
    ]);
  });

  it('falls back to the summary when HistoryData is not JSON, and skips what names no states', () => {
    const transitions = alarmTransitionsFrom({
      AlarmHistoryItems: [
        {
          AlarmName: 'tiketi-queue-scale-in',
          Timestamp: new Date('2025-11-26T11:40:05.000Z'),
          HistoryItemType: 'StateUpdate',
          HistorySummary: 'Alarm updated from OK to ALARM',
          HistoryData: '{not json',
        },
        {
          AlarmName: 'tiketi-queue-scale-in',
          Timestamp: new Date('2025-11-26T11:41:05.000Z'),
          HistoryItemType: 'StateUpdate',
          HistorySummary: 'something else',
          HistoryData: '{}',
        },
      ],
    });
    expect(transitions).toEqual([
      {
        alarm: 'tiketi-queue-scale-in',
        atMs: t('2025-11-26T11:40:05.000Z'),
        from: 'OK',
        to: 'ALARM',
        reason: 'Alarm updated from OK to ALARM',
      },
    ]);
  });
});

describe('alarmStatesFrom', () => {
  it('maps each metric alarm to its state', () => {
    expect(alarmStatesFrom(fixture<DescribeAlarmsOutput>('describe-alarms'))).toEqual({
      'tiketi-queue-scale-out': 'ALARM',
      'tiketi-queue-scale-out-aggressive': 'ALARM',
      'tiketi-queue-scale-in': 'OK',
    });
  });
});

describe('scalingActivitiesFrom', () => {
  it('keeps status, description and cause, oldest first, without an end while in progress', () => {
    const records = scalingActivitiesFrom(fixture<ActivitiesType>('describe-scaling-activities'));
    const scaleOutCause =
      'At 2025-11-26T10:54:12Z a monitor alarm tiketi-queue-scale-out in state ALARM triggered policy tiketi-scale-out changing the desired capacity from 2 to 4.  At 2025-11-26T10:54:21Z an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 2 to 4.';
    expect(records.map((r) => [r.description.split('  Status Reason')[0], r.status])).toEqual([
      ['Launching a new EC2 instance: i-0a1b2c3d4e5f60718', 'Successful'],
      ['Launching a new EC2 instance: i-0b2c3d4e5f6a7b8c9', 'Successful'],
      ['Launching a new EC2 instance.', 'Failed'],
      ['Terminating EC2 instance: i-0f6a7b8c9d0e1f2a3', 'Successful'],
      ['Terminating EC2 instance: i-0c3d4e5f6a7b8c9d0', 'WaitingForELBConnectionDraining'],
    ]);
    expect(records[0]).toEqual({
      startMs: t('2025-11-26T10:54:23.498Z'),
      endMs: t('2025-11-26T10:58:31Z'),
      status: 'Successful',
      description: 'Launching a new EC2 instance: i-0a1b2c3d4e5f60718',
      cause: scaleOutCause,
    });
    expect(records[3]!.cause).toBe(
      'At 2025-11-26T11:02:40Z an instance was taken out of service in response to an ELB system health check failure.',
    );
    expect(records[4]).not.toHaveProperty('endMs');
  });

  it('reads launch and termination times of instances from the activities', () => {
    const times = instanceTimesFrom(
      scalingActivitiesFrom(fixture<ActivitiesType>('describe-scaling-activities')),
    );
    expect(Object.fromEntries(times)).toEqual({
      'i-0a1b2c3d4e5f60718': { launchedAtMs: t('2025-11-26T10:54:23.498Z') },
      'i-0b2c3d4e5f6a7b8c9': { launchedAtMs: t('2025-11-26T10:54:23.512Z') },
      // the scale-in termination is still draining: no end yet
      'i-0f6a7b8c9d0e1f2a3': { terminatedAtMs: t('2025-11-26T11:08:12Z') },
    });
  });
});

describe('instancesFrom', () => {
  it('maps lifecycle states with their hook sub-states and zones to the topology labels', () => {
    const instances = instancesFrom(
      fixture<AutoScalingGroupsType>('describe-auto-scaling-groups'),
      designTopology,
      'tiketi-backend-asg',
    );
    expect(instances.map((i) => [i.id, i.az, i.lifecycle, i.lifecycleState])).toEqual([
      ['i-01a2b3c4d5e6f7a8b', 'ap-northeast-2c', 'Other', 'Standby'],
      ['i-0a1b2c3d4e5f60718', 'a', 'InService', 'InService'],
      ['i-0b2c3d4e5f6a7b8c9', 'b', 'InService', 'InService'],
      ['i-0c3d4e5f6a7b8c9d0', 'b', 'Terminating', 'Terminating:Wait'],
      ['i-0d4e5f6a7b8c9d0e1', 'a', 'Pending', 'Pending'],
      ['i-0e5f6a7b8c9d0e1f2', 'b', 'Pending', 'Pending:Wait'],
      ['i-0f6a7b8c9d0e1f2a3', 'a', 'Terminated', 'Terminated'],
    ]);
    expect(instanceCounts(instances)).toEqual({ pending: 2, inService: 2, terminating: 1 });
  });

  it('ignores other groups in the answer', () => {
    const output = fixture<AutoScalingGroupsType>('describe-auto-scaling-groups');
    expect(instancesFrom(output, designTopology, 'another-group')).toEqual([]);
  });

  it.each([
    ['Pending:Proceed', 'Pending'],
    ['Terminating:Proceed', 'Terminating'],
    ['Terminating:Retained', 'Terminating'],
    ['Warmed:Pending', 'Other'],
    ['Warmed:Terminated', 'Other'],
    ['EnteringStandby', 'Other'],
    ['Detaching', 'Other'],
  ] as const)('lifecycle %s → %s', (state, lifecycle) => {
    expect(lifecycleOf(state)).toBe(lifecycle);
  });
});

describe('trackInstances', () => {
  const at = (lifecycle: 'Pending' | 'InService' | 'Terminating' | 'Terminated') => ({
    id: 'i-0a1b2c3d4e5f60718',
    az: 'a',
    availabilityZone: 'ap-northeast-2a',
    lifecycle,
    lifecycleState: lifecycle,
    health: 'Healthy',
  });

  it('records launch, InService, Terminating and the moment the instance leaves the group', () => {
    let records = trackInstances([], [at('Pending')], 1_000);
    records = trackInstances(records, [at('Pending')], 2_000);
    records = trackInstances(records, [at('InService')], 3_000);
    records = trackInstances(records, [at('InService')], 4_000);
    records = trackInstances(records, [at('Terminating')], 5_000);
    records = trackInstances(records, [], 6_000);
    expect(records).toEqual([
      {
        id: 'i-0a1b2c3d4e5f60718',
        az: 'a',
        launchedAtMs: 1_000,
        inServiceAtMs: 3_000,
        terminatingAtMs: 5_000,
        terminatedAtMs: 6_000,
      },
    ]);
  });

  it('prefers the launch time of the scaling activity over the first sighting', () => {
    const records = trackInstances(
      [],
      [at('InService')],
      9_000,
      new Map([['i-0a1b2c3d4e5f60718', { launchedAtMs: 4_000 }]]),
    );
    expect(records[0]).toMatchObject({ launchedAtMs: 4_000, inServiceAtMs: 9_000 });
  });
});

describe('targetHealthFrom', () => {
  it('keeps state, reason and description, and counts the Sample states', () => {
    const { targets, counts } = targetHealthFrom(
      fixture<DescribeTargetHealthOutput>('describe-target-health'),
    );
    expect(counts).toEqual({ initial: 1, healthy: 1, unhealthy: 2, draining: 2 });
    expect(targets).toContainEqual({
      id: 'i-0b2c3d4e5f6a7b8c9',
      port: 3001,
      state: 'unhealthy',
      reason: 'Target.FailedHealthChecks',
      description: 'Health checks failed',
    });
    expect(targets).toContainEqual({
      id: 'i-0e5f6a7b8c9d0e1f2',
      port: 3001,
      state: 'draining',
      reason: 'Target.FailedHealthChecks',
      description: 'Health checks failed',
    });
    expect(targets).toContainEqual({
      id: 'i-0f7b8c9d0e1f2a3b4',
      port: 3001,
      state: 'unused',
      reason: 'Target.NotInUse',
      description: 'Target group is not configured to receive traffic from the load balancer',
    });
    expect(targets.find((x) => x.id === 'i-0a1b2c3d4e5f60718')).toEqual({
      id: 'i-0a1b2c3d4e5f60718',
      port: 3001,
      state: 'healthy',
    });
  });
});

describe('queueMetricFrom', () => {
  it('takes the latest datapoint of each series, whatever the scan order', () => {
    expect(queueMetricFrom(fixture<GetMetricDataOutput>('get-metric-data'))).toEqual({
      queueSize: { value: 24_310, atMs: t('2025-11-26T10:57:00Z') },
      activeUsers: { value: 3_000, atMs: t('2025-11-26T10:57:00Z') },
    });
    const ascending = fixture<GetMetricDataOutput>('get-metric-data');
    for (const r of ascending.MetricDataResults ?? []) {
      r.Timestamps?.reverse();
      r.Values?.reverse();
    }
    expect(queueMetricFrom(ascending).queueSize).toEqual({ value: 24_310, atMs: t('2025-11-26T10:57:00Z') });
  });

  it('leaves out a series without datapoints', () => {
    expect(
      queueMetricFrom({
        MetricDataResults: [{ Id: 'queueSize', Timestamps: [], Values: [], StatusCode: 'Complete' }],
      }),
    ).toEqual({});
  });

  it('queries the queue monitor metrics of the topology for one event', () => {
    const [queue] = queueMetricQueries(designTopology, 'concert-42');
    expect(queue).toEqual({
      Id: 'queueSize',
      MetricStat: {
        Metric: {
          Namespace: 'Tiketi/Queue',
          MetricName: 'QueueSize',
          Dimensions: [{ Name: 'EventId', Value: 'concert-42' }],
        },
        Period: 60,
        Stat: 'Maximum',
      },
      ReturnData: true,
    });
  });
});

/** A fake SDK client: answers by command class, records each command. */
function fakeClient(answer: (command: object) => unknown) {
  const sent: object[] = [];
  const client: SdkClient = {
    async send(command) {
      sent.push(command);
      return answer(command);
    },
  };
  return { client, sent };
}

describe('AwsObserver', () => {
  const outputs = {
    AutoScalingGroupName: 'tiketi-backend-asg',
    TargetGroupArn:
      'arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/Tiketi-Targe-1Q2W3E4R5T6Y/7a8b9c0d1e2f3a4b',
    AlarmNames: ['tiketi-queue-scale-out', 'tiketi-queue-scale-out-aggressive', 'tiketi-queue-scale-in'],
  };
  const NOW = t('2025-11-26T10:57:30Z');

  it('pages through DescribeAutoScalingGroups and GetMetricData for a sample', async () => {
    const groups = fixture<AutoScalingGroupsType>('describe-auto-scaling-groups');
    const group = groups.AutoScalingGroups![0]!;
    const instances = group.Instances!;
    const autoScaling = fakeClient((command) => {
      if (!(command instanceof DescribeAutoScalingGroupsCommand)) throw new Error('unexpected');
      return command.input.NextToken === 'page-2'
        ? { AutoScalingGroups: [{ ...group, Instances: instances.slice(4) }] }
        : { AutoScalingGroups: [{ ...group, Instances: instances.slice(0, 4) }], NextToken: 'page-2' };
    });
    const metrics = fixture<GetMetricDataOutput>('get-metric-data');
    const cloudWatch = fakeClient((command) => {
      if (command instanceof GetMetricDataCommand) {
        return command.input.NextToken === 'm2'
          ? { MetricDataResults: [metrics.MetricDataResults![1]] }
          : { MetricDataResults: [metrics.MetricDataResults![0]], NextToken: 'm2' };
      }
      if (command instanceof DescribeAlarmsCommand) return fixture('describe-alarms');
      throw new Error('unexpected');
    });
    const elbv2 = fakeClient(() => fixture('describe-target-health'));
    const observer = new AwsObserver({
      clients: { cloudWatch: cloudWatch.client, autoScaling: autoScaling.client, elbv2: elbv2.client },
      outputs,
      topology: designTopology,
      eventId: 'concert-42',
      now: () => NOW,
    });

    const sample = await observer.sample();

    expect(sample).toMatchObject({
      atMs: NOW,
      queueSize: 24_310,
      activeUsers: 3_000,
      queueMetricAtMs: t('2025-11-26T10:57:00Z'),
      instances: { pending: 2, inService: 2, terminating: 1 },
      targets: { initial: 1, healthy: 1, unhealthy: 2, draining: 2 },
      alarms: {
        'tiketi-queue-scale-out': 'ALARM',
        'tiketi-queue-scale-out-aggressive': 'ALARM',
        'tiketi-queue-scale-in': 'OK',
      },
    });
    expect(autoScaling.sent.map((c) => (c as DescribeAutoScalingGroupsCommand).input)).toEqual([
      { AutoScalingGroupNames: ['tiketi-backend-asg'] },
      { AutoScalingGroupNames: ['tiketi-backend-asg'], NextToken: 'page-2' },
    ]);
    const metricCalls = cloudWatch.sent.filter(
      (c) => c instanceof GetMetricDataCommand,
    ) as GetMetricDataCommand[];
    expect(metricCalls.map((c) => c.input.NextToken)).toEqual([undefined, 'm2']);
    expect(metricCalls[0]!.input).toMatchObject({
      StartTime: new Date(NOW - 5 * 60_000),
      EndTime: new Date(NOW),
      ScanBy: 'TimestampDescending',
    });
    expect(metricCalls[0]!.input.MetricDataQueries?.[0]?.MetricStat?.Metric?.Dimensions).toEqual([
      { Name: 'EventId', Value: 'concert-42' },
    ]);
    expect((elbv2.sent[0] as DescribeTargetHealthCommand).input).toEqual({
      TargetGroupArn: outputs.TargetGroupArn,
    });
    expect(elbv2.sent[0]).toBeInstanceOf(DescribeTargetHealthCommand);
    expect(observer.instances().map((r) => r.id)).toEqual([
      'i-0a1b2c3d4e5f60718',
      'i-0b2c3d4e5f6a7b8c9',
      'i-0c3d4e5f6a7b8c9d0',
      'i-0d4e5f6a7b8c9d0e1',
      'i-0e5f6a7b8c9d0e1f2',
      'i-0f6a7b8c9d0e1f2a3',
    ]);
  });

  it('pages through the alarm history of each alarm and the scaling activities back to the start', async () => {
    const history = fixture<DescribeAlarmHistoryOutput>('describe-alarm-history');
    const items = history.AlarmHistoryItems!;
    const cloudWatch = fakeClient((command) => {
      if (!(command instanceof DescribeAlarmHistoryCommand)) throw new Error('unexpected');
      if (command.input.AlarmName !== 'tiketi-queue-scale-out') return { AlarmHistoryItems: [] };
      return command.input.NextToken === 'h2'
        ? { AlarmHistoryItems: items.slice(2) }
        : { AlarmHistoryItems: items.slice(0, 2), NextToken: 'h2' };
    });
    const activities = fixture<ActivitiesType>('describe-scaling-activities').Activities!;
    const autoScaling = fakeClient((command) => {
      if (!(command instanceof DescribeScalingActivitiesCommand)) throw new Error('unexpected');
      if (command.input.NextToken === 'a3') throw new Error('paged past the start of the run');
      return command.input.NextToken === 'a2'
        ? { Activities: activities.slice(2), NextToken: 'a3' }
        : { Activities: activities.slice(0, 2), NextToken: 'a2' };
    });
    const observer = new AwsObserver({
      clients: {
        cloudWatch: cloudWatch.client,
        autoScaling: autoScaling.client,
        elbv2: fakeClient(() => ({})).client,
      },
      outputs,
      topology: designTopology,
      now: () => t('2025-11-26T12:00:00Z'),
    });

    const since = t('2025-11-26T10:54:23.500Z');
    const result = await observer.history(since);

    expect(result.alarmHistory.map((a) => `${a.from}->${a.to}`)).toEqual([
      'INSUFFICIENT_DATA->OK',
      'OK->ALARM',
      'ALARM->OK',
    ]);
    const historyCalls = cloudWatch.sent as DescribeAlarmHistoryCommand[];
    expect(historyCalls.map((c) => [c.input.AlarmName, c.input.NextToken])).toEqual([
      ['tiketi-queue-scale-out', undefined],
      ['tiketi-queue-scale-out', 'h2'],
      ['tiketi-queue-scale-out-aggressive', undefined],
      ['tiketi-queue-scale-in', undefined],
    ]);
    expect(historyCalls[0]!.input).toMatchObject({
      HistoryItemType: 'StateUpdate',
      StartDate: new Date(since),
      EndDate: new Date(t('2025-11-26T12:00:00Z')),
    });
    // the activity that started before `since` ends the paging and is left out
    expect(autoScaling.sent).toHaveLength(2);
    expect(result.scalingActivities.map((a) => a.description.slice(0, 45))).toEqual([
      'Launching a new EC2 instance: i-0b2c3d4e5f6a7',
      'Launching a new EC2 instance.  Status Reason:',
      'Terminating EC2 instance: i-0f6a7b8c9d0e1f2a3',
      'Terminating EC2 instance: i-0c3d4e5f6a7b8c9d0',
    ]);
  });

  it('accepts the real SDK clients', () => {
    const clients: SdkClient[] = [
      new CloudWatchClient({ region: 'ap-northeast-2' }),
      new AutoScalingClient({ region: 'ap-northeast-2' }),
      new ElasticLoadBalancingV2Client({ region: 'ap-northeast-2' }),
    ];
    for (const client of clients) expect(typeof client.send).toBe('function');
  });
});
