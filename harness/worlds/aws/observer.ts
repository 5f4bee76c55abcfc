/**
 * `AwsObserver`: a deployed stack's state and history through the AWS APIs (one module per
 * service beside this one), in the harness's record types, so a rehearsal against AWS reports
 * like one against the emulator. Times are wall-clock epoch ms: a deployed world runs at 1×.
 */
import type { Topology } from '../../../infra/topology.ts';
import type { AlarmState, AlarmTransition, InstanceRecord, ScalingActivityRecord } from '../../model/aws.ts';
import type { Sample } from '../../report/run-record.ts';
import type { AwsStackOutputs } from '../cdk-cli.ts';
import {
  describeGroupInstances,
  describeScalingActivitiesSince,
  type GroupInstance,
  instanceCounts,
  instanceTimesFrom,
  trackInstances,
} from './auto-scaling.ts';
import { describeAlarmStates, describeAlarmTransitions, queueMetricsAt } from './cloudwatch.ts';
import { describeTargetHealth, type TargetHealthRecord } from './elbv2.ts';
import type { SdkClient } from './sdk.ts';

export interface AwsClients {
  cloudWatch: SdkClient;
  autoScaling: SdkClient;
  elbv2: SdkClient;
}

/** What a Sample holds that AWS APIs can tell; load figures come from the load generator. */
export type AwsSample = Pick<
  Sample,
  'atMs' | 'queueSize' | 'activeUsers' | 'instances' | 'targets' | 'alarms'
> & {
  /** When the queue figures were published (absent: no datapoint in the last minutes). */
  queueMetricAtMs?: number;
  groupInstances: GroupInstance[];
  targetHealth: TargetHealthRecord[];
};

export interface AwsObserverOptions {
  clients: AwsClients;
  outputs: Pick<AwsStackOutputs, 'AutoScalingGroupName' | 'TargetGroupArn' | 'AlarmNames'>;
  topology: Topology;
  /** The `EventId` the queue figures are read for. @default 'default' (the stack's watched event) */
  eventId?: string;
  /** @default Date.now */
  now?: () => number;
}

/** Reads a deployed stack's state and history through the AWS APIs. */
export class AwsObserver {
  private records: InstanceRecord[] = [];
  private activityTimes = new Map<string, { launchedAtMs?: number; terminatedAtMs?: number }>();
  private readonly now: () => number;

  constructor(private readonly options: AwsObserverOptions) {
    this.now = options.now ?? Date.now;
  }

  /** One snapshot: queue figures, instances by lifecycle, target health, alarm states. */
  async sample(): Promise<AwsSample> {
    const atMs = this.now();
    const [groupInstances, health, metrics, alarms] = await Promise.all([
      this.groupInstances(),
      this.targetHealth(),
      this.queueMetrics(atMs),
      this.alarmStates(),
    ]);
    this.records = trackInstances(this.records, groupInstances, atMs, this.activityTimes);
    return {
      atMs,
      queueSize: metrics.queueSize?.value ?? 0,
      activeUsers: metrics.activeUsers?.value ?? 0,
      ...(metrics.queueSize ? { queueMetricAtMs: metrics.queueSize.atMs } : {}),
      instances: instanceCounts(groupInstances),
      targets: health.counts,
      alarms,
      groupInstances,
      targetHealth: health.targets,
    };
  }

  /** Alarm transitions and scaling activities since `sinceMs` (both APIs paged through). */
  async history(
    sinceMs: number,
    untilMs = this.now(),
  ): Promise<{
    alarmHistory: AlarmTransition[];
    scalingActivities: ScalingActivityRecord[];
  }> {
    const [alarmHistory, scalingActivities] = await Promise.all([
      this.alarmHistory(sinceMs, untilMs),
      this.scalingActivities(sinceMs),
    ]);
    for (const [id, times] of instanceTimesFrom(scalingActivities)) this.activityTimes.set(id, times);
    return { alarmHistory, scalingActivities };
  }

  /** The instance records folded from every `sample()` so far (and the activities' times). */
  instances(): InstanceRecord[] {
    return this.records.map((record) => {
      const times = this.activityTimes.get(record.id);
      return {
        ...record,
        ...(times?.launchedAtMs !== undefined
          ? { launchedAtMs: Math.min(record.launchedAtMs, times.launchedAtMs) }
          : {}),
      };
    });
  }

  private groupInstances(): Promise<GroupInstance[]> {
    const { clients, topology, outputs } = this.options;
    return describeGroupInstances(clients.autoScaling, topology, outputs.AutoScalingGroupName);
  }

  private targetHealth() {
    return describeTargetHealth(this.options.clients.elbv2, this.options.outputs.TargetGroupArn);
  }

  private queueMetrics(atMs: number) {
    const { clients, topology, eventId } = this.options;
    return queueMetricsAt(clients.cloudWatch, topology, eventId ?? 'default', atMs);
  }

  private alarmStates(): Promise<Record<string, AlarmState>> {
    return describeAlarmStates(this.options.clients.cloudWatch, this.options.outputs.AlarmNames);
  }

  private alarmHistory(sinceMs: number, untilMs: number): Promise<AlarmTransition[]> {
    return describeAlarmTransitions(
      this.options.clients.cloudWatch,
      this.options.outputs.AlarmNames,
      sinceMs,
      untilMs,
    );
  }

  private scalingActivities(sinceMs: number): Promise<ScalingActivityRecord[]> {
    const { clients, outputs } = this.options;
    return describeScalingActivitiesSince(clients.autoScaling, outputs.AutoScalingGroupName, sinceMs);
  }
}
