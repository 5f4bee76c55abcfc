import { describe, expect, it } from 'vitest';
import { designTopology } from '../../infra/topology.ts';
import { ManualClock } from '../clock/clock.ts';
import type { ReportFrame } from '../report/html.ts';
import type { WorldSample } from '../worlds/world.ts';
import { TopologyFeed } from './topology-feed.ts';

const T0 = Date.parse('2026-11-24T19:00:00Z');

describe("TopologyFeed (up's live page)", () => {
  it('samples once per simulated minute and publishes the topology so far, with no load and no expectations', async () => {
    const clock = new ManualClock(T0);
    const published: ReportFrame[] = [];
    const alb = { requests: 100, errors502: 1, errors503: 0 };
    let queueSize = 0;
    const world = (): WorldSample => ({
      queueSize,
      activeUsers: 2,
      instances: { pending: 0, inService: 2, terminating: 0 },
      desiredCapacity: 2,
      targets: { initial: 0, healthy: 2, unhealthy: 0, draining: 0 },
      alarms: { 'tiketi-queue-scale-out': 'OK' },
      connectionsPerInstance: { 'app-1': 5, 'app-2': 4 },
      socketsPerInstance: { 'app-1': 3, 'app-2': 2 },
    });
    const feed = new TopologyFeed({
      publish: (f) => published.push(f),
      topology: designTopology,
      clock,
      timeScale: 60,
      sample: async () => world(),
      albStats: () => ({ ...alb }),
      faults: () => [],
      wallNow: () => 0,
      log: () => {},
    });
    expect(feed.frame()).toMatchObject({ state: 'running', series: [], nowMs: T0, expectations: [] });
    feed.start();
    alb.requests = 160;
    alb.errors503 = 2;
    queueSize = 40;
    await clock.advanceAsync(59_000);
    expect(published).toEqual([]);
    await clock.advanceAsync(1_000);
    await clock.advanceAsync(60_000);
    feed.stop();
    await clock.advanceAsync(120_000);
    expect(published.map((f) => f.nowMs)).toEqual([T0 + 60_000, T0 + 120_000]);
    const [first, second] = published.at(-1)!.series;
    expect(first).toMatchObject({
      queueSize: 40,
      requests: 60,
      errors: 2,
      socketsConnected: 5,
      desiredCapacity: 2,
    });
    expect(second).toMatchObject({ requests: 0, errors: 0 });
  });
});
