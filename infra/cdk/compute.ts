/**
 * The app tier: an internet-facing ALB, its target group (health check, stickiness, draining),
 * a launch template, the Auto Scaling group and the design's simple scaling policies.
 */
import { Annotations, Duration } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import type { Topology } from '../topology.ts';
import type { Network } from './network.ts';
import { HTTP_PORT } from './security-groups.ts';

export interface ComputeOptions {
  topology: Topology;
  network: Network;
  securityGroups: { alb: ec2.ISecurityGroup; instances: ec2.ISecurityGroup };
  userData: ec2.UserData;
  instanceRole: iam.IRole;
}

export interface Compute {
  loadBalancer: elbv2.ApplicationLoadBalancer;
  targetGroup: elbv2.ApplicationTargetGroup;
  autoScalingGroup: autoscaling.AutoScalingGroup;
  /** Keyed by the topology's policy names, which the alarms refer to. */
  scalingPolicies: Map<string, autoscaling.CfnScalingPolicy>;
}

export function createCompute(scope: Construct, options: ComputeOptions): Compute {
  const { topology, network, securityGroups } = options;
  const loadBalancer = new elbv2.ApplicationLoadBalancer(scope, 'LoadBalancer', {
    vpc: network.vpc,
    vpcSubnets: network.publicSubnets,
    internetFacing: true,
    loadBalancerName: topology.loadBalancer.name,
    securityGroup: securityGroups.alb,
    idleTimeout: Duration.seconds(topology.loadBalancer.idleTimeoutSeconds),
  });
  const targetGroup = createTargetGroup(scope, topology, network.vpc);
  // `open: false`: the ALB's security group already states who may connect.
  loadBalancer.addListener('Http', {
    port: HTTP_PORT,
    protocol: elbv2.ApplicationProtocol.HTTP,
    open: false,
    defaultTargetGroups: [targetGroup],
  });

  const launchTemplate = new ec2.LaunchTemplate(scope, 'LaunchTemplate', {
    instanceType: new ec2.InstanceType(topology.instance.type),
    // Resolved through a public SSM parameter at deploy time: synth needs no lookup.
    machineImage: ec2.MachineImage.latestAmazonLinux2023(),
    userData: options.userData,
    role: options.instanceRole,
    securityGroup: securityGroups.instances,
    requireImdsv2: true,
  });
  const autoScalingGroup = createAutoScalingGroup(scope, topology, network, launchTemplate);
  autoScalingGroup.attachToApplicationTargetGroup(targetGroup);
  const scalingPolicies = createSimpleScalingPolicies(scope, topology, autoScalingGroup);
  return { loadBalancer, targetGroup, autoScalingGroup, scalingPolicies };
}

function createTargetGroup(scope: Construct, topology: Topology, vpc: ec2.IVpc) {
  const lb = topology.loadBalancer;
  const check = lb.healthCheck;
  return new elbv2.ApplicationTargetGroup(scope, 'TargetGroup', {
    vpc,
    port: lb.targetPort,
    protocol: elbv2.ApplicationProtocol.HTTP,
    targetType: elbv2.TargetType.INSTANCE,
    healthCheck: {
      path: check.path,
      port: String(check.port),
      protocol: elbv2.Protocol.HTTP,
      interval: Duration.seconds(check.intervalSeconds),
      timeout: Duration.seconds(check.timeoutSeconds),
      healthyThresholdCount: check.healthyThresholdCount,
      unhealthyThresholdCount: check.unhealthyThresholdCount,
      healthyHttpCodes: check.successCodes,
    },
    // A duration without a cookie name is ALB's own `lb_cookie` (AWSALB) stickiness.
    ...(lb.stickiness.enabled
      ? { stickinessCookieDuration: Duration.seconds(lb.stickiness.durationSeconds) }
      : {}),
    deregistrationDelay: Duration.seconds(lb.deregistrationDelaySeconds),
    loadBalancingAlgorithmType:
      lb.algorithm === 'least_outstanding_requests'
        ? elbv2.TargetGroupLoadBalancingAlgorithmType.LEAST_OUTSTANDING_REQUESTS
        : elbv2.TargetGroupLoadBalancingAlgorithmType.ROUND_ROBIN,
  });
}

function createAutoScalingGroup(
  scope: Construct,
  topology: Topology,
  network: Network,
  launchTemplate: ec2.ILaunchTemplate,
): autoscaling.AutoScalingGroup {
  const asg = topology.autoScalingGroup;
  const gracePeriod = Duration.seconds(asg.healthCheckGracePeriodSeconds);
  const group = new autoscaling.AutoScalingGroup(scope, 'AutoScalingGroup', {
    autoScalingGroupName: asg.name,
    vpc: network.vpc,
    vpcSubnets: network.privateSubnets,
    launchTemplate,
    minCapacity: asg.minSize,
    maxCapacity: asg.maxSize,
    desiredCapacity: asg.desiredCapacity,
    cooldown: Duration.seconds(asg.defaultCooldownSeconds),
    healthChecks:
      asg.healthCheckType === 'ELB'
        ? autoscaling.HealthChecks.withAdditionalChecks({
            additionalTypes: [autoscaling.AdditionalHealthCheckType.ELB],
            gracePeriod,
          })
        : autoscaling.HealthChecks.ec2({ gracePeriod }),
  });
  Annotations.of(group).acknowledgeWarning(
    '@aws-cdk/aws-autoscaling:desiredCapacitySet',
    'The design sets a desired capacity; docs/infra.md says not to deploy during a drop, as it resets the size.',
  );
  return group;
}

/**
 * Simple scaling, as the design has it (one adjustment, then a cooldown), rather than the step
 * or target-tracking policies CDK's L2 offers; hence the L1 resource.
 */
function createSimpleScalingPolicies(
  scope: Construct,
  topology: Topology,
  asg: autoscaling.IAutoScalingGroup,
): Map<string, autoscaling.CfnScalingPolicy> {
  const policies = new Map<string, autoscaling.CfnScalingPolicy>();
  for (const policy of topology.scalingPolicies) {
    policies.set(
      policy.name,
      new autoscaling.CfnScalingPolicy(scope, `ScalingPolicy-${policy.name}`, {
        autoScalingGroupName: asg.autoScalingGroupName,
        policyType: 'SimpleScaling',
        adjustmentType: policy.adjustmentType,
        scalingAdjustment: policy.scalingAdjustment,
        cooldown: String(policy.cooldownSeconds),
      }),
    );
  }
  return policies;
}
