/**
 * The queue-monitor Lambda (`app/lambda/index.ts`, bundled with the local esbuild) and the
 * EventBridge schedule that runs it. It publishes the metrics the scaling alarms watch.
 */
import { Duration } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import type { Topology } from '../topology.ts';
import type { RedisEndpoint } from './data.ts';
import { LOCK_FILE, QUEUE_MONITOR_ENTRY, REPOSITORY_ROOT } from './repository.ts';

export interface QueueMonitorOptions {
  topology: Topology;
  vpc: ec2.IVpc;
  subnets: ec2.SubnetSelection;
  securityGroup: ec2.ISecurityGroup;
  redis: RedisEndpoint;
}

export interface QueueMonitor {
  fn: NodejsFunction;
  schedule: events.Rule;
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
  const monitor = options.topology.queueMonitor;
  const fn = new NodejsFunction(scope, 'QueueMonitor', {
    functionName: monitor.functionName,
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
    environment: {
      REDIS_HOST: options.redis.host,
      REDIS_PORT: options.redis.port,
      REDIS_TLS: String(options.redis.tls),
      REDIS_CLUSTER: String(options.redis.clusterMode),
      // The handler takes these from the topology it is bundled with; they are here so the
      // console shows where the function publishes.
      METRIC_NAMESPACE: monitor.namespace,
      METRIC_DIMENSION: monitor.dimensionName,
      QUEUE_SIZE_METRIC: monitor.queueSizeMetric,
      ACTIVE_USERS_METRIC: monitor.activeUsersMetric,
    },
    bundling: {
      // No Docker here: the esbuild from package.json bundles on the build machine.
      forceDockerBundling: false,
      minify: true,
    },
  });
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['cloudwatch:PutMetricData'],
      // PutMetricData has no resource ARN; the namespace condition is how it is scoped.
      resources: ['*'],
      conditions: { StringEquals: { 'cloudwatch:namespace': monitor.namespace } },
    }),
  );
  const schedule = new events.Rule(scope, 'QueueMonitorSchedule', {
    description: `runs ${monitor.functionName}`,
    schedule: events.Schedule.expression(monitor.scheduleExpression),
    targets: [new eventTargets.LambdaFunction(fn)],
  });
  return { fn, schedule };
}
