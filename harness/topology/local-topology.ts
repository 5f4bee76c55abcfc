/**
 * `tiketi-sim up`: the production design on one machine. Real Redis (primary, replica, three
 * Sentinels) and PostgreSQL (writer, synchronous replica); app instances as processes behind the
 * ALB emulator; the Auto Scaling group driven by CloudWatch alarms fed by the real queue-monitor
 * handler every simulated minute; the edge in front. One simulated clock runs the control plane.
 */

import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { migrate } from '../../app/db/migrate.ts';
import { createQueueMonitorHandler, type MetricsSink } from '../../app/lambda/queue-monitor.ts';
import { pubsubOutputBufferLimitArg, queueMetricSettingsOf, type Topology } from '../../infra/topology.ts';
import { type ProxyRoute, startProxyHost } from '../../servers/fault-proxy/proxy-host.ts';
import type { LogSink } from '../../servers/process.ts';
import { type StartupSteps, silentSteps } from '../../servers/startup-steps.ts';
import { type StartedAlb, startAlb } from '../alb/alb.ts';
import type { Backend, BackendEndpoints, StartedBackend } from '../backends/backend.ts';
import type { ScaledClock } from '../clock/clock.ts';
import { AutoScalingGroup } from '../control-plane/auto-scaling-group.ts';
import { CloudWatch } from '../control-plane/cloudwatch.ts';
import { Schedule } from '../control-plane/schedule.ts';
import { type StartedEdge, startEdge } from '../edge/edge.ts';
import { type InjectedFault, injectFault } from '../faults/inject.ts';
import {
  AppPreboot,
  queueEnvironment,
  type StartedAppInstance,
  startAppInstance,
} from '../instances/app-instance.ts';
import { namedStreamSeed, seededRandom, streamSeed } from '../load/random.ts';
import type { FaultRecord } from '../report/run-record.ts';
import type { FaultAction } from '../scenario/schema.ts';
import { mountTopologyRoutes } from './control-routes.ts';
import { type ControlServer, startControlServer } from './control-server.ts';
import { waitUntilServing } from './readiness.ts';
import { Teardown } from './teardown.ts';
import { TimeScalePublisher } from './time-scale-publisher.ts';

/** The run's random streams the topology draws from (users draw from theirs: load/user-plan.ts). */
const ASG_STREAM = 0x5a5a0001;
const FAULT_STREAM = 0x5a5a0002;
/** Each target's health-check phase is drawn from its id under this constant seed. */
const HEALTH_CHECK_PHASE_SEED = 0x5a5a0003;

/** Redis key through which app instances follow the simulated clock's speed. */
export const TIME_SCALE_KEY = 'tiketi-sim:time-scale';
/**
 * Queue positions reach queued users every 20 simulated seconds here (a browser-refreshed waiting
 * room's rhythm: Cloudflare's default refresh is 20 s), at most once per wall second, instead of
 * production's every second: 25,000 pushes per wall second would take this machine's two cores
 * whatever the clock's speed, and the clock could never slow the load down.
 */
const QUEUE_UPDATE_SIMULATED_MS = 20_000;
/**
 * Engine.IO pings every 120 wall seconds here instead of production's 25. A ping finds a peer
 * that went silent without closing; no rehearsal here leaves one for long (a killed instance's
 * sockets close, a drained one closes them, a fault's partition is reverted within its minutes),
 * while 25,000 sockets pinged every 25 s are 1,000 round trips a wall second through the ALB
 * whatever the clock's speed: the more the clock slows, the more of each simulated second they
 * take (docs/performance.md).
 */
const SOCKET_PING_INTERVAL_MS = 120_000;
/**
 * Seat changes reach shoppers in batches of a simulated second here (production: 200 ms), never
 * more often than every 200 wall ms. Batched by wall time, the messages per simulated second grew
 * as the clock slowed: a full peak with a one-core hog ran its drain at 0.3–0.8× and delivered
 * 1.33 million Socket.IO messages against 0.71 million in a quiet run of the same code.
 */
const SEAT_BATCH_SIMULATED_MS = 1_000;

export interface LocalTopologyOptions {
  topology: Topology;
  clock: ScaledClock;
  backend: Backend;
  /** The event whose queue the alarms watch. */
  eventId: string;
  /**
   * The run's seed: the group's tie-breaks and a fault's `random` victim draw from it, so the
   * same seed makes the same choices. @default 1
   */
  seed?: number;
  /** Servers' output lines (Redis, PostgreSQL, Sentinels, app instances, ALB workers). */
  log: LogSink;
  /** Reports each start-up step, timed. @default silent */
  steps?: StartupSteps;
  /** ALB proxy processes. @default 2 */
  albWorkers?: number;
  /** Extra environment for app instances. */
  appEnv?: Record<string, string>;
  /**
   * Put a fault-proxy route in front of the ALB (`clientUrl`) so the client → ALB path can be
   * delayed or cut. Each proxied connection costs the proxy two files: keep it for runs whose
   * clients stay well under 10,000 connections. @default false
   */
  clientPath?: boolean;
  /** Route app → Redis through the fault proxy (for `app-redis` faults). @default false */
  redisPath?: boolean;
  /**
   * Where the queue monitor publishes, with its timestamps. @default the emulated CloudWatch, on
   * the simulated clock, whose alarms drive the group. When given (the hybrid world: LocalStack's
   * CloudWatch, wall-clock timestamps), the emulated alarms are not started: they would see no data
   * and take no action; whoever owns the sink's alarms drives `asg.executePolicy`.
   */
  queueMetrics?: { sink: MetricsSink; now: () => Date };
  /**
   * Work on the data tier that runs while the app instances start (e.g. seeding a demo event),
   * through the admin connections; the topology is ready only once it is done. A step of its own.
   */
  prepare?: { label: string; run: (admin: { db: pg.Pool; redis: Redis }) => Promise<void> };
  /** Ctrl-C during start-up: stop waiting for readiness, stop what started, and throw. */
  signal?: AbortSignal;
}

export interface StartedTopology extends AsyncDisposable {
  readonly topology: Topology;
  readonly clock: ScaledClock;
  readonly backend: StartedBackend;
  readonly alb: StartedAlb;
  readonly edge: StartedEdge;
  readonly cloudwatch: CloudWatch;
  readonly asg: AutoScalingGroup;
  readonly schedule: Schedule;
  readonly instances: ReadonlyMap<string, StartedAppInstance>;
  readonly controlUrl: string;
  /** The control endpoint's route table: `control.mount('GET', '/metrics', handler)` adds a route. */
  readonly control: Pick<ControlServer, 'mount' | 'url'>;
  /** Where clients send traffic: the client route when there is one, else the ALB. */
  readonly clientUrl: string;
  /**
   * Every address of that site, `clientUrl` first: the ALB's node addresses (a client keeps to
   * the one it resolved; many clients spread over them), or the client route alone.
   */
  readonly clientUrls: readonly string[];
  readonly tokenSecret: string;
  /** How often each queued user is told their place, simulated ms (QUEUE_UPDATE_SIMULATED_MS). */
  readonly positionUpdateSimMs: number;
  /** What the control plane sends as `X-Control-Token` for an instance's `/health/details`. */
  readonly controlToken: string;
  /** Admin connections (migrations, seeding, the queue monitor, integrity checks). */
  readonly db: pg.Pool;
  readonly redis: Redis;
  setTimeScale(timeScale: number): Promise<void>;
  /** Injects a failure now; its record fills in as the system reacts. */
  injectFault(fault: FaultAction): Promise<InjectedFault>;
  faultRecords(): FaultRecord[];
  describe(): TopologyStatus;
  stop(): Promise<void>;
}

export interface TopologyStatus {
  simulatedTime: string;
  timeScale: number;
  endpoints: {
    edgeUrl: string;
    albUrl: string;
    clientUrl: string;
    controlUrl: string;
    redis: BackendEndpoints['redis'];
    postgres: BackendEndpoints['postgres'];
  };
  autoScalingGroup: ReturnType<AutoScalingGroup['describe']>;
  targets: ReturnType<StartedAlb['targetHealth']>;
  alarms: ReturnType<CloudWatch['describe']>;
  latestMetrics: { queueSize?: number; activeUsers?: number; atMs?: number };
  backend: ReturnType<StartedBackend['components']>;
  faults: FaultRecord[];
}

export function redisClientFor(endpoints: BackendEndpoints): Redis {
  const r = endpoints.redis;
  const client =
    r.kind === 'sentinel'
      ? new Redis({ sentinels: r.sentinels, name: r.masterName, natMap: r.natMap, maxRetriesPerRequest: 5 })
      : new Redis(r.url, { maxRetriesPerRequest: 5 });
  client.on('error', () => {}); // reconnects by itself; failovers are rehearsed on purpose
  return client;
}

interface DataTier {
  backend: StartedBackend;
  /** Admin connections: they skip the fault proxy, so a rehearsed partition does not blind the harness. */
  db: pg.Pool;
  redis: Redis;
}

async function startDataTier(options: LocalTopologyOptions, teardown: Teardown): Promise<DataTier> {
  const { topology, clock, log } = options;
  const steps = options.steps ?? silentSteps;
  const scale = clock.timeScale;
  // Sentinel runs on wall time: the design's detection time, compressed, with a floor so a busy
  // machine does not fail over on a slow reply.
  const backend = await options.backend.start({
    log,
    steps,
    redisDownAfterMs: Math.max(500, (topology.redis.sentinelDownAfterSeconds * 1_000) / scale),
    redisFaultPath: options.redisPath ?? false,
    redisFailoverTimeoutMs: Math.max(3_000, (topology.redis.sentinelFailoverTimeoutSeconds * 1_000) / scale),
    // ElastiCache's parameter group, as the design has it (a subscriber that falls behind is cut off).
    redisServerArgs: [
      '--client-output-buffer-limit',
      pubsubOutputBufferLimitArg(topology.redis.pubsubOutputBufferLimit),
    ],
  });
  teardown.defer(() => backend.stop());
  const admin = backend.adminEndpoints ?? backend.endpoints;
  const db = new pg.Pool({ connectionString: admin.postgres.writerUrl, max: 5 });
  db.on('error', () => {});
  db.on('connect', (c) => c.on('error', () => {}));
  teardown.defer(() => db.end());
  const redis = redisClientFor(admin);
  teardown.defer(() => redis.quit());
  await steps.step('database migrations', () => migrate(db));
  await redis.set(TIME_SCALE_KEY, String(scale));
  return { backend, db, redis };
}

interface Fleet {
  alb: StartedAlb;
  asg: AutoScalingGroup;
  instances: Map<string, StartedAppInstance>;
  tokenSecret: string;
  controlToken: string;
}

/** The ALB and the edge in front of it: they need no data tier, so they start beside it. */
async function startFront(
  options: LocalTopologyOptions,
  teardown: Teardown,
): Promise<{ alb: StartedAlb; edge: StartedEdge }> {
  const { topology, clock, log } = options;
  const steps = options.steps ?? silentSteps;
  const workers = options.albWorkers ?? 2;
  const alb = await steps.step(`ALB (${workers} workers)`, () =>
    startAlb({
      topology,
      clock,
      workers,
      timeScale: () => clock.timeScale,
      // Not on the whole minute a scenario's faults use (a check and a fault at the same
      // simulated ms would race, and the verdict with them), and the same in every run whatever
      // its seed: a phase sweep moves its fault evenly against these very checks.
      healthCheckPhase: (targetId) => seededRandom(namedStreamSeed(HEALTH_CHECK_PHASE_SEED, targetId))(),
      log,
    }),
  );
  teardown.defer(() => alb.stop());
  const edge = await steps.step('edge (CloudFront)', () =>
    startEdge({ topology, clock, originUrl: alb.url }),
  );
  teardown.defer(() => edge.stop());
  return { alb, edge };
}

/** Every start settles before the first failure is thrown, so each started part is in the teardown. */
async function allStarted<T extends readonly unknown[]>(
  starts: readonly [...{ [K in keyof T]: Promise<T[K]> }],
): Promise<T> {
  const settled = await Promise.allSettled(starts);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** The Auto Scaling group that launches app instances behind the ALB. */
function createFleet(
  options: LocalTopologyOptions,
  data: DataTier,
  alb: StartedAlb,
  preboot: AppPreboot,
  teardown: Teardown,
): Fleet {
  const { topology, clock, log } = options;
  const tokenSecret = randomBytes(24).toString('hex');
  const controlToken = randomBytes(24).toString('hex');
  const instances = new Map<string, StartedAppInstance>();
  teardown.defer(() => Promise.allSettled([...instances.values()].map((i) => i.kill())));
  const env = {
    ...queueEnvironment(topology.queue),
    TIME_SCALE: `redis:${TIME_SCALE_KEY}`,
    QUEUE_UPDATE_SIMULATED_MS: String(QUEUE_UPDATE_SIMULATED_MS),
    SOCKET_PING_INTERVAL_MS: String(SOCKET_PING_INTERVAL_MS),
    SEAT_BATCH_SIMULATED_MS: String(SEAT_BATCH_SIMULATED_MS),
    LOG_LEVEL: 'warn',
    DRAIN_NOTICE_MS: '500',
    // The scenario's limits (its `topology` override merged on the design's).
    LIMITS: JSON.stringify(topology.limits),
    CONTROL_TOKEN: controlToken,
    ...options.appEnv,
  };
  const asg = new AutoScalingGroup({
    topology,
    clock,
    random: seededRandom(streamSeed(options.seed ?? 1, ASG_STREAM)),
    warmStart: true,
    launcher: {
      async launch({ id, az }) {
        instances.set(
          id,
          await startAppInstance({
            id,
            az,
            endpoints: data.backend.endpoints,
            tokenSecret,
            log,
            env,
            preboot,
          }),
        );
      },
      async terminate(id) {
        await instances.get(id)?.stop(10_000);
      },
      isRunning: (id) => instances.get(id)?.process.running ?? false,
    },
    targets: {
      register: ({ id, az, warm }) => {
        const instance = instances.get(id)!;
        alb.registerTarget({ id, az, url: instance.url, webSockets: instance.channel }, { warm });
      },
      deregister: (id) => alb.deregisterTarget(id),
      health: (id) => alb.health(id),
    },
  });
  teardown.defer(() => asg.stop());
  return { alb, asg, instances, tokenSecret, controlToken };
}

/** CloudWatch alarms fed by the real queue-monitor handler on the Lambda's schedule (not started yet). */
function createMonitoring(
  options: LocalTopologyOptions,
  data: DataTier,
  asg: AutoScalingGroup,
  teardown: Teardown,
): { cloudwatch: CloudWatch; schedule: Schedule } {
  const { topology, clock } = options;
  const cloudwatch = new CloudWatch({
    topology,
    clock,
    eventId: options.eventId,
    onScalingAction: (policy, alarm) =>
      asg.executePolicy(policy, `a monitor alarm ${alarm.name} in state ALARM`),
    dataSettled: () => schedule.settled(MONITOR_SETTLE_WALL_MS),
  });
  teardown.defer(() => cloudwatch.stop());
  const monitor = createQueueMonitorHandler({
    redis: data.redis,
    settings: queueMetricSettingsOf(topology),
    sink: options.queueMetrics?.sink ?? cloudwatch.metrics,
    // The hybrid world stamps on LocalStack's wall clock; here each datum belongs to its minute.
    ...(options.queueMetrics ? { now: options.queueMetrics.now } : {}),
  });
  const schedule = new Schedule(clock, topology.queueMonitor.scheduleSeconds, (dueMs) =>
    monitor({ time: new Date(dueMs).toISOString() }),
  );
  teardown.defer(() => schedule.stop());
  return { cloudwatch, schedule };
}

/**
 * How long the alarms wait for a monitor invocation still reading Redis: the emulator's tolerance
 * for its own host's hiccups (three round trips take a few ms). A data tier that is down (a
 * failover fault) holds the reads longer; the alarms then judge without the datapoint, as
 * CloudWatch does when a Lambda times out.
 */
const MONITOR_SETTLE_WALL_MS = 1_000;

/** A fault-proxy route in front of the ALB, when asked for: where clients connect. Starts beside the ALB. */
async function startClientPath(
  options: LocalTopologyOptions,
  startingAlb: () => Promise<StartedAlb>,
  teardown: Teardown,
): Promise<ProxyRoute | undefined> {
  if (!options.clientPath) return undefined;
  const proxies = await startProxyHost();
  teardown.defer(() => proxies.stop());
  const alb = await startingAlb();
  return proxies.route('client-alb', { host: '127.0.0.1', port: alb.port });
}

/** The latest value of a queue metric the monitor published to the emulated CloudWatch. */
function latestQueueMetric(
  options: LocalTopologyOptions,
  cloudwatch: CloudWatch,
  metricName: string,
): { value: number; startMs: number } | undefined {
  const { namespace, dimensionName } = options.topology.queueMonitor;
  return cloudwatch.metrics
    .statistics({
      namespace,
      metricName,
      dimensions: [{ Name: dimensionName, Value: options.eventId }],
      startMs: 0,
      endMs: options.clock.now() + 1,
      periodSeconds: 60,
      statistic: 'Maximum',
    })
    .at(-1);
}

interface TopologyParts extends DataTier, Fleet {
  edge: StartedEdge;
  cloudwatch: CloudWatch;
  clientUrl: string;
  clientUrls: readonly string[];
  controlUrl: string;
  faultRecords: () => FaultRecord[];
}

function describeTopology(options: LocalTopologyOptions, parts: TopologyParts): TopologyStatus {
  const { clock, topology } = options;
  const { backend, cloudwatch } = parts;
  const queue = latestQueueMetric(options, cloudwatch, topology.queueMonitor.queueSizeMetric);
  const active = latestQueueMetric(options, cloudwatch, topology.queueMonitor.activeUsersMetric);
  return {
    simulatedTime: new Date(clock.now()).toISOString(),
    timeScale: clock.timeScale,
    endpoints: {
      edgeUrl: parts.edge.url,
      albUrl: parts.alb.url,
      clientUrl: parts.clientUrl,
      controlUrl: parts.controlUrl,
      redis: backend.endpoints.redis,
      postgres: backend.endpoints.postgres,
    },
    autoScalingGroup: parts.asg.describe(),
    targets: parts.alb.targetHealth(),
    alarms: cloudwatch.describe(),
    latestMetrics: { queueSize: queue?.value, activeUsers: active?.value, atMs: queue?.startMs },
    backend: backend.components(),
    faults: parts.faultRecords(),
  };
}

export async function startLocalTopology(options: LocalTopologyOptions): Promise<StartedTopology> {
  const { topology, clock } = options;
  const teardown = new Teardown();
  try {
    // Everything that needs nothing else starts at once; the app instances load their code
    // meanwhile and are told their endpoints once the data tier is up (those the group launches
    // later too: AppPreboot).
    const preboot = new AppPreboot(topology.autoScalingGroup.maxSize, options.log);
    teardown.defer(() => preboot.stop());
    const front = startFront(options, teardown);
    const [data, { alb, edge }, control, clientPath] = await allStarted<
      [DataTier, { alb: StartedAlb; edge: StartedEdge }, ControlServer, ProxyRoute | undefined]
    >([
      startDataTier(options, teardown),
      front,
      startControlServer().then((c) => {
        teardown.defer(() => c.stop());
        return c;
      }),
      startClientPath(options, () => front.then((f) => f.alb), teardown),
    ]);
    options.signal?.throwIfAborted();
    const fleet = createFleet(options, data, alb, preboot, teardown);
    const { cloudwatch, schedule } = createMonitoring(options, data, fleet.asg, teardown);
    const steps = options.steps ?? silentSteps;
    const prepare = options.prepare;
    await allStarted([
      steps.step(`app instances (${fleet.asg.desiredCapacity})`, () => fleet.asg.start()),
      prepare ? steps.step(prepare.label, () => prepare.run(data)) : Promise.resolve(),
    ]);
    const injected: InjectedFault[] = [];
    teardown.defer(() => Promise.allSettled(injected.map((f) => f.stop())));
    const faultRandom = seededRandom(streamSeed(options.seed ?? 1, FAULT_STREAM));
    const inject = async (fault: FaultAction) => {
      const { alb, asg, instances } = fleet;
      const f = await injectFault(
        { topology, clock, asg, alb, instances, backend: data.backend, clientPath, random: faultRandom },
        fault,
      );
      injected.push(f);
      return f;
    };
    const faultRecords = () => injected.map((f) => f.record);
    if (!options.queueMetrics) cloudwatch.start();
    schedule.start();
    const timeScale = new TimeScalePublisher(data.redis, TIME_SCALE_KEY, clock.timeScale);
    teardown.defer(() => timeScale.stop());
    const clientUrls = clientPath ? [`http://127.0.0.1:${clientPath.port}`] : fleet.alb.urls;
    const parts: TopologyParts = {
      ...data,
      ...fleet,
      edge,
      cloudwatch,
      clientUrl: clientUrls[0]!,
      clientUrls,
      controlUrl: control.url,
      faultRecords,
    };
    const describe = () => describeTopology(options, parts);
    mountTopologyRoutes(control, { status: describe, faultRecords, injectFault: inject });
    await steps.step('ready: targets healthy, edge answers 200', () =>
      waitUntilServing({
        targets: () => fleet.alb.targetHealth(),
        expectedTargets: fleet.asg.desiredCapacity,
        edgeUrl: edge.url,
        signal: options.signal,
      }),
    );
    const stop = async () => {
      clock.dispose();
      await teardown.unwind();
    };
    return {
      ...parts,
      topology,
      clock,
      schedule,
      control,
      positionUpdateSimMs: QUEUE_UPDATE_SIMULATED_MS,
      async setTimeScale(scale) {
        clock.setTimeScale(scale);
        fleet.alb.publish();
        await timeScale.publish(scale);
      },
      injectFault: inject,
      describe,
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (err) {
    await teardown.unwind();
    throw err;
  }
}
