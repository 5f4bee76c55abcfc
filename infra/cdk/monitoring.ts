/**
 * Operations: the app's log group (the CloudWatch agent on each instance ships to it) and a
 * dashboard of the design's metrics — the queue the alarms watch with their thresholds, active
 * users, the group's capacity, target health, ALB errors and latency, Aurora and ElastiCache.
 */
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as rds from 'aws-cdk-lib/aws-rds';
import type { Construct } from 'constructs';
import { alarmSeriesOf, FLEET_DIMENSIONS, type Topology } from '../topology.ts';

/** CloudWatch Logs accepts only some retention lengths; a topology asking for another fails synth. */
export function retentionOf(days: number): logs.RetentionDays {
  const known = Object.values(logs.RetentionDays).filter((v): v is number => typeof v === 'number');
  if (!known.includes(days)) {
    throw new Error(
      `log retention of ${days} days is not one CloudWatch Logs offers (${known.filter((d) => d > 0).join(', ')})`,
    );
  }
  return days as logs.RetentionDays;
}

export function createAppLogGroup(
  scope: Construct,
  options: { topology: Topology; removalPolicy: RemovalPolicy },
): logs.LogGroup {
  return new logs.LogGroup(scope, 'AppLogs', {
    retention: retentionOf(options.topology.operations.appLogRetentionDays),
    removalPolicy: options.removalPolicy,
  });
}

export interface DashboardSources {
  topology: Topology;
  autoScalingGroup: autoscaling.AutoScalingGroup;
  loadBalancer: elbv2.ApplicationLoadBalancer;
  targetGroup: elbv2.ApplicationTargetGroup;
  database: rds.DatabaseCluster;
  redis: elasticache.CfnReplicationGroup;
}

const MINUTE = Duration.minutes(1);
const WIDTH = 12;
const HEIGHT = 6;

function graph(title: string, left: cloudwatch.IMetric[], extra: Partial<cloudwatch.GraphWidgetProps> = {}) {
  return new cloudwatch.GraphWidget({ title, left, width: WIDTH, height: HEIGHT, ...extra });
}

/** The queue the alarms watch, with each alarm's threshold drawn on it, and active users. */
function queueWidgets(topology: Topology): cloudwatch.IWidget[] {
  const monitor = topology.queueMonitor;
  const fleet = (metricName: string, label: string) =>
    new cloudwatch.Metric({
      namespace: monitor.namespace,
      metricName,
      dimensionsMap: Object.fromEntries(FLEET_DIMENSIONS.map((d) => [d.Name, d.Value])),
      statistic: 'Average',
      period: MINUTE,
      label,
    });
  const thresholds = topology.alarms
    .filter((alarm) => alarmSeriesOf(topology, alarm).metricName === monitor.queueSizeMetric)
    .map((alarm) => ({ value: alarm.threshold, label: `${alarm.name} (${alarm.scalingPolicy})` }));
  return [
    graph(`${monitor.queueSizeMetric} (all events)`, [fleet(monitor.queueSizeMetric, 'queued')], {
      leftAnnotations: thresholds,
    }),
    graph(`${monitor.activeUsersMetric} (all events)`, [fleet(monitor.activeUsersMetric, 'admitted')]),
  ];
}

function fleetWidgets(sources: DashboardSources): cloudwatch.IWidget[] {
  const asg = sources.autoScalingGroup.autoScalingGroupName;
  const group = (metricName: string, label: string) =>
    new cloudwatch.Metric({
      namespace: 'AWS/AutoScaling',
      metricName,
      dimensionsMap: { AutoScalingGroupName: asg },
      statistic: 'Average',
      period: MINUTE,
      label,
    });
  const tg = sources.targetGroup.metrics;
  const alb = sources.loadBalancer.metrics;
  return [
    graph('Instances', [
      group('GroupInServiceInstances', 'in service'),
      group('GroupDesiredCapacity', 'desired'),
      group('GroupPendingInstances', 'pending'),
    ]),
    graph('Target health', [
      tg.healthyHostCount({ period: MINUTE, label: 'healthy' }),
      tg.unhealthyHostCount({ period: MINUTE, label: 'unhealthy' }),
    ]),
    graph('ALB 5xx', [
      alb.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period: MINUTE, label: 'from the ALB' }),
      alb.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: MINUTE, label: 'from the app' }),
    ]),
    graph(
      'Target response time',
      [
        alb.targetResponseTime({ statistic: 'p95', period: MINUTE, label: 'p95' }),
        alb.targetResponseTime({ statistic: 'p50', period: MINUTE, label: 'p50' }),
      ],
      { leftAnnotations: [{ value: sources.topology.targets.apiP95Ms / 1_000, label: 'design P95' }] },
    ),
  ];
}

function dataWidgets(sources: DashboardSources): cloudwatch.IWidget[] {
  const db = sources.database;
  // One series per node: node ids start with the replication group's id.
  const redisSearch = (metricName: string) =>
    new cloudwatch.MathExpression({
      expression: `SEARCH('{AWS/ElastiCache,CacheClusterId} MetricName="${metricName}" ${sources.redis.ref}', 'Average', 60)`,
      label: metricName,
      period: MINUTE,
    });
  return [
    graph('Aurora', [
      db.metricCPUUtilization({ period: MINUTE }),
      db.metricDatabaseConnections({ period: MINUTE }),
    ]),
    graph(
      'Aurora replica lag (ms)',
      [db.metric('AuroraReplicaLag', { statistic: 'Maximum', period: MINUTE })],
      {
        leftAnnotations: [{ value: sources.topology.database.maxReplicaLagSeconds * 1_000, label: 'design' }],
      },
    ),
    graph('ElastiCache engine CPU', [redisSearch('EngineCPUUtilization')]),
    graph('ElastiCache memory and connections', [
      redisSearch('DatabaseMemoryUsagePercentage'),
      redisSearch('CurrConnections'),
    ]),
  ];
}

/** The name is CloudFormation's, so two stacks keep two dashboards. */
export function createDashboard(scope: Construct, sources: DashboardSources): cloudwatch.Dashboard {
  const dashboard = new cloudwatch.Dashboard(scope, 'Dashboard');
  const widgets = [...queueWidgets(sources.topology), ...fleetWidgets(sources), ...dataWidgets(sources)];
  for (let i = 0; i < widgets.length; i += 2) dashboard.addWidgets(...widgets.slice(i, i + 2));
  return dashboard;
}
