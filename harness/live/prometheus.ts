/**
 * `GET /metrics`: the rehearsal in Prometheus's text format (prom-client), read at scrape time
 * from the same objects the status command and the report read: the topology's `describe()`, the
 * clock and the load generator. Names follow Prometheus's conventions (base units: seconds;
 * `_total` for counters).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, type Metric, Registry } from 'prom-client';
import { ENDPOINTS, type LatencyAggregate, type LatencyMetric } from '../metrics/latency.ts';
import { ALARM_STATES, TARGET_HEALTH_STATES } from '../model/aws.ts';
import { CLOCK_LIMITS, type ClockLimit } from '../report/run-record.ts';
import type { TopologyStatus } from '../topology/local-topology.ts';
import type { RouteHandler } from './dashboard.ts';

/** What `/metrics` reads; `clock` and `load` exist only while a rehearsal runs. */
export interface MetricsSource {
  /** `StartedTopology.describe()`. */
  status(): Pick<
    TopologyStatus,
    'simulatedTime' | 'timeScale' | 'autoScalingGroup' | 'targets' | 'alarms' | 'latestMetrics'
  >;
  clockLimitedBy?(): ClockLimit | undefined;
  load?(): LoadSnapshot | undefined;
}

export interface LoadSnapshot {
  totals: {
    joined: number;
    admitted: number;
    requests: number;
    errors: number;
    conflicts: number;
    socketDisconnects: number;
    socketsConnected: number;
  };
  latency: Pick<LatencyAggregate, 'cumulativeCounts'>;
}

/** Bucket bounds, seconds: the design's targets (0.1 s delivery, 0.2 s API) are bounds. */
export const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10, 30];
const LIFECYCLES = ['Pending', 'InService', 'Terminating'] as const;
const LOAD_COUNTERS = {
  joined: ['tiketi_load_users_joined_total', 'Virtual users who joined the queue'],
  admitted: ['tiketi_load_users_admitted_total', 'Virtual users admitted from the queue'],
  requests: ['tiketi_load_requests_total', 'HTTP requests the load generator completed'],
  errors: ['tiketi_load_request_errors_total', 'Requests answered 5xx or not at all'],
  conflicts: ['tiketi_load_conflicts_total', 'Requests answered 409 (a seat taken: expected contention)'],
  socketDisconnects: ['tiketi_load_socket_disconnects_total', 'Socket.IO disconnects the system caused'],
} as const;

/**
 * A histogram whose buckets come from a merged HDR histogram. prom-client's Histogram can only
 * observe values one by one; the load generator already holds every observation, merged.
 */
class CumulativeHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly series: () => { labels: Record<string, string>; metric: LatencyMetric }[],
    private readonly load: () => LoadSnapshot | undefined,
  ) {}

  get() {
    const boundsMs = LATENCY_BUCKETS_SECONDS.map((s) => s * 1_000);
    const values = this.series().flatMap(({ labels, metric }) => {
      const h = this.load()?.latency.cumulativeCounts(metric, boundsMs);
      if (!h) return [];
      return [
        ...LATENCY_BUCKETS_SECONDS.map((le, i) => ({
          metricName: `${this.name}_bucket`,
          labels: { ...labels, le },
          value: h.atOrBelow[i]!,
        })),
        { metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: h.count },
        { metricName: `${this.name}_sum`, labels, value: h.sumMs / 1_000 },
        { metricName: `${this.name}_count`, labels, value: h.count },
      ];
    });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

function gauge(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  read: (g: Gauge) => void,
) {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      read(this);
    },
  });
}

function registerTopology(registry: Registry, source: MetricsSource): void {
  const status = () => source.status();
  gauge(registry, 'tiketi_queue_size', 'Users waiting in the queue (last queue-monitor datapoint)', [], (g) =>
    g.set(status().latestMetrics.queueSize ?? 0),
  );
  gauge(
    registry,
    'tiketi_active_users',
    'Users admitted and shopping (last queue-monitor datapoint)',
    [],
    (g) => g.set(status().latestMetrics.activeUsers ?? 0),
  );
  gauge(registry, 'tiketi_desired_capacity', 'Desired capacity of the Auto Scaling group', [], (g) =>
    g.set(status().autoScalingGroup.desiredCapacity),
  );
  gauge(
    registry,
    'tiketi_instances',
    'Instances of the group by lifecycle and AZ',
    ['lifecycle', 'az'],
    (g) => {
      const instances = status().autoScalingGroup.instances;
      const zones = [...new Set(instances.map((i) => i.az))];
      for (const az of zones)
        for (const lifecycle of LIFECYCLES)
          g.set({ lifecycle, az }, instances.filter((i) => i.az === az && i.lifecycle === lifecycle).length);
    },
  );
  gauge(registry, 'tiketi_target_health', 'ALB targets by health state', ['state'], (g) => {
    const targets = status().targets;
    for (const state of TARGET_HEALTH_STATES)
      g.set({ state }, targets.filter((t) => t.state === state).length);
  });
  gauge(
    registry,
    'tiketi_alarm_state',
    '1 for the state each CloudWatch alarm is in, else 0',
    ['alarm', 'state'],
    (g) => {
      for (const a of status().alarms)
        for (const state of ALARM_STATES) g.set({ alarm: a.name, state }, a.state === state ? 1 : 0);
    },
  );
  gauge(registry, 'tiketi_simulated_time_seconds', 'The simulated clock, Unix seconds', [], (g) =>
    g.set(Date.parse(status().simulatedTime) / 1_000),
  );
  gauge(registry, 'tiketi_clock_speed', 'Simulated seconds per wall second', [], (g) =>
    g.set(status().timeScale),
  );
  gauge(
    registry,
    'tiketi_clock_limited_by',
    '1 for what sets the speed of the clock now, else 0',
    ['reason'],
    (g) => {
      const limit = source.clockLimitedBy?.();
      if (limit) for (const reason of CLOCK_LIMITS) g.set({ reason }, reason === limit ? 1 : 0);
    },
  );
}

function registerLoad(registry: Registry, source: MetricsSource): void {
  const load = () => source.load?.();
  for (const [key, [name, help]] of Object.entries(LOAD_COUNTERS) as [
    keyof typeof LOAD_COUNTERS,
    readonly [string, string],
  ][])
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        const totals = load()?.totals;
        if (totals) this.inc(totals[key]);
      },
    });
  gauge(registry, 'tiketi_load_sockets_connected', 'Virtual users connected over Socket.IO', [], (g) => {
    const totals = load()?.totals;
    if (totals) g.set(totals.socketsConnected);
  });
  const histograms = [
    new CumulativeHistogram(
      'tiketi_request_duration_seconds',
      'HTTP request latency the virtual users saw, by endpoint',
      () => ENDPOINTS.map((endpoint) => ({ labels: { endpoint }, metric: endpoint })),
      load,
    ),
    new CumulativeHistogram(
      'tiketi_socket_delivery_seconds',
      'Socket.IO delivery: server emit to client receipt',
      () => [{ labels: {}, metric: 'socket.delivery' }],
      load,
    ),
    new CumulativeHistogram(
      'tiketi_socket_connect_seconds',
      'Socket.IO connect handshake',
      () => [{ labels: {}, metric: 'socket.connect' }],
      load,
    ),
  ];
  // A custom collector: prom-client's registry formats whatever `get()` returns.
  for (const h of histograms) registry.registerMetric(h as unknown as Metric);
}

export interface PrometheusExporter {
  readonly registry: Registry;
  /** Mount at `/metrics`. */
  readonly handler: RouteHandler;
}

export function createPrometheusExporter(source: MetricsSource): PrometheusExporter {
  const registry = new Registry();
  registerTopology(registry, source);
  // `up` has no load generator: its scrape has no load figures rather than zeros.
  if (source.load) registerLoad(registry, source);
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET') {
      res
        .writeHead(405, { 'content-type': 'application/json', allow: 'GET' })
        .end(JSON.stringify({ error: { code: 'method_not_allowed', message: 'use GET /metrics' } }));
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) =>
        res
          .writeHead(503, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: { code: 'metrics_unavailable', message: err.message } })),
    );
  };
  return { registry, handler };
}
