/**
 * The stack's outputs: the one contract between the CDK stack (`tiketi-stack.ts`, which writes
 * them), its tests and the harness (`harness/worlds/cdk-cli.ts`, which reads them from
 * `cdk deploy --outputs-file` or DescribeStacks). Each output has its name, its meaning and how it
 * parses. Plain zod, no aws-cdk-lib: the harness loads it at run time.
 */
import { z } from 'zod';

export const DEPLOY_TARGETS = ['aws', 'localstack'] as const;
export type DeployTarget = (typeof DEPLOY_TARGETS)[number];

/** The stack names `infra/cdk/app.ts` gives each target when no `-c stackName=…` is passed. */
export const DEFAULT_STACK_NAMES: Record<DeployTarget, string> = { aws: 'Tiketi', localstack: 'TiketiLocal' };

const nonEmpty = z.string().min(1);
/** A comma-joined list (`Fn::Join`), read back as an array. */
const list = nonEmpty.transform((value) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

interface OutputSpec<S extends z.ZodType> {
  /** What the value is; becomes the CloudFormation output's Description. */
  description: string;
  schema: S;
}

const output = <S extends z.ZodType>(description: string, schema: S): OutputSpec<S> => ({
  description,
  schema,
});

/** Outputs both targets have. */
const COMMON_OUTPUTS = {
  AlarmNames: output('The scaling alarms, comma-separated, in the order of topology.alarms', list),
  AppSecretArn: output('Secrets Manager secret with the token-signing key (TOKEN_SECRET)', nonEmpty),
  FrontendBucketName: output('Bucket of the React build (CloudFormation-generated name)', nonEmpty),
  UploadsBucketName: output(
    'Bucket of uploads such as event posters (CloudFormation-generated name)',
    nonEmpty,
  ),
  VpcId: output('The VPC', nonEmpty),
  QueueMonitorFunctionName: output('The queue-monitor Lambda', nonEmpty),
};

/** Outputs of the whole design (`-c target=aws`). */
export const AWS_OUTPUTS = {
  ...COMMON_OUTPUTS,
  AlbDnsName: output("The ALB's own DNS name (reachable only from CloudFront)", nonEmpty),
  OriginDomainName: output('The name CloudFront reaches the ALB by, over HTTPS', nonEmpty),
  DistributionDomainName: output("CloudFront's *.cloudfront.net name: the public endpoint", nonEmpty),
  DistributionId: output('The CloudFront distribution', nonEmpty),
  TargetGroupArn: output("The app instances' target group", nonEmpty),
  AutoScalingGroupName: output("The app instances' Auto Scaling group", nonEmpty),
  RedisConfigurationEndpoint: output('ElastiCache configuration endpoint, host:port (TLS, AUTH)', nonEmpty),
  DatabaseWriterEndpoint: output('Aurora writer endpoint, host:port', nonEmpty),
  DatabaseReaderEndpoint: output('Aurora reader endpoint, host:port', nonEmpty),
  DatabaseSecretArn: output('Secrets Manager secret with the Aurora credentials', nonEmpty),
  HostedZoneNameServers: output('Name servers of the hosted zone, to set at the registrar', list),
  DashboardName: output('The CloudWatch dashboard of the design metrics', nonEmpty),
  AppLogGroupName: output('Log group the CloudWatch agent ships app logs to', nonEmpty),
};

/** Outputs of what LocalStack Community hosts (`-c target=localstack`). */
export const LOCALSTACK_OUTPUTS = {
  ...COMMON_OUTPUTS,
  AlarmTopicArn: output('SNS topic every alarm notifies (LocalStack runs no Auto Scaling actions)', nonEmpty),
  AlarmQueueUrl: output('SQS queue subscribed raw to the alarm topic, for the harness to read', nonEmpty),
};

export type AwsOutputName = keyof typeof AWS_OUTPUTS;
export type LocalStackOutputName = keyof typeof LOCALSTACK_OUTPUTS;
export type StackOutputName = AwsOutputName | LocalStackOutputName;

type SchemaShape<T extends Record<string, OutputSpec<z.ZodType>>> = { [K in keyof T]: T[K]['schema'] };

function schemaOf<T extends Record<string, OutputSpec<z.ZodType>>>(outputs: T): z.ZodObject<SchemaShape<T>> {
  const shape = Object.fromEntries(Object.entries(outputs).map(([name, spec]) => [name, spec.schema]));
  return z.object(shape as SchemaShape<T>);
}

export const awsStackOutputsSchema = schemaOf(AWS_OUTPUTS);
export const localStackStackOutputsSchema = schemaOf(LOCALSTACK_OUTPUTS);

export type AwsStackOutputs = z.output<typeof awsStackOutputsSchema>;
export type LocalStackStackOutputs = z.output<typeof localStackStackOutputsSchema>;

/** The names a stack of `target` outputs, in the contract's order. */
export function stackOutputNames(target: DeployTarget): StackOutputName[] {
  return Object.keys(target === 'aws' ? AWS_OUTPUTS : LOCALSTACK_OUTPUTS) as StackOutputName[];
}

/** What an output means, for its CloudFormation Description. */
export function stackOutputDescription(name: StackOutputName): string {
  const all: Record<string, OutputSpec<z.ZodType>> = { ...AWS_OUTPUTS, ...LOCALSTACK_OUTPUTS };
  return all[name]!.description;
}

/** The target a set of outputs belongs to: only LocalStack stacks have the alarm topic and queue. */
export function targetOfOutputs(raw: Record<string, unknown>): DeployTarget {
  return 'AlarmTopicArn' in raw || 'AlarmQueueUrl' in raw ? 'localstack' : 'aws';
}

/**
 * The deployed name of a design alarm: prefixed with the stack name, so two stacks coexist in one
 * account and region (alarm names are unique there).
 */
export function deployedAlarmName(stackName: string, designAlarmName: string): string {
  return `${stackName}-${designAlarmName}`;
}

/** The design name of a deployed alarm (what scenarios name); a name without the prefix is kept. */
export function designAlarmName(stackName: string, deployedName: string): string {
  const prefix = deployedAlarmName(stackName, '');
  return deployedName.startsWith(prefix) ? deployedName.slice(prefix.length) : deployedName;
}
