/**
 * Auto Scaling, read: the group's instances and their lifecycle, and its scaling activities, in
 * the report's shapes. Pure adapters per API answer, and the paged calls that use them.
 */
import type { ActivitiesType, AutoScalingGroupsType } from '@aws-sdk/client-auto-scaling';
import {
  DescribeAutoScalingGroupsCommand,
  DescribeScalingActivitiesCommand,
} from '@aws-sdk/client-auto-scaling';
import type { Topology } from '../../../infra/topology.ts';
import {
  countLifecycles,
  type InstanceRecord,
  type ObservedLifecycleState,
  type ScalingActivityRecord,
} from '../../model/aws.ts';
import type { Sample } from '../../report/run-record.ts';
import { epochMsOf, pages, type SdkClient } from './sdk.ts';

/** DescribeScalingActivities' activities in the report's shape, oldest first. */
export function scalingActivitiesFrom(output: ActivitiesType): ScalingActivityRecord[] {
  const records: (ScalingActivityRecord & { id: string })[] = [];
  for (const activity of output.Activities ?? []) {
    const startMs = epochMsOf(activity.StartTime);
    if (startMs === undefined) continue;
    const endMs = epochMsOf(activity.EndTime);
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

/** Auto Scaling's LifecycleState (with hook sub-states such as `Pending:Wait`) → the harness's. */
export function lifecycleOf(state: string | undefined): ObservedLifecycleState {
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
  lifecycle: ObservedLifecycleState;
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
  return countLifecycles(instances);
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

/** The instances of one group (DescribeAutoScalingGroups, paged through). */
export async function describeGroupInstances(
  autoScaling: SdkClient,
  topology: Topology,
  groupName: string,
): Promise<GroupInstance[]> {
  const instances: GroupInstance[] = [];
  const request = (page: { NextToken?: string }) =>
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName], ...page });
  for await (const page of pages<AutoScalingGroupsType>(autoScaling, request))
    instances.push(...instancesFrom(page, topology, groupName));
  return instances;
}

/** A group's scaling activities that started at or after `sinceMs`, oldest first. */
export async function describeScalingActivitiesSince(
  autoScaling: SdkClient,
  groupName: string,
  sinceMs: number,
): Promise<ScalingActivityRecord[]> {
  const activities: ScalingActivityRecord[] = [];
  const request = (page: { NextToken?: string }) =>
    new DescribeScalingActivitiesCommand({ AutoScalingGroupName: groupName, MaxRecords: 100, ...page });
  for await (const page of pages<ActivitiesType>(autoScaling, request)) {
    const records = scalingActivitiesFrom(page);
    activities.push(...records.filter((a) => a.startMs >= sinceMs));
    // Newest first: stop paging once a page reaches back past `sinceMs`.
    if (records.some((a) => a.startMs < sinceMs)) break;
  }
  return activities.sort((a, b) => a.startMs - b.startMs);
}
