/**
 * The design's security groups: only CloudFront reaches the ALB (HTTPS, from its origin-facing
 * managed prefix list), the ALB only the instances' target port, the instances only Aurora, and
 * Redis only the instances and the queue monitor.
 */
import { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as cr from 'aws-cdk-lib/custom-resources';
import type { Construct } from 'constructs';
import type { Topology } from '../topology.ts';
import { acceptFinding, managedPolicyFinding } from './nag-suppressions.ts';

/** The ports of the HTTP protocols themselves, not design figures. */
export const HTTP_PORT = 80;
export const HTTPS_PORT = 443;

/** AWS's managed prefix list of CloudFront's origin-facing addresses (the same name in every region). */
export const CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST = 'com.amazonaws.global.cloudfront.origin-facing';

export interface ServiceSecurityGroups {
  alb: ec2.SecurityGroup;
  instances: ec2.SecurityGroup;
  database: ec2.SecurityGroup;
  redis: ec2.SecurityGroup;
}

/** The queue monitor's group; both targets have it, since the Lambda runs in the VPC in both. */
export function createLambdaSecurityGroup(scope: Construct, vpc: ec2.IVpc): ec2.SecurityGroup {
  // Egress stays open: the function reaches CloudWatch's public API through the NAT.
  return new ec2.SecurityGroup(scope, 'QueueMonitorSecurityGroup', {
    vpc,
    description: 'tiketi queue-monitor Lambda',
  });
}

/**
 * The id of CloudFront's origin-facing prefix list, looked up by name when the stack deploys (its
 * id differs per region, and a synth-time lookup would need an AWS account).
 */
export function cloudFrontPrefixListId(scope: Construct): string {
  const lookup = new cr.AwsCustomResource(scope, 'CloudFrontPrefixListLookup', {
    onUpdate: {
      service: 'EC2',
      action: 'describeManagedPrefixLists',
      parameters: { Filters: [{ Name: 'prefix-list-name', Values: [CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST] }] },
      physicalResourceId: cr.PhysicalResourceId.of(CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST),
      outputPaths: ['PrefixLists.0.PrefixListId'],
    },
    // DescribeManagedPrefixLists has no resource-level permissions.
    policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: cr.AwsCustomResourcePolicy.ANY_RESOURCE }),
    installLatestAwsSdk: false,
  });
  acceptFinding(
    lookup,
    'AwsSolutions-IAM5[Resource::*]',
    'ec2:DescribeManagedPrefixLists has no resource-level permissions: its only resource is *.',
  );
  // The provider function CDK adds once per stack for AwsCustomResource.
  const providerId = `AWS${cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replaceAll('-', '')}`;
  const provider = Stack.of(scope).node.tryFindChild(providerId);
  if (provider) {
    acceptFinding(
      provider,
      managedPolicyFinding('service-role/AWSLambdaBasicExecutionRole'),
      'AWSLambdaBasicExecutionRole (write its own logs) on the AwsCustomResource provider CDK creates.',
    );
  }
  return lookup.getResponseField('PrefixLists.0.PrefixListId');
}

export function createServiceSecurityGroups(
  scope: Construct,
  options: { vpc: ec2.IVpc; topology: Topology; lambda: ec2.ISecurityGroup; cloudFrontPrefixListId: string },
): ServiceSecurityGroups {
  const { vpc, topology } = options;
  const group = (id: string, description: string) => new ec2.SecurityGroup(scope, id, { vpc, description });
  const alb = group('AlbSecurityGroup', 'tiketi ALB: HTTPS from CloudFront only');
  const instances = group('InstanceSecurityGroup', 'tiketi app instances: target port from the ALB only');
  const database = group('DatabaseSecurityGroup', 'tiketi Aurora: from the app instances only');
  const redis = group('RedisSecurityGroup', 'tiketi Redis: from the app instances and the queue monitor');

  // One rule only: the prefix list weighs 55 against the group's 60-rule quota, so port 80 stays
  // closed (CloudFront reaches the origin over HTTPS only).
  alb.addIngressRule(
    ec2.Peer.prefixList(options.cloudFrontPrefixListId),
    ec2.Port.tcp(HTTPS_PORT),
    'HTTPS from CloudFront (origin-facing prefix list)',
  );
  for (const port of instancePortsReachedByAlb(topology)) {
    instances.addIngressRule(alb, ec2.Port.tcp(port), 'from the ALB');
  }
  database.addIngressRule(instances, ec2.Port.tcp(topology.database.port), 'from the app instances');
  redis.addIngressRule(instances, ec2.Port.tcp(topology.redis.port), 'from the app instances');
  redis.addIngressRule(options.lambda, ec2.Port.tcp(topology.redis.port), 'from the queue monitor');
  return { alb, instances, database, redis };
}

/** Traffic and health checks; one port in the design, two if the topology ever splits them. */
function instancePortsReachedByAlb(topology: Topology): number[] {
  return [...new Set([topology.loadBalancer.targetPort, topology.loadBalancer.healthCheck.port])];
}
