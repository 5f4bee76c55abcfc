import { describe, expect, it } from 'vitest';
import { designTopology } from '../../infra/topology.ts';
import { ManualClock } from '../clock/clock.ts';
import type { TargetHealthState } from '../model/aws.ts';
import { AutoScalingGroup, type InstanceLauncher, type TargetRegistry } from './auto-scaling-group.ts';

const T0 = Date.parse('2026-11-24T19:55:00Z');
const BOOT_MS = 240_000; // the design's 3–5 minutes: the midpoint
const DRAIN_MS = designTopology.loadBalancer.deregistrationDelaySeconds * 1_000;

/** Our own interfaces, recorded: launches and terminations happen on the clock. */
function world(clock: ManualClock) {
  const health = new Map<string, TargetHealthState>();
  const launched: string[] = [];
  const terminated: string[] = [];
  const launcher: InstanceLauncher = {
    launch: async ({ id, az }) => {
      launched.push(`${id}@${az}`);
    },
    terminate: async (id) => {
      terminated.push(id);
    },
  };
  const targets: TargetRegistry = {
    register: ({ id }) => health.set(id, 'healthy'),
    deregister: (id) => {
      health.set(id, 'draining');
      return clock.sleep(DRAIN_MS).then(() => {
        health.delete(id);
      });
    },
    health: (id) => health.get(id) ?? 'unused',
  };
  return { launcher, targets, health, launched, terminated };
}

async function started(clock: ManualClock) {
  const w = world(clock);
  const asg = new AutoScalingGroup({
    topology: designTopology,
    clock,
    launcher: w.launcher,
    targets: w.targets,
    warmStart: true,
    random: () => 0,
  });
  await asg.start();
  return { asg, ...w };
}

describe('Auto Scaling group (simple scaling)', () => {
  it('starts at the desired capacity, one instance per AZ', async () => {
    const clock = new ManualClock(T0);
    const { asg, launched } = await started(clock);
    expect(launched).toEqual(['app-1@a', 'app-2@b']);
    expect(asg.count('InService')).toBe(2);
  });

  it('a +2 then +5 scale-out, clamped to max, AZs balanced, cooldown from completion', async () => {
    const clock = new ManualClock(T0);
    const { asg, launched } = await started(clock);
    asg.executePolicy('tiketi-scale-out', 'a monitor alarm tiketi-queue-scale-out in state ALARM');
    expect(asg.desiredCapacity).toBe(4);
    expect(asg.count('Pending')).toBe(2);
    // While the activity is in progress (instances booting) the group ignores other policies.
    clock.advance(60_000);
    asg.executePolicy('tiketi-scale-out-aggressive', 'alarm');
    expect(asg.refusals.at(-1)?.reason).toMatch(/scaling activity 1 in progress/);
    await clock.advanceAsync(BOOT_MS - 60_000);
    expect(asg.count('InService')).toBe(4);
    expect(asg.activities[0]).toMatchObject({ status: 'Successful', endMs: T0 + BOOT_MS });
    expect(asg.activities[0]!.cause).toMatch(
      /triggered policy tiketi-scale-out changing the desired capacity from 2 to 4/,
    );
    // The 180 s cooldown starts when the activity completed.
    await clock.advanceAsync(179_000);
    asg.executePolicy('tiketi-scale-out-aggressive', 'alarm');
    expect(asg.refusals.at(-1)?.reason).toMatch(/cooldown until 2026-11-24T20:02:00Z/);
    await clock.advanceAsync(1_000);
    asg.executePolicy('tiketi-scale-out-aggressive', 'alarm');
    expect(asg.desiredCapacity).toBe(9);
    await clock.advanceAsync(BOOT_MS);
    expect(asg.count('InService')).toBe(9);
    const perAz = (az: string) => asg.live().filter((i) => i.az === az).length;
    expect([perAz('a'), perAz('b')]).toEqual([5, 4]);
    // +2 at 9 of max 10 gives 10, and at 10 nothing.
    await clock.advanceAsync(300_000);
    asg.executePolicy('tiketi-scale-out', 'alarm');
    expect(asg.desiredCapacity).toBe(10);
    await clock.advanceAsync(BOOT_MS + 180_000);
    asg.executePolicy('tiketi-scale-out', 'alarm');
    expect(asg.refusals.at(-1)?.reason).toMatch(/already at max \(10\)/);
    expect(launched).toHaveLength(10);
  });

  it('stopped while instances boot: they never start (no process outlives the run)', async () => {
    const clock = new ManualClock(T0);
    const { asg, launched } = await started(clock);
    asg.executePolicy('tiketi-scale-out', 'alarm');
    await clock.advanceAsync(BOOT_MS / 2);
    asg.stop();
    await clock.advanceAsync(BOOT_MS);
    expect(launched).toEqual(['app-1@a', 'app-2@b']);
    expect(asg.count('InService')).toBe(2);
  });

  it('scale-in takes one instance from the AZ with the most, after draining, then waits 600 s', async () => {
    const clock = new ManualClock(T0);
    const { asg, health, terminated } = await started(clock);
    asg.executePolicy('tiketi-scale-out', 'alarm');
    await clock.advanceAsync(BOOT_MS + 180_000);
    asg.executePolicy('tiketi-scale-out', 'alarm'); // 4 → 6: a,b,a,b,a,b
    await clock.advanceAsync(BOOT_MS + 180_000);
    asg.executePolicy('tiketi-scale-out', 'alarm'); // 6 → 8
    await clock.advanceAsync(BOOT_MS + 180_000);
    asg.executePolicy('tiketi-scale-out-aggressive', 'alarm'); // 8 → 10... clamped: 10
    await clock.advanceAsync(BOOT_MS + 300_000);
    expect(asg.count('InService')).toBe(10);
    asg.executePolicy('tiketi-scale-in', 'a monitor alarm tiketi-queue-scale-in in state ALARM');
    const victim = asg.live().find((i) => i.lifecycle === 'Terminating')!;
    expect(victim.id).toBe('app-1'); // AZ a and b tie at 5: the oldest of the first goes
    expect(health.get('app-1')).toBe('draining');
    await clock.advanceAsync(DRAIN_MS);
    expect(terminated).toEqual(['app-1']);
    asg.executePolicy('tiketi-scale-in', 'alarm');
    expect(asg.refusals.at(-1)?.reason).toMatch(/cooldown/);
    await clock.advanceAsync(600_000);
    asg.executePolicy('tiketi-scale-in', 'alarm');
    const second = asg.live().find((i) => i.lifecycle === 'Terminating')!;
    expect(second.az).toBe('b'); // a now has 4, b has 5
  });

  it('replaces an instance the load balancer finds unhealthy, but only after the grace period', async () => {
    const clock = new ManualClock(T0);
    const { asg, health, launched, terminated } = await started(clock);
    asg.executePolicy('tiketi-scale-out', 'alarm');
    await clock.advanceAsync(BOOT_MS);
    health.set('app-3', 'unhealthy');
    await clock.advanceAsync(20_000); // 260 s after launch: inside the 300 s grace
    expect(terminated).toEqual([]);
    await clock.advanceAsync(60_000);
    expect(asg.instances.get('app-3')).toMatchObject({ health: 'Unhealthy' });
    await clock.advanceAsync(DRAIN_MS + 20_000);
    expect(terminated).toEqual(['app-3']);
    expect(launched.at(-1)).toMatch(/^app-5@/);
    expect(asg.activities.some((a) => /ELB system health check failure of app-3/.test(a.cause))).toBe(true);
    // The launcher cannot say whether the process was alive: the record says nothing rather than guess.
    expect(asg.healthReplacements).toEqual([
      { instanceId: 'app-3', atMs: expect.any(Number), processAlive: undefined },
    ]);
  });

  it('records whether an instance the health check replaced was still running', async () => {
    const clock = new ManualClock(T0);
    const w = world(clock);
    const running = new Set(['app-1', 'app-2']);
    const asg = new AutoScalingGroup({
      topology: designTopology,
      clock,
      launcher: { ...w.launcher, isRunning: (id) => running.has(id) },
      targets: w.targets,
      warmStart: true,
      random: () => 0,
    });
    await asg.start();
    await clock.advanceAsync(designTopology.autoScalingGroup.healthCheckGracePeriodSeconds * 1_000);
    running.delete('app-2'); // crashed
    w.health.set('app-1', 'unhealthy'); // alive, failing its checks
    w.health.set('app-2', 'unhealthy');
    await clock.advanceAsync(20_000);
    expect(asg.healthReplacements.map(({ instanceId, processAlive }) => [instanceId, processAlive])).toEqual([
      ['app-1', true],
      ['app-2', false],
    ]);
    asg.stop();
  });

  it('after an AZ is lost, replaces its instances in the AZ that is left', async () => {
    const clock = new ManualClock(T0);
    const { asg, health, launched } = await started(clock);
    await clock.advanceAsync(400_000); // past the grace period of the warm instances
    asg.setZoneImpaired('a', true);
    health.set('app-1', 'unhealthy'); // app-1 was in AZ a
    await clock.advanceAsync(60_000 + DRAIN_MS + 20_000);
    expect(launched.at(-1)).toBe('app-3@b');
    asg.setZoneImpaired('a', false);
    asg.executePolicy('tiketi-scale-out', 'alarm');
    await clock.advanceAsync(BOOT_MS);
    // Back to balancing: both new instances go to the AZ with fewer.
    expect(launched.slice(-2)).toEqual(['app-4@a', 'app-5@a']);
  });
});
