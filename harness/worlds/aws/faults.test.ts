import { readFileSync } from 'node:fs';
import {
  DescribeAutoScalingGroupsCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { TestFailoverCommand } from '@aws-sdk/client-elasticache';
import { FailoverDBClusterCommand } from '@aws-sdk/client-rds';
import { describe, expect, it } from 'vitest';
import { designTopology } from '../../../infra/topology.ts';
import { FaultError } from '../../faults/inject.ts';
import { faultActionSchema } from '../../scenario/schema.ts';
import { AwsFaults, dbClusterIdentifierOf, replicationGroupIdOf } from './faults.ts';
import type { SdkClient } from './observe.ts';

const groups = JSON.parse(
  readFileSync(new URL('./fixtures/describe-auto-scaling-groups.json', import.meta.url), 'utf8'),
) as unknown;

const outputs = {
  AutoScalingGroupName: 'tiketi-backend-asg',
  DatabaseWriterEndpoint:
    'tiketi-databasecluster5b53a178-k3j4h5g6f7d8.cluster-c9akciq32xyz.ap-northeast-2.rds.amazonaws.com:5432',
  RedisConfigurationEndpoint: 'clustercfg.ti1q2w3e4r5t6y7u.x8k2lp.apn2.cache.amazonaws.com:6379',
};

function recorder(answer: (command: object) => unknown = () => ({})) {
  const sent: object[] = [];
  const client: SdkClient = {
    async send(command) {
      sent.push(command);
      return answer(command);
    },
  };
  return { client, sent };
}

function setup(random = () => 0.99) {
  const autoScaling = recorder((command) => {
    if (command instanceof DescribeAutoScalingGroupsCommand) return groups;
    if (command instanceof TerminateInstanceInAutoScalingGroupCommand) {
      return {
        Activity: {
          ActivityId: '3f8e2a1c-5b7d-4e9f-a0c2-6d8b4f1e3a57',
          AutoScalingGroupName: 'tiketi-backend-asg',
          Description: `Terminating EC2 instance: ${command.input.InstanceId}`,
          Cause: `At 2025-11-26T11:10:00Z instance ${command.input.InstanceId} was taken out of service in response to a user request.`,
          StartTime: new Date('2025-11-26T11:10:00.412Z'),
          StatusCode: 'InProgress',
          Progress: 0,
        },
      };
    }
    throw new Error('unexpected command');
  });
  const rds = recorder();
  const elastiCache = recorder();
  const faults = new AwsFaults({
    clients: { autoScaling: autoScaling.client, rds: rds.client, elastiCache: elastiCache.client },
    outputs,
    topology: designTopology,
    random,
    now: () => Date.parse('2025-11-26T11:10:00Z'),
  });
  return { faults, autoScaling, rds, elastiCache };
}

const action = (input: unknown) => faultActionSchema.parse(input);

describe('AwsFaults', () => {
  it('terminate-instance: TerminateInstanceInAutoScalingGroup without decrementing, on a random InService instance', async () => {
    const { faults, autoScaling } = setup(() => 0.99);
    const record = await faults.inject(action({ fault: 'terminate-instance' }));
    expect(autoScaling.sent[0]).toBeInstanceOf(DescribeAutoScalingGroupsCommand);
    expect(autoScaling.sent[1]).toBeInstanceOf(TerminateInstanceInAutoScalingGroupCommand);
    // InService in the fixture: i-0a1b2c3d4e5f60718, i-0b2c3d4e5f6a7b8c9; random 0.99 → the second
    expect((autoScaling.sent[1] as TerminateInstanceInAutoScalingGroupCommand).input).toEqual({
      InstanceId: 'i-0b2c3d4e5f6a7b8c9',
      ShouldDecrementDesiredCapacity: false,
    });
    expect(record).toEqual({
      fault: 'terminate-instance',
      detail:
        'i-0b2c3d4e5f6a7b8c9 via TerminateInstanceInAutoScalingGroup, activity 3f8e2a1c-5b7d-4e9f-a0c2-6d8b4f1e3a57: Terminating EC2 instance: i-0b2c3d4e5f6a7b8c9',
      atMs: Date.parse('2025-11-26T11:10:00Z'),
      timeline: [{ label: 'termination requested', atMs: Date.parse('2025-11-26T11:10:00Z') }],
    });
  });

  it('kill-instance: the same Auto Scaling call, and the record says it drains', async () => {
    const { faults, autoScaling } = setup();
    const record = await faults.inject(action({ fault: 'kill-instance', instance: 'i-0a1b2c3d4e5f60718' }));
    expect((autoScaling.sent[1] as TerminateInstanceInAutoScalingGroupCommand).input).toEqual({
      InstanceId: 'i-0a1b2c3d4e5f60718',
      ShouldDecrementDesiredCapacity: false,
    });
    expect(record.fault).toBe('kill-instance');
    expect(record.detail).toContain('AWS has no kill: the target drains before the instance stops');
  });

  it('refuses an instance that is not InService in the group, naming those that are', async () => {
    const { faults, autoScaling } = setup();
    await expect(faults.inject(action({ fault: 'terminate-instance', instance: 'app-3' }))).rejects.toThrow(
      /no InService instance app-3 in tiketi-backend-asg; InService: i-0a1b2c3d4e5f60718, i-0b2c3d4e5f6a7b8c9/,
    );
    await expect(
      faults.inject(action({ fault: 'terminate-instance', instance: 'i-0d4e5f6a7b8c9d0e1' })),
    ).rejects.toBeInstanceOf(FaultError);
    expect(autoScaling.sent.some((c) => c instanceof TerminateInstanceInAutoScalingGroupCommand)).toBe(false);
  });

  it('db-failover: FailoverDBCluster on the cluster of the writer endpoint', async () => {
    const { faults, rds } = setup();
    const record = await faults.inject(action({ fault: 'db-failover' }));
    expect(rds.sent).toHaveLength(1);
    expect(rds.sent[0]).toBeInstanceOf(FailoverDBClusterCommand);
    expect((rds.sent[0] as FailoverDBClusterCommand).input).toEqual({
      DBClusterIdentifier: 'tiketi-databasecluster5b53a178-k3j4h5g6f7d8',
    });
    expect(record.fault).toBe('db-failover');
  });

  it('redis-failover: TestFailover on the replication group and its first node group', async () => {
    const { faults, elastiCache } = setup();
    await faults.inject(action({ fault: 'redis-failover' }));
    expect(elastiCache.sent[0]).toBeInstanceOf(TestFailoverCommand);
    expect((elastiCache.sent[0] as TestFailoverCommand).input).toEqual({
      ReplicationGroupId: 'ti1q2w3e4r5t6y7u',
      NodeGroupId: '0001',
    });
  });

  it.each([
    [{ fault: 'kill-az', az: 'a' }, /kill-az has no AWS API.*Fault Injection Service/],
    [
      { fault: 'latency', path: 'app-redis', latencyMs: 50, durationSeconds: 60 },
      /latency has no AWS API.*AWSFIS-Run-Network-Latency/,
    ],
    [
      { fault: 'partition', path: 'app-db', durationSeconds: 30 },
      /partition has no AWS API.*aws:network:disrupt-connectivity/,
    ],
  ])('%o has no AWS API: FaultError says why and what to use', async (input, message) => {
    const { faults, autoScaling, rds, elastiCache } = setup();
    const attempt = faults.inject(action(input));
    await expect(attempt).rejects.toBeInstanceOf(FaultError);
    await expect(attempt).rejects.toThrow(message);
    expect([...autoScaling.sent, ...rds.sent, ...elastiCache.sent]).toEqual([]);
  });
});

describe('endpoint parsing', () => {
  it('reads the Aurora cluster id from the writer endpoint, and refuses other hosts', () => {
    expect(dbClusterIdentifierOf('tiketi-db.cluster-abc123xyz.ap-northeast-2.rds.amazonaws.com:5432')).toBe(
      'tiketi-db',
    );
    expect(() => dbClusterIdentifierOf('localhost:5432')).toThrow(/not an Aurora cluster endpoint/);
  });

  it('reads the replication group id from configuration and primary endpoints', () => {
    expect(replicationGroupIdOf('clustercfg.tiketi-redis.x8k2lp.apn2.cache.amazonaws.com:6379')).toBe(
      'tiketi-redis',
    );
    expect(replicationGroupIdOf('master.tiketi-redis.x8k2lp.apn2.cache.amazonaws.com')).toBe('tiketi-redis');
    expect(() => replicationGroupIdOf('host.docker.internal:6379')).toThrow(/not an ElastiCache endpoint/);
  });
});
