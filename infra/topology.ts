/**
 * The production design of TIKETI in numbers — the one source of truth.
 *
 * Every figure of `../shared/ARCHITECTURE.md` that both the CDK stack (`infra/`) and the emulator
 * (`harness/`) need lives here, once. The CDK stack builds AWS resources from `designTopology`;
 * the emulator builds local behaviour from it. Scenarios may override parts through
 * `defineTopology` / `mergeTopology`, and the result is validated by the same strict schema.
 *
 * Units are in the names: `...Seconds`, `...Ms`, `...Krw`.
 */
import { z } from 'zod';

const seconds = z.number().nonnegative();
const positiveInt = z.number().int().positive();

/** An Availability Zone: a short label used locally (`a`) and the AWS zone name. */
export const availabilityZoneSchema = z
  .object({
    /** Short label carried by every emulated process, e.g. `a`. */
    label: z.string().regex(/^[a-z]$/, 'a single lower-case letter'),
    /** AWS zone name, pinned so `cdk synth` needs no lookup. */
    name: z.string().min(1),
  })
  .strict();

export const networkSchema = z
  .object({
    vpcCidr: z.string(),
    /** One CIDR per AZ, in the order of `availabilityZones`. */
    publicSubnetCidrs: z.array(z.string()).min(1),
    privateSubnetCidrs: z.array(z.string()).min(1),
    databaseSubnetCidrs: z.array(z.string()).min(1),
    /** One NAT gateway per AZ. @default 1 per AZ */
    natGatewaysPerAz: z.number().int().nonnegative().default(1),
  })
  .strict();

export const healthCheckSchema = z
  .object({
    path: z.string().startsWith('/'),
    port: positiveInt,
    intervalSeconds: z.number().positive(),
    /** Per-check timeout. @default 5 (ALB's default for HTTP target groups) */
    timeoutSeconds: z.number().positive().default(5),
    healthyThresholdCount: positiveInt,
    unhealthyThresholdCount: positiveInt,
    /** Status codes counted as healthy. @default '200' */
    successCodes: z.string().default('200'),
  })
  .strict();

export const stickinessSchema = z
  .object({
    enabled: z.boolean(),
    type: z.literal('lb_cookie'),
    cookieName: z.literal('AWSALB'),
    durationSeconds: positiveInt,
  })
  .strict();

export const loadBalancerSchema = z
  .object({
    name: z.string(),
    targetPort: positiveInt,
    healthCheck: healthCheckSchema,
    stickiness: stickinessSchema,
    /** Connection draining on deregistration. */
    deregistrationDelaySeconds: seconds,
    /** How the ALB picks among healthy targets. @default 'round_robin' */
    algorithm: z.enum(['round_robin', 'least_outstanding_requests']).default('round_robin'),
    /** Idle timeout for connections, WebSockets included. @default 60 */
    idleTimeoutSeconds: z.number().positive().default(60),
  })
  .strict();

export const instanceSchema = z
  .object({
    type: z.string(),
    /** Boot time range of the design (3–5 min); the emulator uses `bootSeconds`. */
    bootSecondsMin: seconds,
    bootSecondsMax: seconds,
    /** Boot time the emulator applies on the simulated clock. @default the midpoint of min and max */
    bootSeconds: seconds.optional(),
    /** Root volume of each instance: the design's 20 GB gp3. */
    rootVolume: z
      .object({ sizeGb: positiveInt, type: z.enum(['gp3', 'gp2', 'io1', 'io2']) })
      .strict()
      .default({ sizeGb: 20, type: 'gp3' }),
    /** Design capacity per instance. */
    capacity: z
      .object({ concurrentUsers: positiveInt, requestsPerSecond: positiveInt, webSockets: positiveInt })
      .strict(),
  })
  .strict();

export const scalingPolicySchema = z
  .object({
    name: z.string(),
    adjustmentType: z.literal('ChangeInCapacity'),
    scalingAdjustment: z.number().int(),
    cooldownSeconds: seconds,
  })
  .strict();

export const autoScalingGroupSchema = z
  .object({
    name: z.string(),
    minSize: z.number().int().nonnegative(),
    maxSize: positiveInt,
    desiredCapacity: z.number().int().nonnegative(),
    healthCheckType: z.enum(['EC2', 'ELB']),
    healthCheckGracePeriodSeconds: seconds,
    /** The group's default cooldown, used by policies that set none. @default 300 (AWS's default) */
    defaultCooldownSeconds: seconds.default(300),
  })
  .strict();

export const comparisonOperatorSchema = z.enum([
  'GreaterThanThreshold',
  'GreaterThanOrEqualToThreshold',
  'LessThanThreshold',
  'LessThanOrEqualToThreshold',
]);
export const statisticSchema = z.enum(['Average', 'Sum', 'Minimum', 'Maximum', 'SampleCount']);

export const alarmSchema = z
  .object({
    name: z.string(),
    /** A metric the queue monitor publishes; the alarm watches its fleet-wide series (`alarmSeriesOf`). */
    metricName: z.string(),
    statistic: statisticSchema,
    periodSeconds: positiveInt,
    evaluationPeriods: positiveInt,
    /** M of "M out of N". @default evaluationPeriods */
    datapointsToAlarm: positiveInt.optional(),
    threshold: z.number(),
    comparisonOperator: comparisonOperatorSchema,
    /** @default 'missing' (AWS's default) */
    treatMissingData: z.enum(['breaching', 'notBreaching', 'ignore', 'missing']).default('missing'),
    /** Name of the scaling policy the alarm invokes while in ALARM. */
    scalingPolicy: z.string(),
  })
  .strict();

export const queueMonitorSchema = z
  .object({
    functionName: z.string(),
    /** EventBridge schedule, `rate(1 minute)` in the design. */
    scheduleExpression: z.string(),
    scheduleSeconds: positiveInt,
    timeoutSeconds: positiveInt,
    memoryMb: positiveInt,
    /** The design's nodejs18.x is deprecated; the stack uses a current runtime. */
    runtime: z.string(),
    namespace: z.string(),
    dimensionName: z.string(),
    queueSizeMetric: z.string(),
    activeUsersMetric: z.string(),
  })
  .strict();

export const queueSchema = z
  .object({
    /** Users moved from the head of the queue into the active set per second (a rate: a scale model's may be fractional). */
    admissionPerSecond: z.number().positive(),
    /** Shopping window an admitted user gets. */
    shoppingWindowSeconds: positiveInt,
    seatHoldSeconds: positiveInt,
    sessionTtlSeconds: positiveInt,
    eventCacheTtlSeconds: positiveInt,
  })
  .strict();

/** A rate limit: at most `points` requests per `windowSeconds` per key, shared by every instance. */
export const rateLimitSchema = z
  .object({
    points: positiveInt,
    /** Wall seconds: a rate limit protects machines, and they run on wall time. */
    windowSeconds: positiveInt,
  })
  .strict();

/**
 * What one user, socket or address may do: the bounds that keep one account (or a bot farm) from
 * holding the venue or taking an instance down. Enforced atomically where they are checked (the
 * HOLD script, the reservation transaction, Redis counters shared by all instances).
 */
export const limitsSchema = z
  .object({
    /** Seats one user may hold at once in one event (checked inside the HOLD script). @default 4 */
    holdsPerUserPerEvent: positiveInt.default(4),
    /** Pending (not expired) plus confirmed reservations of one user in one event. @default 2 */
    reservationsPerUserPerEvent: positiveInt.default(2),
    /** Seats in those reservations, in all. @default 4 */
    seatsPerUserPerEvent: positiveInt.default(4),
    /** Events one socket may follow (`queue:subscribe`); existing events only. @default 3 */
    subscriptionsPerSocket: z.number().int().min(1).max(3).default(3),
    /** Live sockets of one user on one instance (tabs, a reconnect overlapping its old socket). @default 3 */
    socketsPerUserPerInstance: positiveInt.default(3),
    /** Largest Socket.IO message accepted (the app's largest is `queue:subscribe`, under 100 bytes). @default 4096 */
    socketMaxMessageBytes: positiveInt.default(4_096),
    /** How long a socket may take to complete the Socket.IO handshake, wall ms. @default 10000 */
    socketConnectTimeoutMs: positiveInt.default(10_000),
    /** Proxies in front of an instance that append `X-Forwarded-For` (the ALB). @default 1 */
    trustedProxyHops: z.number().int().nonnegative().default(1),
    /** How long an instance serves one rendered seat map before asking Redis again, wall ms. @default 1000 */
    seatSnapshotTtlMs: positiveInt.default(1_000),
    /** Password hashes computed at once per instance (each takes 128 MiB at N=2^17). @default 2 */
    kdfConcurrency: positiveInt.default(2),
    /** Password hashes waiting for their turn; past that, `503` with `Retry-After`. @default 64 */
    kdfQueue: z.number().int().nonnegative().default(64),
    /**
     * Rate limits. Per address only where no account exists yet (register, login, refused socket
     * handshakes), sized for a crowd behind one carrier NAT; per account for what a signed-in
     * user does, sized so an honest fan never meets them. (The emulator's users all come from
     * 127.0.0.1: per-address limits on signed-in routes would measure the load generator.)
     */
    rate: z
      .object({
        /** @default 30 per hour per address */
        registerPerAddress: rateLimitSchema.default({ points: 30, windowSeconds: 3_600 }),
        /** @default 300 per 15 min per address */
        loginPerAddress: rateLimitSchema.default({ points: 300, windowSeconds: 900 }),
        /** Brute force of one account from many addresses. @default 10 per 15 min per email */
        loginPerEmail: rateLimitSchema.default({ points: 10, windowSeconds: 900 }),
        /** @default 10 per minute per account */
        queueJoinPerUser: rateLimitSchema.default({ points: 10, windowSeconds: 60 }),
        /** @default 60 per minute per account */
        holdPerUser: rateLimitSchema.default({ points: 60, windowSeconds: 60 }),
        /** @default 10 per minute per account */
        reservePerUser: rateLimitSchema.default({ points: 10, windowSeconds: 60 }),
        /** @default 10 per minute per account */
        payPerUser: rateLimitSchema.default({ points: 10, windowSeconds: 60 }),
        /** Socket handshakes with a valid token. @default 30 per minute per account */
        socketConnectPerUser: rateLimitSchema.default({ points: 30, windowSeconds: 60 }),
        /** Socket handshakes refused (no or bad token). @default 300 per minute per address */
        socketRefusedPerAddress: rateLimitSchema.default({ points: 300, windowSeconds: 60 }),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export const redisSchema = z
  .object({
    engineVersion: z.string(),
    nodeType: z.string(),
    shards: positiveInt,
    replicasPerShard: z.number().int().nonnegative(),
    multiAz: z.boolean(),
    transitEncryption: z.boolean(),
    atRestEncryption: z.boolean(),
    snapshotRetentionDays: z.number().int().nonnegative(),
    port: positiveInt,
    /** Automatic failover takes 10–30 s in the design. */
    failoverSecondsMin: seconds,
    failoverSecondsMax: seconds,
    /** Sentinel `down-after-milliseconds`, simulated. @default 5 */
    sentinelDownAfterSeconds: seconds.default(5),
    /** Sentinel `failover-timeout`, simulated. @default 30 */
    sentinelFailoverTimeoutSeconds: seconds.default(30),
    /**
     * `client-output-buffer-limit pubsub`: what Redis lets pile up for one pub/sub subscriber that
     * reads slower than messages arrive. Past `hardLimitBytes`, or above `softLimitBytes` for
     * `softLimitSeconds` (wall), Redis closes the subscriber and discards everything queued for it
     * (docs/failover.md, "Pub/sub subscribers and the output-buffer limit"). ElastiCache's default
     * parameter group (`client-output-buffer-limit-pubsub-*`) and redis-server share these values;
     * the emulator sets them explicitly. @default 32 MiB, 8 MiB for 60 s
     */
    pubsubOutputBufferLimit: z
      .object({
        hardLimitBytes: z.number().int().nonnegative(),
        softLimitBytes: z.number().int().nonnegative(),
        softLimitSeconds: z.number().int().nonnegative(),
      })
      .strict()
      .default({ hardLimitBytes: 33_554_432, softLimitBytes: 8_388_608, softLimitSeconds: 60 }),
  })
  .strict();

/** The `client-output-buffer-limit` value for pub/sub clients, as redis-server and CONFIG SET take it. */
export function pubsubOutputBufferLimitArg(limit: Topology['redis']['pubsubOutputBufferLimit']): string {
  return `pubsub ${limit.hardLimitBytes} ${limit.softLimitBytes} ${limit.softLimitSeconds}`;
}

export const databaseSchema = z
  .object({
    engine: z.literal('aurora-postgresql'),
    engineVersion: z.string(),
    instanceClass: z.string(),
    port: positiveInt,
    backupRetentionDays: positiveInt,
    preferredBackupWindow: z.string(),
    preferredMaintenanceWindow: z.string(),
    storageEncrypted: z.boolean(),
    deletionProtection: z.boolean(),
    maxReplicaLagSeconds: seconds,
    /** The design's failover timeline, seconds after the writer fails. */
    failover: z
      .object({
        detectSeconds: seconds,
        promoteSeconds: seconds,
        endpointSwitchSeconds: seconds,
        allReconnectedSeconds: seconds,
      })
      .strict(),
  })
  .strict();

export const edgeSchema = z
  .object({
    domainName: z.string(),
    frontendBucket: z.string(),
    uploadsBucket: z.string(),
    staticDefaultTtlSeconds: seconds,
    compress: z.boolean(),
    apiPathPattern: z.string(),
    corsAllowedOrigin: z.string(),
    /**
     * The ALB's name under `domainName`, which CloudFront reaches it by over HTTPS (its
     * certificate is issued for this name). @default 'origin'
     */
    originSubdomain: z
      .string()
      .regex(/^[a-z0-9-]+$/)
      .default('origin'),
  })
  .strict();

/** How the stack is run and changed: logs kept, and how a new launch template rolls out. */
export const operationsSchema = z
  .object({
    /** Retention of the app's log group (CloudWatch agent). @default 30 */
    appLogRetentionDays: positiveInt.default(30),
    /** Retention of the queue monitor's log group. @default 30 */
    lambdaLogRetentionDays: positiveInt.default(30),
    /** Instances replaced at once when the launch template changes (rolling update). @default 1 */
    rollingUpdateMaxBatchSize: positiveInt.default(1),
    /**
     * How long CloudFormation waits for a new instance to signal that its app answers health
     * checks, on creation and in a rolling update. @default 900 (boot 3–5 min, with margin)
     */
    instanceSignalTimeoutSeconds: positiveInt.default(900),
  })
  .strict();

export const timelineRowSchema = z
  .object({
    /** Simulated wall time, `HH:MM`. */
    at: z.string().regex(/^\d{2}:\d{2}$/),
    queue: z.number().int().nonnegative(),
    instances: z.number().int().nonnegative(),
    action: z.string(),
  })
  .strict();

export const topologySchema = z
  .object({
    region: z.string(),
    availabilityZones: z.array(availabilityZoneSchema).min(1),
    network: networkSchema,
    loadBalancer: loadBalancerSchema,
    instance: instanceSchema,
    autoScalingGroup: autoScalingGroupSchema,
    scalingPolicies: z.array(scalingPolicySchema).min(1),
    alarms: z.array(alarmSchema),
    queueMonitor: queueMonitorSchema,
    queue: queueSchema,
    /** Per-user, per-socket and per-address bounds. @default see `limitsSchema` */
    limits: limitsSchema.prefault({}),
    redis: redisSchema,
    database: databaseSchema,
    edge: edgeSchema,
    operations: operationsSchema.default({
      appLogRetentionDays: 30,
      lambdaLogRetentionDays: 30,
      rollingUpdateMaxBatchSize: 1,
      instanceSignalTimeoutSeconds: 900,
    }),
    /** The design's own peak timeline, checked (and possibly disproved) by rehearsals. */
    designTimeline: z.array(timelineRowSchema),
    /** The design's monthly cost table, ₩ (EC2 is per instance). */
    monthlyCostKrw: z
      .object({
        ec2PerInstance: z.number().nonnegative(),
        alb: z.number().nonnegative(),
        lambda: z.number().nonnegative(),
        aurora: z.number().nonnegative(),
        elasticache: z.number().nonnegative(),
        s3: z.number().nonnegative(),
        nat: z.number().nonnegative(),
        transfer: z.number().nonnegative(),
        route53: z.number().nonnegative(),
        secretsManager: z.number().nonnegative(),
        cloudwatch: z.number().nonnegative(),
      })
      .strict(),
    /** Targets the design promises. */
    targets: z
      .object({
        concurrentUsers: positiveInt,
        apiP95Ms: z.number().positive(),
        socketDeliveryP95Ms: z.number().positive(),
        availabilityPercent: z.number().positive(),
      })
      .strict(),
  })
  .strict()
  .superRefine((t, ctx) => {
    const azCount = t.availabilityZones.length;
    for (const key of ['publicSubnetCidrs', 'privateSubnetCidrs', 'databaseSubnetCidrs'] as const) {
      if (t.network[key].length !== azCount) {
        ctx.addIssue({
          code: 'custom',
          path: ['network', key],
          message: `needs one CIDR per availability zone (${azCount}), got ${t.network[key].length}`,
        });
      }
    }
    const asg = t.autoScalingGroup;
    if (asg.minSize > asg.maxSize || asg.desiredCapacity < asg.minSize || asg.desiredCapacity > asg.maxSize) {
      ctx.addIssue({
        code: 'custom',
        path: ['autoScalingGroup'],
        message: `needs minSize <= desiredCapacity <= maxSize (got ${asg.minSize} <= ${asg.desiredCapacity} <= ${asg.maxSize})`,
      });
    }
    if (t.instance.bootSecondsMin > t.instance.bootSecondsMax) {
      ctx.addIssue({
        code: 'custom',
        path: ['instance', 'bootSecondsMin'],
        message: 'must be <= bootSecondsMax',
      });
    }
    const metrics = new Set([t.queueMonitor.queueSizeMetric, t.queueMonitor.activeUsersMetric]);
    const policyNames = new Set(t.scalingPolicies.map((p) => p.name));
    t.alarms.forEach((alarm, i) => {
      if (!metrics.has(alarm.metricName)) {
        ctx.addIssue({
          code: 'custom',
          path: ['alarms', i, 'metricName'],
          message: `is not a metric the queue monitor publishes (${[...metrics].join(', ')})`,
        });
      }
      if (!policyNames.has(alarm.scalingPolicy)) {
        ctx.addIssue({
          code: 'custom',
          path: ['alarms', i, 'scalingPolicy'],
          message: `names no scaling policy (have: ${[...policyNames].join(', ')})`,
        });
      }
      if ((alarm.datapointsToAlarm ?? alarm.evaluationPeriods) > alarm.evaluationPeriods) {
        ctx.addIssue({
          code: 'custom',
          path: ['alarms', i, 'datapointsToAlarm'],
          message: 'must be <= evaluationPeriods',
        });
      }
    });
  });

/** What a topology file declares (defaults may be omitted). */
export type TopologyInput = z.input<typeof topologySchema>;
/** A validated topology with every default filled in. */
export type Topology = z.output<typeof topologySchema>;
export type AlarmDefinition = Topology['alarms'][number];
export type ScalingPolicyDefinition = Topology['scalingPolicies'][number];
export type Limits = Topology['limits'];
export type RateLimit = z.output<typeof rateLimitSchema>;
export type ComparisonOperator = z.infer<typeof comparisonOperatorSchema>;
export type Statistic = z.infer<typeof statisticSchema>;

/** Validates a topology; throws one error listing every problem with its key path. */
export function defineTopology(input: TopologyInput): Topology {
  const parsed = topologySchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  topology.${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid topology:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** A deep partial, used for scenario overrides of the design. */
export type DeepPartial<T> = T extends (infer U)[]
  ? U[]
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/**
 * `overrides` laid over `base`: objects merge key by key, arrays and plain values replace, an
 * undefined override keeps the base. Neither argument is changed.
 */
export function deepMerge(base: unknown, overrides: unknown): unknown {
  if (overrides === undefined) return base;
  if (Array.isArray(overrides) || typeof overrides !== 'object' || overrides === null) return overrides;
  const out: Record<string, unknown> =
    typeof base === 'object' && base !== null && !Array.isArray(base)
      ? { ...(base as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(overrides)) out[k] = deepMerge(out[k], v);
  return out;
}

/** Applies overrides (arrays replace, objects merge) and validates the result. */
export function mergeTopology(base: Topology, overrides: DeepPartial<TopologyInput> | undefined): Topology {
  if (!overrides) return base;
  return defineTopology(deepMerge(base, overrides) as TopologyInput);
}

/** A CloudWatch metric dimension, in the shape of the AWS API. */
export interface MetricDimension {
  Name: string;
  Value: string;
}

/** What the queue monitor publishes and where: the part of `queueMonitor` its handler needs. */
export type QueueMetricSettings = Pick<
  Topology['queueMonitor'],
  'namespace' | 'dimensionName' | 'queueSizeMetric' | 'activeUsersMetric'
>;

export function queueMetricSettingsOf(t: Topology): QueueMetricSettings {
  const { namespace, dimensionName, queueSizeMetric, activeUsersMetric } = t.queueMonitor;
  return { namespace, dimensionName, queueSizeMetric, activeUsersMetric };
}

/**
 * Dimensions of the fleet-wide series: none, as in the design's alarm JSON. The monitor publishes
 * each metric once per event (`EventId`) and once summed over every event without a dimension;
 * the scaling alarms watch the sum, because one fleet serves every event, so a drop of any event
 * (whatever its id) scales the group without a redeploy.
 */
export const FLEET_DIMENSIONS: readonly MetricDimension[] = [];

/** The dimensions of one event's series. */
export function eventDimensions(settings: QueueMetricSettings, eventId: string): MetricDimension[] {
  return [{ Name: settings.dimensionName, Value: eventId }];
}

/**
 * The series a scaling alarm watches, the one definition the CDK alarms and the emulator's
 * CloudWatch both read: the alarm's metric in the monitor's namespace, fleet-wide.
 */
export function alarmSeriesOf(
  t: Topology,
  alarm: AlarmDefinition,
): { namespace: string; metricName: string; dimensions: MetricDimension[] } {
  return {
    namespace: t.queueMonitor.namespace,
    metricName: alarm.metricName,
    dimensions: [...FLEET_DIMENSIONS],
  };
}

/** Boot time the emulator applies. */
export function bootSecondsOf(t: Topology): number {
  return t.instance.bootSeconds ?? (t.instance.bootSecondsMin + t.instance.bootSecondsMax) / 2;
}

export function scalingPolicyNamed(t: Topology, name: string): ScalingPolicyDefinition {
  const policy = t.scalingPolicies.find((p) => p.name === name);
  if (!policy) throw new Error(`topology has no scaling policy named ${name}`);
  return policy;
}

/** The TIKETI production design (ARCHITECTURE.md). */
export const designTopology: Topology = defineTopology({
  region: 'ap-northeast-2',
  availabilityZones: [
    { label: 'a', name: 'ap-northeast-2a' },
    { label: 'b', name: 'ap-northeast-2b' },
  ],
  network: {
    vpcCidr: '10.0.0.0/16',
    publicSubnetCidrs: ['10.0.1.0/24', '10.0.2.0/24'],
    privateSubnetCidrs: ['10.0.11.0/24', '10.0.12.0/24'],
    databaseSubnetCidrs: ['10.0.21.0/24', '10.0.22.0/24'],
    natGatewaysPerAz: 1,
  },
  loadBalancer: {
    name: 'tiketi-alb',
    targetPort: 3001,
    healthCheck: {
      path: '/health',
      port: 3001,
      intervalSeconds: 30,
      timeoutSeconds: 5,
      healthyThresholdCount: 3,
      unhealthyThresholdCount: 2,
    },
    stickiness: { enabled: true, type: 'lb_cookie', cookieName: 'AWSALB', durationSeconds: 86_400 },
    deregistrationDelaySeconds: 300,
  },
  instance: {
    type: 't3.medium',
    bootSecondsMin: 180,
    bootSecondsMax: 300,
    rootVolume: { sizeGb: 20, type: 'gp3' },
    capacity: { concurrentUsers: 1_000, requestsPerSecond: 1_000, webSockets: 500 },
  },
  autoScalingGroup: {
    name: 'tiketi-backend-asg',
    minSize: 2,
    maxSize: 10,
    desiredCapacity: 2,
    healthCheckType: 'ELB',
    healthCheckGracePeriodSeconds: 300,
  },
  scalingPolicies: [
    {
      name: 'tiketi-scale-out',
      adjustmentType: 'ChangeInCapacity',
      scalingAdjustment: 2,
      cooldownSeconds: 180,
    },
    {
      name: 'tiketi-scale-out-aggressive',
      adjustmentType: 'ChangeInCapacity',
      scalingAdjustment: 5,
      cooldownSeconds: 300,
    },
    {
      name: 'tiketi-scale-in',
      adjustmentType: 'ChangeInCapacity',
      scalingAdjustment: -1,
      cooldownSeconds: 600,
    },
  ],
  alarms: [
    {
      name: 'tiketi-queue-scale-out',
      metricName: 'QueueSize',
      statistic: 'Average',
      periodSeconds: 60,
      evaluationPeriods: 1,
      threshold: 5_000,
      comparisonOperator: 'GreaterThanThreshold',
      scalingPolicy: 'tiketi-scale-out',
    },
    {
      name: 'tiketi-queue-scale-out-aggressive',
      metricName: 'QueueSize',
      statistic: 'Average',
      periodSeconds: 60,
      evaluationPeriods: 1,
      threshold: 20_000,
      comparisonOperator: 'GreaterThanThreshold',
      scalingPolicy: 'tiketi-scale-out-aggressive',
    },
    {
      name: 'tiketi-queue-scale-in',
      metricName: 'QueueSize',
      statistic: 'Average',
      periodSeconds: 300,
      evaluationPeriods: 2,
      threshold: 1_000,
      comparisonOperator: 'LessThanThreshold',
      scalingPolicy: 'tiketi-scale-in',
    },
  ],
  queueMonitor: {
    functionName: 'tiketi-queue-monitor',
    scheduleExpression: 'rate(1 minute)',
    scheduleSeconds: 60,
    timeoutSeconds: 60,
    memoryMb: 256,
    runtime: 'nodejs22.x',
    namespace: 'Tiketi/Queue',
    dimensionName: 'EventId',
    queueSizeMetric: 'QueueSize',
    activeUsersMetric: 'ActiveUsers',
  },
  queue: {
    admissionPerSecond: 50,
    shoppingWindowSeconds: 600,
    seatHoldSeconds: 300,
    sessionTtlSeconds: 3_600,
    eventCacheTtlSeconds: 60,
  },
  limits: {},
  redis: {
    engineVersion: '7.0',
    nodeType: 'cache.t4g.micro',
    shards: 2,
    replicasPerShard: 1,
    multiAz: true,
    transitEncryption: true,
    atRestEncryption: true,
    snapshotRetentionDays: 5,
    port: 6379,
    failoverSecondsMin: 10,
    failoverSecondsMax: 30,
    sentinelDownAfterSeconds: 5,
    sentinelFailoverTimeoutSeconds: 30,
    pubsubOutputBufferLimit: { hardLimitBytes: 33_554_432, softLimitBytes: 8_388_608, softLimitSeconds: 60 },
  },
  database: {
    engine: 'aurora-postgresql',
    engineVersion: '15.3',
    instanceClass: 'db.t4g.medium',
    port: 5432,
    backupRetentionDays: 7,
    preferredBackupWindow: '03:00-04:00',
    preferredMaintenanceWindow: 'sun:04:00-sun:05:00',
    storageEncrypted: true,
    deletionProtection: true,
    maxReplicaLagSeconds: 1,
    failover: { detectSeconds: 5, promoteSeconds: 30, endpointSwitchSeconds: 35, allReconnectedSeconds: 60 },
  },
  edge: {
    domainName: 'tiketi.gg',
    frontendBucket: 'tiketi-frontend-bucket',
    uploadsBucket: 'tiketi-uploads-bucket',
    staticDefaultTtlSeconds: 86_400,
    compress: true,
    apiPathPattern: '/api/*',
    corsAllowedOrigin: 'https://tiketi.gg',
  },
  operations: {
    appLogRetentionDays: 30,
    lambdaLogRetentionDays: 30,
    rollingUpdateMaxBatchSize: 1,
    instanceSignalTimeoutSeconds: 900,
  },
  designTimeline: [
    { at: '19:30', queue: 0, instances: 2, action: 'normal' },
    { at: '19:50', queue: 3_000, instances: 2, action: 'under threshold' },
    { at: '19:55', queue: 8_000, instances: 2, action: 'scale-out +2' },
    { at: '19:58', queue: 25_000, instances: 4, action: 'aggressive +5' },
    { at: '20:00', queue: 20_000, instances: 9, action: 'stable' },
    { at: '20:30', queue: 800, instances: 9, action: 'draining the queue' },
    { at: '20:35', queue: 500, instances: 9, action: 'scale-in -1 begins' },
    { at: '20:45', queue: 200, instances: 8, action: 'scale-in -1' },
    { at: '21:00', queue: 0, instances: 2, action: 'back to minimum' },
  ],
  monthlyCostKrw: {
    ec2PerInstance: 40_000,
    alb: 27_000,
    lambda: 1_000,
    aurora: 60_000,
    elasticache: 40_000,
    s3: 2_000,
    nat: 36_500,
    transfer: 5_000,
    route53: 500,
    secretsManager: 2_000,
    cloudwatch: 5_000,
  },
  targets: {
    concurrentUsers: 10_000,
    apiP95Ms: 200,
    socketDeliveryP95Ms: 100,
    availabilityPercent: 99.9,
  },
});
