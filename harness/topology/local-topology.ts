/**
 * `tiketi-sim up`: the production design on one machine. Real Redis (primary, replica, three
 * Sentinels) and PostgreSQL (writer, synchronous replica); app instances as processes behind the
 * ALB emulator; the Auto Scaling group driven by CloudWatch alarms fed by the real queue-monitor
 * handler every simulated minute; the edge in front. One simulated clock runs the control plane.
 */

import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { Redis } from 'ioredis';
import pg from 'pg';
import { migrate } from '../../app/db/migrate.ts';
import { createQueueMonitorHandler, type MetricsSink } from '../../app/lambda/queue-monitor.ts';
import type { Topology } from '../../infra/topology.ts';
import { type StartedAlb, startAlb } from '../alb/alb.ts';
import type { Backend, BackendEndpoints, StartedBackend } from '../backends/backend.ts';
import type { LogSink } from '../backends/local/process.ts';
import type { ScaledClock } from '../clock/clock.ts';
import { AutoScalingGroup } from '../control-plane/auto-scaling-group.ts';
import { CloudWatch } from '../control-plane/cloudwatch.ts';
import { Schedule } from '../control-plane/schedule.ts';
import { type StartedEdge, startEdge } from '../edge/edge.ts';
import { FaultError, type InjectedFault, injectFault } from '../faults/inject.ts';
import { type ProxyRoute, startProxyHost } from '../faults/proxy/proxy-host.ts';
import { type StartedAppInstance, startAppInstance } from '../instances/app-instance.ts';
import type { FaultRecord } from '../report/run-record.ts';
import { type FaultAction, faultActionSchema } from '../scenario/schema.ts';

/** Redis key through which app instances follow the simulated clock's speed. */
export const TIME_SCALE_KEY = 'tiketi-sim:time-scale';
/**
 * Queue positions reach queued users every 20 simulated seconds here (a browser-refreshed waiting
 * room's rhythm: Cloudflare's default refresh is 20 s), at most once per wall second, instead of
 * production's every second: 25,000 pushes per wall second would take this machine's two cores
 * whatever the clock's speed, and the clock could never slow the load down.
 */
const QUEUE_UPDATE_SIMULATED_MS = 20_000;

export interface LocalTopologyOptions {
  topology: Topology;
  clock: ScaledClock;
  backend: Backend;
  /** The event whose queue the alarms watch. */
  eventId: string;
  log: LogSink;
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
  /** Where clients send traffic: the client route when there is one, else the ALB. */
  readonly clientUrl: string;
  readonly tokenSecret: string;
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

export async function startLocalTopology(options: LocalTopologyOptions): Promise<StartedTopology> {
  const { topology, clock, log } = options;
  const stack: (() => Promise<unknown> | unknown)[] = [];
  const unwind = async () => {
    for (const undo of stack.splice(0).reverse()) await Promise.resolve(undo()).catch(() => undefined);
  };
  try {
    const scale = clock.timeScale;
    // Sentinel runs on wall time: the design's detection time, compressed, with a floor so a busy
    // machine does not fail over on a slow reply.
    const backend = await options.backend.start({
      log,
      redisDownAfterMs: Math.max(500, (topology.redis.sentinelDownAfterSeconds * 1_000) / scale),
      redisFaultPath: options.redisPath ?? false,
      redisFailoverTimeoutMs: Math.max(
        3_000,
        (topology.redis.sentinelFailoverTimeoutSeconds * 1_000) / scale,
      ),
    });
    stack.push(() => backend.stop());
    // The harness's own connections skip the fault proxy: a rehearsed partition must not blind it.
    const admin = backend.adminEndpoints ?? backend.endpoints;
    const db = new pg.Pool({ connectionString: admin.postgres.writerUrl, max: 5 });
    db.on('error', () => {});
    db.on('connect', (c) => c.on('error', () => {}));
    stack.push(() => db.end());
    const redis = redisClientFor(admin);
    stack.push(() => redis.quit());
    await migrate(db);
    await redis.set(TIME_SCALE_KEY, String(scale));

    const alb = await startAlb({
      topology,
      clock,
      workers: options.albWorkers ?? 2,
      timeScale: () => clock.timeScale,
    });
    stack.push(() => alb.stop());

    const tokenSecret = randomBytes(24).toString('hex');
    const instances = new Map<string, StartedAppInstance>();
    stack.push(() => Promise.allSettled([...instances.values()].map((i) => i.kill())));
    const asg: AutoScalingGroup = new AutoScalingGroup({
      topology,
      clock,
      warmStart: true,
      launcher: {
        async launch({ id, az }) {
          const instance = await startAppInstance({
            id,
            az,
            endpoints: backend.endpoints,
            tokenSecret,
            log,
            env: {
              TIME_SCALE: `redis:${TIME_SCALE_KEY}`,
              QUEUE_UPDATE_SIMULATED_MS: String(QUEUE_UPDATE_SIMULATED_MS),
              LOG_LEVEL: 'warn',
              DRAIN_NOTICE_MS: '500',
              // The scenario's limits (its `topology` override merged on the design's).
              LIMITS: JSON.stringify(topology.limits),
              ...options.appEnv,
            },
          });
          instances.set(id, instance);
        },
        async terminate(id) {
          await instances.get(id)?.stop(10_000);
        },
      },
      targets: {
        register: ({ id, az }) => alb.registerTarget({ id, az, url: instances.get(id)!.url }),
        deregister: (id) => alb.deregisterTarget(id),
        health: (id) => alb.health(id),
      },
    });
    stack.push(() => asg.stop());
    const cloudwatch = new CloudWatch({
      topology,
      clock,
      eventId: options.eventId,
      onScalingAction: (policy, alarm) =>
        asg.executePolicy(policy, `a monitor alarm ${alarm.name} in state ALARM`),
    });
    stack.push(() => cloudwatch.stop());
    const monitor = createQueueMonitorHandler({
      redis,
      sink: options.queueMetrics?.sink ?? cloudwatch.metrics,
      now: options.queueMetrics?.now ?? (() => new Date(clock.now())),
    });
    const schedule = new Schedule(clock, topology.queueMonitor.scheduleSeconds, monitor);
    stack.push(() => schedule.stop());
    await asg.start();

    const edge = await startEdge({ topology, clock, originUrl: alb.url });
    stack.push(() => edge.stop());

    let clientPath: ProxyRoute | undefined;
    if (options.clientPath) {
      const proxies = await startProxyHost();
      stack.push(() => proxies.stop());
      clientPath = await proxies.route('client-alb', { host: '127.0.0.1', port: alb.port });
    }
    const clientUrl = clientPath ? `http://127.0.0.1:${clientPath.port}` : alb.url;
    const injected: InjectedFault[] = [];
    stack.push(() => Promise.allSettled(injected.map((f) => f.stop())));
    const inject = async (fault: FaultAction) => {
      const f = await injectFault({ topology, clock, asg, alb, instances, backend, clientPath }, fault);
      injected.push(f);
      return f;
    };

    let status: () => TopologyStatus = () => {
      throw new Error('not ready');
    };
    const control: Server = createServer((req, res) => {
      const reply = (status: number, body: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.method === 'GET' && req.url === '/status') return reply(200, status());
      if (req.method === 'GET' && req.url === '/faults')
        return reply(
          200,
          injected.map((f) => f.record),
        );
      if (req.method === 'POST' && req.url === '/faults') {
        let raw = '';
        req.on('data', (d: Buffer) => (raw += d));
        req.on('end', () => {
          let body: unknown;
          try {
            body = JSON.parse(raw);
          } catch {
            return reply(400, { error: { code: 'invalid_json', message: 'the body is not JSON' } });
          }
          const parsed = faultActionSchema.safeParse(body);
          if (!parsed.success) {
            const issue = parsed.error.issues[0]!;
            return reply(400, {
              error: {
                code: 'invalid_fault',
                message: issue.message,
                field: issue.path.join('.') || 'fault',
              },
            });
          }
          inject(parsed.data).then(
            (f) => reply(201, f.record),
            (err: Error) =>
              err instanceof FaultError
                ? reply(409, { error: { code: 'fault_not_possible', message: err.message } })
                : reply(500, { error: { code: 'fault_failed', message: err.message } }),
          );
        });
        return;
      }
      reply(404, { error: { code: 'not_found', message: 'GET /status, GET /faults, POST /faults' } });
    });
    await new Promise<void>((r) => control.listen(0, '127.0.0.1', () => r()));
    stack.push(() => {
      control.closeAllConnections();
      return new Promise((r) => control.close(r));
    });
    const controlUrl = `http://127.0.0.1:${(control.address() as { port: number }).port}`;

    if (!options.queueMetrics) cloudwatch.start();
    schedule.start();

    const describe = (): TopologyStatus => {
      const { namespace, dimensionName, queueSizeMetric, activeUsersMetric } = topology.queueMonitor;
      const last = (metricName: string) =>
        cloudwatch.metrics
          .statistics({
            namespace,
            metricName,
            dimensions: [{ Name: dimensionName, Value: options.eventId }],
            startMs: 0,
            endMs: clock.now() + 1,
            periodSeconds: 60,
            statistic: 'Maximum',
          })
          .at(-1);
      const q = last(queueSizeMetric);
      return {
        simulatedTime: new Date(clock.now()).toISOString(),
        timeScale: clock.timeScale,
        endpoints: {
          edgeUrl: edge.url,
          albUrl: alb.url,
          clientUrl,
          controlUrl,
          redis: backend.endpoints.redis,
          postgres: backend.endpoints.postgres,
        },
        autoScalingGroup: asg.describe(),
        targets: alb.targetHealth(),
        alarms: cloudwatch.describe(),
        latestMetrics: { queueSize: q?.value, activeUsers: last(activeUsersMetric)?.value, atMs: q?.startMs },
        backend: backend.components(),
        faults: injected.map((f) => f.record),
      };
    };
    status = describe;
    // Instances read the clock's speed from Redis. During a rehearsed Redis failover the write may
    // fail: the harness keeps going and retries until the new primary takes it.
    let wanted = scale;
    let retry: NodeJS.Timeout | undefined;
    const publishTimeScale = async (timeScale: number): Promise<void> => {
      wanted = timeScale;
      try {
        await redis.set(TIME_SCALE_KEY, String(timeScale));
      } catch {
        retry ??= setTimeout(() => {
          retry = undefined;
          void publishTimeScale(wanted);
        }, 1_000);
      }
    };
    stack.push(() => clearTimeout(retry));
    const stop = async () => {
      clock.dispose();
      await unwind();
    };
    return {
      topology,
      clock,
      backend,
      alb,
      edge,
      cloudwatch,
      asg,
      schedule,
      instances,
      controlUrl,
      clientUrl,
      tokenSecret,
      db,
      redis,
      async setTimeScale(timeScale) {
        clock.setTimeScale(timeScale);
        alb.publish();
        await publishTimeScale(timeScale);
      },
      injectFault: inject,
      faultRecords: () => injected.map((f) => f.record),
      describe,
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}
