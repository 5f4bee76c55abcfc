/**
 * The data tier: ElastiCache Redis in cluster mode (shards × replicas, Multi-AZ, encrypted) and
 * an Aurora PostgreSQL cluster with a writer and a reader, its credentials in Secrets Manager.
 */
import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { Topology } from '../topology.ts';
import { acceptFinding } from './nag-suppressions.ts';

/** The app's database inside the cluster; a name, not a design figure. */
export const DATABASE_NAME = 'tiketi';
const DATABASE_USER = 'tiketi';
const REDIS_AUTH_TOKEN_LENGTH = 64;
/**
 * `client-output-buffer-limit-pubsub-*` in ElastiCache's default parameter groups (an AWS fact,
 * not a design choice): the stack uses a default group, so the design's limit must equal it.
 */
export const ELASTICACHE_DEFAULT_PUBSUB_LIMIT: Topology['redis']['pubsubOutputBufferLimit'] = {
  hardLimitBytes: 33_554_432,
  softLimitBytes: 8_388_608,
  softLimitSeconds: 60,
};

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
  /** The AUTH token every client presents (ElastiCache AUTH, with TLS). */
  authToken: secretsmanager.Secret;
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
  if (!redis.transitEncryption) {
    throw new Error(
      'topology.redis.transitEncryption is false: ElastiCache AUTH (which the stack sets) needs encryption in transit',
    );
  }
  const limit = redis.pubsubOutputBufferLimit;
  const defaults = ELASTICACHE_DEFAULT_PUBSUB_LIMIT;
  if (
    limit.hardLimitBytes !== defaults.hardLimitBytes ||
    limit.softLimitBytes !== defaults.softLimitBytes ||
    limit.softLimitSeconds !== defaults.softLimitSeconds
  ) {
    throw new Error(
      `topology.redis.pubsubOutputBufferLimit is ${JSON.stringify(limit)}, but the stack uses ElastiCache's default parameter group (${clusterModeParameterGroup(redis.engineVersion)}), whose pub/sub limit is ${JSON.stringify(defaults)}: give the stack a parameter group that sets client-output-buffer-limit-pubsub-*, or keep the default`,
    );
  }
  const subnetGroup = new elasticache.CfnSubnetGroup(scope, 'RedisSubnetGroup', {
    description: 'tiketi Redis: private subnets',
    subnetIds: options.vpc.selectSubnets(options.subnets).subnetIds,
  });
  // ElastiCache accepts 16–128 printable characters without @, " or /: letters and digits only.
  const authToken = new secretsmanager.Secret(scope, 'RedisAuthToken', {
    description: 'tiketi ElastiCache AUTH token',
    generateSecretString: { passwordLength: REDIS_AUTH_TOKEN_LENGTH, excludePunctuation: true },
  });
  acceptFinding(
    authToken,
    'AwsSolutions-SMG4',
    'ElastiCache takes a new AUTH token only through ModifyReplicationGroup (ROTATE, then SET); a scheduled rotation would change the secret without the cluster. Rotated by a deploy.',
  );
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
    // A dynamic reference: CloudFormation resolves it at deploy, the template never holds it.
    authToken: authToken.secretValue.unsafeUnwrap(),
    snapshotRetentionLimit: redis.snapshotRetentionDays,
    port: redis.port,
    cacheSubnetGroupName: subnetGroup.ref,
    securityGroupIds: [options.securityGroup.securityGroupId],
  });
  acceptFinding(
    replicationGroup,
    'AwsSolutions-AEC5',
    "The design's port (topology.redis.port, 6379); the cluster is reachable only from the instances' and the monitor's security groups.",
  );
  return {
    replicationGroup,
    authToken,
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
  const cluster = new rds.DatabaseCluster(scope, 'Database', {
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
  acceptFinding(
    cluster,
    'AwsSolutions-RDS6',
    'The app authenticates with the generated password from Secrets Manager; IAM database tokens expire every 15 minutes and pg pools do not renew them.',
  );
  acceptFinding(
    cluster,
    'AwsSolutions-SMG4',
    'Instances build DATABASE_URL from the secret when the app starts: a scheduled rotation would break every running instance until it restarts. Rotate between drops (docs/infra.md).',
  );
  return cluster;
}
