/**
 * The AWS nouns the harness speaks, defined once: the emulator (ALB, Auto Scaling, CloudWatch)
 * produces them, the AWS observer reads them off the real APIs, and the report prints them. Names
 * and values are AWS's own (ELBv2 `TargetHealthStateEnum`, Auto Scaling `LifecycleState`,
 * CloudWatch `StateValue`), so a record from either world reads the same.
 */

/** ELBv2 target health states the emulated ALB moves a target through. */
export const TARGET_HEALTH_STATES = ['initial', 'healthy', 'unhealthy', 'draining', 'unused'] as const;
export type TargetHealthState = (typeof TARGET_HEALTH_STATES)[number];
/**
 * A deployed target group can also answer `unavailable` (health checks disabled) or a state newer
 * than this harness: the observer reports those as `unavailable`.
 */
export type ObservedTargetHealthState = TargetHealthState | 'unavailable';

/** One change of a target's health in its target group, with ELBv2's reason code when it has one. */
export interface TargetHealthTransition {
  target: string;
  az: string;
  atMs: number;
  from: TargetHealthState;
  to: TargetHealthState;
  reason?: string;
}

/** Auto Scaling lifecycle states of an instance in the group's capacity. */
export const LIFECYCLE_STATES = ['Pending', 'InService', 'Terminating', 'Terminated'] as const;
export type LifecycleState = (typeof LIFECYCLE_STATES)[number];
/** What the observer makes of Standby, Detaching, warm pools and the like: not counted. */
export type ObservedLifecycleState = LifecycleState | 'Other';

/** Auto Scaling's health status of an instance. */
export type InstanceHealthStatus = 'Healthy' | 'Unhealthy';

/** CloudWatch alarm states. */
export const ALARM_STATES = ['OK', 'ALARM', 'INSUFFICIENT_DATA'] as const;
export type AlarmState = (typeof ALARM_STATES)[number];

export function isAlarmState(value: unknown): value is AlarmState {
  return typeof value === 'string' && (ALARM_STATES as readonly string[]).includes(value);
}

/** One change of an alarm's state (a DescribeAlarmHistory `StateUpdate`). */
export interface AlarmTransition {
  alarm: string;
  atMs: number;
  from: AlarmState;
  to: AlarmState;
  reason: string;
}

/** One value of a metric at a time (a PutMetricData datum as stored, a GetMetricData point). */
export interface MetricDataPoint {
  value: number;
  atMs: number;
}

/** Auto Scaling activity status codes the emulator uses (AWS has more, e.g. `Cancelled`). */
export type ScalingActivityStatus = 'InProgress' | 'Successful' | 'Failed';

/** A scaling activity as the report shows it (DescribeScalingActivities). */
export interface ScalingActivityRecord {
  startMs: number;
  endMs?: number;
  /** A `ScalingActivityStatus`, or whatever status code a deployed group reports. */
  status: string;
  description: string;
  cause: string;
}

/** An instance's life in a run, as the report shows it. */
export interface InstanceRecord {
  id: string;
  az: string;
  launchedAtMs: number;
  inServiceAtMs?: number;
  /** Left service: deregistration (draining) began. */
  terminatingAtMs?: number;
  terminatedAtMs?: number;
  /**
   * Its process stopped running (killed, crashed, or at the end of its termination), where the
   * world can see it (the local worlds: the app process exited).
   */
  processExitedAtMs?: number;
}

/** An instance as its Auto Scaling group holds it: its life, where it is now, and its health. */
export interface GroupInstanceRecord extends InstanceRecord {
  lifecycle: LifecycleState;
  health: InstanceHealthStatus;
}

export function isTargetHealthState(value: unknown): value is TargetHealthState {
  return typeof value === 'string' && (TARGET_HEALTH_STATES as readonly string[]).includes(value);
}

/** Instances by lifecycle state, as a sample counts them (Terminated and Other are not counted). */
export interface LifecycleCounts {
  pending: number;
  inService: number;
  terminating: number;
}

export function countLifecycles(
  instances: readonly { lifecycle: ObservedLifecycleState }[],
): LifecycleCounts {
  const count = (state: LifecycleState) => instances.filter((i) => i.lifecycle === state).length;
  return { pending: count('Pending'), inService: count('InService'), terminating: count('Terminating') };
}

/** Targets by health state, as a sample counts them (unused and unavailable are not counted). */
export interface TargetHealthCounts {
  initial: number;
  healthy: number;
  unhealthy: number;
  draining: number;
}

export function countTargetHealth(
  targets: readonly { state: ObservedTargetHealthState }[],
): TargetHealthCounts {
  const count = (state: TargetHealthState) => targets.filter((t) => t.state === state).length;
  return {
    initial: count('initial'),
    healthy: count('healthy'),
    unhealthy: count('unhealthy'),
    draining: count('draining'),
  };
}
