/**
 * The Auto Scaling group's stand-in, with AWS's documented simple-scaling semantics
 * ("Simple scaling policies", "Scaling cooldowns for Amazon EC2 Auto Scaling",
 * "Control which instances terminate during scale in", "Health checks for instances"):
 * - a simple policy changes the desired capacity by its adjustment, clamped to min and max;
 * - while a scaling activity is in progress, or until the cooldown after it ends, the group does
 *   not respond to further alarm-invoked policies (the cooldown is group-wide for simple scaling:
 *   a scale-in waits out a scale-out's cooldown too);
 * - the cooldown starts when the activity completes (launches InService, terminations done) and
 *   lasts the policy's `Cooldown`, else the group's default cooldown;
 * - instances go Pending → InService → Terminating → Terminated; launches go to the AZ with the
 *   fewest instances; scale-in picks the AZ with the most, then the oldest instance there;
 * - with ELB health checks, an InService instance past its grace period that the load balancer
 *   reports unhealthy is terminated and replaced (replacements are not held back by cooldowns);
 * - every activity is recorded with its cause, like DescribeScalingActivities.
 */
import type { Topology } from '../../infra/topology.ts';
import { bootSecondsOf, scalingPolicyNamed } from '../../infra/topology.ts';
import type { Clock, Timer } from '../clock/clock.ts';
import type {
  GroupInstanceRecord,
  LifecycleState,
  ScalingActivityRecord,
  ScalingActivityStatus,
  TargetHealthState,
} from '../model/aws.ts';

/** Starts and stops the processes behind instances (the EC2 stand-in). */
export interface InstanceLauncher {
  /** Resolves once the instance has booted (its boot time has passed on the clock). */
  launch(instance: { id: string; az: string }): Promise<void>;
  terminate(id: string): Promise<void>;
  /** Whether the instance is still running (EC2's instance status), as the record of a health replacement says. */
  isRunning?(id: string): boolean;
}

/** The load balancer's target group, as the group sees it. */
export interface TargetRegistry {
  /** `warm`: an instance of the group's starting capacity, serving before the simulation began. */
  register(target: { id: string; az: string; warm: boolean }): void;
  /** Resolves when draining is over (the deregistration delay, or earlier when idle). */
  deregister(id: string): Promise<void>;
  health(id: string): TargetHealthState;
}

export interface ScalingActivity extends ScalingActivityRecord {
  id: number;
  status: ScalingActivityStatus;
}

export interface AutoScalingGroupOptions {
  topology: Topology;
  clock: Clock;
  launcher: InstanceLauncher;
  targets: TargetRegistry;
  /** Seeded random for ties in termination choices. */
  random?: () => number;
  /** Instances already running at start (a drop begins in steady state). @default none */
  warmStart?: boolean;
}

const RECONCILE_MS = 10_000;

function iso(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

export class AutoScalingGroup {
  desiredCapacity: number;
  readonly instances = new Map<string, GroupInstanceRecord>();
  readonly activities: ScalingActivity[] = [];
  /** Policy invocations that did nothing, and why (cooldown, activity in progress, at a limit). */
  readonly refusals: { atMs: number; policy: string; reason: string }[] = [];
  /** Instances the ELB health check took out of service, and whether they were still running. */
  readonly healthReplacements: { instanceId: string; atMs: number; processAlive?: boolean }[] = [];
  private cooldownUntilMs = 0;
  private activityInProgress: ScalingActivity | undefined;
  private nextId = 1;
  private timer: Timer | undefined;
  /** Aborted by `stop()`: an instance still booting then never starts (no process after the run). */
  private readonly stopping = new AbortController();
  private readonly random: () => number;

  constructor(private readonly options: AutoScalingGroupOptions) {
    this.desiredCapacity = options.topology.autoScalingGroup.desiredCapacity;
    this.random = options.random ?? Math.random;
  }

  private get asg() {
    return this.options.topology.autoScalingGroup;
  }

  private now(): number {
    return this.options.clock.now();
  }

  /** Launches the desired capacity and starts the health and capacity loop. */
  async start(): Promise<void> {
    const launches: Promise<void>[] = [];
    for (let i = 0; i < this.desiredCapacity; i++)
      launches.push(this.launchOne(undefined, this.options.warmStart ?? false));
    await Promise.all(launches);
    this.timer = this.options.clock.setInterval(() => this.reconcile(), RECONCILE_MS);
  }

  stop(): void {
    this.timer?.cancel();
    this.stopping.abort(new Error('the Auto Scaling group stopped'));
  }

  live(): GroupInstanceRecord[] {
    return [...this.instances.values()].filter((i) => i.lifecycle !== 'Terminated');
  }

  count(lifecycle: LifecycleState): number {
    return [...this.instances.values()].filter((i) => i.lifecycle === lifecycle).length;
  }

  cooldownRemainingMs(): number {
    return Math.max(0, this.cooldownUntilMs - this.now());
  }

  /** An alarm invokes a simple scaling policy. */
  executePolicy(policyName: string, cause: string): void {
    const policy = scalingPolicyNamed(this.options.topology, policyName);
    const now = this.now();
    if (this.activityInProgress) {
      this.refusals.push({
        atMs: now,
        policy: policyName,
        reason: `scaling activity ${this.activityInProgress.id} in progress`,
      });
      return;
    }
    if (now < this.cooldownUntilMs) {
      this.refusals.push({
        atMs: now,
        policy: policyName,
        reason: `cooldown until ${iso(this.cooldownUntilMs)}`,
      });
      return;
    }
    const from = this.desiredCapacity;
    const to = Math.min(this.asg.maxSize, Math.max(this.asg.minSize, from + policy.scalingAdjustment));
    if (to === from) {
      this.refusals.push({
        atMs: now,
        policy: policyName,
        reason: `desired capacity already at ${to === this.asg.maxSize ? 'max' : 'min'} (${to})`,
      });
      return;
    }
    this.desiredCapacity = to;
    const verb = to > from ? 'increasing' : 'decreasing';
    const activity = this.record(
      to > from
        ? `Launching ${to - from} new EC2 instance${to - from > 1 ? 's' : ''}`
        : `Terminating ${from - to} EC2 instance${from - to > 1 ? 's' : ''}`,
      `At ${iso(now)} ${cause} triggered policy ${policyName} changing the desired capacity from ${from} to ${to}. ` +
        `At ${iso(now)} an instance was ${to > from ? 'started' : 'taken out of service'} in response to a difference between desired and actual capacity, ${verb} the capacity from ${from} to ${to}.`,
    );
    this.activityInProgress = activity;
    const work: Promise<void>[] = [];
    if (to > from) for (let i = 0; i < to - from; i++) work.push(this.launchOne(activity));
    else for (let i = 0; i < from - to; i++) work.push(this.terminateOne(activity, 'scale-in'));
    void Promise.allSettled(work).then((results) => {
      const failed = results.some((r) => r.status === 'rejected');
      activity.status = failed ? 'Failed' : 'Successful';
      activity.endMs = this.now();
      this.activityInProgress = undefined;
      this.cooldownUntilMs = this.now() + (policy.cooldownSeconds ?? this.asg.defaultCooldownSeconds) * 1_000;
    });
  }

  private record(description: string, cause: string): ScalingActivity {
    const activity: ScalingActivity = {
      id: this.activities.length + 1,
      description,
      cause,
      startMs: this.now(),
      status: 'InProgress',
    };
    this.activities.push(activity);
    return activity;
  }

  /** AZs where launches fail (an AZ outage): the group launches in the others, as AWS's does. */
  private readonly impairedZones = new Set<string>();

  setZoneImpaired(az: string, impaired: boolean): void {
    if (impaired) this.impairedZones.add(az);
    else this.impairedZones.delete(az);
  }

  private chooseLaunchAz(): string {
    const zones = this.options.topology.availabilityZones.filter((z) => !this.impairedZones.has(z.label));
    const usable = zones.length > 0 ? zones : this.options.topology.availabilityZones;
    const counts = usable.map((z) => ({
      az: z.label,
      n: this.live().filter((i) => i.az === z.label && i.lifecycle !== 'Terminating').length,
    }));
    return counts.reduce((best, c) => (c.n < best.n ? c : best)).az;
  }

  private async launchOne(activity: ScalingActivity | undefined, warm = false): Promise<void> {
    const id = `app-${this.nextId++}`;
    const az = this.chooseLaunchAz();
    const record: GroupInstanceRecord = {
      id,
      az,
      lifecycle: 'Pending',
      health: 'Healthy',
      launchedAtMs: this.now(),
    };
    this.instances.set(id, record);
    if (!activity && !warm) {
      this.record(
        `Launching a new EC2 instance: ${id}`,
        `At ${iso(this.now())} an instance was started in response to a difference between desired and actual capacity.`,
      );
    }
    try {
      if (!warm)
        await this.options.clock.sleep(bootSecondsOf(this.options.topology) * 1_000, this.stopping.signal);
      this.stopping.signal.throwIfAborted();
      await this.options.launcher.launch({ id, az });
    } catch (err) {
      record.lifecycle = 'Terminated';
      record.terminatedAtMs = this.now();
      throw err;
    }
    if (record.lifecycle !== 'Pending') return; // terminated while booting
    record.lifecycle = 'InService';
    record.inServiceAtMs = this.now();
    this.options.targets.register({ id, az, warm });
  }

  /** Default termination policy: the AZ with the most instances, then the oldest there. */
  private chooseVictim(): GroupInstanceRecord | undefined {
    const candidates = this.live().filter((i) => i.lifecycle === 'InService' || i.lifecycle === 'Pending');
    if (candidates.length === 0) return undefined;
    const byAz = new Map<string, GroupInstanceRecord[]>();
    for (const c of candidates) byAz.set(c.az, [...(byAz.get(c.az) ?? []), c]);
    const most = Math.max(...[...byAz.values()].map((l) => l.length));
    const zones = [...byAz.entries()].filter(([, l]) => l.length === most);
    const [, pool] = zones[Math.floor(this.random() * zones.length)]!;
    const oldest = Math.min(...pool.map((i) => i.launchedAtMs));
    const tied = pool.filter((i) => i.launchedAtMs === oldest);
    return tied[Math.floor(this.random() * tied.length)];
  }

  private async terminateOne(
    activity: ScalingActivity | undefined,
    why: string,
    victim = this.chooseVictim(),
  ): Promise<void> {
    if (!victim) return;
    victim.lifecycle = 'Terminating';
    victim.terminatingAtMs = this.now();
    if (!activity) {
      this.record(
        `Terminating EC2 instance: ${victim.id}`,
        `At ${iso(this.now())} an instance was taken out of service in response to ${why}.`,
      );
    }
    if (victim.inServiceAtMs !== undefined) await this.options.targets.deregister(victim.id);
    await this.options.launcher.terminate(victim.id);
    victim.lifecycle = 'Terminated';
    victim.terminatedAtMs = this.now();
  }

  /** Terminates one instance by hand (the `terminate-instance` fault), decrementing nothing. */
  async terminateInstance(id: string, why: string): Promise<void> {
    const victim = this.instances.get(id);
    if (!victim || victim.lifecycle === 'Terminated' || victim.lifecycle === 'Terminating') return;
    await this.terminateOne(undefined, why, victim);
  }

  /** Health checks after the grace period, and desired vs actual capacity. */
  reconcile(): void {
    const now = this.now();
    const graceMs = this.asg.healthCheckGracePeriodSeconds * 1_000;
    if (this.asg.healthCheckType === 'ELB') {
      for (const i of this.live()) {
        if (i.lifecycle !== 'InService' || i.inServiceAtMs === undefined || now - i.launchedAtMs < graceMs)
          continue;
        if (this.options.targets.health(i.id) === 'unhealthy') {
          i.health = 'Unhealthy';
          this.healthReplacements.push({
            instanceId: i.id,
            atMs: now,
            processAlive: this.options.launcher.isRunning?.(i.id),
          });
          void this.terminateOne(undefined, `an ELB system health check failure of ${i.id}`, i);
        }
      }
    }
    if (this.activityInProgress) return;
    const active = this.live().filter((i) => i.lifecycle === 'Pending' || i.lifecycle === 'InService').length;
    for (let k = active; k < this.desiredCapacity; k++) void this.launchOne(undefined).catch(() => undefined);
    for (let k = active; k > this.desiredCapacity; k--)
      void this.terminateOne(undefined, 'a difference between desired and actual capacity');
  }

  describe() {
    return {
      desiredCapacity: this.desiredCapacity,
      minSize: this.asg.minSize,
      maxSize: this.asg.maxSize,
      cooldownRemainingSeconds: Math.round(this.cooldownRemainingMs() / 1_000),
      activityInProgress: this.activityInProgress?.description,
      instances: this.live().map((i) => ({
        id: i.id,
        az: i.az,
        lifecycle: i.lifecycle,
        health: i.health,
        target: this.options.targets.health(i.id),
      })),
      recentActivities: this.activities.slice(-10),
    };
  }
}
