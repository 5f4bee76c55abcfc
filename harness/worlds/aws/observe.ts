/**
 * Observing a deployed stack through AWS APIs, in the harness's own record types
 * (`harness/report/run-record.ts`), so a rehearsal against AWS reports like one against the
 * emulator.
 *
 * One pure adapter per API response (tested on recorded-shape fixtures), and `AwsObserver`, which
 * calls the APIs with injected SDK clients and pages through every answer that pages.
 *
 * Times are wall-clock epoch milliseconds: in a deployed world the simulated clock runs at 1×.
 */

import type { ActivitiesType, AutoScalingGroupsType } from '@aws-sdk/client-auto-scaling';
import {
  DescribeAutoScalingGroupsCommand,
  DescribeScalingActivitiesCommand,
} from '@aws-sdk/client-auto-scaling';
import type {
  DescribeAlarmHistoryOutput,
  DescribeAlarmsOutput,
  GetMetricDataOutput,
  MetricAlarm,
  MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import {
  DescribeAlarmHistoryCommand,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import type { DescribeTargetHealthOutput } from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Topology } from '../../../infra/topology.ts';
import type {
  AlarmStateName,
  AlarmTransition,
  InstanceRecord,
  Sample,
  ScalingActivityRecord,
} from '../../report/run-record.ts';
import type { AwsStackOutputs } from '../cdk-cli.ts';

/**
 * What the adapters need of an AWS SDK v3 client: `send`. A real client fits; so does a test fake
 * that records the commands it is sent.
 */
export interface SdkClient {
  send(command: object, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
}

/** Sends `command` and types the answer as the command's output. */
export async function call<Output>(client: SdkClient, command: object): Promise<Output> {
  return (await client.send(command)) as Output;
}

const ALARM_STATES = new Set<AlarmStateName>(['OK', 'ALARM', 'INSUFFICIENT_DATA']);

function alarmState(value: unknown): AlarmStateName | undefined {
  return typeof value === 'string' && ALARM_STATES.has(value as AlarmStateName)
    ? (value as AlarmStateName)
    : undefined;
}

function ms(date: Date | string | number | undefined): number | undefined {
  if (date === undefined) return undefined;
  const value = date instanceof Date ? date.getTime() : typeof date === 'number' ? date : Date.parse(date);
  return Number.isFinite(value) ? value : undefined;
}

// ---------------------------------------------------------------------------------------------
// CloudWatch
// ---------------------------------------------------------------------------------------------

/**
 * State changes out of DescribeAlarmHistory: the `StateUpdate` items, whose `HistoryData` is a JSON
 * string `{ oldState: { stateValue, stateReason }, newState: { stateValue, stateReason, … } }`.
 * Other item types (ConfigurationUpdate, Action) are left out. An item whose HistoryData does not
 * parse falls back to its summary ("Alarm updated from OK to ALARM"). Oldest first.
 */
export function alarmTransitionsFrom(output: DescribeAlarmHistoryOutput): AlarmTransition[] {
  const transitions: AlarmTransition[] = [];
  for (const item of output.AlarmHistoryItems ?? []) {
    if (item.HistoryItemType !== 'StateUpdate' || !item.AlarmName) continue;
    const atMs = ms(item.Timestamp);
    if (atMs === undefined) continue;
    let from: AlarmStateName | undefined;
    let to: AlarmStateName | undefined;
    let reason = '';
    try {
      const data = JSON.parse(item.HistoryData ?? '') as {
        oldState?: { stateValue?: unknown };
        newState?: { stateValue?: unknown; stateReason?: unknown };
      };
      from = alarmState(data.oldState?.stateValue);
      to = alarmState(data.newState?.stateValue);
      reason = typeof data.newState?.stateReason === 'string' ? data.newState.stateReason : '';
    } catch {
      // HistoryData is documented as JSON; if it is not, the summary still names both states.
    }
    if (!from || !to) {
      const summary = /from (OK|ALARM|INSUFFICIENT_DATA) to (OK|ALARM|INSUFFICIENT_DATA)/.exec(
        item.HistorySummary ?? '',
      );
      if (!summary) continue;
      from = summary[1] as AlarmStateName;
      to = summary[2] as AlarmStateName;
      reason ||= item.HistorySummary ?? '';
    }
    transitions.push({ alarm: item.AlarmName, atMs, from, to, reason });
  }
  return transitions.sort((a, b) => a.atMs - b.atMs || a.alarm.localeCompare(b.alarm));
}

/** Current state of each metric alarm in a DescribeAlarms answer. */
export function alarmStatesFrom(output: DescribeAlarmsOutput): Record<string, AlarmStateName> {
  const states: Record<string, AlarmStateName> = {};
  for (const alarm of output.MetricAlarms ?? []) {
    const state = alarmState(alarm.StateValue);
    if (alarm.AlarmName && state) states[alarm.AlarmName] = state;
  }
  return states;
}

/**
 * The event the stack's alarms watch: the `EventId` dimension (`dimensionName`) of its alarms, in
 * the order of `alarmNames`. The stack is deployed with one (`-c watchedEventId=…`, default
 * `default`); undefined when no alarm carries the dimension.
 */
export function watchedEventIdFrom(
  output: DescribeAlarmsOutput,
  dimensionName: string,
  alarmNames: readonly string[] = [],
): string | undefined {
  const alarms = [...(output.MetricAlarms ?? [])].sort(
    (a, b) => rank(alarmNames, a.AlarmName) - rank(alarmNames, b.AlarmName),
  );
  for (const alarm of alarms) {
    const value = alarm.Dimensions?.find((d) => d.Name === dimensionName)?.Value;
    if (value) return value;
  }
  return undefined;
}

function rank(names: readonly string[], name: string | undefined): number {
  const i = name === undefined ? -1 : names.indexOf(name);
  return i === -1 ? names.length : i;
}

/** DescribeAlarms for these metric alarms, paged through. */
export async function describeMetricAlarms(
  cloudWatch: SdkClient,
  alarmNames: readonly string[],
): Promise<MetricAlarm[]> {
  const alarms: MetricAlarm[] = [];
  let NextToken: string | undefined;
  do {
    const page = await call<DescribeAlarmsOutput>(
      cloudWatch,
      new DescribeAlarmsCommand({
        AlarmNames: [...alarmNames],
        AlarmTypes: ['MetricAlarm'],
        ...(NextToken ? { NextToken } : {}),
      }),
    );
    alarms.push(...(page.MetricAlarms ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  return alarms;
}

/** Current state of each of these alarms. */
export async function describeAlarmStates(
  cloudWatch: SdkClient,
  alarmNames: readonly string[],
): Promise<Record<string, AlarmStateName>> {
  return alarmStatesFrom({ MetricAlarms: await describeMetricAlarms(cloudWatch, alarmNames) });
}

/** State changes of these alarms between two wall times, oldest first (each alarm paged through). */
export async function describeAlarmTransitions(
  cloudWatch: SdkClient,
  alarmNames: readonly string[],
  sinceMs: number,
  untilMs: number,
): Promise<AlarmTransition[]> {
  const transitions: AlarmTransition[] = [];
  // One alarm at a time: the account may hold other alarms, and AlarmName filters server-side.
  for (const AlarmName of alarmNames) {
    let NextToken: string | undefined;
    do {
      const page = await call<DescribeAlarmHistoryOutput>(
        cloudWatch,
        new DescribeAlarmHistoryCommand({
          AlarmName,
          HistoryItemType: 'StateUpdate',
          StartDate: new Date(sinceMs),
          EndDate: new Date(untilMs),
          ScanBy: 'TimestampAscending',
          MaxRecords: 100,
          ...(NextToken ? { NextToken } : {}),
        }),
      );
      transitions.push(...alarmTransitionsFrom(page));
      NextToken = page.NextToken;
    } while (NextToken);
  }
  return transitions.sort((a, b) => a.atMs - b.atMs || a.alarm.localeCompare(b.alarm));
}

/** Query ids `queueMetricQueries` gives the two series. */
export const QUEUE_SIZE_ID = 'queueSize';
export const ACTIVE_USERS_ID = 'activeUsers';

/** GetMetricData queries for the queue monitor's two series of one event, one-minute periods. */
export function queueMetricQueries(topology: Topology, eventId: string): MetricDataQuery[] {
  const monitor = topology.queueMonitor;
  const query = (id: string, metricName: string): MetricDataQuery => ({
    Id: id,
    MetricStat: {
      Metric: {
        Namespace: monitor.namespace,
        MetricName: metricName,
        Dimensions: [{ Name: monitor.dimensionName, Value: eventId }],
      },
      Period: monitor.scheduleSeconds,
      // One datapoint per schedule: the statistic is the value; Maximum reads best if two land in a period.
      Stat: 'Maximum',
    },
    ReturnData: true,
  });
  return [query(QUEUE_SIZE_ID, monitor.queueSizeMetric), query(ACTIVE_USERS_ID, monitor.activeUsersMetric)];
}

export interface MetricPoint {
  value: number;
  atMs: number;
}

/**
 * The latest datapoint of each requested series in a GetMetricData answer (any ScanBy order), by
 * query id; a series with no datapoint is absent.
 */
export function latestMetricPoints(output: GetMetricDataOutput): Record<string, MetricPoint> {
  const latest: Record<string, MetricPoint> = {};
  for (const result of output.MetricDataResults ?? []) {
    if (!result.Id) continue;
    const times = result.Timestamps ?? [];
    const values = result.Values ?? [];
    for (let i = 0; i < Math.min(times.length, values.length); i++) {
      const atMs = ms(times[i]);
      const value = values[i];
      if (atMs === undefined || value === undefined) continue;
      const current = latest[result.Id];
      if (!current || atMs > current.atMs) latest[result.Id] = { value, atMs };
    }
  }
  return latest;
}

/** Queue size and active users, latest datapoints of `queueMetricQueries`. */
export function queueMetricFrom(output: GetMetricDataOutput): {
  queueSize?: MetricPoint;
  activeUsers?: MetricPoint;
} {
  const points = latestMetricPoints(output);
  return {
    ...(points[QUEUE_SIZE_ID] ? { queueSize: points[QUEUE_SIZE_ID] } : {}),
    ...(points[ACTIVE_USERS_ID] ? { activeUsers: points[ACTIVE_USERS_ID] } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Auto Scaling
// ---------------------------------------------------------------------------------------------

/** DescribeScalingActivities' activities in the report's shape, oldest first. */
export function scalingActivitiesFrom(output: ActivitiesType): ScalingActivityRecord[] {
  const records: (ScalingActivityRecord & { id: string })[] = [];
  for (const activity of output.Activities ?? []) {
    const startMs = ms(activity.StartTime);
    if (startMs === undefined) continue;
    const endMs = ms(activity.EndTime);
    records.push({
      id: activity.ActivityId ?? '',
      startMs,
      ...(endMs !== undefined ? { endMs } : {}),
      status: activity.StatusCode ?? 'Unknown',
      description: (activity.Description ?? '').trim(),
      cause: (activity.Cause ?? '').trim(),
    });
  }
  return records
    .sort((a, b) => a.startMs - b.startMs || a.id.localeCompare(b.id))
    .map(({ id: _id, ...record }) => record);
}

/** Launch and termination times of instances, from the activities' descriptions. */
export function instanceTimesFrom(
  activities: ScalingActivityRecord[],
): Map<string, { launchedAtMs?: number; terminatedAtMs?: number }> {
  const times = new Map<string, { launchedAtMs?: number; terminatedAtMs?: number }>();
  for (const activity of activities) {
    const launch = /^Launching a new EC2 instance: (i-[0-9a-f]+)/.exec(activity.description);
    const terminate = /^Terminating EC2 instance: (i-[0-9a-f]+)/.exec(activity.description);
    if (launch) {
      const entry = times.get(launch[1]!) ?? {};
      entry.launchedAtMs = activity.startMs;
      times.set(launch[1]!, entry);
    } else if (terminate && activity.endMs !== undefined && activity.status === 'Successful') {
      const entry = times.get(terminate[1]!) ?? {};
      entry.terminatedAtMs = activity.endMs;
      times.set(terminate[1]!, entry);
    }
  }
  return times;
}

/** The harness's four lifecycle states; `Other` covers Standby, Detaching, warm pools and the like. */
export type InstanceLifecycle = 'Pending' | 'InService' | 'Terminating' | 'Terminated' | 'Other';

/** Auto Scaling's LifecycleState (with hook sub-states such as `Pending:Wait`) → the harness's. */
export function lifecycleOf(state: string | undefined): InstanceLifecycle {
  if (!state) return 'Other';
  if (state.startsWith('Warmed:')) return 'Other'; // warm pool: not part of the group's capacity
  const [main] = state.split(':');
  switch (main) {
    case 'Pending':
      return 'Pending';
    case 'InService':
      return 'InService';
    case 'Terminating':
      return 'Terminating';
    case 'Terminated':
      return 'Terminated';
    default:
      return 'Other';
  }
}

export interface GroupInstance {
  id: string;
  /** The topology's AZ label (`a`), or the zone name when the topology does not know the zone. */
  az: string;
  availabilityZone: string;
  lifecycle: InstanceLifecycle;
  /** Auto Scaling's own state, e.g. `Pending:Wait`. */
  lifecycleState: string;
  health: string;
}

/** Zone name → the topology's AZ label. */
export function azLabelOf(topology: Topology, zoneName: string | undefined): string {
  if (!zoneName) return '?';
  return topology.availabilityZones.find((zone) => zone.name === zoneName)?.label ?? zoneName;
}

/**
 * The instances of a DescribeAutoScalingGroups answer (of `groupName` when given, else of every
 * group in it), with the topology's AZ labels.
 */
export function instancesFrom(
  output: AutoScalingGroupsType,
  topology: Topology,
  groupName?: string,
): GroupInstance[] {
  const instances: GroupInstance[] = [];
  for (const group of output.AutoScalingGroups ?? []) {
    if (groupName && group.AutoScalingGroupName !== groupName) continue;
    for (const instance of group.Instances ?? []) {
      if (!instance.InstanceId) continue;
      instances.push({
        id: instance.InstanceId,
        az: azLabelOf(topology, instance.AvailabilityZone),
        availabilityZone: instance.AvailabilityZone ?? '',
        lifecycle: lifecycleOf(instance.LifecycleState),
        lifecycleState: instance.LifecycleState ?? '',
        health: instance.HealthStatus ?? '',
      });
    }
  }
  return instances.sort((a, b) => a.id.localeCompare(b.id));
}

/** The Sample's instance counts (Other and Terminated are not counted). */
export function instanceCounts(instances: GroupInstance[]): Sample['instances'] {
  const count = (lifecycle: InstanceLifecycle) => instances.filter((i) => i.lifecycle === lifecycle).length;
  return { pending: count('Pending'), inService: count('InService'), terminating: count('Terminating') };
}

/**
 * Folds one observation of the group into the instance records: first seen → launched (unless an
 * activity says when), first InService, first Terminating, and Terminated when the state says so
 * or the instance has left the group.
 */
export function trackInstances(
  previous: readonly InstanceRecord[],
  observed: GroupInstance[],
  atMs: number,
  activityTimes: Map<string, { launchedAtMs?: number; terminatedAtMs?: number }> = new Map(),
): InstanceRecord[] {
  const records = new Map(previous.map((r) => [r.id, { ...r }]));
  const seen = new Set<string>();
  for (const instance of observed) {
    if (instance.lifecycle === 'Other') continue;
    seen.add(instance.id);
    const times = activityTimes.get(instance.id);
    let record = records.get(instance.id);
    if (!record) {
      record = { id: instance.id, az: instance.az, launchedAtMs: times?.launchedAtMs ?? atMs };
      records.set(instance.id, record);
    } else if (times?.launchedAtMs !== undefined) {
      record.launchedAtMs = Math.min(record.launchedAtMs, times.launchedAtMs);
    }
    if (instance.lifecycle === 'InService') record.inServiceAtMs ??= atMs;
    if (instance.lifecycle === 'Terminating') record.terminatingAtMs ??= atMs;
    if (instance.lifecycle === 'Terminated') {
      record.terminatingAtMs ??= atMs;
      record.terminatedAtMs ??= times?.terminatedAtMs ?? atMs;
    }
  }
  for (const record of records.values()) {
    if (seen.has(record.id) || record.terminatedAtMs !== undefined) continue;
    // Gone from the group: terminated (or detached) since the last look.
    record.terminatedAtMs = activityTimes.get(record.id)?.terminatedAtMs ?? atMs;
  }
  return [...records.values()].sort((a, b) => a.launchedAtMs - b.launchedAtMs || a.id.localeCompare(b.id));
}

// ---------------------------------------------------------------------------------------------
// Elastic Load Balancing
// ---------------------------------------------------------------------------------------------

export type TargetState = 'initial' | 'healthy' | 'unhealthy' | 'draining' | 'unused' | 'unavailable';

export interface TargetHealthRecord {
  id: string;
  port?: number;
  state: TargetState;
  reason?: string;
  description?: string;
}

/** ELB's target states → the harness's; `unhealthy.draining` is a target being drained. */
function targetStateOf(state: string | undefined): TargetState {
  switch (state) {
    case 'initial':
    case 'healthy':
    case 'unhealthy':
    case 'draining':
    case 'unused':
      return state;
    case 'unhealthy.draining':
      return 'draining';
    default:
      return 'unavailable';
  }
}

/** Every target of a DescribeTargetHealth answer, and the Sample's counts. */
export function targetHealthFrom(output: DescribeTargetHealthOutput): {
  targets: TargetHealthRecord[];
  counts: Sample['targets'];
} {
  const targets: TargetHealthRecord[] = [];
  for (const description of output.TargetHealthDescriptions ?? []) {
    const id = description.Target?.Id;
    if (!id) continue;
    const health = description.TargetHealth;
    targets.push({
      id,
      ...(description.Target?.Port !== undefined ? { port: description.Target.Port } : {}),
      state: targetStateOf(health?.State),
      ...(health?.Reason ? { reason: health.Reason } : {}),
      ...(health?.Description ? { description: health.Description } : {}),
    });
  }
  targets.sort((a, b) => a.id.localeCompare(b.id));
  const count = (state: TargetState) => targets.filter((t) => t.state === state).length;
  return {
    targets,
    counts: {
      initial: count('initial'),
      healthy: count('healthy'),
      unhealthy: count('unhealthy'),
      draining: count('draining'),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The observer
// ---------------------------------------------------------------------------------------------

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

/** How far back `sample()` looks for the latest queue datapoint. */
const METRIC_LOOKBACK_MS = 5 * 60_000;

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

  private async groupInstances(): Promise<GroupInstance[]> {
    const name = this.options.outputs.AutoScalingGroupName;
    const instances: GroupInstance[] = [];
    let NextToken: string | undefined;
    do {
      const page = await call<AutoScalingGroupsType>(
        this.options.clients.autoScaling,
        new DescribeAutoScalingGroupsCommand({
          AutoScalingGroupNames: [name],
          ...(NextToken ? { NextToken } : {}),
        }),
      );
      instances.push(...instancesFrom(page, this.options.topology, name));
      NextToken = page.NextToken;
    } while (NextToken);
    return instances;
  }

  private async targetHealth() {
    // DescribeTargetHealth does not page: one answer holds every target of the group.
    const output = await call<DescribeTargetHealthOutput>(
      this.options.clients.elbv2,
      new DescribeTargetHealthCommand({ TargetGroupArn: this.options.outputs.TargetGroupArn }),
    );
    return targetHealthFrom(output);
  }

  private async queueMetrics(atMs: number) {
    const queries = queueMetricQueries(this.options.topology, this.options.eventId ?? 'default');
    const results: NonNullable<GetMetricDataOutput['MetricDataResults']> = [];
    let NextToken: string | undefined;
    do {
      const page = await call<GetMetricDataOutput>(
        this.options.clients.cloudWatch,
        new GetMetricDataCommand({
          MetricDataQueries: queries,
          StartTime: new Date(atMs - METRIC_LOOKBACK_MS),
          EndTime: new Date(atMs),
          ScanBy: 'TimestampDescending',
          ...(NextToken ? { NextToken } : {}),
        }),
      );
      results.push(...(page.MetricDataResults ?? []));
      NextToken = page.NextToken;
    } while (NextToken);
    return queueMetricFrom({ MetricDataResults: results });
  }

  private alarmStates(): Promise<Record<string, AlarmStateName>> {
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

  private async scalingActivities(sinceMs: number): Promise<ScalingActivityRecord[]> {
    const activities: ScalingActivityRecord[] = [];
    let NextToken: string | undefined;
    do {
      // Newest first; stop paging once a page reaches back past `sinceMs`.
      const page = await call<ActivitiesType>(
        this.options.clients.autoScaling,
        new DescribeScalingActivitiesCommand({
          AutoScalingGroupName: this.options.outputs.AutoScalingGroupName,
          MaxRecords: 100,
          ...(NextToken ? { NextToken } : {}),
        }),
      );
      const records = scalingActivitiesFrom(page);
      activities.push(...records.filter((a) => a.startMs >= sinceMs));
      const reachedBack = records.some((a) => a.startMs < sinceMs);
      NextToken = reachedBack ? undefined : page.NextToken;
    } while (NextToken);
    return activities.sort((a, b) => a.startMs - b.startMs);
  }
}
