/**
 * The design's security groups: the internet reaches only the ALB, the ALB only the instances'
 * target port, the instances only Aurora, and Redis only the instances and the queue monitor.
 */
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';
import type { Topology } from '../topology.ts';

/** The ports of the HTTP protocols themselves, not design figures: the ALB listens on both. */
export const HTTP_PORT = 80;
export const HTTPS_PORT = 443;

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

export function createServiceSecurityGroups(
  scope: Construct,
  vpc: ec2.IVpc,
  topology: Topology,
  lambda: ec2.ISecurityGroup,
): ServiceSecurityGroups {
  const group = (id: string, description: string) => new ec2.SecurityGroup(scope, id, { vpc, description });
  const alb = group('AlbSecurityGroup', 'tiketi ALB: HTTP and HTTPS from the internet');
  const instances = group('InstanceSecurityGroup', 'tiketi app instances: target port from the ALB only');
  const database = group('DatabaseSecurityGroup', 'tiketi Aurora: from the app instances only');
  const redis = group('RedisSecurityGroup', 'tiketi Redis: from the app instances and the queue monitor');

  for (const port of [HTTP_PORT, HTTPS_PORT]) {
    alb.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(port), 'from the internet');
  }
  for (const port of instancePortsReachedByAlb(topology)) {
    instances.addIngressRule(alb, ec2.Port.tcp(port), 'from the ALB');
  }
  database.addIngressRule(instances, ec2.Port.tcp(topology.database.port), 'from the app instances');
  redis.addIngressRule(instances, ec2.Port.tcp(topology.redis.port), 'from the app instances');
  redis.addIngressRule(lambda, ec2.Port.tcp(topology.redis.port), 'from the queue monitor');
  return { alb, instances, database, redis };
}

/** Traffic and health checks; one port in the design, two if the topology ever splits them. */
function instancePortsReachedByAlb(topology: Topology): number[] {
  return [...new Set([topology.loadBalancer.targetPort, topology.loadBalancer.healthCheck.port])];
}
