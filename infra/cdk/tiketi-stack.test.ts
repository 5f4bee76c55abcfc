import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import { parseQueueMonitorEnvironment } from '../../app/lambda/environment.ts';
import { createQueueMonitorHandler, type PutMetricDataInput } from '../../app/lambda/queue-monitor.ts';
import {
  alarmSeriesOf,
  designTopology,
  mergeTopology,
  type QueueMetricSettings,
  queueMetricSettingsOf,
  type Topology,
} from '../topology.ts';
import { clusterModeParameterGroup, ELASTICACHE_DEFAULT_PUBSUB_LIMIT } from './data.ts';
import { natGatewayCount } from './network.ts';
import { lambdaRuntimeNamed } from './queue-monitor.ts';
import { REPOSITORY_ROOT } from './repository.ts';
import { type StackOutputName, stackOutputDescription, stackOutputNames } from './stack-outputs.ts';
import { TiketiStack, type TiketiStackProps } from './tiketi-stack.ts';

const run = promisify(execFile);
const SYNTH_TIMEOUT_MS = 120_000;
const CLI_TIMEOUT_MS = 180_000;
const LOCAL_REDIS = { host: 'redis.test.internal', port: 16_379 };

// The CLI synthesizes with cdk.json's feature flags; these tests use the very same ones.
const cdkJson = JSON.parse(readFileSync(join(REPOSITORY_ROOT, 'cdk.json'), 'utf8')) as {
  app: string;
  context: Record<string, unknown>;
};

const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

/** An app with cdk.json's context, writing to a temp folder removed after the tests. */
function newApp(extraContext: Record<string, unknown> = {}): App {
  const outdir = mkdtempSync(join(tmpdir(), 'tiketi-cdk-test-'));
  outdirs.push(outdir);
  return new App({ outdir, context: { ...cdkJson.context, ...extraContext } });
}

// Skips esbuild where only the template matters.
const WITHOUT_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

function synthesize(
  target: TiketiStackProps['target'],
  topology: Topology = designTopology,
  extra: Partial<TiketiStackProps> = {},
): { stack: TiketiStack; template: Template } {
  const app = newApp();
  const stack = new TiketiStack(app, 'TiketiTest', {
    topology,
    target,
    ...(target === 'localstack' ? { localRedis: LOCAL_REDIS } : {}),
    ...extra,
  });
  return { stack, template: Template.fromStack(stack) };
}

type Resource = { Type: string; Properties: Record<string, unknown> };

function resourcesOfType(template: Template, type: string): [string, Resource][] {
  return Object.entries(template.findResources(type) as Record<string, Resource>);
}

function onlyResource(template: Template, type: string): [string, Resource] {
  const found = resourcesOfType(template, type);
  expect(found, type).toHaveLength(1);
  return found[0]!;
}

/** `{ "Fn::GetAtt": [id, "GroupId"] }` or `{ Ref: id }` → id. */
function referencedId(value: unknown): string {
  const v = value as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
  const id = v.Ref ?? v['Fn::GetAtt']?.[0];
  if (!id) throw new Error(`not a reference: ${JSON.stringify(value)}`);
  return id;
}

function subnetIdByCidr(template: Template): Map<string, string> {
  return new Map(
    resourcesOfType(template, 'AWS::EC2::Subnet').map(([id, r]) => [r.Properties.CidrBlock as string, id]),
  );
}

interface IngressRule {
  protocol: string;
  fromPort: number;
  toPort: number;
  source: string;
}

/** Every ingress rule of a security group, inline or as a separate resource, in one shape. */
function ingressRulesOf(template: Template, groupId: string): IngressRule[] {
  const normalise = (rule: Record<string, unknown>): IngressRule => ({
    protocol: rule.IpProtocol as string,
    fromPort: rule.FromPort as number,
    toPort: rule.ToPort as number,
    source: rule.SourceSecurityGroupId
      ? `sg:${referencedId(rule.SourceSecurityGroupId)}`
      : rule.SourcePrefixListId
        ? `pl:${JSON.stringify(rule.SourcePrefixListId)}`
        : `cidr:${rule.CidrIp as string}`,
  });
  const group = template.toJSON().Resources[groupId] as Resource;
  const inline = ((group.Properties.SecurityGroupIngress as Record<string, unknown>[] | undefined) ?? []).map(
    normalise,
  );
  const separate = resourcesOfType(template, 'AWS::EC2::SecurityGroupIngress')
    .filter(([, r]) => referencedId(r.Properties.GroupId) === groupId)
    .map(([, r]) => normalise(r.Properties));
  return [...inline, ...separate].sort((a, b) => a.fromPort - b.fromPort || a.source.localeCompare(b.source));
}

/** User data is `Fn::Base64` of an `Fn::Join`; tokens are rendered as their JSON. */
function userDataScript(template: Template): string {
  const [, launchTemplate] = onlyResource(template, 'AWS::EC2::LaunchTemplate');
  const data = launchTemplate.Properties.LaunchTemplateData as { UserData: { 'Fn::Base64': unknown } };
  const joined = data.UserData['Fn::Base64'] as { 'Fn::Join': [string, unknown[]] };
  return joined['Fn::Join'][1]
    .map((part) => (typeof part === 'string' ? part : JSON.stringify(part)))
    .join('');
}

const seriesKey = (namespace: string, metricName: string, dimensions: { Name: string; Value: string }[]) =>
  `${namespace}|${metricName}|${dimensions.map((d) => `${d.Name}=${d.Value}`).join(',')}`;

/** Every series the real handler publishes for these events, run on an in-memory queue reader. */
async function publishedBy(settings: QueueMetricSettings, eventIds: string[]): Promise<Set<string>> {
  const sent: PutMetricDataInput[] = [];
  await createQueueMonitorHandler({
    redis: { smembers: async () => eventIds, zcard: async () => 6_000, scard: async () => 10 },
    sink: { putMetricData: async (input) => sent.push(input) },
    settings,
  })();
  return new Set(
    sent.flatMap((input) =>
      input.MetricData.map((d) => seriesKey(input.Namespace, d.MetricName, d.Dimensions)),
    ),
  );
}

/** The queue monitor (the other function is CDK's provider for the prefix-list lookup). */
function queueMonitorFunction(template: Template): [string, Resource] {
  const found = resourcesOfType(template, 'AWS::Lambda::Function').filter(([id]) =>
    id.startsWith('QueueMonitor'),
  );
  expect(found).toHaveLength(1);
  return found[0]!;
}

/** The versioned bucket with CORS: the React build's. */
function frontendBucket(template: Template): [string, Resource] {
  const found = resourcesOfType(template, 'AWS::S3::Bucket').filter(
    ([, r]) => r.Properties.CorsConfiguration,
  );
  expect(found).toHaveLength(1);
  return found[0]!;
}

describe('TiketiStack, target aws (the whole design)', () => {
  let stack: TiketiStack;
  let template: Template;
  let subnets: Map<string, string>;
  /** Logical ids of the security groups, found through the resources that use them. */
  let groups: { alb: string; instances: string; database: string; redis: string; lambda: string };

  beforeAll(() => {
    ({ stack, template } = synthesize('aws'));
    subnets = subnetIdByCidr(template);
    const [, alb] = onlyResource(template, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    const [, launchTemplate] = onlyResource(template, 'AWS::EC2::LaunchTemplate');
    const [, cluster] = onlyResource(template, 'AWS::RDS::DBCluster');
    const [, redis] = onlyResource(template, 'AWS::ElastiCache::ReplicationGroup');
    const [, fn] = queueMonitorFunction(template);
    const single = (ids: unknown) => {
      expect(ids).toHaveLength(1);
      return referencedId((ids as unknown[])[0]);
    };
    groups = {
      alb: single(alb.Properties.SecurityGroups),
      instances: single(
        (launchTemplate.Properties.LaunchTemplateData as Record<string, unknown>).SecurityGroupIds,
      ),
      database: single(cluster.Properties.VpcSecurityGroupIds),
      redis: single(redis.Properties.SecurityGroupIds),
      lambda: single((fn.Properties.VpcConfig as Record<string, unknown>).SecurityGroupIds),
    };
  }, SYNTH_TIMEOUT_MS);

  describe('network', () => {
    it('builds the VPC on 10.0.0.0/16', () => {
      template.resourceCountIs('AWS::EC2::VPC', 1);
      template.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: '10.0.0.0/16' });
    });

    it('has the six subnets of the design, each in its AZ, with the exact CIDRs', () => {
      template.resourceCountIs('AWS::EC2::Subnet', 6);
      const expected = [
        ['10.0.1.0/24', 'ap-northeast-2a', true],
        ['10.0.2.0/24', 'ap-northeast-2b', true],
        ['10.0.11.0/24', 'ap-northeast-2a', false],
        ['10.0.12.0/24', 'ap-northeast-2b', false],
        ['10.0.21.0/24', 'ap-northeast-2a', false],
        ['10.0.22.0/24', 'ap-northeast-2b', false],
      ] as const;
      for (const [cidr, zone, isPublic] of expected) {
        template.hasResourceProperties('AWS::EC2::Subnet', {
          CidrBlock: cidr,
          AvailabilityZone: zone,
          MapPublicIpOnLaunch: isPublic,
        });
      }
    });

    it('has an internet gateway attached to the VPC', () => {
      const [igw] = onlyResource(template, 'AWS::EC2::InternetGateway');
      template.hasResourceProperties('AWS::EC2::VPCGatewayAttachment', { InternetGatewayId: { Ref: igw } });
    });

    it('has one NAT gateway (with its Elastic IP) in each AZ, in the public subnets', () => {
      template.resourceCountIs('AWS::EC2::NatGateway', 2);
      template.resourceCountIs('AWS::EC2::EIP', 2);
      const natSubnets = resourcesOfType(template, 'AWS::EC2::NatGateway')
        .map(([, r]) => referencedId(r.Properties.SubnetId))
        .sort();
      expect(natSubnets).toEqual([subnets.get('10.0.1.0/24'), subnets.get('10.0.2.0/24')].sort());
    });

    it('routes the private subnets out through a NAT gateway and leaves the database subnets without one', () => {
      const defaultRoutes = resourcesOfType(template, 'AWS::EC2::Route').filter(
        ([, r]) => r.Properties.DestinationCidrBlock === '0.0.0.0/0',
      );
      expect(defaultRoutes.filter(([, r]) => r.Properties.NatGatewayId)).toHaveLength(2);
      expect(defaultRoutes.filter(([, r]) => r.Properties.GatewayId)).toHaveLength(2);
      expect(defaultRoutes).toHaveLength(4);
      const databaseRouteTables = resourcesOfType(template, 'AWS::EC2::SubnetRouteTableAssociation')
        .filter(([, r]) =>
          [subnets.get('10.0.21.0/24'), subnets.get('10.0.22.0/24')].includes(
            referencedId(r.Properties.SubnetId),
          ),
        )
        .map(([, r]) => referencedId(r.Properties.RouteTableId));
      expect(databaseRouteTables).toHaveLength(2);
      for (const [, route] of defaultRoutes) {
        expect(databaseRouteTables).not.toContain(referencedId(route.Properties.RouteTableId));
      }
    });

    it('has a gateway endpoint for S3', () => {
      template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Gateway',
        ServiceName: Match.objectLike({
          'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('\\.s3$')])],
        }),
      });
    });
  });

  describe('security groups', () => {
    it("opens the ALB on 443 to CloudFront's origin-facing prefix list only, looked up at deploy", () => {
      const [lookup, resource] = onlyResource(template, 'Custom::AWS');
      expect(JSON.stringify(resource.Properties)).toContain('com.amazonaws.global.cloudfront.origin-facing');
      expect(ingressRulesOf(template, groups.alb)).toEqual([
        {
          protocol: 'tcp',
          fromPort: 443,
          toPort: 443,
          source: `pl:${JSON.stringify({ 'Fn::GetAtt': [lookup, 'PrefixLists.0.PrefixListId'] })}`,
        },
      ]);
      expect(JSON.stringify(template.toJSON())).not.toContain('0.0.0.0/0","Description":"from the internet');
    });

    it('lets only the ALB reach the instances, on port 3001', () => {
      expect(ingressRulesOf(template, groups.instances)).toEqual([
        { protocol: 'tcp', fromPort: 3001, toPort: 3001, source: `sg:${groups.alb}` },
      ]);
    });

    it('lets only the instances reach Aurora, on port 5432', () => {
      expect(ingressRulesOf(template, groups.database)).toEqual([
        { protocol: 'tcp', fromPort: 5432, toPort: 5432, source: `sg:${groups.instances}` },
      ]);
    });

    it('lets only the instances and the queue monitor reach Redis, on port 6379', () => {
      expect(ingressRulesOf(template, groups.redis)).toEqual(
        [
          { protocol: 'tcp', fromPort: 6379, toPort: 6379, source: `sg:${groups.instances}` },
          { protocol: 'tcp', fromPort: 6379, toPort: 6379, source: `sg:${groups.lambda}` },
        ].sort((a, b) => a.source.localeCompare(b.source)),
      );
    });

    it('gives the Lambda its own group that nothing may connect to', () => {
      expect(new Set(Object.values(groups)).size).toBe(5);
      expect(ingressRulesOf(template, groups.lambda)).toEqual([]);
    });
  });

  describe('load balancer', () => {
    it('is internet-facing in the public subnets', () => {
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
        Scheme: 'internet-facing',
        Type: 'application',
        Subnets: Match.arrayEquals([
          { Ref: subnets.get('10.0.1.0/24') },
          { Ref: subnets.get('10.0.2.0/24') },
        ]),
      });
    });

    it('has the target group of the design: port, health check, stickiness, draining', () => {
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
        Port: 3001,
        Protocol: 'HTTP',
        TargetType: 'instance',
        HealthCheckPath: '/health',
        HealthCheckPort: '3001',
        HealthCheckProtocol: 'HTTP',
        HealthCheckIntervalSeconds: 30,
        HealthCheckTimeoutSeconds: 5,
        HealthyThresholdCount: 3,
        UnhealthyThresholdCount: 2,
        Matcher: { HttpCode: '200' },
      });
      const [, targetGroup] = onlyResource(template, 'AWS::ElasticLoadBalancingV2::TargetGroup');
      const attributes = Object.fromEntries(
        (targetGroup.Properties.TargetGroupAttributes as { Key: string; Value: string }[]).map((a) => [
          a.Key,
          a.Value,
        ]),
      );
      expect(attributes).toMatchObject({
        'stickiness.enabled': 'true',
        'stickiness.type': 'lb_cookie',
        'stickiness.lb_cookie.duration_seconds': '86400',
        'deregistration_delay.timeout_seconds': '300',
      });
    });
  });

  describe('instances', () => {
    it('launches t3.medium Amazon Linux 2023 from an SSM parameter, IMDSv2 only', () => {
      const parameters = template.toJSON().Parameters as Record<string, { Type: string; Default: string }>;
      const [amiParameter] =
        Object.entries(parameters).find(([, p]) => p.Default?.includes('al2023-ami')) ?? [];
      expect(amiParameter).toBeDefined();
      template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
        LaunchTemplateData: Match.objectLike({
          InstanceType: 't3.medium',
          ImageId: { Ref: amiParameter },
          MetadataOptions: { HttpTokens: 'required' },
        }),
      });
    });

    it('boots Node 20, fetches the build and runs the app with its environment', () => {
      const script = userDataScript(template);
      expect(script).toContain('dnf install -y nodejs20');
      expect(script).toMatch(/aws s3 cp .*s3:\/\/.*\.zip/);
      // The build is bundled once: no package manager and no registry at boot.
      expect(script).not.toMatch(/\bnpm|npx|yarn|pnpm/);
      expect(script).toContain('PORT=3001\n');
      expect(script).toContain('INSTANCE_ID=$(imds instance-id)');
      expect(script).toContain('AZ=$(imds placement/availability-zone)');
      const [cluster] = onlyResource(template, 'AWS::RDS::DBCluster');
      expect(script).toContain(`DB_WRITER_HOST={"Fn::GetAtt":["${cluster}","Endpoint.Address"]}`);
      expect(script).toContain(`DB_READER_HOST={"Fn::GetAtt":["${cluster}","ReadEndpoint.Address"]}`);
      expect(script).toMatch(/APP_SECRET_ARN=\{"Ref":"AppSecret\w+"\}/);
      expect(script).toContain('exec /usr/bin/node-20 /opt/tiketi/main.mjs');
      expect(script).toContain('systemctl enable --now tiketi');
    });

    it('points the app at the cluster-mode configuration endpoint, with TLS, as a cluster client', () => {
      const script = userDataScript(template);
      const address = '{"Fn::GetAtt":["Redis","ConfigurationEndPoint.Address"]}';
      const port = '{"Fn::GetAtt":["Redis","ConfigurationEndPoint.Port"]}';
      expect(script).toContain(`REDIS_CLUSTER_NODES=${address}:${port}\n`);
      expect(script).toContain('REDIS_TLS=true\n');
      expect(script).not.toContain('REDIS_URL=');
      // The environment file as the app's own config reads it, once CloudFormation resolved the
      // endpoint: a cluster client with TLS, nothing else.
      const envFile = /cat > \/etc\/tiketi\/instance\.env <<EOF\n([\s\S]*?)\nEOF/.exec(script)?.[1];
      expect(envFile).toBeDefined();
      const env = Object.fromEntries(
        envFile!
          .replaceAll(address, 'clustercfg.tiketi.abc123.apn2.cache.amazonaws.com')
          .replaceAll(port, '6379')
          .split('\n')
          .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
      );
      const config = loadConfig({
        ...env,
        DATABASE_URL: 'postgres://db/tiketi',
        TOKEN_SECRET: 'x'.repeat(32),
      });
      expect(config.redis).toEqual({
        kind: 'cluster',
        nodes: [{ host: 'clustercfg.tiketi.abc123.apn2.cache.amazonaws.com', port: 6379 }],
        tls: true,
      });
      // start.sh exports the AUTH token it reads from Secrets Manager as REDIS_PASSWORD.
      const withToken = loadConfig({
        ...env,
        REDIS_PASSWORD: 'auth-token-from-secrets-manager',
        DATABASE_URL: 'postgres://db/tiketi',
        TOKEN_SECRET: 'x'.repeat(32),
      });
      expect(withToken.redis).toMatchObject({ kind: 'cluster', password: 'auth-token-from-secrets-manager' });
    });

    it('lets instances read the build and both secrets', () => {
      const policies = resourcesOfType(template, 'AWS::IAM::Policy').map(([, r]) =>
        JSON.stringify(r.Properties),
      );
      const instancePolicy = policies.find((p) => p.includes('InstanceRole'));
      expect(instancePolicy).toBeDefined();
      expect(instancePolicy).toContain('secretsmanager:GetSecretValue');
      expect(instancePolicy).toContain('s3:GetObject');
      expect(instancePolicy).toMatch(/AppSecret/);
      expect(instancePolicy).toMatch(/DatabaseSecretAttachment/);
    });

    it('has the Auto Scaling group of the design in the private subnets, behind the target group', () => {
      const [targetGroup] = onlyResource(template, 'AWS::ElasticLoadBalancingV2::TargetGroup');
      template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
        MinSize: '2',
        MaxSize: '10',
        DesiredCapacity: '2',
        HealthCheckType: 'ELB',
        HealthCheckGracePeriod: 300,
        TargetGroupARNs: [{ Ref: targetGroup }],
        VPCZoneIdentifier: Match.arrayEquals([
          { Ref: subnets.get('10.0.11.0/24') },
          { Ref: subnets.get('10.0.12.0/24') },
        ]),
      });
    });

    it('has the three simple scaling policies: +2/180 s, +5/300 s, -1/600 s', () => {
      const [group] = onlyResource(template, 'AWS::AutoScaling::AutoScalingGroup');
      const policies = resourcesOfType(template, 'AWS::AutoScaling::ScalingPolicy').map(
        ([, r]) => r.Properties,
      );
      expect(policies).toHaveLength(3);
      for (const policy of policies) {
        expect(policy).toMatchObject({
          PolicyType: 'SimpleScaling',
          AdjustmentType: 'ChangeInCapacity',
          AutoScalingGroupName: { Ref: group },
        });
      }
      expect(policies.map((p) => [p.ScalingAdjustment, p.Cooldown])).toEqual(
        expect.arrayContaining([
          [2, '180'],
          [5, '300'],
          [-1, '600'],
        ]),
      );
    });
  });

  describe('alarms', () => {
    const policyWith = (adjustment: number) => {
      const found = resourcesOfType(template, 'AWS::AutoScaling::ScalingPolicy').filter(
        ([, r]) => r.Properties.ScalingAdjustment === adjustment,
      );
      expect(found).toHaveLength(1);
      return found[0]![0];
    };
    const designAlarms = [
      {
        name: 'tiketi-queue-scale-out',
        threshold: 5_000,
        comparison: 'GreaterThanThreshold',
        period: 60,
        evaluations: 1,
        adjustment: 2,
      },
      {
        name: 'tiketi-queue-scale-out-aggressive',
        threshold: 20_000,
        comparison: 'GreaterThanThreshold',
        period: 60,
        evaluations: 1,
        adjustment: 5,
      },
      {
        name: 'tiketi-queue-scale-in',
        threshold: 1_000,
        comparison: 'LessThanThreshold',
        period: 300,
        evaluations: 2,
        adjustment: -1,
      },
    ];

    it('has exactly the three alarms of the design', () => {
      template.resourceCountIs('AWS::CloudWatch::Alarm', 3);
      expect(stack.alarms).toHaveLength(3);
    });

    for (const alarm of designAlarms) {
      it(`${alarm.name}: QueueSize ${alarm.comparison} ${alarm.threshold} over ${alarm.evaluations} × ${alarm.period} s invokes its policy`, () => {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          AlarmName: `TiketiTest-${alarm.name}`,
          Namespace: 'Tiketi/Queue',
          MetricName: 'QueueSize',
          Dimensions: Match.absent(),
          Statistic: 'Average',
          Period: alarm.period,
          EvaluationPeriods: alarm.evaluations,
          DatapointsToAlarm: alarm.evaluations,
          Threshold: alarm.threshold,
          ComparisonOperator: alarm.comparison,
          AlarmActions: [{ 'Fn::GetAtt': [policyWith(alarm.adjustment), 'Arn'] }],
        });
      });
    }

    it('watches the fleet-wide series the queue monitor publishes (one definition: alarmSeriesOf)', async () => {
      const [, fn] = queueMonitorFunction(template);
      const environment = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      const stringOnly = Object.fromEntries(
        Object.entries(environment).map(([k, v]) => [k, typeof v === 'string' ? v : 'token']),
      );
      // What the deployed function publishes under, read the way the function reads it.
      const { settings } = parseQueueMonitorEnvironment({ ...stringOnly, REDIS_PORT: '6379' });
      expect(settings).toEqual(queueMetricSettingsOf(designTopology));
      const published = await publishedBy(settings, ['concert-42', 'another-drop']);
      for (const [, alarm] of resourcesOfType(template, 'AWS::CloudWatch::Alarm')) {
        const key = seriesKey(
          alarm.Properties.Namespace as string,
          alarm.Properties.MetricName as string,
          (alarm.Properties.Dimensions as { Name: string; Value: string }[] | undefined) ?? [],
        );
        expect(published.has(key), `${alarm.Properties.AlarmName as string} watches ${key}`).toBe(true);
      }
      for (const definition of designTopology.alarms) {
        const series = alarmSeriesOf(designTopology, definition);
        expect(series.dimensions).toEqual([]);
      }
    });
  });

  describe('data', () => {
    it('has Redis 7 in cluster mode: 2 shards × 1 replica, Multi-AZ, failover, encrypted, in the private subnets', () => {
      template.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
        Engine: 'redis',
        EngineVersion: '7.0',
        CacheNodeType: 'cache.t4g.micro',
        ClusterMode: 'enabled',
        CacheParameterGroupName: 'default.redis7.cluster.on',
        NumNodeGroups: 2,
        ReplicasPerNodeGroup: 1,
        MultiAZEnabled: true,
        AutomaticFailoverEnabled: true,
        TransitEncryptionEnabled: true,
        AtRestEncryptionEnabled: true,
        SnapshotRetentionLimit: 5,
        Port: 6379,
      });
      template.hasResourceProperties('AWS::ElastiCache::SubnetGroup', {
        SubnetIds: Match.arrayEquals([
          { Ref: subnets.get('10.0.11.0/24') },
          { Ref: subnets.get('10.0.12.0/24') },
        ]),
      });
    });

    it('has Aurora PostgreSQL 15.3, a writer and a reader, encrypted, protected, backed up, in the DB subnets', () => {
      template.hasResourceProperties('AWS::RDS::DBCluster', {
        Engine: 'aurora-postgresql',
        EngineVersion: '15.3',
        Port: 5432,
        StorageEncrypted: true,
        DeletionProtection: true,
        BackupRetentionPeriod: 7,
        PreferredBackupWindow: '03:00-04:00',
        PreferredMaintenanceWindow: 'sun:04:00-sun:05:00',
      });
      const instances = resourcesOfType(template, 'AWS::RDS::DBInstance');
      expect(instances).toHaveLength(2);
      for (const [, instance] of instances) {
        expect(instance.Properties).toMatchObject({
          Engine: 'aurora-postgresql',
          DBInstanceClass: 'db.t4g.medium',
        });
      }
      template.hasResourceProperties('AWS::RDS::DBSubnetGroup', {
        SubnetIds: Match.arrayEquals([
          { Ref: subnets.get('10.0.21.0/24') },
          { Ref: subnets.get('10.0.22.0/24') },
        ]),
      });
    });

    it('keeps the database credentials in a generated Secrets Manager secret', () => {
      template.hasResourceProperties('AWS::SecretsManager::Secret', {
        GenerateSecretString: Match.objectLike({ SecretStringTemplate: '{"username":"tiketi"}' }),
      });
      template.hasResourceProperties('AWS::RDS::DBCluster', {
        MasterUserPassword: Match.objectLike({
          'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('resolve:secretsmanager')])],
        }),
      });
    });
  });

  describe('queue monitor', () => {
    it('runs app/lambda on a current Node runtime (not nodejs18.x) with 256 MB and 60 s, in the private subnets', () => {
      const [, fn] = queueMonitorFunction(template);
      expect(fn.Properties.Runtime).toBe('nodejs22.x');
      expect(fn.Properties.Runtime).not.toBe('nodejs18.x');
      expect(fn.Properties.FunctionName).toBeUndefined();
      expect(fn.Properties).toMatchObject({
        Handler: 'index.handler',
        MemorySize: 256,
        Timeout: 60,
        VpcConfig: {
          SubnetIds: [{ Ref: subnets.get('10.0.11.0/24') }, { Ref: subnets.get('10.0.12.0/24') }],
        },
        Environment: {
          Variables: {
            REDIS_HOST: { 'Fn::GetAtt': ['Redis', 'ConfigurationEndPoint.Address'] },
            REDIS_PORT: { 'Fn::GetAtt': ['Redis', 'ConfigurationEndPoint.Port'] },
            REDIS_TLS: 'true',
            REDIS_CLUSTER: 'true',
            REDIS_AUTH_SECRET_ARN: { Ref: expect.stringMatching(/^RedisAuthToken/) },
            METRIC_NAMESPACE: 'Tiketi/Queue',
            METRIC_DIMENSION: 'EventId',
            QUEUE_SIZE_METRIC: 'QueueSize',
            ACTIVE_USERS_METRIC: 'ActiveUsers',
            PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: '2773',
          },
        },
      });
    });

    it('bundled the handler with esbuild into the function asset', () => {
      const [, fn] = queueMonitorFunction(template);
      const key = (fn.Properties.Code as { S3Key: string }).S3Key;
      const assetDir = join(
        (stack.node.root as App).outdir,
        `asset.${key.replace(/\.zip$/, '')}`,
        'index.js',
      );
      const code = readFileSync(assetDir, 'utf8');
      expect(code).toContain('active-events');
      expect(code).toContain('Tiketi/Queue');
      // The bundle reads the cluster switch the function's environment sets.
      expect(code).toContain('REDIS_CLUSTER');
    });

    it('may put metrics only into its namespace', () => {
      template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Action: 'cloudwatch:PutMetricData',
              Effect: 'Allow',
              Resource: '*',
              Condition: { StringEquals: { 'cloudwatch:namespace': 'Tiketi/Queue' } },
            }),
          ]),
        },
      });
    });

    it('is run by EventBridge at rate(1 minute)', () => {
      const [fn] = queueMonitorFunction(template);
      template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(1 minute)',
        State: 'ENABLED',
        Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [fn, 'Arn'] } })],
      });
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        Principal: 'events.amazonaws.com',
        FunctionName: { 'Fn::GetAtt': [fn, 'Arn'] },
      });
    });
  });

  describe('edge', () => {
    it('has the frontend and uploads buckets, private, encrypted, logged, with generated names', () => {
      const buckets = resourcesOfType(template, 'AWS::S3::Bucket');
      expect(buckets).toHaveLength(3);
      for (const [, bucket] of buckets) {
        expect(bucket.Properties.BucketName).toBeUndefined();
        expect(bucket.Properties).toMatchObject({
          PublicAccessBlockConfiguration: {
            BlockPublicAcls: true,
            BlockPublicPolicy: true,
            IgnorePublicAcls: true,
            RestrictPublicBuckets: true,
          },
          BucketEncryption: {
            ServerSideEncryptionConfiguration: [
              { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
            ],
          },
        });
      }
      const [frontend] = frontendBucket(template);
      template.hasResourceProperties('AWS::S3::Bucket', {
        VersioningConfiguration: { Status: 'Enabled' },
        CorsConfiguration: {
          CorsRules: [{ AllowedMethods: ['GET', 'HEAD'], AllowedOrigins: ['https://tiketi.gg'] }],
        },
        LoggingConfiguration: Match.objectLike({ LogFilePrefix: 's3/frontend/' }),
      });
      expect(frontend).toMatch(/^FrontendBucket/);
    });

    it('serves the frontend bucket through CloudFront with origin access control, compressed, 86400 s TTL', () => {
      const [, distribution] = onlyResource(template, 'AWS::CloudFront::Distribution');
      const config = distribution.Properties.DistributionConfig as {
        Origins: { Id: string; DomainName: unknown; OriginAccessControlId?: unknown }[];
        DefaultCacheBehavior: { TargetOriginId: string; CachePolicyId: unknown; Compress: boolean };
      };
      const [frontend] = frontendBucket(template);
      const s3Origin = config.Origins.find((o) => config.DefaultCacheBehavior.TargetOriginId === o.Id)!;
      expect(s3Origin.DomainName).toEqual({ 'Fn::GetAtt': [frontend, 'RegionalDomainName'] });
      expect(s3Origin.OriginAccessControlId).toBeDefined();
      expect(config.DefaultCacheBehavior).toMatchObject({
        Compress: true,
        ViewerProtocolPolicy: 'redirect-to-https',
      });
      const [cachePolicy, policy] = onlyResource(template, 'AWS::CloudFront::CachePolicy');
      expect(config.DefaultCacheBehavior.CachePolicyId).toEqual({ Ref: cachePolicy });
      expect(policy.Properties.CachePolicyConfig).toMatchObject({ DefaultTTL: 86_400 });
    });

    it('sends /api/* (and Socket.IO) to the ALB, uncached, with every viewer header, cookie and query string', () => {
      const [, distribution] = onlyResource(template, 'AWS::CloudFront::Distribution');
      const config = distribution.Properties.DistributionConfig as {
        Origins: { Id: string; DomainName: unknown }[];
        CacheBehaviors: Record<string, unknown>[];
      };
      const albOrigin = config.Origins.find((o) => o.DomainName === 'origin.tiketi.gg');
      expect(albOrigin).toBeDefined();
      expect(config.CacheBehaviors.map((b) => b.PathPattern)).toEqual(['/api/*', '/socket.io/*']);
      for (const behavior of config.CacheBehaviors) {
        expect(behavior).toMatchObject({
          TargetOriginId: albOrigin!.Id,
          CachePolicyId: cloudfront.CachePolicy.CACHING_DISABLED.cachePolicyId,
          OriginRequestPolicyId: cloudfront.OriginRequestPolicy.ALL_VIEWER.originRequestPolicyId,
          ViewerProtocolPolicy: 'https-only',
        });
        expect(behavior.AllowedMethods).toEqual(
          expect.arrayContaining(['GET', 'POST', 'PUT', 'DELETE', 'PATCH']),
        );
      }
    });

    it('creates the tiketi.gg zone with an A alias to the distribution', () => {
      const [zone] = onlyResource(template, 'AWS::Route53::HostedZone');
      template.hasResourceProperties('AWS::Route53::HostedZone', { Name: 'tiketi.gg.' });
      const [distribution] = onlyResource(template, 'AWS::CloudFront::Distribution');
      template.hasResourceProperties('AWS::Route53::RecordSet', {
        Name: 'tiketi.gg.',
        Type: 'A',
        HostedZoneId: { Ref: zone },
        AliasTarget: Match.objectLike({ DNSName: { 'Fn::GetAtt': [distribution, 'DomainName'] } }),
      });
    });

    it(
      'puts the domain on the distribution only with a certificate',
      () => {
        const [, without] = onlyResource(template, 'AWS::CloudFront::Distribution');
        expect((without.Properties.DistributionConfig as Record<string, unknown>).Aliases).toBeUndefined();
        const certificateArn = 'arn:aws:acm:us-east-1:123456789012:certificate/abc';
        const { template: withCertificate } = synthesize('aws', designTopology, {
          distributionCertificateArn: certificateArn,
        });
        withCertificate.hasResourceProperties('AWS::CloudFront::Distribution', {
          DistributionConfig: Match.objectLike({
            Aliases: ['tiketi.gg'],
            ViewerCertificate: Match.objectLike({ AcmCertificateArn: certificateArn }),
          }),
        });
      },
      SYNTH_TIMEOUT_MS,
    );
  });

  describe('HTTPS end to end', () => {
    it('listens on HTTPS with the origin certificate, forwarding only requests with the origin header', () => {
      const [targetGroup] = onlyResource(template, 'AWS::ElasticLoadBalancingV2::TargetGroup');
      const [certificate] = onlyResource(template, 'AWS::CertificateManager::Certificate');
      const listeners = resourcesOfType(template, 'AWS::ElasticLoadBalancingV2::Listener');
      expect(listeners.map(([, l]) => [l.Properties.Port, l.Properties.Protocol]).sort()).toEqual([
        [443, 'HTTPS'],
        [80, 'HTTP'],
      ]);
      const [https] = listeners.find(([, l]) => l.Properties.Protocol === 'HTTPS')!;
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
        Protocol: 'HTTPS',
        Certificates: [{ CertificateArn: { Ref: certificate } }],
        SslPolicy: Match.stringLikeRegexp('TLS'),
        DefaultActions: [
          Match.objectLike({
            Type: 'fixed-response',
            FixedResponseConfig: Match.objectLike({ StatusCode: '403' }),
          }),
        ],
      });
      const [, rule] = onlyResource(template, 'AWS::ElasticLoadBalancingV2::ListenerRule');
      expect(rule.Properties).toMatchObject({
        ListenerArn: { Ref: https },
        Actions: [{ Type: 'forward', TargetGroupArn: { Ref: targetGroup } }],
        Conditions: [{ Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'X-Origin-Verify' } }],
      });
    });

    it('redirects HTTP to HTTPS and never forwards it', () => {
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
        Port: 80,
        Protocol: 'HTTP',
        DefaultActions: [
          {
            Type: 'redirect',
            RedirectConfig: Match.objectLike({ Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' }),
          },
        ],
      });
    });

    it('has CloudFront reach the ALB over HTTPS by the origin name, sending the header value the ALB checks', () => {
      const [, distribution] = onlyResource(template, 'AWS::CloudFront::Distribution');
      const config = distribution.Properties.DistributionConfig as {
        Origins: {
          DomainName: unknown;
          CustomOriginConfig?: Record<string, unknown>;
          OriginCustomHeaders?: { HeaderName: string; HeaderValue: unknown }[];
        }[];
      };
      const origin = config.Origins.find((o) => o.DomainName === 'origin.tiketi.gg')!;
      expect(origin.CustomOriginConfig).toMatchObject({
        OriginProtocolPolicy: 'https-only',
        OriginSSLProtocols: ['TLSv1.2'],
      });
      const [, rule] = onlyResource(template, 'AWS::ElasticLoadBalancingV2::ListenerRule');
      const checked = (rule.Properties.Conditions as { HttpHeaderConfig: { Values: unknown[] } }[])[0]!
        .HttpHeaderConfig.Values;
      expect(origin.OriginCustomHeaders).toEqual([
        { HeaderName: 'X-Origin-Verify', HeaderValue: checked[0] },
      ]);
      // A Secrets Manager dynamic reference: the template never holds the value.
      expect(JSON.stringify(checked[0])).toMatch(/resolve:secretsmanager:.*OriginVerifySecret/);
    });

    it('issues the origin certificate for origin.<domain>, DNS-validated in the stack zone, with the origin alias to the ALB', () => {
      const [zone] = onlyResource(template, 'AWS::Route53::HostedZone');
      const [loadBalancer] = onlyResource(template, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
      template.hasResourceProperties('AWS::CertificateManager::Certificate', {
        DomainName: 'origin.tiketi.gg',
        ValidationMethod: 'DNS',
        DomainValidationOptions: [{ DomainName: 'origin.tiketi.gg', HostedZoneId: { Ref: zone } }],
      });
      template.hasResourceProperties('AWS::Route53::RecordSet', {
        Name: 'origin.tiketi.gg.',
        Type: 'A',
        AliasTarget: Match.objectLike({
          DNSName: Match.objectLike({
            'Fn::Join': ['', Match.arrayWith([{ 'Fn::GetAtt': [loadBalancer, 'DNSName'] }])],
          }),
        }),
      });
    });

    it('connects to Aurora with sslmode=verify-full against the RDS CA bundle', () => {
      const script = userDataScript(template);
      expect(script).toMatch(
        /curl .*-o \/opt\/tiketi\/rds-global-bundle\.pem https:\/\/truststore\.pki\.rds\.amazonaws\.com\//,
      );
      for (const variable of ['DATABASE_URL', 'DATABASE_READER_URL']) {
        expect(script).toMatch(
          new RegExp(
            `export ${variable}="postgres://[^"]*\\?sslmode=verify-full&sslrootcert=/opt/tiketi/rds-global-bundle\\.pem"`,
          ),
        );
      }
    });

    it('gives ElastiCache an AUTH token from Secrets Manager, which the instances and the monitor read', () => {
      const [tokenSecret] = resourcesOfType(template, 'AWS::SecretsManager::Secret').find(([id]) =>
        id.startsWith('RedisAuthToken'),
      )!;
      const [, redis] = onlyResource(template, 'AWS::ElastiCache::ReplicationGroup');
      expect(JSON.stringify(redis.Properties.AuthToken)).toContain(`resolve:secretsmanager:`);
      expect(JSON.stringify(redis.Properties.AuthToken)).toContain(tokenSecret);
      const script = userDataScript(template);
      expect(script).toContain(`REDIS_AUTH_SECRET_ARN={"Ref":"${tokenSecret}"}`);
      expect(script).toContain('export REDIS_PASSWORD="$(secret "$REDIS_AUTH_SECRET_ARN")"');
      const [, fn] = queueMonitorFunction(template);
      // The Parameters and Secrets extension serves the token to the function.
      expect(JSON.stringify(fn.Properties.Layers)).toMatch(/AWS-Parameters-and-Secrets-Lambda-Extension/);
      const policies = resourcesOfType(template, 'AWS::IAM::Policy').map(([, r]) =>
        JSON.stringify(r.Properties),
      );
      expect(
        policies.filter((p) => p.includes('secretsmanager:GetSecretValue') && p.includes(tokenSecret)),
      ).toHaveLength(2);
    });
  });

  describe('operations', () => {
    const dashboardBody = () => {
      const [, dashboard] = onlyResource(template, 'AWS::CloudWatch::Dashboard');
      const body = dashboard.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] };
      return body['Fn::Join'][1]
        .map((part) => (typeof part === 'string' ? part : JSON.stringify(part)))
        .join('');
    };

    it('has a dashboard of the design metrics, its queue graph marked with the alarm thresholds', () => {
      const body = dashboardBody();
      for (const metric of [
        '"Tiketi/Queue","QueueSize"',
        '"Tiketi/Queue","ActiveUsers"',
        'GroupInServiceInstances',
        'GroupDesiredCapacity',
        'HealthyHostCount',
        'UnHealthyHostCount',
        'HTTPCode_ELB_5XX_Count',
        'HTTPCode_Target_5XX_Count',
        'TargetResponseTime',
        '"AWS/RDS","CPUUtilization"',
        'AuroraReplicaLag',
        'EngineCPUUtilization',
        'CurrConnections',
      ]) {
        expect(body, metric).toContain(metric);
      }
      for (const alarm of designTopology.alarms) expect(body).toContain(`"value":${alarm.threshold}`);
    });

    it('keeps the app and Lambda logs 30 days, and ships the app log with the CloudWatch agent', () => {
      const groups = resourcesOfType(template, 'AWS::Logs::LogGroup');
      expect(groups.map(([, g]) => g.Properties.RetentionInDays)).toEqual([30, 30]);
      const [appLogs] = groups.find(([id]) => id.startsWith('AppLogs'))!;
      const [monitorLogs] = groups.find(([id]) => id.startsWith('QueueMonitorLogs'))!;
      template.hasResourceProperties('AWS::Lambda::Function', {
        LoggingConfig: { LogGroup: { Ref: monitorLogs } },
      });
      const script = userDataScript(template);
      expect(script).toContain('dnf install -y nodejs20 unzip jq amazon-cloudwatch-agent');
      expect(script).toContain(`"log_group_name":"{"Ref":"${appLogs}"}"`);
      expect(script).toContain('StandardOutput=append:/var/log/tiketi/app.log');
      expect(script).toMatch(/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s/);
      const policies = resourcesOfType(template, 'AWS::IAM::Policy').map(([, r]) =>
        JSON.stringify(r.Properties),
      );
      expect(policies.find((p) => p.includes('InstanceRole'))).toContain('logs:PutLogEvents');
    });
  });

  describe('rollouts', () => {
    it('replaces instances in rolling batches when the launch template changes, each batch waiting for healthy signals', () => {
      const [group, resource] = onlyResource(template, 'AWS::AutoScaling::AutoScalingGroup');
      const { UpdatePolicy, CreationPolicy } = template.toJSON().Resources[group] as Record<string, unknown>;
      expect(UpdatePolicy).toMatchObject({
        AutoScalingRollingUpdate: {
          MaxBatchSize: 1,
          MinInstancesInService: 2,
          PauseTime: 'PT15M',
          WaitOnResourceSignals: true,
        },
      });
      expect(CreationPolicy).toMatchObject({ ResourceSignal: { Count: 2, Timeout: 'PT15M' } });
      expect(resource.Properties.LaunchTemplate).toMatchObject({
        Version: { 'Fn::GetAtt': [expect.stringMatching(/^LaunchTemplate/), 'LatestVersionNumber'] },
      });
      const script = userDataScript(template);
      expect(script).toContain(
        `/opt/aws/bin/cfn-signal -e 0 --stack TiketiTest --resource ${group} --region ap-northeast-2`,
      );
      expect(script).toContain(`trap '/opt/aws/bin/cfn-signal -e 1 --stack TiketiTest --resource ${group}`);
      expect(script).toMatch(
        /curl -sf -o \/dev\/null http:\/\/127\.0\.0\.1:3001\/health\n\/opt\/aws\/bin\/cfn-signal -e 0/,
      );
    });

    it("gives each instance the design's 20 GB gp3 root volume, encrypted", () => {
      template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
        LaunchTemplateData: Match.objectLike({
          BlockDeviceMappings: [
            {
              DeviceName: '/dev/xvda',
              Ebs: { VolumeSize: 20, VolumeType: 'gp3', Encrypted: true, DeleteOnTermination: true },
            },
          ],
        }),
      });
    });

    it('ships the app as one bundled build asset, fetched by the instances', () => {
      const script = userDataScript(template);
      const key = /s3:\/\/[^/]+\/([0-9a-f]{64})\.zip/.exec(script)?.[1];
      expect(key).toBeDefined();
      const assetDir = join((stack.node.root as App).outdir, `asset.${key}`);
      expect(readdirSync(assetDir).sort()).toEqual(['BUILD', 'main.mjs', 'migrations']);
    });
  });

  it('has the generated token-signing secret', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Description: Match.stringLikeRegexp('TOKEN_SECRET'),
      GenerateSecretString: Match.objectLike({ ExcludePunctuation: true }),
    });
  });

  it('outputs exactly the aws outputs of the contract, each with its meaning', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Description: string }>;
    expect(Object.keys(outputs).sort()).toEqual([...stackOutputNames('aws')].sort());
    for (const [name, output] of Object.entries(outputs)) {
      expect(output.Description).toBe(stackOutputDescription(name as StackOutputName));
    }
  });

  it('pins the availability zones and the region, so synth needs no lookup', () => {
    expect(stack.availabilityZones).toEqual(['ap-northeast-2a', 'ap-northeast-2b']);
    expect(stack.region).toBe('ap-northeast-2');
  });
});

describe('TiketiStack, target localstack (what LocalStack Community hosts)', () => {
  let template: Template;

  beforeAll(() => {
    ({ template } = synthesize('localstack'));
  }, SYNTH_TIMEOUT_MS);

  it.each([
    'AWS::ElasticLoadBalancingV2::LoadBalancer',
    'AWS::ElasticLoadBalancingV2::TargetGroup',
    'AWS::ElasticLoadBalancingV2::Listener',
    'AWS::AutoScaling::AutoScalingGroup',
    'AWS::AutoScaling::ScalingPolicy',
    'AWS::EC2::LaunchTemplate',
    'AWS::ElastiCache::ReplicationGroup',
    'AWS::ElastiCache::SubnetGroup',
    'AWS::RDS::DBCluster',
    'AWS::RDS::DBInstance',
    'AWS::CloudFront::Distribution',
    'AWS::EC2::EIP',
    'AWS::EC2::NatGateway',
  ])('has no %s', (type) => {
    template.resourceCountIs(type, 0);
  });

  it('keeps the public and private subnets with the same CIDRs, private ones isolated', () => {
    template.resourceCountIs('AWS::EC2::Subnet', 4);
    for (const cidr of ['10.0.1.0/24', '10.0.2.0/24', '10.0.11.0/24', '10.0.12.0/24']) {
      template.hasResourceProperties('AWS::EC2::Subnet', { CidrBlock: cidr });
    }
    const routes = resourcesOfType(template, 'AWS::EC2::Route');
    expect(routes).toHaveLength(2);
    for (const [, route] of routes) expect(route.Properties.GatewayId).toBeDefined();
  });

  it('has the same three alarms, notifying the alarm topic', () => {
    const [topic] = onlyResource(template, 'AWS::SNS::Topic');
    const alarms = resourcesOfType(template, 'AWS::CloudWatch::Alarm');
    expect(
      alarms.map(([, r]) => [r.Properties.AlarmName, r.Properties.Threshold, r.Properties.Period]),
    ).toEqual([
      ['TiketiTest-tiketi-queue-scale-out', 5_000, 60],
      ['TiketiTest-tiketi-queue-scale-out-aggressive', 20_000, 60],
      ['TiketiTest-tiketi-queue-scale-in', 1_000, 300],
    ]);
    for (const [, alarm] of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topic }]);
      expect(alarm.Properties).toMatchObject({ Namespace: 'Tiketi/Queue', MetricName: 'QueueSize' });
      expect(alarm.Properties.Dimensions).toBeUndefined();
    }
  });

  it('delivers alarm notifications raw to an SQS queue', () => {
    const [topic] = onlyResource(template, 'AWS::SNS::Topic');
    const [queue] = onlyResource(template, 'AWS::SQS::Queue');
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'sqs',
      RawMessageDelivery: true,
      TopicArn: { Ref: topic },
      Endpoint: { 'Fn::GetAtt': [queue, 'Arn'] },
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'sqs:SendMessage', Principal: { Service: 'sns.amazonaws.com' } }),
        ]),
      }),
    });
  });

  it('points the queue monitor at the Redis it is given, without TLS, on the same schedule', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Environment: {
        Variables: Match.objectLike({
          REDIS_HOST: 'redis.test.internal',
          REDIS_PORT: '16379',
          REDIS_TLS: 'false',
          REDIS_CLUSTER: 'false',
        }),
      },
    });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
  });

  it('keeps the buckets, the hosted zone (without a record) and the secret', () => {
    template.resourceCountIs('AWS::S3::Bucket', 3);
    template.hasResourceProperties('AWS::Route53::HostedZone', { Name: 'tiketi.gg.' });
    template.resourceCountIs('AWS::Route53::RecordSet', 0);
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
  });

  it('outputs exactly the localstack outputs of the contract', () => {
    const outputs = Object.keys(template.toJSON().Outputs as Record<string, unknown>);
    expect(outputs.sort()).toEqual([...stackOutputNames('localstack')].sort());
    expect(outputs).toContain('AlarmTopicArn');
    expect(outputs).not.toContain('AlbDnsName');
  });

  it('refuses to build without a Redis for the queue monitor', () => {
    const app = newApp(WITHOUT_BUNDLING);
    expect(() => new TiketiStack(app, 'NoRedis', { topology: designTopology, target: 'localstack' })).toThrow(
      /localRedis/,
    );
  });
});

describe('one source of truth: the stack follows the topology', () => {
  it('changes the synthesized resources when the topology changes', () => {
    const changed = mergeTopology(designTopology, {
      network: { vpcCidr: '10.9.0.0/16', privateSubnetCidrs: ['10.9.111.0/24', '10.9.112.0/24'] },
      loadBalancer: { targetPort: 4001, healthCheck: { port: 4001, intervalSeconds: 15, path: '/ready' } },
      autoScalingGroup: { maxSize: 12, healthCheckGracePeriodSeconds: 120 },
      scalingPolicies: designTopology.scalingPolicies.map((p) =>
        p.name === 'tiketi-scale-out' ? { ...p, scalingAdjustment: 3, cooldownSeconds: 90 } : p,
      ),
      alarms: designTopology.alarms.map((a) =>
        a.name === 'tiketi-queue-scale-out' ? { ...a, threshold: 7_000, evaluationPeriods: 2 } : a,
      ),
      queueMonitor: { memoryMb: 512, scheduleExpression: 'rate(2 minutes)' },
      redis: { shards: 3, port: 6380 },
      database: { port: 5433, backupRetentionDays: 14 },
      edge: { staticDefaultTtlSeconds: 3_600, originSubdomain: 'api' },
      instance: { rootVolume: { sizeGb: 30, type: 'gp3' } },
      operations: { appLogRetentionDays: 90, rollingUpdateMaxBatchSize: 2 },
    });
    const app = newApp(WITHOUT_BUNDLING);
    const template = Template.fromStack(
      new TiketiStack(app, 'Changed', { topology: changed, target: 'aws' }),
    );

    template.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: '10.9.0.0/16' });
    template.hasResourceProperties('AWS::EC2::Subnet', { CidrBlock: '10.9.111.0/24' });
    template.hasResourceProperties('AWS::EC2::Subnet', { CidrBlock: '10.9.112.0/24' });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: 4001,
      HealthCheckPort: '4001',
      HealthCheckPath: '/ready',
      HealthCheckIntervalSeconds: 15,
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { FromPort: 4001, ToPort: 4001 });
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      MaxSize: '12',
      HealthCheckGracePeriod: 120,
    });
    template.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', {
      ScalingAdjustment: 3,
      Cooldown: '90',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'Changed-tiketi-queue-scale-out',
      Threshold: 7_000,
      EvaluationPeriods: 2,
    });
    template.hasResourceProperties('AWS::Lambda::Function', { MemorySize: 512 });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(2 minutes)' });
    template.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', { NumNodeGroups: 3, Port: 6380 });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { FromPort: 6380 });
    template.hasResourceProperties('AWS::RDS::DBCluster', { Port: 5433, BackupRetentionPeriod: 14 });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { FromPort: 5433 });
    template.hasResourceProperties('AWS::CloudFront::CachePolicy', {
      CachePolicyConfig: Match.objectLike({ DefaultTTL: 3_600 }),
    });
    template.hasResourceProperties('AWS::CertificateManager::Certificate', { DomainName: 'api.tiketi.gg' });
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        BlockDeviceMappings: [Match.objectLike({ Ebs: Match.objectLike({ VolumeSize: 30 }) })],
      }),
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
    template.hasResource('AWS::AutoScaling::AutoScalingGroup', {
      UpdatePolicy: { AutoScalingRollingUpdate: Match.objectLike({ MaxBatchSize: 2 }) },
    });

    const everything = JSON.stringify(template.toJSON());
    for (const designOnly of [
      '"Threshold":5000',
      '10.0.11.0/24',
      '"Port":3001',
      '"Port":6379',
      '"Port":5432',
    ]) {
      expect(everything).not.toContain(designOnly);
    }
  });
});

describe('guards on topology values', () => {
  it('accepts only Node.js Lambda runtimes CDK knows', () => {
    expect(lambdaRuntimeNamed('nodejs22.x').name).toBe('nodejs22.x');
    expect(() => lambdaRuntimeNamed('nodejs99.x')).toThrow(/not a Node.js Lambda runtime/);
    expect(() => lambdaRuntimeNamed('python3.12')).toThrow(/not a Node.js Lambda runtime/);
  });

  it('allows at most one NAT gateway per AZ', () => {
    expect(natGatewayCount(designTopology)).toBe(2);
    const twoPerAz = mergeTopology(designTopology, { network: { natGatewaysPerAz: 2 } });
    expect(() => natGatewayCount(twoPerAz)).toThrow(/at most one per AZ/);
  });

  it("refuses a pub/sub output-buffer limit other than the default parameter group's: the stack would not apply it", () => {
    const changed = mergeTopology(designTopology, {
      redis: {
        pubsubOutputBufferLimit: {
          hardLimitBytes: 67_108_864,
          softLimitBytes: 8_388_608,
          softLimitSeconds: 60,
        },
      },
    });
    expect(
      () => new TiketiStack(newApp(WITHOUT_BUNDLING), 'OtherLimit', { topology: changed, target: 'aws' }),
    ).toThrow(/pubsubOutputBufferLimit .* default parameter group \(default\.redis7\.cluster\.on\)/);
    expect(designTopology.redis.pubsubOutputBufferLimit).toEqual(ELASTICACHE_DEFAULT_PUBSUB_LIMIT);
  });

  it('picks the cluster-mode parameter group of the Redis major version', () => {
    expect(clusterModeParameterGroup('7.0')).toBe('default.redis7.cluster.on');
    expect(clusterModeParameterGroup('7.1')).toBe('default.redis7.cluster.on');
    expect(clusterModeParameterGroup('6.2')).toBe('default.redis6.x.cluster.on');
    expect(clusterModeParameterGroup('5.0.6')).toBe('default.redis5.0.cluster.on');
  });
});

/**
 * cfn-lint (a Python tool: `pip install cfn-lint`, see docs/infra.md) lints the synthesized
 * templates where it is on PATH; this machine cannot install it (no PyPI), so here it is skipped.
 */
const CFN_LINT = process.env.PATH?.split(':')
  .map((dir) => join(dir, 'cfn-lint'))
  .find((file) => existsSync(file));

describe(`the CDK CLI synthesizes offline, without AWS credentials${CFN_LINT ? ', cfn-lint clean' : ' (cfn-lint not on PATH: not run)'}`, () => {
  const withoutAwsCredentials = (home: string): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('AWS_')) env[key] = value;
    return {
      ...env,
      // Point the SDK's credential files somewhere empty and keep it off the instance metadata service.
      AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'),
      AWS_CONFIG_FILE: join(home, 'config'),
      AWS_EC2_METADATA_DISABLED: 'true',
      CDK_DISABLE_VERSION_CHECK: '1',
      CDK_DISABLE_CLI_TELEMETRY: 'true',
    };
  };

  it.each([
    ['aws', 'Tiketi'],
    ['localstack', 'TiketiLocal'],
  ])(
    'cdk synth -c target=%s writes %s.template.json',
    async (target, stackName) => {
      const outdir = mkdtempSync(join(tmpdir(), `tiketi-cdk-cli-${target}-`));
      outdirs.push(outdir);
      const result = await run(
        'npx',
        ['cdk', 'synth', '--quiet', '--no-notices', '-c', `target=${target}`, '-o', outdir],
        { cwd: REPOSITORY_ROOT, env: withoutAwsCredentials(outdir), timeout: CLI_TIMEOUT_MS },
      );
      expect(result.stderr).not.toMatch(/Unable to resolve AWS account/);
      const templatePath = join(outdir, `${stackName}.template.json`);
      expect(existsSync(templatePath)).toBe(true);
      const template = JSON.parse(readFileSync(templatePath, 'utf8')) as {
        Resources: Record<string, { Type: string }>;
      };
      const types = Object.values(template.Resources).map((r) => r.Type);
      expect(types).toContain('AWS::CloudWatch::Alarm');
      expect(types.includes('AWS::ElasticLoadBalancingV2::LoadBalancer')).toBe(target === 'aws');
      if (CFN_LINT) {
        // cfn-lint's exit code is a bit mask: 2 = errors (4 warnings, 8 informational).
        const code = await run(CFN_LINT, [templatePath], { timeout: CLI_TIMEOUT_MS }).then(
          () => 0,
          (err: { code: number; stdout: string }) => {
            if (err.code & 2) console.error(err.stdout);
            return err.code;
          },
        );
        expect(code & 2, 'cfn-lint errors').toBe(0);
      }
    },
    CLI_TIMEOUT_MS,
  );
});

/** Properties that name a resource in the account (or globally): two stacks must never share one. */
const PHYSICAL_NAMES: Record<string, string[]> = {
  'AWS::S3::Bucket': ['BucketName'],
  'AWS::Lambda::Function': ['FunctionName'],
  'AWS::CloudWatch::Alarm': ['AlarmName'],
  'AWS::CloudWatch::Dashboard': ['DashboardName'],
  'AWS::ElasticLoadBalancingV2::LoadBalancer': ['Name'],
  'AWS::ElasticLoadBalancingV2::TargetGroup': ['Name'],
  'AWS::AutoScaling::AutoScalingGroup': ['AutoScalingGroupName'],
  'AWS::EC2::LaunchTemplate': ['LaunchTemplateName'],
  'AWS::EC2::SecurityGroup': ['GroupName'],
  'AWS::Logs::LogGroup': ['LogGroupName'],
  'AWS::IAM::Role': ['RoleName'],
  'AWS::SecretsManager::Secret': ['Name'],
  'AWS::ElastiCache::ReplicationGroup': ['ReplicationGroupId'],
  'AWS::ElastiCache::SubnetGroup': ['CacheSubnetGroupName'],
  'AWS::RDS::DBCluster': ['DBClusterIdentifier'],
  'AWS::RDS::DBSubnetGroup': ['DBSubnetGroupName'],
  'AWS::CloudFront::CachePolicy': ['CachePolicyConfig.Name'],
  'AWS::CloudFront::OriginAccessControl': ['OriginAccessControlConfig.Name'],
  'AWS::Events::Rule': ['Name'],
  'AWS::SNS::Topic': ['TopicName'],
  'AWS::SQS::Queue': ['QueueName'],
};

/** `type property = value` for every physical name a template sets. */
function physicalNames(template: Template): Set<string> {
  const names = new Set<string>();
  for (const [type, paths] of Object.entries(PHYSICAL_NAMES)) {
    for (const [, resource] of resourcesOfType(template, type)) {
      for (const path of paths) {
        const value = path
          .split('.')
          .reduce<unknown>(
            (v, key) => (v as Record<string, unknown> | undefined)?.[key],
            resource.Properties,
          );
        if (value !== undefined) names.add(`${type} ${path} = ${JSON.stringify(value)}`);
      }
    }
  }
  return names;
}

const sharedNames = (a: Template, b: Template) =>
  [...physicalNames(a)].filter((n) => physicalNames(b).has(n));

/** Acknowledgments recorded anywhere under `scope`, with their reasons. */
function acknowledgmentsUnder(scope: IConstruct): { path: string; id: string; reason: string }[] {
  return scope.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      // Recorded as `{ [ruleId]: reason }`.
      .flatMap((m) => Object.entries(m.data as Record<string, string>))
      .map(([id, reason]) => ({ path: c.node.path, id, reason })),
  );
}

describe('two stacks in one account, cdk-nag, and CloudFormation validation', () => {
  let app: App;
  let stacks: { a: TiketiStack; b: TiketiStack; local: TiketiStack };
  let templates: { a: Template; b: Template; local: Template };

  beforeAll(() => {
    app = newApp(WITHOUT_BUNDLING);
    stacks = {
      a: new TiketiStack(app, 'TiketiA', { topology: designTopology, target: 'aws' }),
      b: new TiketiStack(app, 'TiketiStaging', { topology: designTopology, target: 'aws' }),
      local: new TiketiStack(app, 'TiketiLocalA', {
        topology: designTopology,
        target: 'localstack',
        localRedis: LOCAL_REDIS,
      }),
    };
    app.synth();
    templates = {
      a: Template.fromStack(stacks.a),
      b: Template.fromStack(stacks.b),
      local: Template.fromStack(stacks.local),
    };
  }, SYNTH_TIMEOUT_MS);

  it('synthesizes two stacks with different names in one app without a physical-name clash', () => {
    expect(sharedNames(templates.a, templates.b)).toEqual([]);
    const names = [...physicalNames(templates.a), ...physicalNames(templates.b)].join('\n');
    expect(names).toContain('AWS::CloudWatch::Alarm AlarmName = "TiketiStaging-tiketi-queue-scale-out"');
    for (const fixed of [
      'tiketi-alb',
      'tiketi-backend-asg',
      'tiketi-queue-monitor',
      'tiketi-frontend-bucket',
    ]) {
      expect(JSON.stringify(templates.a.toJSON())).not.toContain(`"${fixed}"`);
    }
  });

  it('the name check catches a fixed name (it can fail)', () => {
    const other = newApp(WITHOUT_BUNDLING);
    const [one, two] = ['One', 'Two'].map((id) => {
      const stack = new Stack(other, id);
      new s3.Bucket(stack, 'Fixed', { bucketName: 'tiketi-frontend-bucket' });
      return stack;
    });
    const fixed = (stack: Stack | undefined) => Template.fromStack(stack!);
    expect(sharedNames(fixed(one), fixed(two))).toEqual([
      'AWS::S3::Bucket BucketName = "tiketi-frontend-bucket"',
    ]);
  });

  it.each(['a', 'local'] as const)('cdk-nag AwsSolutions reports no unacknowledged error (%s)', (which) => {
    const report = new AwsSolutionsChecks().validateScope(stacks[which]);
    const errors = report.violations
      .filter((v) => v.severity === 'error')
      .map(
        (v) =>
          `${v.ruleName} ${v.violatingResources.map((r) => (r as { constructPath?: string }).constructPath).join(', ')}`,
      );
    expect(errors).toEqual([]);
  });

  it('every acknowledged finding names its rule and says why', () => {
    // CDK acknowledges a few CloudFormation-Validate rules of its own constructs; these are ours.
    const acknowledged = [...acknowledgmentsUnder(stacks.a), ...acknowledgmentsUnder(stacks.local)].filter(
      (a) => a.id.includes('AwsSolutions-'),
    );
    expect(acknowledged.length).toBeGreaterThan(10);
    for (const { path, id, reason } of acknowledged) {
      // Recorded as `Annotation::<rule>` (the rule reaches CDK as an annotation id).
      expect(id, path).toMatch(/^Annotation::AwsSolutions-[A-Z]+\d+(\[.+\])?$/);
      expect(reason.length, `${path} ${id}`).toBeGreaterThan(40);
    }
  });

  it('cdk-nag reports an unencrypted, unlogged bucket (the check can fail)', () => {
    const stack = new Stack(newApp(WITHOUT_BUNDLING), 'Careless');
    new s3.Bucket(stack, 'Plain');
    const rules = new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName);
    expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-S1', 'AwsSolutions-S10']));
  });

  it("CloudFormation's schema and rule validation (run by every synth) reports nothing", () => {
    // Written by every synth, with each plugin's findings (none here: W3010 is acknowledged in network.ts).
    const report = JSON.parse(readFileSync(join(app.outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: { pluginName: string; violations: { ruleName: string; severity: string }[] }[];
    };
    const validate = report.pluginReports.filter((r) => r.pluginName === 'CloudFormation Validate');
    expect(validate).toHaveLength(1);
    const violations = validate.flatMap((r) => r.violations.map((v) => `${v.severity} ${v.ruleName}`));
    expect(violations).toEqual([]);
  });
});
