/**
 * The queue-monitor Lambda (`app/lambda/index.ts`, bundled with the local esbuild) and the
 * EventBridge schedule that runs it. It publishes the metrics the scaling alarms watch.
 */
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { queueMonitorEnvironment } from '../../app/lambda/environment.ts';
import { queueMetricSettingsOf, type Topology } from '../topology.ts';
import type { RedisEndpoint } from './data.ts';
import { retentionOf } from './monitoring.ts';
import { acceptFinding, managedPolicyFinding } from './nag-suppressions.ts';
import { LOCK_FILE, QUEUE_MONITOR_ENTRY, REPOSITORY_ROOT } from './repository.ts';

export interface QueueMonitorOptions {
  topology: Topology;
  vpc: ec2.IVpc;
  subnets: ec2.SubnetSelection;
  securityGroup: ec2.ISecurityGroup;
  redis: RedisEndpoint;
  /** The Redis AUTH token, read through the Parameters and Secrets extension. @default no AUTH */
  redisAuthToken?: secretsmanager.ISecret;
  removalPolicy: RemovalPolicy;
}

export interface QueueMonitor {
  fn: NodejsFunction;
  schedule: events.Rule;
  logGroup: logs.LogGroup;
}

/**
 * The topology names the runtime (`nodejs22.x`); only a Node.js runtime CDK knows is accepted, so
 * a typo fails at synth rather than at deploy.
 */
export function lambdaRuntimeNamed(name: string): lambda.Runtime {
  const runtime = lambda.Runtime.ALL.find((r) => r.name === name);
  if (!runtime || runtime.family !== lambda.RuntimeFamily.NODEJS) {
    const known = lambda.Runtime.ALL.filter((r) => r.family === lambda.RuntimeFamily.NODEJS).map(
      (r) => r.name,
    );
    throw new Error(
      `topology.queueMonitor.runtime "${name}" is not a Node.js Lambda runtime (${known.join(', ')})`,
    );
  }
  return runtime;
}

export function createQueueMonitor(scope: Construct, options: QueueMonitorOptions): QueueMonitor {
  const { topology } = options;
  const monitor = topology.queueMonitor;
  const logGroup = new logs.LogGroup(scope, 'QueueMonitorLogs', {
    retention: retentionOf(topology.operations.lambdaLogRetentionDays),
    removalPolicy: options.removalPolicy,
  });
  const fn = new NodejsFunction(scope, 'QueueMonitor', {
    description: `${monitor.functionName}: queue sizes into CloudWatch`,
    entry: QUEUE_MONITOR_ENTRY,
    handler: 'handler',
    projectRoot: REPOSITORY_ROOT,
    depsLockFilePath: LOCK_FILE,
    runtime: lambdaRuntimeNamed(monitor.runtime),
    memorySize: monitor.memoryMb,
    timeout: Duration.seconds(monitor.timeoutSeconds),
    vpc: options.vpc,
    vpcSubnets: options.subnets,
    securityGroups: [options.securityGroup],
    logGroup,
    // What it publishes comes from this stack's topology, so the alarms below watch what it sends.
    environment: queueMonitorEnvironment(
      {
        ...options.redis,
        ...(options.redisAuthToken ? { authSecretArn: options.redisAuthToken.secretArn } : {}),
      },
      queueMetricSettingsOf(topology),
    ),
    ...(options.redisAuthToken
      ? {
          paramsAndSecrets: lambda.ParamsAndSecretsLayerVersion.fromVersion(
            lambda.ParamsAndSecretsVersions.V1_0_103,
          ),
        }
      : {}),
    bundling: {
      // No Docker here: the esbuild from package.json bundles on the build machine.
      forceDockerBundling: false,
      minify: true,
    },
  });
  options.redisAuthToken?.grantRead(fn);
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['cloudwatch:PutMetricData'],
      // PutMetricData has no resource ARN; the namespace condition is how it is scoped.
      resources: ['*'],
      conditions: { StringEquals: { 'cloudwatch:namespace': monitor.namespace } },
    }),
  );
  for (const policy of [
    'service-role/AWSLambdaBasicExecutionRole',
    'service-role/AWSLambdaVPCAccessExecutionRole',
  ]) {
    acceptFinding(
      fn,
      managedPolicyFinding(policy),
      "AWS's own minimal policies for a function's logs and its VPC network interfaces.",
    );
  }
  acceptFinding(
    fn,
    'AwsSolutions-IAM5[Resource::*]',
    'cloudwatch:PutMetricData has no resource ARN; the statement is limited to the namespace by its cloudwatch:namespace condition.',
  );
  acceptFinding(
    fn,
    'AwsSolutions-L1',
    `The runtime is the topology's (${monitor.runtime}), a supported one; lambdaRuntimeNamed refuses any other name, and moving to a newer major is a topology change made on purpose.`,
  );
  const schedule = new events.Rule(scope, 'QueueMonitorSchedule', {
    description: `runs ${monitor.functionName}`,
    schedule: events.Schedule.expression(monitor.scheduleExpression),
    targets: [new eventTargets.LambdaFunction(fn)],
  });
  return { fn, schedule, logGroup };
}
