/**
 * The scenario faults against a deployed stack, through the AWS APIs that exist for them:
 *
 * | fault | API |
 * | --- | --- |
 * | terminate-instance | Auto Scaling `TerminateInstanceInAutoScalingGroup`, `ShouldDecrementDesiredCapacity: false` |
 * | kill-instance | the same call (see below) |
 * | db-failover | RDS `FailoverDBCluster` on the Aurora cluster |
 * | redis-failover | ElastiCache `TestFailover` on one shard (node group) of the replication group |
 * | kill-az, latency, partition | none: `FaultError` says so and names the AWS Fault Injection Service action |
 *
 * kill-instance: the local world SIGKILLs the app process, so the ALB sees it fail. AWS has no API
 * that does that to an instance (it takes EC2 `TerminateInstances`, which this project does not
 * depend on, or SSM run-command into the instance); here kill-instance makes the same Auto Scaling
 * call as terminate-instance, and the record's detail says so. The difference matters: Auto Scaling
 * deregisters the target and waits out the deregistration delay before it terminates, so the
 * connections drain instead of breaking. For an abrupt failure use AWS FIS `aws:ec2:terminate-instances`.
 *
 * Clients are injected: tests pass fakes that record the commands.
 */
import type { ActivityType, AutoScalingGroupsType } from '@aws-sdk/client-auto-scaling';
import {
  DescribeAutoScalingGroupsCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { TestFailoverCommand } from '@aws-sdk/client-elasticache';
import { FailoverDBClusterCommand } from '@aws-sdk/client-rds';
import type { Topology } from '../../../infra/topology.ts';
import { FaultError } from '../../faults/inject.ts';
import type { FaultRecord } from '../../report/run-record.ts';
import type { FaultAction } from '../../scenario/schema.ts';
import type { AwsStackOutputs } from '../cdk-cli.ts';
import { call, instancesFrom, type SdkClient } from './observe.ts';

export { FaultError };

export interface AwsFaultClients {
  autoScaling: SdkClient;
  rds: SdkClient;
  elastiCache: SdkClient;
}

export interface AwsFaultsOptions {
  clients: AwsFaultClients;
  outputs: Pick<
    AwsStackOutputs,
    'AutoScalingGroupName' | 'DatabaseWriterEndpoint' | 'RedisConfigurationEndpoint'
  >;
  topology: Topology;
  /** The shard `redis-failover` fails over. @default '0001' (the first node group) */
  redisNodeGroupId?: string;
  /** Picks among InService instances for `instance: 'random'`. @default Math.random */
  random?: () => number;
  /** @default Date.now */
  now?: () => number;
}

/** Why a fault has no AWS API, and what would inject it instead. */
const UNSUPPORTED: Record<'kill-az' | 'latency' | 'partition', string> = {
  'kill-az':
    'kill-az has no AWS API: an Availability Zone cannot be failed on request. AWS Fault Injection Service can approximate it: the "AZ Availability: Power Interruption" scenario, or aws:network:disrupt-connectivity on the zone\'s subnets together with aws:ec2:stop-instances for its instances.',
  latency:
    'latency has no AWS API: AWS does not add delay to a network path on request. Use AWS Fault Injection Service: aws:ssm:send-command with the AWSFIS-Run-Network-Latency document on the instances (app-redis, app-db), or run the rehearsal in the local world, which delays any path.',
  partition:
    'partition has no AWS API: AWS does not cut a network path on request. Use AWS Fault Injection Service: aws:network:disrupt-connectivity on the subnets (it swaps their network ACLs), or aws:ssm:send-command with AWSFIS-Run-Network-Blackhole-Port on the instances; the local world partitions any path.',
};

/** The Aurora cluster identifier: the first label of its cluster endpoint (`<id>.cluster-<hash>.<region>.rds.amazonaws.com`). */
export function dbClusterIdentifierOf(writerEndpoint: string): string {
  const host = writerEndpoint.replace(/:\d+$/, '');
  const match = /^([A-Za-z0-9-]+)\.cluster-[a-z0-9]+\./.exec(host);
  if (!match) {
    throw new FaultError(
      `db-failover: ${writerEndpoint} is not an Aurora cluster endpoint (<cluster-id>.cluster-<hash>.<region>.rds.amazonaws.com)`,
    );
  }
  return match[1]!;
}

/**
 * The replication group id: the label after `clustercfg` in a cluster-mode configuration endpoint
 * (`clustercfg.<group-id>.<hash>.<region>.cache.amazonaws.com`), or the first label of a primary
 * endpoint (`master.<group-id>.…` also accepted).
 */
export function replicationGroupIdOf(configurationEndpoint: string): string {
  const labels = configurationEndpoint.replace(/:\d+$/, '').split('.');
  const id = labels[0] === 'clustercfg' || labels[0] === 'master' ? labels[1] : labels[0];
  if (!id || !labels.includes('cache')) {
    throw new FaultError(
      `redis-failover: ${configurationEndpoint} is not an ElastiCache endpoint (clustercfg.<group-id>.<hash>.<region>.cache.amazonaws.com)`,
    );
  }
  return id;
}

/** Injects scenario faults into a deployed stack; each call resolves with the fault's record. */
export class AwsFaults {
  private readonly now: () => number;

  constructor(private readonly options: AwsFaultsOptions) {
    this.now = options.now ?? Date.now;
  }

  async inject(fault: FaultAction): Promise<FaultRecord> {
    switch (fault.fault) {
      case 'terminate-instance':
      case 'kill-instance':
        return this.terminateInstance(fault.fault, fault.instance);
      case 'db-failover':
        return this.failoverDatabase();
      case 'redis-failover':
        return this.failoverRedis();
      case 'kill-az':
      case 'latency':
      case 'partition':
        throw new FaultError(UNSUPPORTED[fault.fault]);
    }
  }

  private record(fault: string, detail: string, atMs: number, label: string): FaultRecord {
    // The API accepted the request; what follows (drain, replacement, promotion) is observed by
    // AwsObserver, not here.
    return { fault, detail, atMs, timeline: [{ label, atMs: this.now() }] };
  }

  private async pickInstance(wanted: string): Promise<string> {
    const group = this.options.outputs.AutoScalingGroupName;
    const output = await call<AutoScalingGroupsType>(
      this.options.clients.autoScaling,
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }),
    );
    const inService = instancesFrom(output, this.options.topology, group).filter(
      (i) => i.lifecycle === 'InService',
    );
    if (wanted === 'random') {
      if (inService.length === 0) throw new FaultError(`no instance of ${group} is InService to fail`);
      return inService[Math.floor((this.options.random ?? Math.random)() * inService.length)]!.id;
    }
    if (!inService.some((i) => i.id === wanted)) {
      throw new FaultError(
        `no InService instance ${wanted} in ${group}; InService: ${inService.map((i) => i.id).join(', ') || 'none'} (on AWS, instance ids look like i-0123456789abcdef0)`,
      );
    }
    return wanted;
  }

  private async terminateInstance(fault: 'terminate-instance' | 'kill-instance', wanted: string) {
    const atMs = this.now();
    const InstanceId = await this.pickInstance(wanted);
    const output = await call<ActivityType>(
      this.options.clients.autoScaling,
      new TerminateInstanceInAutoScalingGroupCommand({ InstanceId, ShouldDecrementDesiredCapacity: false }),
    );
    const activity = output.Activity;
    const how =
      fault === 'kill-instance'
        ? 'TerminateInstanceInAutoScalingGroup (AWS has no kill: the target drains before the instance stops)'
        : 'TerminateInstanceInAutoScalingGroup';
    const detail = `${InstanceId} via ${how}${activity?.ActivityId ? `, activity ${activity.ActivityId}` : ''}${activity?.Description ? `: ${activity.Description}` : ''}`;
    return this.record(fault, detail, atMs, 'termination requested');
  }

  private async failoverDatabase() {
    const atMs = this.now();
    const DBClusterIdentifier = dbClusterIdentifierOf(this.options.outputs.DatabaseWriterEndpoint);
    await call(this.options.clients.rds, new FailoverDBClusterCommand({ DBClusterIdentifier }));
    return this.record(
      'db-failover',
      `FailoverDBCluster ${DBClusterIdentifier}: a reader is promoted to writer`,
      atMs,
      'failover requested',
    );
  }

  private async failoverRedis() {
    const atMs = this.now();
    const ReplicationGroupId = replicationGroupIdOf(this.options.outputs.RedisConfigurationEndpoint);
    const NodeGroupId = this.options.redisNodeGroupId ?? '0001';
    await call(
      this.options.clients.elastiCache,
      new TestFailoverCommand({ ReplicationGroupId, NodeGroupId }),
    );
    return this.record(
      'redis-failover',
      `TestFailover ${ReplicationGroupId} node group ${NodeGroupId}: its replica is promoted (ElastiCache allows a few test failovers per rolling 24 hours)`,
      atMs,
      'failover requested',
    );
  }
}
