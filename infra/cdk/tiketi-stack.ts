/**
 * The TIKETI production design as one CloudFormation stack, built only from a `Topology`.
 *
 * Two targets share the same construct functions:
 * - `aws`: the whole design.
 * - `localstack`: what LocalStack Community can host — the network without NAT gateways, the queue
 *   monitor and its schedule, the alarms (notifying an SNS topic that an SQS queue reads), the
 *   buckets, the hosted zone and the app secret. It has no ELBv2, Auto Scaling, ElastiCache, RDS,
 *   CloudFront, Elastic IPs or launch templates, and runs alarm actions only to SNS and Lambda.
 *
 * No resource has a fixed physical name: CloudFormation generates them, and the alarms' names
 * start with the stack's, so two stacks live side by side in one account and region.
 */
import {
  CfnOutput,
  DefaultStackSynthesizer,
  Fn,
  Lazy,
  RemovalPolicy,
  Stack,
  type StackProps,
} from 'aws-cdk-lib';
import type * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as rds from 'aws-cdk-lib/aws-rds';
import type * as route53 from 'aws-cdk-lib/aws-route53';
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
import { type Compute, createCompute } from './compute.ts';
import {
  createDatabaseCluster,
  createRedisCluster,
  DATABASE_NAME,
  type RedisCluster,
  type RedisEndpoint,
} from './data.ts';
import {
  type Buckets,
  createBuckets,
  createDistribution,
  createHostedZone,
  createRecords,
  originCertificate,
  originDomainName,
} from './edge.ts';
import { instanceUserData } from './instance-boot.ts';
import { createAppLogGroup, createDashboard } from './monitoring.ts';
import { acceptFinding, managedPolicyFinding } from './nag-suppressions.ts';
import { createNetwork, type Network } from './network.ts';
import { createQueueMonitor } from './queue-monitor.ts';
import { createAppSecret, createOriginVerifySecret } from './secrets.ts';
import {
  cloudFrontPrefixListId,
  createLambdaSecurityGroup,
  createServiceSecurityGroups,
  type ServiceSecurityGroups,
} from './security-groups.ts';
import {
  DEPLOY_TARGETS,
  type DeployTarget,
  type StackOutputName,
  stackOutputDescription,
} from './stack-outputs.ts';

export { DEPLOY_TARGETS, type DeployTarget };

export interface LocalRedis {
  host: string;
  port: number;
}

export interface TiketiStackProps extends Omit<StackProps, 'env'> {
  topology: Topology;
  target: DeployTarget;
  /** The app build instances fetch. @default built from `app/main.ts` with esbuild, as a CDK asset */
  appArtifact?: AppArtifact;
  /** Where the queue monitor finds Redis on LocalStack (no ElastiCache there). Required for `localstack`. */
  localRedis?: LocalRedis;
  /** ACM certificate (us-east-1) for the domain on CloudFront; see `createDistribution`. */
  distributionCertificateArn?: string;
  /**
   * ACM certificate (the stack's region) for the origin name on the ALB.
   * @default one issued for `origin.<domain>`, DNS-validated in the stack's hosted zone
   */
  originCertificateArn?: string;
}

/** What both targets build the same way, handed to the target-specific part. */
interface SharedParts {
  network: Network;
  appSecret: secretsmanager.ISecret;
  buckets: Buckets;
  lambdaSecurityGroup: ec2.SecurityGroup;
  zone: route53.PublicHostedZone;
  removalPolicy: RemovalPolicy;
}

type AwsOptions = Pick<
  TiketiStackProps,
  'appArtifact' | 'distributionCertificateArn' | 'originCertificateArn'
>;

export class TiketiStack extends Stack {
  readonly topology: Topology;
  readonly target: DeployTarget;
  readonly network: Network;
  /** The scaling alarms, in the order of `topology.alarms`. */
  readonly alarms: cloudwatch.Alarm[];
  private readonly zoneNames: string[];

  constructor(scope: Construct, id: string, props: TiketiStackProps) {
    const {
      topology,
      target,
      appArtifact,
      localRedis,
      distributionCertificateArn,
      originCertificateArn,
      ...rest
    } = props;
    super(scope, id, { ...rest, env: { region: topology.region } });
    this.topology = topology;
    this.target = target;
    this.zoneNames = topology.availabilityZones.map((zone) => zone.name);

    const onAws = target === 'aws';
    this.network = createNetwork(this, { topology, withNatGateways: onAws, withDatabaseSubnets: onAws });
    // LocalStack stacks are thrown away after a rehearsal; production data and logs are kept.
    const removalPolicy = onAws ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const shared: SharedParts = {
      network: this.network,
      appSecret: createAppSecret(this),
      buckets: createBuckets(this, { topology, removalPolicy }),
      lambdaSecurityGroup: createLambdaSecurityGroup(this, this.network.vpc),
      zone: createHostedZone(this, topology),
      removalPolicy,
    };
    if (onAws) {
      this.network.vpc.addFlowLog('FlowLog', {
        destination: ec2.FlowLogDestination.toS3(shared.buckets.accessLogs, 'vpc/'),
      });
    } else {
      acceptFinding(
        this.network.vpc,
        'AwsSolutions-VPC7',
        'The LocalStack stand-in carries no traffic worth logging and is thrown away after a rehearsal.',
      );
    }
    const actionOf = onAws
      ? this.buildAwsTiers(shared, { appArtifact, distributionCertificateArn, originCertificateArn })
      : this.buildLocalStackStandIns(shared, localRedis);
    this.alarms = createQueueAlarms(this, { topology, actionOf });

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
  private buildAwsTiers(shared: SharedParts, options: AwsOptions): AlarmActionOf {
    const { topology } = this;
    const { network } = shared;
    const securityGroups = createServiceSecurityGroups(this, {
      vpc: network.vpc,
      topology,
      lambda: shared.lambdaSecurityGroup,
      cloudFrontPrefixListId: cloudFrontPrefixListId(this),
    });
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
    const originVerify = createOriginVerifySecret(this).secretValue.unsafeUnwrap();
    const compute = this.buildCompute(shared, { securityGroups, redis, database, originVerify, options });

    const monitor = createQueueMonitor(this, {
      topology,
      vpc: network.vpc,
      subnets: network.privateSubnets,
      securityGroup: shared.lambdaSecurityGroup,
      redis: redis.endpoint,
      redisAuthToken: redis.authToken,
      removalPolicy: shared.removalPolicy,
    });
    const distribution = createDistribution(this, {
      topology,
      frontendBucket: shared.buckets.frontend,
      logBucket: shared.buckets.accessLogs,
      originVerifyValue: originVerify,
      ...(options.distributionCertificateArn ? { certificateArn: options.distributionCertificateArn } : {}),
    });
    createRecords(this, { topology, zone: shared.zone, distribution, loadBalancer: compute.loadBalancer });
    const dashboard = createDashboard(this, {
      topology,
      autoScalingGroup: compute.autoScalingGroup,
      loadBalancer: compute.loadBalancer,
      targetGroup: compute.targetGroup,
      database,
      redis: redis.replicationGroup,
    });

    this.output('AlbDnsName', compute.loadBalancer.loadBalancerDnsName);
    this.output('OriginDomainName', originDomainName(topology));
    this.output('TargetGroupArn', compute.targetGroup.targetGroupArn);
    this.output('AutoScalingGroupName', compute.autoScalingGroup.autoScalingGroupName);
    this.output('DistributionDomainName', distribution.distributionDomainName);
    this.output('DistributionId', distribution.distributionId);
    this.output('RedisConfigurationEndpoint', Fn.join(':', [redis.endpoint.host, redis.endpoint.port]));
    this.output('DatabaseWriterEndpoint', database.clusterEndpoint.socketAddress);
    this.output('DatabaseReaderEndpoint', database.clusterReadEndpoint.socketAddress);
    this.output('DatabaseSecretArn', database.secret!.secretArn);
    this.output('QueueMonitorFunctionName', monitor.fn.functionName);
    this.output('HostedZoneNameServers', Fn.join(',', shared.zone.hostedZoneNameServers!));
    this.output('DashboardName', dashboard.dashboardName);
    return scalingPolicyActions(compute.scalingPolicies);
  }

  /** The instances: their role, the app build, the boot script, the group behind the ALB. */
  private buildCompute(
    shared: SharedParts,
    parts: {
      securityGroups: ServiceSecurityGroups;
      redis: RedisCluster;
      database: rds.DatabaseCluster;
      originVerify: string;
      options: AwsOptions;
    },
  ): Compute {
    const { topology } = this;
    const { redis, database } = parts;
    const databaseSecret = database.secret!;
    const instanceRole = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      // Session Manager instead of SSH: the instances have no key pair and no public address.
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    acceptFinding(
      instanceRole,
      managedPolicyFinding('AmazonSSMManagedInstanceCore'),
      'AmazonSSMManagedInstanceCore is the policy AWS maintains for Session Manager, the only way onto an instance (no SSH, no key pair).',
    );
    const assetBucket = `cdk-${DefaultStackSynthesizer.DEFAULT_QUALIFIER}-assets-<AWS::AccountId>-${this.region}`;
    for (const wildcard of [
      'Action::s3:GetBucket*',
      'Action::s3:GetObject*',
      'Action::s3:List*',
      `Resource::arn:<AWS::Partition>:s3:::${assetBucket}/*`,
    ]) {
      acceptFinding(
        instanceRole,
        `AwsSolutions-IAM5[${wildcard}]`,
        "The read-only grant CDK writes for the app build asset (s3:GetObject*/GetBucket*/List* on the bootstrap asset bucket's objects).",
      );
    }
    const appBuild = resolveAppBuild(this, parts.options.appArtifact);
    const appLogs = createAppLogGroup(this, { topology, removalPolicy: shared.removalPolicy });
    appBuild.grantRead(instanceRole);
    appLogs.grantWrite(instanceRole);
    for (const secret of [shared.appSecret, databaseSecret, redis.authToken]) secret.grantRead(instanceRole);
    // The boot script signals the group, which is created below, from the launch template it uses.
    let group: autoscaling.AutoScalingGroup | undefined;
    const groupLogicalId = Lazy.string({
      produce: () => this.getLogicalId(group!.node.defaultChild as autoscaling.CfnAutoScalingGroup),
    });
    const userData = instanceUserData({
      region: this.region,
      artifact: appBuild,
      port: topology.loadBalancer.targetPort,
      healthCheckPath: topology.loadBalancer.healthCheck.path,
      redis: { ...redis.endpoint, authSecretArn: redis.authToken.secretArn },
      database: {
        writerHost: database.clusterEndpoint.hostname,
        readerHost: database.clusterReadEndpoint.hostname,
        port: String(topology.database.port),
        name: DATABASE_NAME,
        secretArn: databaseSecret.secretArn,
      },
      appSecretArn: shared.appSecret.secretArn,
      appLogGroupName: appLogs.logGroupName,
      signal: { stackName: this.stackName, resourceLogicalId: groupLogicalId },
    });
    const compute = createCompute(this, {
      topology,
      network: shared.network,
      securityGroups: parts.securityGroups,
      userData,
      instanceRole,
      certificate: originCertificate(this, {
        topology,
        zone: shared.zone,
        ...(parts.options.originCertificateArn ? { certificateArn: parts.options.originCertificateArn } : {}),
      }),
      originVerifyValue: parts.originVerify,
      accessLogs: shared.buckets.accessLogs,
    });
    group = compute.autoScalingGroup;
    this.output('AppLogGroupName', appLogs.logGroupName);
    return compute;
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
      removalPolicy: shared.removalPolicy,
    });
    const notifications = createAlarmNotifications(this);

    this.output('QueueMonitorFunctionName', monitor.fn.functionName);
    this.output('AlarmTopicArn', notifications.topic.topicArn);
    this.output('AlarmQueueUrl', notifications.queue.queueUrl);
    return topicActions(notifications.topic);
  }

  /** Only names of the outputs contract (`stack-outputs.ts`), each with its meaning. */
  private output(name: StackOutputName, value: string): void {
    new CfnOutput(this, name, { value, description: stackOutputDescription(name) });
  }
}
