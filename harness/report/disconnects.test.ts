import { describe, expect, it } from 'vitest';
import type { TargetHealthState, TargetHealthTransition } from '../model/aws.ts';
import { type DisconnectContext, disconnectBreakdown, inferCause } from './disconnects.ts';
import type { ReconnectRecord, ScalingActivityRecord } from './run-record.ts';

const at = (hhmmss: string) => Date.parse(`2026-11-24T${hhmmss}Z`);

/** app-1, app-10 in AZ a, app-2 in AZ b, all in service since 19:30. */
function run(over: Partial<DisconnectContext> = {}): DisconnectContext {
  const instance = (id: string, az: string) => ({
    id,
    az,
    launchedAtMs: at('19:25:00'),
    inServiceAtMs: at('19:30:00'),
  });
  return {
    instances: [instance('app-1', 'a'), instance('app-10', 'a'), instance('app-2', 'b')],
    scalingActivities: [],
    faults: [],
    ...over,
  };
}

const terminating = (id: string | undefined, hhmmss: string, cause: string): ScalingActivityRecord => ({
  startMs: at(hhmmss),
  status: 'Successful',
  description: id ? `Terminating EC2 instance: ${id}` : 'Terminating 1 EC2 instance',
  cause,
});

describe('what the harness knew of the instance a client dropped from', () => {
  it('a killed instance: its process exited, at the exit the world saw, named by the fault', () => {
    const r = run({
      faults: [{ fault: 'kill-instance', detail: 'app-1 (AZ a)', atMs: at('20:15:00'), timeline: [] }],
    });
    r.instances[0]!.processExitedAtMs = at('20:15:01');
    // Replaced a minute later after failing health checks: the clients had gone at the kill.
    r.instances[0]!.terminatingAtMs = at('20:16:00');
    r.healthReplacements = [{ instanceId: 'app-1', atMs: at('20:16:00'), processAlive: false }];
    expect(inferCause(r, 'app-1', at('20:15:01'))).toEqual({
      cause: 'process-exited',
      atMs: at('20:15:01'),
      fault: 'kill-instance',
      detail: 'process exited at 20:15:01, killed by kill-instance',
    });
    // Before the kill, it was serving: the client's reason is all there is.
    expect(inferCause(r, 'app-1', at('20:14:00'))).toMatchObject({ cause: 'in-service' });
    // The others were not hit.
    expect(inferCause(r, 'app-10', at('20:15:01'))).toMatchObject({ cause: 'in-service' });
  });

  it('a lost AZ: every instance it names, not one whose id merely starts the same', () => {
    const r = run({
      faults: [
        {
          fault: 'kill-az',
          detail: 'AZ a: 1 instance(s): app-1; Redis primary redis-a',
          atMs: at('20:15:00'),
          timeline: [],
        },
      ],
    });
    // A world that cannot see processes (aws): the kill's time stands for the exit.
    expect(inferCause(r, 'app-1', at('20:15:00'))).toEqual({
      cause: 'process-exited',
      atMs: at('20:15:00'),
      fault: 'kill-az',
      detail: 'process exited at 20:15:00, AZ a down (kill-az)',
    });
    expect(inferCause(r, 'app-10', at('20:15:00')).cause).toBe('in-service');
    expect(inferCause(r, 'app-2', at('20:15:00')).cause).toBe('in-service');
  });

  it('a process that exited with no fault (a crash): seen by another process, so a moment early counts', () => {
    const r = run();
    r.instances[1]!.processExitedAtMs = at('20:20:01');
    expect(inferCause(r, 'app-10', at('20:20:00'))).toEqual({
      cause: 'process-exited',
      atMs: at('20:20:01'),
      detail: 'process exited at 20:20:01',
    });
    expect(inferCause(r, 'app-10', at('20:19:55')).cause).toBe('in-service');
  });

  it('a drained instance: deregistered while its process ran, and what took it out of service', () => {
    const drained = (
      activities: ScalingActivityRecord[],
      healthReplacements?: DisconnectContext['healthReplacements'],
    ) => {
      const r = run({ scalingActivities: activities, ...(healthReplacements ? { healthReplacements } : {}) });
      r.instances[2]!.terminatingAtMs = at('20:40:00');
      // The process exits after the drain: still a drain.
      r.instances[2]!.processExitedAtMs = at('20:45:10');
      return inferCause(r, 'app-2', at('20:45:00'));
    };
    expect(
      drained([
        terminating(
          undefined,
          '20:40:00',
          'At 2026-11-24T20:40:00Z alarm tiketi-queue-scale-in in state ALARM triggered policy tiketi-scale-in changing the desired capacity from 3 to 2. At 2026-11-24T20:40:00Z an instance was taken out of service in response to a difference between desired and actual capacity, decreasing the capacity from 3 to 2.',
        ),
      ]),
    ).toEqual({
      cause: 'drained',
      atMs: at('20:40:00'),
      trigger: 'scale-in',
      detail: 'deregistered at 20:40:00 and drained: scale-in (tiketi-scale-in)',
    });
    expect(
      drained([
        terminating(
          'app-2',
          '20:40:00',
          'At 2026-11-24T20:40:00Z an instance was taken out of service in response to a user request (tiketi-sim chaos).',
        ),
      ]),
    ).toMatchObject({
      trigger: 'terminate-request',
      detail: 'deregistered at 20:40:00 and drained: a terminate request',
    });
    expect(drained([], [{ instanceId: 'app-2', atMs: at('20:40:00'), processAlive: true }])).toMatchObject({
      trigger: 'health-check-replacement',
      detail: 'deregistered at 20:40:00 and drained: replaced after failing ELB health checks',
    });
    // Without the group's own record of replacements, its activity's cause says it (as AWS words it).
    expect(
      drained([
        terminating(
          'app-2',
          '20:40:00',
          'At 2026-11-24T20:40:00Z an instance was taken out of service in response to an ELB system health check failure.',
        ),
      ]),
    ).toMatchObject({ trigger: 'health-check-replacement' });
    expect(
      drained([
        terminating(
          'app-2',
          '20:40:00',
          'At 2026-11-24T20:40:00Z an instance was taken out of service in response to a difference between desired and actual capacity.',
        ),
      ]),
    ).toMatchObject({ trigger: 'capacity' });
    // Another instance's activity says nothing of this one.
    expect(drained([terminating('app-1', '20:40:00', 'in response to a user request')])).toMatchObject({
      trigger: 'unknown',
      detail: 'deregistered at 20:40:00 and drained: no recorded activity says why',
    });
  });

  it('in service: says when the ALB had marked its target unhealthy (a deep /health during a failover)', () => {
    const transition = (
      hhmmss: string,
      from: TargetHealthState,
      to: TargetHealthState,
      reason?: string,
    ): TargetHealthTransition => ({
      target: 'app-2',
      az: 'b',
      atMs: at(hhmmss),
      from,
      to,
      ...(reason ? { reason } : {}),
    });
    const r = run({
      faults: [
        {
          fault: 'redis-failover',
          detail: 'redis-primary az-a',
          atMs: at('20:15:00'),
          timeline: [],
          targetHealth: [transition('20:15:40', 'healthy', 'unhealthy', 'Target.FailedHealthChecks')],
        },
      ],
    });
    expect(inferCause(r, 'app-2', at('20:15:50')).detail).toBe(
      'InService, not draining, no process exit seen; its target unhealthy in the ALB since 20:15:40 (Target.FailedHealthChecks)',
    );
    // Before the change, or on another instance, nothing more is known.
    expect(inferCause(r, 'app-2', at('20:15:30')).detail).toMatch(/Socket.IO's reason is all/);
    expect(inferCause(r, 'app-1', at('20:15:50')).detail).toMatch(/Socket.IO's reason is all/);
  });

  it('no instance learned, or one the run does not know: said so', () => {
    expect(inferCause(run(), undefined, at('20:00:00'))).toMatchObject({ cause: 'instance-unknown' });
    expect(inferCause(run(), 'i-0abc', at('20:00:00'))).toEqual({
      cause: 'instance-unknown',
      detail: "i-0abc is not among the run's instances",
    });
  });
});

describe('the drops per instance, reason and cause', () => {
  it('counts each group, those back, and per minute, in the order they began', () => {
    const r = run({
      faults: [{ fault: 'kill-instance', detail: 'app-1 (AZ a)', atMs: at('20:15:00'), timeline: [] }],
    });
    r.instances[0]!.processExitedAtMs = at('20:15:00');
    const drop = (
      instanceId: string | undefined,
      hhmmss: string,
      reason: ReconnectRecord['reason'],
      back = true,
    ) => ({
      userId: `u-${Math.random()}`,
      disconnectedAtMs: at(hhmmss),
      reason,
      ...(instanceId ? { instanceId } : {}),
      ...(back ? { reconnectedAtMs: at(hhmmss) + 5_000, stateKept: true } : {}),
    });
    const reconnects: ReconnectRecord[] = [
      drop('app-2', '20:10:30', 'ping timeout'),
      drop('app-1', '20:15:00', 'transport close'),
      drop('app-1', '20:15:01', 'transport close'),
      drop('app-1', '20:16:02', 'transport close', false),
      drop('app-1', '20:15:02', 'ping timeout'),
      drop(undefined, '20:15:00', 'transport close'),
    ];
    const groups = disconnectBreakdown(reconnects, r);
    expect(groups.map((g) => [g.instanceId, g.reason, g.cause, g.count, g.back])).toEqual([
      ['app-2', 'ping timeout', 'in-service', 1, 1],
      ['app-1', 'transport close', 'process-exited', 3, 2],
      [undefined, 'transport close', 'instance-unknown', 1, 1],
      ['app-1', 'ping timeout', 'process-exited', 1, 1],
    ]);
    expect(groups[1]).toMatchObject({
      causeAtMs: at('20:15:00'),
      fault: 'kill-instance',
      causeDetail: 'process exited at 20:15:00, killed by kill-instance',
      firstAtMs: at('20:15:00'),
      lastAtMs: at('20:16:02'),
      perMinute: [
        { atMs: at('20:15:00'), count: 2 },
        { atMs: at('20:16:00'), count: 1 },
      ],
    });
    expect('instanceId' in groups[2]!).toBe(false);
    expect(disconnectBreakdown([], r)).toEqual([]);
  });
});
