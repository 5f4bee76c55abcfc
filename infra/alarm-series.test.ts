/**
 * One definition of what the scaling alarms watch (`alarmSeriesOf`): the emulator's CloudWatch,
 * fed by the real queue-monitor handler, alarms on a drop whatever its event id — the id the
 * emulator was started with included or not. (The CDK side: "alarms" in infra/cdk/tiketi-stack.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { createQueueMonitorHandler } from '../app/lambda/queue-monitor.ts';
import { ManualClock } from '../harness/clock/clock.ts';
import { CloudWatch } from '../harness/control-plane/cloudwatch.ts';
import { designTopology, queueMetricSettingsOf } from './topology.ts';

const START_MS = Date.parse('2026-11-24T19:50:00Z');

/** The emulator's CloudWatch with the design's alarms, fed every minute by the real handler. */
function emulatedDrop(queues: Record<string, number>) {
  const clock = new ManualClock(START_MS);
  const actions: string[] = [];
  const cloudwatch = new CloudWatch({
    topology: designTopology,
    clock,
    eventId: 'default',
    onScalingAction: (policy) => actions.push(policy),
  });
  const monitor = createQueueMonitorHandler({
    redis: {
      smembers: async () => Object.keys(queues),
      zcard: async (key) => queues[/\{(.+)\}/.exec(key)![1]!] ?? 0,
      scard: async () => 0,
    },
    sink: cloudwatch.metrics,
    settings: queueMetricSettingsOf(designTopology),
    now: () => new Date(clock.now()),
  });
  return { clock, cloudwatch, monitor, actions };
}

describe('the emulated alarms watch the series the queue monitor publishes', () => {
  it('scales out for a drop of any event id, from the fleet-wide QueueSize', async () => {
    const { clock, cloudwatch, monitor, actions } = emulatedDrop({ 'concert-42': 6_000 });
    await monitor();
    clock.advance(60_000);
    cloudwatch.evaluateAll();
    expect(cloudwatch.describe().find((a) => a.name === 'tiketi-queue-scale-out')?.state).toBe('ALARM');
    expect(actions).toEqual(['tiketi-scale-out']);
  });

  it('adds the queues of every event: two drops of 3,000 are one 6,000 queue for the fleet', async () => {
    const { clock, cloudwatch, monitor } = emulatedDrop({ 'drop-a': 3_000, 'drop-b': 3_000 });
    await monitor();
    clock.advance(60_000);
    cloudwatch.evaluateAll();
    const states = Object.fromEntries(cloudwatch.describe().map((a) => [a.name, a.state]));
    expect(states['tiketi-queue-scale-out']).toBe('ALARM');
    expect(states['tiketi-queue-scale-out-aggressive']).toBe('OK');
  });
});
