/**
 * Scale models (docs/scale-models.md): the design run at 1:1/F. Every count or rate of users —
 * users, the arrival curve, seats, alarm thresholds, the admission rate, capacity figures, the
 * expectations' rates — is multiplied by F; every time stays as designed. The queue is a count of
 * users fed and drained by rates of users, so it is F times the design's at every simulated
 * moment: it crosses each threshold (also F times the design's) at the same minute, and the same
 * alarms invoke the same scaling policies. Instance counts, cooldowns and boot times are untouched.
 *
 * Every number of the topology and the scenario is classified below, in tables typed so that a
 * new numeric field does not compile until someone says whether it scales.
 */
import { designTopology, mergeTopology, type Topology } from '../../infra/topology.ts';
import { FASTEST_TIME_SCALE } from '../clock/clock.ts';
import type { Verdict } from '../expectations/evaluate.ts';
import { type Expectation, type Fault, parseScenario, type Scenario } from './schema.ts';

/**
 * How a number behaves in a scale model:
 * - `scales`: a count or rate of users, × F;
 * - `scales-whole`: the same, for whole counts (users, seats): × F rounded, at least 1 unless 0;
 * - `time`: a duration, period or delay: as designed;
 * - `kept`: a count of things the model keeps (instances, checks, periods, ports, prices, shares);
 * - `speed`: the clock's requested speed, ÷ F (at most FASTEST_TIME_SCALE): at F of the users, the
 *   model sends the design's load per wall second at 1/F of its speed, so it may run that much
 *   faster for the same machine; the pacer still slows it wherever this machine cannot keep up.
 */
export type ScaleRule = 'scales' | 'scales-whole' | 'time' | 'kept' | 'speed';

type HasNumber<T> = [NonNullable<T>] extends [number]
  ? true
  : NonNullable<T> extends readonly (infer U)[]
    ? HasNumber<U>
    : NonNullable<T> extends object
      ? true extends { [K in keyof NonNullable<T>]-?: HasNumber<NonNullable<T>[K]> }[keyof NonNullable<T>]
        ? true
        : false
      : false;

/** A rule for every number of `T`, at the same key path (arrays: one rule for all elements). */
export type ScalingRules<T> = [NonNullable<T>] extends [number]
  ? ScaleRule
  : NonNullable<T> extends readonly (infer U)[]
    ? ScalingRules<U>
    : {
        readonly [K in keyof NonNullable<T> as HasNumber<NonNullable<T>[K]> extends true
          ? K
          : never]-?: ScalingRules<NonNullable<T>[K]>;
      };

/** Rules per member of a discriminated union (expectations by `expect`, faults by `fault`). */
type RulesByKind<T, D extends keyof T> = {
  readonly [E in T as E[D] & string]: ScalingRules<E>;
};

const HEALTH_CHECK_TIMES = { intervalSeconds: 'time', timeoutSeconds: 'time' } as const;

/** Every number of the design, classified. */
export const TOPOLOGY_RULES: ScalingRules<Topology> = {
  network: { natGatewaysPerAz: 'kept' },
  loadBalancer: {
    targetPort: 'kept',
    healthCheck: {
      port: 'kept',
      ...HEALTH_CHECK_TIMES,
      healthyThresholdCount: 'kept',
      unhealthyThresholdCount: 'kept',
    },
    stickiness: { durationSeconds: 'time' },
    deregistrationDelaySeconds: 'time',
    idleTimeoutSeconds: 'time',
  },
  // Per-user bounds hold for each user of the model as for one of the design's; rate windows are
  // wall time in the app, as in production.
  limits: {
    holdsPerUserPerEvent: 'kept',
    reservationsPerUserPerEvent: 'kept',
    seatsPerUserPerEvent: 'kept',
    subscriptionsPerSocket: 'kept',
    socketsPerUserPerInstance: 'kept',
    socketMaxMessageBytes: 'kept',
    socketConnectTimeoutMs: 'kept',
    trustedProxyHops: 'kept',
    seatSnapshotTtlMs: 'kept',
    kdfConcurrency: 'kept',
    kdfQueue: 'kept',
    rate: {
      registerPerAddress: { points: 'kept', windowSeconds: 'kept' },
      loginPerAddress: { points: 'kept', windowSeconds: 'kept' },
      loginPerEmail: { points: 'kept', windowSeconds: 'kept' },
      queueJoinPerUser: { points: 'kept', windowSeconds: 'kept' },
      holdPerUser: { points: 'kept', windowSeconds: 'kept' },
      reservePerUser: { points: 'kept', windowSeconds: 'kept' },
      payPerUser: { points: 'kept', windowSeconds: 'kept' },
      socketConnectPerUser: { points: 'kept', windowSeconds: 'kept' },
      socketRefusedPerAddress: { points: 'kept', windowSeconds: 'kept' },
    },
  },
  // How the stack is operated: retention, rollouts. Nothing a rehearsal's load touches.
  operations: {
    appLogRetentionDays: 'kept',
    lambdaLogRetentionDays: 'kept',
    rollingUpdateMaxBatchSize: 'kept',
    instanceSignalTimeoutSeconds: 'time',
  },
  instance: {
    bootSecondsMin: 'time',
    bootSecondsMax: 'time',
    bootSeconds: 'time',
    rootVolume: { sizeGb: 'kept' },
    // The model's instance carries F of the design's users, so the same count of instances is
    // as loaded, relative to its capacity, as the design's.
    capacity: {
      concurrentUsers: 'scales-whole',
      requestsPerSecond: 'scales-whole',
      webSockets: 'scales-whole',
    },
  },
  autoScalingGroup: {
    minSize: 'kept',
    maxSize: 'kept',
    desiredCapacity: 'kept',
    healthCheckGracePeriodSeconds: 'time',
    defaultCooldownSeconds: 'time',
  },
  scalingPolicies: { scalingAdjustment: 'kept', cooldownSeconds: 'time' },
  // Both metrics the queue monitor publishes (QueueSize, ActiveUsers) count users.
  alarms: {
    periodSeconds: 'time',
    evaluationPeriods: 'kept',
    datapointsToAlarm: 'kept',
    threshold: 'scales',
  },
  queueMonitor: { scheduleSeconds: 'time', timeoutSeconds: 'time', memoryMb: 'kept' },
  queue: {
    admissionPerSecond: 'scales',
    shoppingWindowSeconds: 'time',
    seatHoldSeconds: 'time',
    sessionTtlSeconds: 'time',
    eventCacheTtlSeconds: 'time',
  },
  redis: {
    shards: 'kept',
    replicasPerShard: 'kept',
    snapshotRetentionDays: 'time',
    port: 'kept',
    failoverSecondsMin: 'time',
    failoverSecondsMax: 'time',
    sentinelDownAfterSeconds: 'time',
    sentinelFailoverTimeoutSeconds: 'time',
    // A byte limit per subscriber connection, whatever the number of users.
    pubsubOutputBufferLimit: { hardLimitBytes: 'kept', softLimitBytes: 'kept', softLimitSeconds: 'time' },
  },
  database: {
    port: 'kept',
    backupRetentionDays: 'time',
    maxReplicaLagSeconds: 'time',
    failover: {
      detectSeconds: 'time',
      promoteSeconds: 'time',
      endpointSwitchSeconds: 'time',
      allReconnectedSeconds: 'time',
    },
  },
  edge: { staticDefaultTtlSeconds: 'time' },
  designTimeline: { queue: 'scales-whole', instances: 'kept' },
  // Prices per instance-month: the model uses the same instance-hours.
  monthlyCostKrw: {
    ec2PerInstance: 'kept',
    alb: 'kept',
    lambda: 'kept',
    aurora: 'kept',
    elasticache: 'kept',
    s3: 'kept',
    nat: 'kept',
    transfer: 'kept',
    route53: 'kept',
    secretsManager: 'kept',
    cloudwatch: 'kept',
  },
  // Latency targets are not scaled: they do not transfer (indicative in a model, see below).
  targets: {
    concurrentUsers: 'scales-whole',
    apiP95Ms: 'kept',
    socketDeliveryP95Ms: 'kept',
    availabilityPercent: 'kept',
  },
};

/** The scenario's own numbers (its topology, expectations and faults have tables of their own). */
export const SCENARIO_RULES: ScalingRules<Omit<Scenario, 'topology' | 'expectations' | 'faults'>> = {
  scale: 'kept',
  timeScale: 'speed',
  seed: 'kept',
  // A sweep spreads the faults over a cycle of the design's times: the same in the model.
  sweep: { runs: 'kept', periodSeconds: 'time' },
  users: 'scales-whole',
  arrivals: { joined: 'scales-whole' },
  event: { seats: 'scales-whole' },
  behaviour: {
    // Shares and per-user counts: each user of the model behaves as one of the design's.
    buyShare: 'kept',
    seatsPerOrder: 'kept',
    thinkTime: { minSeconds: 'time', maxSeconds: 'time' },
    pollQueueEverySeconds: 'time',
    // A share of the users attack, each as hard as in the design.
    hostile: { share: 'kept', attemptsPerAttack: 'kept' },
  },
  // Whether this machine can measure: about the machine, not the design.
  measurement: {
    maxCpuBusy: 'kept',
    maxEventLoopLagMs: 'kept',
    maxProcessCoreBusy: 'kept',
    minHeadroomShare: 'kept',
  },
};

export const EXPECTATION_RULES: RulesByKind<Expectation, 'expect'> = {
  'alarm-state': {},
  'alarm-never': {},
  // The same scaling activities happen: instance counts are the design's.
  instances: { min: 'kept', max: 'kept' },
  'max-instances': { max: 'kept' },
  'max-seats-per-user': { max: 'kept' },
  'no-instance-lost': {},
  purchases: { atLeast: 'scales-whole' },
  latency: { percentile: 'kept', belowMs: 'kept' },
  'socket-delivery': { percentile: 'kept', belowMs: 'kept' },
  'error-rate': { below: 'kept' },
  sticky: { atLeast: 'kept' },
  'admission-rate': { atLeastPerSecond: 'scales' },
  'no-seat-sold-twice': {},
  'no-confirmed-reservation-lost': {},
  reconnect: { withinSeconds: 'time' },
  'max-request-gap': { belowSeconds: 'time' },
};

export const FAULT_RULES: RulesByKind<Fault, 'fault'> = {
  'kill-instance': {},
  'terminate-instance': {},
  'kill-az': {},
  'redis-failover': {},
  'db-failover': {},
  latency: { latencyMs: 'time', jitterMs: 'time', durationSeconds: 'time' },
  partition: { durationSeconds: 'time' },
};

/** Verdicts on latency (a baseline compares P95s): at F of the load they are not the design's latency. */
export const LATENCY_VERDICTS: readonly Verdict['kind'][] = ['latency', 'socket-delivery', 'baseline'];

/** One number the model changed, beside the design's. */
export interface ScaledNumber {
  /** Key path, array elements by name or time: `topology.alarms[tiketi-queue-scale-out].threshold`. */
  path: string;
  design: number;
  model: number;
}

/** The scale model of a run, as the run record and summary carry it. */
export interface ScaleModelRecord {
  /** F: the model runs the design at 1:1/F. */
  factor: number;
  /** `1:4` for F = 0.25. */
  ratio: string;
  /** Every number that scales, design beside model. Everything else is as designed. */
  scaled: ScaledNumber[];
  /** Latency expectations gate this run (the scenario opted in with `latencyGatesAtScale`). */
  latencyGates: boolean;
  /** What does not transfer from the model to the design (docs/scale-models.md). */
  notTransferred: string[];
}

export interface ScaleModel {
  /** The scenario to run: scaled, with the whole scaled design as its topology. */
  scenario: Scenario;
  topology: Topology;
  record: ScaleModelRecord;
}

type RuleNode = ScaleRule | { readonly [key: string]: RuleNode };

interface Walk {
  factor: number;
  scaled: ScaledNumber[];
  unclassified: string[];
}

function labelOf(element: unknown, index: number): string {
  if (typeof element === 'object' && element !== null) {
    const { name, at } = element as { name?: unknown; at?: unknown };
    if (typeof name === 'string') return name;
    if (typeof at === 'string') return at;
  }
  return String(index);
}

function scaleNumber(value: number, rule: ScaleRule, path: string, w: Walk): number {
  if (rule === 'time' || rule === 'kept') return value;
  if (rule === 'speed') {
    const model = Math.max(value, Math.min(FASTEST_TIME_SCALE, Number((value / w.factor).toPrecision(12))));
    if (model !== value) w.scaled.push({ path, design: value, model });
    return model;
  }
  const exact = Number((value * w.factor).toPrecision(12));
  const model = rule === 'scales' || value === 0 ? exact : Math.max(1, Math.round(exact));
  w.scaled.push({ path, design: value, model });
  return model;
}

/** Copies `value`, scaling each number by its rule; a number without a rule is noted. */
function walk(value: unknown, rule: RuleNode | undefined, path: string, w: Walk): unknown {
  if (typeof value === 'number') {
    if (typeof rule === 'string') return scaleNumber(value, rule, path, w);
    w.unclassified.push(path);
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => walk(v, rule, `${path}[${labelOf(v, i)}]`, w));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      const childRule = typeof rule === 'object' ? rule[key] : undefined;
      out[key] = walk(child, childRule, path ? `${path}.${key}` : key, w);
    }
    return out;
  }
  return value;
}

/** Key paths of numbers in `topology` that `TOPOLOGY_RULES` does not classify. */
export function unclassifiedTopologyNumbers(topology: unknown): string[] {
  const w: Walk = { factor: 1, scaled: [], unclassified: [] };
  walk(topology, TOPOLOGY_RULES, 'topology', w);
  return w.unclassified;
}

/** `1:4` for 0.25; `1:3.33` for 0.3. */
export function ratioOf(factor: number): string {
  return `1:${Number((1 / factor).toFixed(2))}`;
}

export const NOT_TRANSFERRED = [
  'latencies: at F of the load the machine is not loaded as the design would be; latency expectations are indicative unless the scenario sets latencyGatesAtScale',
  'connections, requests and sockets per instance are F of the design’s (multiply by 1/F to compare with capacity)',
  'load that does not scale with users: health checks, the queue monitor, Redis and PostgreSQL per-instance overheads stay whole',
  'rounding: whole counts (users, seats, arrival points, capacities) are rounded, so small models are coarse',
];

/** Which numbers the model has to move: the scenario's, its expectations' and faults', and the design's. */
function scaleScenarioNumbers(scenario: Scenario, w: Walk): Scenario {
  const { topology: _override, expectations, faults, ...rest } = scenario;
  return {
    ...(walk(rest, SCENARIO_RULES, '', w) as Omit<Scenario, 'topology' | 'expectations' | 'faults'>),
    expectations: expectations.map(
      (e, i) => walk(e, EXPECTATION_RULES[e.expect], `expectations[${i}]`, w) as Expectation,
    ),
    faults: faults.map((f, i) => walk(f, FAULT_RULES[f.fault], `faults[${i}]`, w) as Fault),
  };
}

/**
 * The 1:1/F model of a scenario: a pure function of the design (with the scenario's override),
 * the scenario and F. Throws when a number is unclassified (a programming error the unit tests
 * catch) or the model is invalid (e.g. F so small a whole count vanishes).
 */
export function scaleModel(
  scenario: Scenario,
  factor: number,
  design: Topology = designTopology,
): ScaleModel {
  if (!(factor > 0 && factor <= 1)) throw new RangeError(`scale factor must be in (0, 1], got ${factor}`);
  const w: Walk = { factor, scaled: [], unclassified: [] };
  const topology = mergeTopology(
    design,
    walk(mergeTopology(design, scenario.topology), TOPOLOGY_RULES, 'topology', w) as Topology,
  );
  const numbers = scaleScenarioNumbers(scenario, w);
  if (w.unclassified.length > 0)
    throw new Error(
      `scale model: numbers with no scaling rule (classify them in scale-model.ts): ${w.unclassified.join(', ')}`,
    );
  const modelled = parseScenario(
    { ...numbers, scale: undefined, topology },
    `${scenario.name} at ${ratioOf(factor)}`,
  );
  return {
    scenario: modelled,
    topology,
    record: {
      factor,
      ratio: ratioOf(factor),
      scaled: w.scaled,
      latencyGates: scenario.latencyGatesAtScale ?? false,
      notTransferred: NOT_TRANSFERRED,
    },
  };
}

/** Latency verdicts of a model do not gate (unless the scenario opted in): they say why. */
export function markIndicative(verdicts: Verdict[], record: ScaleModelRecord): Verdict[] {
  if (record.latencyGates) return verdicts;
  const reason = `scale model ${record.ratio}: indicative (latency at ${record.factor} of the load is not the design's latency at full load)`;
  return verdicts.map((v) => (LATENCY_VERDICTS.includes(v.kind) ? { ...v, indicative: reason } : v));
}
