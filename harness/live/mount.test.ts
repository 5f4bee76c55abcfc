import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { designTopology } from '../../infra/topology.ts';
import { startControlServer } from '../topology/control-server.ts';
import { createLiveDashboard } from './dashboard.ts';
import { liveFrame } from './live-frame.ts';
import { liveUrlLines, mountLive } from './mount.ts';
import type { MetricsSource } from './prometheus.ts';

const status: ReturnType<MetricsSource['status']> = {
  simulatedTime: '2026-11-24T20:00:00.000Z',
  timeScale: 30,
  autoScalingGroup: {
    desiredCapacity: 3,
    minSize: 2,
    maxSize: 10,
    cooldownRemainingSeconds: 0,
    activityInProgress: undefined,
    instances: [],
    recentActivities: [],
  },
  targets: [],
  alarms: [],
  latestMetrics: {},
};

describe('mountLive on the control server', () => {
  it('serves /metrics and the dashboard on GET, and names their URLs', async () => {
    const control = await startControlServer();
    const dashboard = createLiveDashboard({
      topology: designTopology,
      initialFrame: liveFrame(
        {
          scenario: 'smoke',
          scenarioFile: 'scenarios/smoke.ts',
          users: 1,
          timeScaleRequested: 30,
          startMs: 0,
          endMs: 60_000,
          nowMs: 0,
          wallSeconds: 0,
          samples: [],
          faults: [],
          expectations: [],
        },
        designTopology,
      ),
    });
    try {
      const urls = mountLive(control, { metrics: { status: () => status }, dashboard });
      expect(urls).toEqual({
        metricsUrl: `${control.url}/metrics`,
        dashboardUrl: `${control.url}/dashboard`,
      });
      expect(liveUrlLines(urls)).toEqual([
        `Live dashboard:     ${control.url}/dashboard`,
        `Prometheus:         ${control.url}/metrics`,
      ]);
      const families = parsePrometheusTextFormat(await (await fetch(urls.metricsUrl!)).text());
      expect(families.find((f) => f.name === 'tiketi_desired_capacity')?.metrics[0]?.value).toBe('3');
      expect(await (await fetch(urls.dashboardUrl!)).text()).toContain('data-events="/dashboard/events"');
      const post = await fetch(urls.metricsUrl!, { method: 'POST' });
      expect(post.status).toBe(404);
      expect(((await post.json()) as { error: { code: string } }).error.code).toBe('not_found');
      // Without a dashboard, /metrics only.
      const bare = await startControlServer();
      try {
        expect(mountLive(bare, { metrics: { status: () => status } })).toEqual({
          metricsUrl: `${bare.url}/metrics`,
        });
        expect((await fetch(`${bare.url}/dashboard`)).status).toBe(404);
      } finally {
        await bare.stop();
      }
    } finally {
      dashboard.close();
      await control.stop();
    }
  });
});
