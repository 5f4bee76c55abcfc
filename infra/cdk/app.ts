/**
 * The CDK app: `npx cdk synth -c target=aws|localstack [-c stackName=…]`.
 *
 * Synth runs offline and without AWS credentials: zones are pinned by the topology, the hosted
 * zone is created rather than looked up, and the AMI is a deploy-time SSM parameter.
 *
 * AWS: `-c certificateArn=…` (us-east-1, for the domain on CloudFront) and
 * `-c originCertificateArn=…` (the stack's region, for origin.<domain> on the ALB; by default the
 * stack issues one, DNS-validated in its hosted zone).
 *
 * LocalStack only: `-c localRedisHost=…` / `-c localRedisPort=…` say where the queue monitor, run
 * in LocalStack's Lambda container, reaches Redis (default: the Docker host, the design's port).
 */
import { App } from 'aws-cdk-lib';
import { designTopology } from '../topology.ts';
import { DEFAULT_STACK_NAMES, DEPLOY_TARGETS, type DeployTarget } from './stack-outputs.ts';
import { TiketiStack } from './tiketi-stack.ts';

// How a container started by LocalStack reaches a server on the machine running Docker.
const DEFAULT_LOCAL_REDIS_HOST = 'host.docker.internal';

function contextString(app: App, key: string): string | undefined {
  const value: unknown = app.node.tryGetContext(key);
  return value === undefined || value === null || value === '' ? undefined : String(value);
}

function deployTarget(value: string | undefined): DeployTarget {
  const target = value ?? 'aws';
  if (!(DEPLOY_TARGETS as readonly string[]).includes(target)) {
    throw new Error(`context target must be one of ${DEPLOY_TARGETS.join(', ')}, got "${target}"`);
  }
  return target as DeployTarget;
}

const app = new App();
const target = deployTarget(contextString(app, 'target'));
const localRedisPort = Number(contextString(app, 'localRedisPort') ?? designTopology.redis.port);
if (!Number.isInteger(localRedisPort) || localRedisPort <= 0) {
  throw new Error(
    `context localRedisPort must be a port number, got "${contextString(app, 'localRedisPort')}"`,
  );
}
const certificateArn = contextString(app, 'certificateArn');
const originCertificateArn = contextString(app, 'originCertificateArn');

new TiketiStack(app, contextString(app, 'stackName') ?? DEFAULT_STACK_NAMES[target], {
  topology: designTopology,
  target,
  description: `TIKETI production design (${target})`,
  ...(target === 'localstack'
    ? {
        localRedis: {
          host: contextString(app, 'localRedisHost') ?? DEFAULT_LOCAL_REDIS_HOST,
          port: localRedisPort,
        },
      }
    : {}),
  ...(certificateArn ? { distributionCertificateArn: certificateArn } : {}),
  ...(originCertificateArn ? { originCertificateArn } : {}),
});
app.synth();
