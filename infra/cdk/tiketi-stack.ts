/**
 * The TIKETI production design as one CloudFormation stack, built only from a `Topology`.
 *
 * Two targets share the same construct functions:
 * - `aws`: the whole design.
 * - `localstack`: what LocalStack Community can host — the network without NAT gateways, the queue
 *   monitor and its schedule, the alarms (notifying an SNS topic that an SQS queue reads), the
 *   buckets, the hosted zone and the app secret. It has no ELBv2, Auto Scaling, ElastiCache, RDS,
 *   CloudFront, Elastic IPs or launch templates, and runs alarm actions only to SNS and Lambda.
 */
import { CfnOutput, Fn, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { Topology } from '../topology.ts';
import {
  type AlarmActionOf,
  createAlarmNotifications,
  createQueueAlarms,
  scalingPolicyActions,
  topicActions,
} from './alarms.ts';
import { type AppArtifact, resolveAppBuild } from './app-build.ts';
import { createCompute } from './compute.ts';
import { createDatabaseCluster, createRedisCluster, DATABASE_NAME, type RedisEndpoint } from './data.ts';
import { type Buckets, createBuckets, createDistribution, createDns } from './edge.ts';
import { instanceUserData } from './instance-boot.ts';
import { createNetwork, type Network } from './network.ts';
import { createQueueMonitor } from './queue-monitor.ts';
import { createAppSecret } from './secrets.ts';
import { createLambdaSecurityGroup, createServiceSecurityGroups } from './security-groups.ts';

export type DeployTarget = 'aws' | 'localstack';
export const DEPLOY_TARGETS: readonly DeployTarget[] = ['aws', 'localstack'];

/** The metric dimension value the alarms watch when no event is named. */
export const DEFAULT_WATCHED_EVENT_ID = 'default';

export interface LocalRedis {
  host: string;
  port: number;
}

export interface TiketiStackProps extends Omit<StackProps, 'env'> {
  topology: Topology;
  target: DeployTarget;
  /** The app build instances fetch. @default this repository, packaged as a CDK asset */
  appArtifact?: AppArtifact;
  /** The `EventId` the scaling alarms watch. @default 'default' */
  watchedEventId?: string;
  /** Where the queue monitor finds Redis on LocalStack (no ElastiCache there). Required for `localstack`. */
  localRedis?: LocalRedis;
  /** ACM certificate (us-east-1) for the domain on CloudFront; see `createDistribution`. */
  distributionCertificateArn?: string;
}

/** What both targets build the same way, handed to the target-specific part. */
interface SharedParts {
  network: Network;
  appSecret: secretsmanager.ISecret;
  buckets: Buckets;
  lambdaSecurityGroup: ec2.SecurityGroup;
}

export class TiketiStack extends Stack {
  readonly topology: Topology;
  readonly target: DeployTarget;
  readonly network: Network;
  /** The scaling alarms, in the order of `topology.alarms`. */
  readonly alarms: cloudwatch.Alarm[];
  private readonly zoneNames: string[];

  constructor(scope: Construct, id: string, props: TiketiStackProps) {
    const { topology, target, appArtifact, watchedEventId, localRedis, distributionCertificateArn, ...rest } =
      props;
    super(scope, id, { ...rest, env: { region: topology.region } });
    this.topology = topology;
    this.target = target;
    this.zoneNames = topology.availabilityZones.map((zone) => zone.name);

    const onAws = target === 'aws';
    this.network = createNetwork(this, { topology, withNatGateways: onAws, withDatabaseSubnets: onAws });
    const shared: SharedParts = {
      network: this.network,
      appSecret: createAppSecret(this),
      buckets: createBuckets(this, {
        topology,
        // LocalStack stacks are thrown away after a rehearsal; production data is kept.
        removalPolicy: onAws ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      }),
      lambdaSecurityGroup: createLambdaSecurityGroup(this, this.network.vpc),
    };
    const actionOf = onAws
      ? this.buildAwsTiers(shared, { appArtifact, distributionCertificateArn })
      : this.buildLocalStackStandIns(shared, localRedis);
    this.alarms = createQueueAlarms(this, {
      topology,
      watchedEventId: watchedEventId ?? DEFAULT_WATCHED_EVENT_ID,
      actionOf,
    });

    this.output(
      'AlarmNames',
      Fn.join(
        ',',
        this.alarms.map((alarm) => alarm.alarmName),
      ),
    );
    this.output('AppSecretArn', shared.appSecret.secretArn);
    this.output('FrontendBucketName', shared.buckets.frontend.bucketName);
    this.output('UploadsBucketName', shared.buckets.uploads.bucketName);
    this.output('VpcId', this.network.vpc.vpcId);
  }

  /** Pinned to the topology's zones, so synth never asks AWS which zones the account has. */
  override get availabilityZones(): string[] {
    return this.zoneNames;
  }

  /** The whole design; the alarms invoke the scaling policies. */
  private buildAwsTiers(
    shared: SharedParts,
    options: { appArtifact: AppArtifact | undefined; distributionCertificateArn: string | undefined },
  ): AlarmActionOf {
    const { topology } = this;
    const { network } = shared;
    const securityGroups = createServiceSecurityGroups(
      this,
      network.vpc,
      topology,
      shared.lambdaSecurityGroup,
    );
    const redis = createRedisCluster(this, {
      topology,
      vpc: network.vpc,
      subnets: network.privateSubnets,
      securityGroup: securityGroups.redis,
    });
    const database = createDatabaseCluster(this, {
      topology,
      vpc: network.vpc,
      subnets: network.databaseSubnets!,
      securityGroup: securityGroups.database,
    });
    const databaseSecret = database.secret!;

    const instanceRole = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      // Session Manager instead of SSH: the instances have no key pair and no public address.
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    const appBuild = resolveAppBuild(this, options.appArtifact);
    appBuild.grantRead(instanceRole);
    shared.appSecret.grantRead(instanceRole);
    databaseSecret.grantRead(instanceRole);
    const userData = instanceUserData({
      region: this.region,
      artifact: appBuild,
      port: topology.loadBalancer.targetPort,
      redis: redis.endpoint,
      database: {
        writerHost: database.clusterEndpoint.hostname,
        readerHost: database.clusterReadEndpoint.hostname,
        port: String(topology.database.port),
        name: DATABASE_NAME,
        secretArn: databaseSecret.secretArn,
      },
      appSecretArn: shared.appSecret.secretArn,
    });
    const compute = createCompute(this, {
      topology,
      network,
      securityGroups,
      userData,
      instanceRole,
    });

    const monitor = createQueueMonitor(this, {
      topology,
      vpc: network.vpc,
      subnets: network.privateSubnets,
      securityGroup: shared.lambdaSecurityGroup,
      redis: redis.endpoint,
    });
    const distribution = createDistribution(this, {
      topology,
      frontendBucket: shared.buckets.frontend,
      loadBalancer: compute.loadBalancer,
      ...(options.distributionCertificateArn ? { certificateArn: options.distributionCertificateArn } : {}),
    });
    const dns = createDns(this, { topology, distribution });

    this.output('AlbDnsName', compute.loadBalancer.loadBalancerDnsName);
    this.output('TargetGroupArn', compute.targetGroup.targetGroupArn);
    this.output('AutoScalingGroupName', compute.autoScalingGroup.autoScalingGroupName);
    this.output('DistributionDomainName', distribution.distributionDomainName);
    this.output('DistributionId', distribution.distributionId);
    this.output('RedisConfigurationEndpoint', Fn.join(':', [redis.endpoint.host, redis.endpoint.port]));
    this.output('DatabaseWriterEndpoint', database.clusterEndpoint.socketAddress);
    this.output('DatabaseReaderEndpoint', database.clusterReadEndpoint.socketAddress);
    this.output('DatabaseSecretArn', databaseSecret.secretArn);
    this.output('QueueMonitorFunctionName', monitor.fn.functionName);
    this.output('HostedZoneNameServers', Fn.join(',', dns.zone.hostedZoneNameServers!));
    return scalingPolicyActions(compute.scalingPolicies);
  }

  /** The subset LocalStack Community hosts; the alarms notify a topic a harness reads. */
  private buildLocalStackStandIns(shared: SharedParts, localRedis: LocalRedis | undefined): AlarmActionOf {
    if (!localRedis) {
      throw new Error('target localstack needs localRedis: where the queue monitor finds Redis');
    }
    const { topology } = this;
    const redis: RedisEndpoint = {
      host: localRedis.host,
      port: String(localRedis.port),
      tls: false,
      clusterMode: false,
    };
    const monitor = createQueueMonitor(this, {
      topology,
      vpc: shared.network.vpc,
      subnets: shared.network.privateSubnets,
      securityGroup: shared.lambdaSecurityGroup,
      redis,
    });
    const notifications = createAlarmNotifications(this);
    createDns(this, { topology });

    this.output('QueueMonitorFunctionName', monitor.fn.functionName);
    this.output('AlarmTopicArn', notifications.topic.topicArn);
    this.output('AlarmQueueUrl', notifications.queue.queueUrl);
    return topicActions(notifications.topic);
  }

  private output(id: string, value: string): void {
    new CfnOutput(this, id, { value });
  }
}
