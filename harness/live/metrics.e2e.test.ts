import { createServer } from 'node:http';
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { designTopology } from '../../infra/topology.ts';
import { selectBackend } from '../backends/select-backend.ts';
import { ScaledClock } from '../clock/clock.ts';
import { startLocalTopology, type TopologyStatus } from '../topology/local-topology.ts';
import { createPrometheusExporter } from './prometheus.ts';

const value = (families: Map<string, ParsedFamily>, name: string, labels: Record<string, string> = {}) => {
  const sample = families
    .get(name)
    ?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return sample?.value === undefined ? undefined : Number(sample.value);
};

/** What `/metrics` must agree with, from the control server's `/status` (what `status --json` prints). */
const stable = (s: TopologyStatus) =>
  JSON.stringify([
    s.latestMetrics.queueSize,
    s.autoScalingGroup.desiredCapacity,
    s.autoScalingGroup.instances.map((i) => [i.lifecycle, i.az]),
    s.targets.map((t) => t.state),
    s.alarms.map((a) => [a.name, a.state]),
  ]);

describe('/metrics on a real topology', () => {
  it('parses as Prometheus text and matches the status the control server reports', async () => {
    await using topology = await startLocalTopology({
      topology: designTopology,
      clock: new ScaledClock({ timeScale: 60 }),
      backend: await selectBackend('auto'),
      eventId: 'demo',
      log: () => {},
    });
    const { handler } = createPrometheusExporter({ status: () => topology.describe() });
    const server = createServer(handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const metricsUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`;
      const status = async () =>
        (await (await fetch(`${topology.controlUrl}/status`)).json()) as TopologyStatus;
      // The clock runs at 60×: compare a scrape with statuses taken just before and after it, equal.
      let checked = false;
      for (let attempt = 0; attempt < 20 && !checked; attempt++) {
        const before = await status();
        const families = new Map(
          parsePrometheusTextFormat(await (await fetch(metricsUrl)).text()).map((f) => [f.name, f]),
        );
        const after = await status();
        if (stable(before) !== stable(after)) continue;
        checked = true;
        const s = after;
        expect(value(families, 'tiketi_desired_capacity')).toBe(s.autoScalingGroup.desiredCapacity);
        for (const az of ['a', 'b'])
          expect(value(families, 'tiketi_instances', { lifecycle: 'InService', az })).toBe(
            s.autoScalingGroup.instances.filter((i) => i.az === az && i.lifecycle === 'InService').length,
          );
        for (const state of ['initial', 'healthy', 'unhealthy', 'draining'])
          expect(value(families, 'tiketi_target_health', { state }), state).toBe(
            s.targets.filter((t) => t.state === state).length,
          );
        for (const a of s.alarms)
          expect(value(families, 'tiketi_alarm_state', { alarm: a.name, state: a.state }), a.name).toBe(1);
        expect(value(families, 'tiketi_queue_size')).toBe(s.latestMetrics.queueSize ?? 0);
        expect(value(families, 'tiketi_clock_speed')).toBe(s.timeScale);
        const simulated = value(families, 'tiketi_simulated_time_seconds')!;
        expect(simulated * 1_000).toBeGreaterThanOrEqual(Date.parse(before.simulatedTime));
        expect(simulated * 1_000).toBeLessThanOrEqual(Date.parse(after.simulatedTime));
      }
      expect(checked).toBe(true);
    } finally {
      await new Promise((r) => server.close(r));
    }
  }, 180_000);
});
