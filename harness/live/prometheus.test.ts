import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import { afterEach, describe, expect, it } from 'vitest';
import { LatencyAggregate, LatencyRecorder } from '../metrics/latency.ts';
import { createPrometheusExporter, type LoadSnapshot, type MetricsSource } from './prometheus.ts';

type Status = ReturnType<MetricsSource['status']>;

function status(): Status {
  const instance = (id: string, az: string, lifecycle: 'Pending' | 'InService' | 'Terminating') => ({
    id,
    az,
    lifecycle,
    health: 'Healthy' as const,
    target: lifecycle === 'InService' ? ('healthy' as const) : ('draining' as const),
  });
  return {
    simulatedTime: '2026-11-24T20:00:00.000Z',
    timeScale: 24.5,
    autoScalingGroup: {
      desiredCapacity: 4,
      minSize: 2,
      maxSize: 10,
      cooldownRemainingSeconds: 120,
      activityInProgress: undefined,
      instances: [
        instance('app-1', 'a', 'InService'),
        instance('app-2', 'b', 'InService'),
        instance('app-3', 'a', 'Pending'),
        instance('app-4', 'b', 'Pending'),
        instance('app-0', 'a', 'Terminating'),
      ],
      recentActivities: [],
    },
    targets: [
      { id: 'app-1', az: 'a', url: 'http://x', state: 'healthy', connections: 3 },
      { id: 'app-2', az: 'b', url: 'http://y', state: 'healthy', connections: 2 },
      { id: 'app-0', az: 'a', url: 'http://z', state: 'draining', connections: 1 },
    ],
    alarms: [
      { name: 'tiketi-queue-scale-out', state: 'ALARM', reason: 'Threshold Crossed' },
      { name: 'tiketi-queue-scale-in', state: 'OK', reason: 'Threshold Crossed' },
    ],
    latestMetrics: { queueSize: 20_000, activeUsers: 3_000, atMs: Date.parse('2026-11-24T19:59:00Z') },
  };
}

/** Latency recorded the way workers record it and merged the way the runner merges it. */
function load(): LoadSnapshot {
  const recorder = new LatencyRecorder();
  for (const ms of [3, 8, 40, 40, 150, 700]) recorder.record('POST /api/events/:eventId/queue', ms);
  for (const ms of [20, 90, 120]) recorder.record('socket.delivery', ms);
  const latency = new LatencyAggregate();
  latency.add(recorder.drain());
  return {
    totals: {
      joined: 25_000,
      admitted: 9_000,
      requests: 90_123,
      errors: 12,
      conflicts: 40,
      socketDisconnects: 2,
      socketsConnected: 24_941,
    },
    latency,
  };
}

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

async function scrape(source: MetricsSource): Promise<Map<string, ParsedFamily>> {
  const { handler } = createPrometheusExporter(source);
  server = createServer((req, res) =>
    req.url === '/metrics' ? handler(req, res) : res.writeHead(404).end(),
  );
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const res = await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
  return new Map(parsePrometheusTextFormat(await res.text()).map((f) => [f.name, f]));
}

const value = (families: Map<string, ParsedFamily>, name: string, labels: Record<string, string> = {}) => {
  const family = families.get(name);
  const sample = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return sample?.value === undefined ? undefined : Number(sample.value);
};

describe('/metrics', () => {
  it('parses as Prometheus text, and every value is the topology status', async () => {
    const s = status();
    const families = await scrape({ status: () => s, clockLimitedBy: () => 'arrivals' });
    expect(families.get('tiketi_queue_size')?.type).toBe('GAUGE');
    expect(value(families, 'tiketi_queue_size')).toBe(s.latestMetrics.queueSize);
    expect(value(families, 'tiketi_active_users')).toBe(s.latestMetrics.activeUsers);
    expect(value(families, 'tiketi_desired_capacity')).toBe(s.autoScalingGroup.desiredCapacity);
    expect(value(families, 'tiketi_instances', { lifecycle: 'InService', az: 'a' })).toBe(1);
    expect(value(families, 'tiketi_instances', { lifecycle: 'Pending', az: 'b' })).toBe(1);
    expect(value(families, 'tiketi_instances', { lifecycle: 'Terminating', az: 'a' })).toBe(1);
    expect(value(families, 'tiketi_instances', { lifecycle: 'Terminating', az: 'b' })).toBe(0);
    expect(value(families, 'tiketi_target_health', { state: 'healthy' })).toBe(2);
    expect(value(families, 'tiketi_target_health', { state: 'draining' })).toBe(1);
    expect(value(families, 'tiketi_alarm_state', { alarm: 'tiketi-queue-scale-out', state: 'ALARM' })).toBe(
      1,
    );
    expect(value(families, 'tiketi_alarm_state', { alarm: 'tiketi-queue-scale-out', state: 'OK' })).toBe(0);
    expect(value(families, 'tiketi_alarm_state', { alarm: 'tiketi-queue-scale-in', state: 'OK' })).toBe(1);
    expect(value(families, 'tiketi_simulated_time_seconds')).toBe(Date.parse(s.simulatedTime) / 1_000);
    expect(value(families, 'tiketi_clock_speed')).toBe(24.5);
    expect(value(families, 'tiketi_clock_limited_by', { reason: 'arrivals' })).toBe(1);
    expect(value(families, 'tiketi_clock_limited_by', { reason: 'requested' })).toBe(0);
    // No rehearsal running (`up`): no load figures, and no made-up zeros.
    expect(families.has('tiketi_load_requests_total')).toBe(false);
  });

  it('a later scrape reads the status again', async () => {
    let s = status();
    const { handler } = createPrometheusExporter({ status: () => s });
    server = createServer(handler);
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`;
    const read = async () =>
      value(
        new Map(parsePrometheusTextFormat(await (await fetch(url)).text()).map((f) => [f.name, f])),
        'tiketi_queue_size',
      );
    expect(await read()).toBe(20_000);
    s = { ...s, latestMetrics: { queueSize: 512 } };
    expect(await read()).toBe(512);
  });

  it('load-generator counters and latency histograms from the merged HDR histograms', async () => {
    const l = load();
    const families = await scrape({ status, load: () => l });
    expect(families.get('tiketi_load_requests_total')?.type).toBe('COUNTER');
    expect(value(families, 'tiketi_load_requests_total')).toBe(90_123);
    expect(value(families, 'tiketi_load_request_errors_total')).toBe(12);
    expect(value(families, 'tiketi_load_users_joined_total')).toBe(25_000);
    expect(value(families, 'tiketi_load_sockets_connected')).toBe(24_941);
    // This parser flattens a histogram's label sets into one (a known limit of
    // parse-prometheus-text-format 1.1): one endpoint recorded keeps its buckets readable.
    const queue = families.get('tiketi_request_duration_seconds')!;
    expect(queue.type).toBe('HISTOGRAM');
    expect(queue.metrics[0]!.buckets).toMatchObject({
      '0.005': '1',
      '0.01': '2',
      '0.05': '4',
      '0.2': '5',
      '1': '6',
      '+Inf': '6',
    });
    const delivery = families.get('tiketi_socket_delivery_seconds')!.metrics[0]!;
    expect(delivery.buckets).toMatchObject({ '0.025': '1', '0.1': '2', '0.2': '3', '+Inf': '3' });
    expect(Number(delivery.count)).toBe(3);
    expect(Number(delivery.sum)).toBeCloseTo((20 + 90 + 120) / 1_000, 2);
  });

  it('answers other methods with a JSON 405', async () => {
    const { handler } = createPrometheusExporter({ status });
    server = createServer(handler);
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const res = await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`, {
      method: 'POST',
    });
    expect(res.status).toBe(405);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
  });
});

describe('docs/grafana-dashboard.json', () => {
  it('queries only metrics the exporter declares', () => {
    const dashboard = JSON.parse(
      readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8'),
    ) as {
      panels: { targets: { expr: string }[] }[];
    };
    const declared = new Set(
      createPrometheusExporter({ status, load })
        .registry.getMetricsAsArray()
        .map((m) => m.name),
    );
    const used = dashboard.panels.flatMap((p) =>
      p.targets.flatMap((t) =>
        (t.expr.match(/tiketi_[a-z_]+/g) ?? []).map((n) => n.replace(/_(bucket|sum|count)$/, '')),
      ),
    );
    expect(used.length).toBeGreaterThan(10);
    expect(used.filter((n) => !declared.has(n))).toEqual([]);
  });
});
