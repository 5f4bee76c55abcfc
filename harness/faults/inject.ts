/**
 * Failures, injected into the running topology the way they happen in production, each with a
 * timeline of what the system did about it — the fault, its detection, the promotion or
 * replacement, the recovery — observed on the simulated clock.
 *
 * Sentinels and the ALB stand for regional AWS services (ElastiCache's and ELB's control planes),
 * so `kill-az` spares them; everything labelled with the AZ — instances, the Redis primary, the
 * database writer — dies.
 */
import type { Topology } from '../../infra/topology.ts';
import type { ProxyRoute } from '../../servers/fault-proxy/proxy-host.ts';
import type { StartedAlb } from '../alb/alb.ts';
import type { BackendFaults, StartedBackend } from '../backends/backend.ts';
import type { Clock, Timer } from '../clock/clock.ts';
import type { AutoScalingGroup } from '../control-plane/auto-scaling-group.ts';
import type { StartedAppInstance } from '../instances/app-instance.ts';
import { DATA_TIER_BACK, type FaultRecord } from '../report/run-record.ts';
import type { FaultAction } from '../scenario/schema.ts';

/** What faults act on: the local world. */
export interface FaultWorld {
  topology: Topology;
  clock: Clock;
  asg: AutoScalingGroup;
  alb: StartedAlb;
  instances: ReadonlyMap<string, StartedAppInstance>;
  backend: StartedBackend;
  /** The client → ALB route, when the run put one in front of the ALB. */
  clientPath?: ProxyRoute;
  random?: () => number;
}

/** A fault in progress: its record fills in as the system reacts. */
export interface InjectedFault {
  readonly record: FaultRecord;
  /** Settles once every step and observation of the timeline is in (or `stop()` was called). */
  readonly settled: Promise<void>;
  /**
   * Settles once every instance reaches Redis and the database again (at once for a fault that
   * touches neither), or with `settled`: the end of the part of a recovery that runs on wall time
   * (Sentinel, PostgreSQL), while the rest (an instance's replacement) runs on the simulated clock.
   * @default settled
   */
  readonly dataTierBack?: Promise<void>;
  /** Stops watching and reverts what is revertible (latency, partitions, impaired AZs). */
  stop(): Promise<void>;
}

/** The fault cannot run here: the message says why and what would let it. */
export class FaultError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FaultError';
  }
}

/** How often the timeline's observers look, simulated ms. */
const OBSERVE_EVERY_MS = 1_000;
/** Observers give up after this long, simulated: the report then shows the step never came. */
const OBSERVE_FOR_MS = 30 * 60_000;

/**
 * How long after a failover's own steps (promotion, endpoint switch, revert) instances may take
 * to reconnect on wall time, simulated ms: the design's reconnects take seconds.
 */
const WALL_TIME_GRACE_MS = 15_000;

/** Labels of a timeline with the moment each first came true. */
class Timeline {
  /** Each answers when its step happened (simulated ms), or undefined while it has not. */
  private readonly observers: { label: string; happenedAt: () => Promise<number | undefined> }[] = [];
  private readonly watchers: { label: string; check: () => boolean }[] = [];
  private timer: Timer | undefined;
  private busy = false;
  private readonly startedAt: number;
  private finish!: () => void;
  readonly done = new Promise<void>((resolve) => {
    this.finish = resolve;
  });
  private pending = 0;
  /** What must hold before the data tier can be back (a promotion, a switch, a revert). */
  private readonly dataTierConditions: (() => boolean | Promise<boolean>)[] = [];
  private dataTierIsBack!: () => void;
  readonly dataTierBack = new Promise<void>((resolve) => {
    this.dataTierIsBack = resolve;
  });

  constructor(
    private readonly clock: Clock,
    readonly record: FaultRecord,
    /** Called when the timeline closes (complete or stopped): fills in what the world did meanwhile. */
    private readonly onClose: () => void = () => undefined,
  ) {
    this.startedAt = clock.now();
  }

  mark(label: string, atMs = this.clock.now()): void {
    this.record.timeline.push({ label, atMs });
    this.record.timeline.sort((a, b) => a.atMs - b.atMs);
    if (label === DATA_TIER_BACK) this.dataTierIsBack();
  }

  /**
   * Observes DATA_TIER_BACK once: every condition given so far holds (a lost AZ adds Redis's
   * and the database's), and then every instance in service answers its deep health check.
   */
  observeDataTierBack(condition: () => boolean | Promise<boolean>, healthy: () => Promise<boolean>): void {
    this.dataTierConditions.push(condition);
    if (this.dataTierConditions.length > 1) return;
    let recoveredAtMs: number | undefined;
    this.observe(DATA_TIER_BACK, async () => {
      for (const holds of this.dataTierConditions) if (!(await holds())) return false;
      // The failover itself is over: what remains (instances replaced after failed checks, then
      // booting) runs on the simulated clock, so the wall-time part ends a little later at most.
      recoveredAtMs ??= this.clock.now();
      if (this.clock.now() - recoveredAtMs >= WALL_TIME_GRACE_MS) this.dataTierIsBack();
      return healthy();
    });
  }

  /** Whether the timeline has marked `label`. */
  reached(label: string): boolean {
    return this.record.timeline.some((e) => e.label === label);
  }

  /** Marks `label` the first time `check` holds, at the time it was seen to hold. */
  observe(label: string, check: () => boolean | Promise<boolean>): void {
    this.observeRecorded(label, async () => ((await check()) ? this.clock.now() : undefined));
  }

  /**
   * Marks `label` at the time a recorded history says it happened (a target's health change):
   * exact, and a state that lasted less than one look is not missed.
   */
  observeRecorded(label: string, happenedAt: () => Promise<number | undefined> | number | undefined): void {
    this.observers.push({ label, happenedAt: async () => happenedAt() });
    this.timer ??= this.clock.setInterval(() => void this.poll(), OBSERVE_EVERY_MS);
  }

  /** Marks `label` if `check` ever holds while the timeline is open; never keeps it open. */
  watch(label: string, check: () => boolean): void {
    this.watchers.push({ label, check });
  }

  /** A step that happens later on the simulated clock (a promotion, a revert). */
  at(delayMs: number, label: string, step: () => Promise<void>): void {
    this.pending++;
    this.clock.setTimeout(() => {
      step()
        .then(
          () => this.mark(label),
          (err: Error) => this.mark(`${label} failed: ${err.message}`),
        )
        .finally(() => {
          this.pending--;
          this.maybeDone();
        });
    }, delayMs);
  }

  private async poll(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (const w of [...this.watchers]) {
        if (w.check()) {
          this.mark(w.label);
          this.watchers.splice(this.watchers.indexOf(w), 1);
        }
      }
      for (const o of [...this.observers]) {
        const atMs = await o.happenedAt().catch(() => undefined);
        if (atMs !== undefined) {
          this.mark(o.label, atMs);
          this.observers.splice(this.observers.indexOf(o), 1);
        }
      }
      if (this.clock.now() - this.startedAt > OBSERVE_FOR_MS) {
        for (const o of this.observers.splice(0)) this.mark(`${o.label}: not within 30 min`);
      }
    } finally {
      this.busy = false;
    }
    this.maybeDone();
  }

  private maybeDone(): void {
    if (this.observers.length === 0 && this.pending === 0) {
      this.timer?.cancel();
      this.record.complete = true;
      this.onClose();
      this.dataTierIsBack();
      this.finish();
    }
  }

  stop(): void {
    this.timer?.cancel();
    this.observers.length = 0;
    this.onClose();
    this.dataTierIsBack();
    this.finish();
  }
}

function faultsOf(world: FaultWorld, fault: FaultAction['fault']): BackendFaults {
  const faults = world.backend.faults;
  if (!faults)
    throw new FaultError(
      `${fault} needs a backend whose processes this machine runs: use --backend local (the ${world.backend.kind} backend cannot be failed over from here)`,
    );
  return faults;
}

function pickInstance(world: FaultWorld, wanted: string): StartedAppInstance {
  const inService = world.asg
    .live()
    .filter((i) => i.lifecycle === 'InService' && world.instances.has(i.id))
    .map((i) => world.instances.get(i.id)!);
  if (wanted === 'random') {
    if (inService.length === 0) throw new FaultError('no instance is InService to fail');
    return inService[Math.floor((world.random ?? Math.random)() * inService.length)]!;
  }
  const instance = world.instances.get(wanted);
  const live = world.asg.live().some((i) => i.id === wanted);
  if (!instance || !live) {
    throw new FaultError(
      `no running instance ${wanted}; running: ${inService.map((i) => i.id).join(', ') || 'none'}`,
    );
  }
  return instance;
}

/** Observes an instance's replacement: launched after `sinceMs`, then InService, then healthy. */
function watchReplacement(world: FaultWorld, timeline: Timeline, known: Set<string>, count: number) {
  const fresh = () => world.asg.live().filter((i) => !known.has(i.id));
  const suffix = count > 1 ? `${count} replacements` : 'replacement';
  timeline.observe(`ASG launched ${suffix}`, () => fresh().length >= count);
  timeline.observe(
    `${suffix} InService`,
    () => fresh().filter((i) => i.lifecycle === 'InService').length >= count,
  );
  timeline.observe(
    `${suffix} healthy in the ALB`,
    () => fresh().filter((i) => world.alb.health(i.id) === 'healthy').length >= count,
  );
}

/** Every InService instance answers its own health check (Redis and the database reachable). */
async function everyInstanceHealthy(world: FaultWorld): Promise<boolean> {
  const live = world.asg.live().filter((i) => i.lifecycle === 'InService');
  if (live.length === 0) return false;
  const answers = await Promise.all(
    live.map(async (i) => {
      const url = world.instances.get(i.id)?.url;
      if (!url) return false;
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
      return res?.status === 200;
    }),
  );
  return answers.every(Boolean);
}

async function redisFailover(world: FaultWorld, timeline: Timeline, why: string): Promise<string> {
  const faults = faultsOf(world, 'redis-failover');
  const before = await faults.redisPrimaryAddress();
  const killed = await faults.killRedisPrimary();
  timeline.mark(`Redis primary ${killed.name} killed (${why})`);
  const promoted = 'Sentinel promoted the replica';
  timeline.observe(promoted, async () => (await faults.redisPrimaryAddress()) !== before);
  // Back only once the promotion is marked: asking Sentinel twice in one look, the second answer
  // could see the switch the first had not, and mark the data tier back before the promotion.
  timeline.observeDataTierBack(
    () => timeline.reached(promoted),
    () => everyInstanceHealthy(world),
  );
  return killed.name;
}

async function dbFailover(world: FaultWorld, timeline: Timeline, why: string): Promise<string> {
  const faults = faultsOf(world, 'db-failover');
  const steps = world.topology.database.failover;
  const killed = await faults.killDbWriter();
  timeline.mark(`database writer ${killed.name} killed (${why})`);
  // Aurora's failover on the design's timeline: detection, promotion, then the endpoint switch.
  timeline.at(steps.detectSeconds * 1_000, 'failure detected: writer endpoint unavailable', () =>
    faults.takeDbWriterEndpointDown(),
  );
  // A slow promotion delays the switch: the endpoint never points at a server still in recovery.
  let promotion: Promise<void> | undefined;
  timeline.at(steps.promoteSeconds * 1_000, 'replica promoted to writer', () => {
    promotion = faults.promoteDbReplica({ switchEndpoints: false });
    return promotion;
  });
  timeline.at(steps.endpointSwitchSeconds * 1_000, 'writer endpoint switched to the new writer', async () => {
    await promotion;
    await faults.switchDbEndpoints();
  });
  timeline.observeDataTierBack(
    () => world.clock.now() - timeline.record.atMs >= steps.endpointSwitchSeconds * 1_000,
    () => everyInstanceHealthy(world),
  );
  return killed.name;
}

function pathRoutes(
  world: FaultWorld,
  fault: 'latency' | 'partition',
  path: 'client-alb' | 'app-redis' | 'app-db',
): ProxyRoute[] {
  if (path === 'client-alb') {
    if (!world.clientPath)
      throw new FaultError(
        'client-alb faults need the client route in front of the ALB; scenarios with such a fault get one, `tiketi-sim up` has one',
      );
    return [world.clientPath];
  }
  const routes = faultsOf(world, fault).paths[path];
  if (routes.length === 0)
    throw new FaultError(
      `${path} faults need the app's traffic on that path to go through the fault proxy; this topology was started without it (scenarios with such a fault get it, \`tiketi-sim up\` has it)`,
    );
  return routes;
}

/**
 * Knock-on effects worth seeing on any failure's timeline: the ALB with no healthy target left
 * (it then fails open), and the Auto Scaling group replacing instances the failure did not touch
 * because their health checks failed meanwhile (a deep /health during a data-tier failover).
 */
function watchKnockOn(world: FaultWorld, timeline: Timeline, spared: Set<string>) {
  timeline.watch('ALB: no healthy target left (failing open)', () =>
    world.alb.targetHealth().every((t) => t.state !== 'healthy'),
  );
  for (const id of spared) {
    timeline.watch(
      `ASG replaced ${id} after failed health checks`,
      () => world.asg.instances.get(id)?.health === 'Unhealthy',
    );
  }
}

/** What the ALB and the Auto Scaling group did from the fault until now: the why of its outcome. */
function witnessWindow(world: FaultWorld, record: FaultRecord): void {
  record.targetHealth = world.alb.healthHistory.filter((t) => t.atMs >= record.atMs);
  record.scalingActivities = world.asg.activities
    .filter((a) => a.startMs >= record.atMs)
    .map(({ startMs, endMs, status, description, cause }) => ({
      startMs,
      endMs,
      status,
      description,
      cause,
    }));
}

export async function injectFault(world: FaultWorld, fault: FaultAction): Promise<InjectedFault> {
  const record: FaultRecord = { fault: fault.fault, detail: '', atMs: world.clock.now(), timeline: [] };
  const timeline = new Timeline(world.clock, record, () => witnessWindow(world, record));
  const reverts: (() => Promise<void>)[] = [];
  const known = new Set(world.asg.live().map((i) => i.id));
  const spared = new Set(known);
  const hit = (id: string) => spared.delete(id);

  switch (fault.fault) {
    case 'kill-instance': {
      const victim = pickInstance(world, fault.instance);
      hit(victim.id);
      record.detail = `${victim.id} (AZ ${victim.az})`;
      await victim.kill();
      timeline.mark(`${victim.id} killed (SIGKILL)`);
      timeline.observeRecorded(
        'ALB marked the target unhealthy',
        () =>
          world.alb.healthHistory.find(
            (t) => t.target === victim.id && t.to === 'unhealthy' && t.atMs >= record.atMs,
          )?.atMs,
      );
      watchReplacement(world, timeline, known, 1);
      break;
    }
    case 'terminate-instance': {
      const victim = pickInstance(world, fault.instance);
      hit(victim.id);
      record.detail = `${victim.id} (AZ ${victim.az})`;
      timeline.mark(`terminate ${victim.id} requested`);
      void world.asg.terminateInstance(victim.id, 'a user request (tiketi-sim chaos)');
      // With no connections left, the ALB completes deregistration at once (as AWS's does).
      timeline.observe('target deregistered (draining)', () => world.alb.health(victim.id) !== 'healthy');
      timeline.observe(
        `${victim.id} terminated`,
        () => world.asg.instances.get(victim.id)?.lifecycle === 'Terminated',
      );
      watchReplacement(world, timeline, known, 1);
      break;
    }
    case 'kill-az': {
      const victims = world.asg
        .live()
        .filter((i) => i.az === fault.az && (i.lifecycle === 'InService' || i.lifecycle === 'Pending'))
        .map((i) => world.instances.get(i.id))
        .filter((i): i is StartedAppInstance => i !== undefined);
      const zones = world.topology.availabilityZones.map((z) => z.label);
      if (!zones.includes(fault.az))
        throw new FaultError(`no AZ ${fault.az}: the topology has ${zones.join(', ')}`);
      world.asg.setZoneImpaired(fault.az, true);
      reverts.push(async () => world.asg.setZoneImpaired(fault.az, false));
      for (const v of victims) hit(v.id);
      await Promise.all(victims.map((v) => v.kill()));
      const parts = [`${victims.length} instance(s): ${victims.map((v) => v.id).join(', ') || 'none'}`];
      timeline.mark(`AZ ${fault.az} lost: ${parts[0]} killed`);
      const faults = world.backend.faults;
      if (faults && (await faults.redisPrimaryAz()) === fault.az)
        parts.push(`Redis primary ${await redisFailover(world, timeline, `AZ ${fault.az}`)}`);
      if (faults && faults.dbWriterAz() === fault.az)
        parts.push(`database writer ${await dbFailover(world, timeline, `AZ ${fault.az}`)}`);
      record.detail = `AZ ${fault.az}: ${parts.join('; ')}`;
      if (victims.length > 0) {
        timeline.observe(`ALB marked the AZ ${fault.az} targets unhealthy`, () =>
          victims.every((v) => world.alb.health(v.id) !== 'healthy'),
        );
        watchReplacement(world, timeline, known, victims.length);
      }
      break;
    }
    case 'redis-failover':
      record.detail = await redisFailover(world, timeline, 'redis-failover');
      break;
    case 'db-failover':
      record.detail = await dbFailover(world, timeline, 'db-failover');
      break;
    case 'latency':
    case 'partition': {
      const routes = pathRoutes(world, fault.fault, fault.path);
      const toxics =
        fault.fault === 'latency'
          ? { latency: { latencyMs: fault.latencyMs, jitterMs: fault.jitterMs } }
          : { partitioned: true };
      await Promise.all(routes.map((r) => r.setToxics(toxics)));
      record.detail =
        fault.fault === 'latency'
          ? `${fault.path}: +${fault.latencyMs} ms ± ${fault.jitterMs} ms for ${fault.durationSeconds} s`
          : `${fault.path} cut for ${fault.durationSeconds} s`;
      timeline.mark(`${fault.fault} on ${fault.path} applied (${routes.map((r) => r.name).join(', ')})`);
      const lift = async () => {
        await Promise.all(routes.map((r) => r.setToxics({})));
      };
      reverts.push(lift);
      timeline.at(fault.durationSeconds * 1_000, `${fault.fault} on ${fault.path} reverted`, lift);
      timeline.observeDataTierBack(
        () => world.clock.now() - record.atMs >= fault.durationSeconds * 1_000,
        () => everyInstanceHealthy(world),
      );
      break;
    }
  }
  watchKnockOn(world, timeline, spared);
  return {
    record,
    settled: timeline.done,
    dataTierBack: Promise.race([timeline.dataTierBack, timeline.done]),
    async stop() {
      timeline.stop();
      for (const revert of reverts) await revert().catch(() => undefined);
    },
  };
}
