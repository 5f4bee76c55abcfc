/**
 * The data tier: ElastiCache Redis in cluster mode (shards × replicas, Multi-AZ, encrypted) and
 * an Aurora PostgreSQL cluster with a writer and a reader, its credentials in Secrets Manager.
 */
import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as rds from 'aws-cdk-lib/aws-rds';
import type { Construct } from 'constructs';
import type { Topology } from '../topology.ts';

/** The app's database inside the cluster; a name, not a design figure. */
export const DATABASE_NAME = 'tiketi';
const DATABASE_USER = 'tiketi';

export interface RedisEndpoint {
  host: string;
  /** A CloudFormation attribute on AWS, hence a string. */
  port: string;
  tls: boolean;
  /**
   * The endpoint is a cluster-mode configuration endpoint: clients must be cluster clients
   * (the app's REDIS_CLUSTER_NODES, the Lambda's REDIS_CLUSTER).
   */
  clusterMode: boolean;
}

export interface RedisCluster {
  replicationGroup: elasticache.CfnReplicationGroup;
  /** The configuration endpoint, which cluster-aware clients start from. */
  endpoint: RedisEndpoint;
}

export function createRedisCluster(
  scope: Construct,
  options: {
    topology: Topology;
    vpc: ec2.IVpc;
    subnets: ec2.SubnetSelection;
    securityGroup: ec2.ISecurityGroup;
  },
): RedisCluster {
  const redis = options.topology.redis;
  const subnetGroup = new elasticache.CfnSubnetGroup(scope, 'RedisSubnetGroup', {
    description: 'tiketi Redis: private subnets',
    subnetIds: options.vpc.selectSubnets(options.subnets).subnetIds,
  });
  const replicationGroup = new elasticache.CfnReplicationGroup(scope, 'Redis', {
    replicationGroupDescription: 'tiketi queue, sessions, seat holds and Socket.IO pub/sub',
    engine: 'redis',
    engineVersion: redis.engineVersion,
    cacheNodeType: redis.nodeType,
    clusterMode: 'enabled',
    cacheParameterGroupName: clusterModeParameterGroup(redis.engineVersion),
    numNodeGroups: redis.shards,
    replicasPerNodeGroup: redis.replicasPerShard,
    multiAzEnabled: redis.multiAz,
    // Cluster mode cannot run without automatic failover, and the design relies on it.
    automaticFailoverEnabled: true,
    transitEncryptionEnabled: redis.transitEncryption,
    atRestEncryptionEnabled: redis.atRestEncryption,
    snapshotRetentionLimit: redis.snapshotRetentionDays,
    port: redis.port,
    cacheSubnetGroupName: subnetGroup.ref,
    securityGroupIds: [options.securityGroup.securityGroupId],
  });
  return {
    replicationGroup,
    endpoint: {
      host: replicationGroup.attrConfigurationEndPointAddress,
      port: replicationGroup.attrConfigurationEndPointPort,
      tls: redis.transitEncryption,
      clusterMode: true,
    },
  };
}

/**
 * The default parameter group with `cluster-enabled yes` for the engine version. ElastiCache
 * names them by family: redis5.0, redis6.x, redis7.
 */
export function clusterModeParameterGroup(engineVersion: string): string {
  const [major = '', minor = '0'] = engineVersion.split('.');
  const majorNumber = Number(major);
  if (!Number.isInteger(majorNumber) || majorNumber <= 0) {
    throw new Error(`topology.redis.engineVersion "${engineVersion}" has no major version`);
  }
  const family = majorNumber < 6 ? `${major}.${minor}` : majorNumber === 6 ? '6.x' : major;
  return `default.redis${family}.cluster.on`;
}

/** '15.3' → the engine version CDK needs, with its major version '15'. */
export function auroraPostgresVersion(engineVersion: string): rds.AuroraPostgresEngineVersion {
  const major = engineVersion.split('.')[0];
  if (!major) throw new Error(`topology.database.engineVersion "${engineVersion}" has no major version`);
  return rds.AuroraPostgresEngineVersion.of(engineVersion, major);
}

/** 'db.t4g.medium' → the instance type CDK prefixes with `db.` itself. */
function databaseInstanceType(instanceClass: string): ec2.InstanceType {
  return new ec2.InstanceType(instanceClass.replace(/^db\./, ''));
}

export function createDatabaseCluster(
  scope: Construct,
  options: {
    topology: Topology;
    vpc: ec2.IVpc;
    subnets: ec2.SubnetSelection;
    securityGroup: ec2.ISecurityGroup;
  },
): rds.DatabaseCluster {
  const db = options.topology.database;
  const instanceType = databaseInstanceType(db.instanceClass);
  return new rds.DatabaseCluster(scope, 'Database', {
    engine: rds.DatabaseClusterEngine.auroraPostgres({ version: auroraPostgresVersion(db.engineVersion) }),
    // The design has a writer endpoint and a reader endpoint: one instance behind each.
    writer: rds.ClusterInstance.provisioned('Writer', { instanceType }),
    readers: [rds.ClusterInstance.provisioned('Reader', { instanceType })],
    credentials: rds.Credentials.fromGeneratedSecret(DATABASE_USER),
    defaultDatabaseName: DATABASE_NAME,
    port: db.port,
    backup: {
      retention: Duration.days(db.backupRetentionDays),
      preferredWindow: db.preferredBackupWindow,
    },
    preferredMaintenanceWindow: db.preferredMaintenanceWindow,
    storageEncrypted: db.storageEncrypted,
    deletionProtection: db.deletionProtection,
    vpc: options.vpc,
    vpcSubnets: options.subnets,
    securityGroups: [options.securityGroup],
  });
}
