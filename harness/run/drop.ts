import { FASTEST_IDLE_TIME_SCALE, type ScaledClock } from '../clock/clock.ts';
import { scenarioHeadroom } from '../metrics/machine-state.ts';
import type { Sample } from '../report/run-record.ts';
import type { StartedWorld, UserSupply } from '../worlds/world.ts';
import { ArrivalFeeder } from './arrival-feeder.ts';
import { type DropLoad, runDropLoop } from './drop-loop.ts';
import { FaultScheduler } from './fault-scheduler.ts';
import type { LiveRun } from './live-run.ts';
import { ClockPacer, latencyTargetMs } from './pacer.ts';
import { PacerDuty } from './pacer-duty.ts';
import type { RunPlan } from './plan.ts';
import { RunMeasurement } from './run-measurement.ts';
import { SalesOpener } from './sales-opener.ts';
import { type Progress, Sampler } from './sampler.ts';

/**
 * Lowest speed the clock slows to (slow motion: the app, the ALB and the control plane all follow
 * the clock, and accept any positive scale), so a slow machine still measures validly.
 */
const MIN_TIME_SCALE = 0.25;
/** How much faster than requested the clock may run while nothing is due (pacer.ts), at most. */
const IDLE_SPEED_UP = 16;
/** Wall ms between two ticks of the drop. */
const TICK_WALL_MS = 50;
/**
 * Joins (HTTP join + Socket.IO connect) per wall second this machine answers, as a first guess
 * the pacer corrects as the run goes: 330 at 87 % CPU in a 1:4 model's burst on 2 cores, measured
 * here (2026-11-30). Guessing 150 held a quiet room's first minutes at half the requested speed:
 * the lookahead saw the next rise of the curve as more than that guess could take.
 */
const INITIAL_JOINS_PER_SECOND = 250;
/**
 * The drop's first seconds, on processes that have answered nothing yet: measured here, the
 * 160 joins of a full peak's first second (60×) kept the CPU 99–100 % busy and the load workers'
 * event loops 95–215 ms late for three seconds, and 50 a second two seconds later took 29 %.
 * Those seconds' samples stay out of the verdicts, and a third of the run's first 500 requests
 * lost kept the pacer careful for the next twenty simulated minutes.
 */
const COLD_START = { wallMs: 5_000, share: 0.3 };

const idle = () => new Promise<void>((resolve) => setTimeout(resolve, TICK_WALL_MS));

/** How fast the clock may run while nothing is due: IDLE_SPEED_UP × requested, up to the fastest. */
function idleScaleOf(plan: Pick<RunPlan, 'requestedScale' | 'fixedTimeScale'>): number {
  const { requestedScale, fixedTimeScale } = plan;
  return (
    fixedTimeScale ??
    Math.max(requestedScale, Math.min(FASTEST_IDLE_TIME_SCALE, requestedScale * IDLE_SPEED_UP))
  );
}

/**
 * Starts the clock and waits, outside the scenario's time, until its start. Nothing is due then
 * (the instances only pass their health checks), so the minutes run at the idle speed: at the
 * requested 30× a failover rehearsal's three minutes of warm-up cost 6 of its 50 wall seconds.
 */
export async function warmUp(
  clock: ScaledClock,
  world: Pick<StartedWorld, 'clockResumed' | 'setTimeScale'>,
  plan: Pick<RunPlan, 'startMs' | 'requestedScale' | 'fixedTimeScale'>,
  signal: AbortSignal,
): Promise<void> {
  const warmScale = idleScaleOf(plan);
  if (warmScale !== plan.requestedScale) await world.setTimeScale(warmScale);
  clock.resume();
  world.clockResumed();
  // Back to the drop's speed a few ticks ahead, then to the start itself: a tick at the idle
  // speed would overshoot it by seconds, and the first arrivals would all go at once.
  const approachSimMs = 4 * TICK_WALL_MS * warmScale;
  while (plan.startMs - clock.now() > approachSimMs && !signal.aborted) await idle();
  if (warmScale !== plan.requestedScale) await world.setTimeScale(plan.requestedScale);
  while (clock.now() < plan.startMs && !signal.aborted)
    await new Promise<void>((resolve) =>
      setTimeout(resolve, Math.min(TICK_WALL_MS, (plan.startMs - clock.now()) / clock.timeScale)),
    );
}

export interface DropOutcome {
  samples: readonly Sample[];
  faults: FaultScheduler;
  /** Whether the machine could measure; its record is taken once the load has stopped. */
  measurement: RunMeasurement;
  /** Wall seconds the drop took. */
  wallSeconds: number;
}

export interface DropSetup {
  plan: RunPlan;
  clock: ScaledClock;
  world: StartedWorld;
  load: DropLoad;
  users: UserSupply;
  signal: AbortSignal;
  progress: (p: Progress) => void;
  log: (line: string) => void;
  /** The live view, fed once per wall second. @default none */
  live?: Pick<LiveRun, 'feed'>;
}

/** The clock's pacer for a plan: slow motion down to MIN_TIME_SCALE, faster while nothing is due. */
function pacerFor(plan: RunPlan, world: Pick<StartedWorld, 'positionUpdateSimMs'>): ClockPacer {
  const { requestedScale, fixedTimeScale } = plan;
  return new ClockPacer({
    requestedScale,
    // A deployed world runs on the wall clock: its speed never moves.
    minScale: fixedTimeScale ?? Math.min(MIN_TIME_SCALE, requestedScale),
    saturatedP95Ms: latencyTargetMs(
      plan.scenario.expectations.flatMap((e) => (e.expect === 'latency' ? [e.belowMs] : [])),
    ),
    idleScale: idleScaleOf(plan),
    arrivalsSimMs: plan.arrivalsSimMs,
    initialJoinsPerSecond: INITIAL_JOINS_PER_SECOND,
    coldStart: COLD_START,
    admissionsPerSimSecond: plan.topology.queue.admissionPerSecond,
    salesOpenSimMs: plan.salesOpenMs,
    positionUpdateSimMs: world.positionUpdateSimMs,
    minHeadroomShare: scenarioHeadroom(plan.scenario).minHeadroomShare,
    holdWhileUsersRecover: plan.scenario.expectations.some(
      (e) => e.expect === 'reconnect' || e.expect === 'max-request-gap',
    ),
  });
}

/** Launches, drains or terminations under way (now, or at the last sample): the world is busy. */
function activityInFlight(lifecycle: Pick<Sample, 'instances' | 'targets'> | undefined): boolean {
  if (!lifecycle) return false;
  const { instances, targets } = lifecycle;
  return instances.pending + instances.terminating + targets.initial + targets.draining > 0;
}

/** The scenario's time, from its start to its end: the duties, in the order they run each tick. */
export async function runDrop(setup: DropSetup): Promise<DropOutcome> {
  const { plan, load } = setup;
  const measurement = new RunMeasurement(plan.scenario, load, setup.clock.now());
  try {
    return await dropWithMeasurement(setup, measurement);
  } catch (err) {
    measurement.stop();
    throw err;
  }
}

async function dropWithMeasurement(setup: DropSetup, measurement: RunMeasurement): Promise<DropOutcome> {
  const { plan, world, load, clock } = setup;
  const wallStartMs = Date.now();
  const faults = new FaultScheduler({ world, faults: plan.faults, log: setup.log });
  const arrivals = new ArrivalFeeder({
    arrivalsSimMs: plan.arrivalsSimMs,
    users: setup.users,
    load,
    aheadSimMs: () => TICK_WALL_MS * pacer.scale,
    toWallMs: (simMs) => Date.now() + (simMs - clock.now()) / pacer.scale,
  });
  const pacer: PacerDuty = new PacerDuty({
    pacer: pacerFor(plan, world),
    requestedScale: plan.requestedScale,
    world,
    load,
    clockAnchor: () => clock.anchor(),
    sent: () => arrivals.sent,
    faultsInProgress: () => faults.inProgress,
    faultSpeedLimit: (nowSimMs, scale) => faults.speedLimit(nowSimMs, scale),
    fastestScale: idleScaleOf(plan),
    queueSize: () => sampler.queueEstimate(load.totals()),
    measure: (nowSimMs) => measurement.take(nowSimMs),
    activityInFlight: () => activityInFlight(world.lifecycleNow?.() ?? sampler.samples.at(-1)),
    wallNow: Date.now,
  });
  const sampler = new Sampler({
    world,
    load,
    startSimMs: plan.startMs,
    endSimMs: plan.endMs,
    salesOpenSimMs: plan.salesOpenMs,
    users: plan.users,
    speed: pacer,
    wallNow: Date.now,
    wallStartMs,
    progress: setup.progress,
    machine: () => measurement.takeMinute(),
  });
  const live = setup.live?.feed({
    samples: () => sampler.samples,
    faults: () => faults.injected.map((f) => f.record),
    speed: pacer,
    wallStartMs,
    wallNow: Date.now,
  });
  // The load keeps the clock's time from here on (the warm-up ran at another speed).
  load.followClock(clock.anchor());
  await runDropLoop({
    clock: setup.clock,
    endSimMs: plan.endMs,
    duties: [
      new SalesOpener({ world, salesOpenSimMs: plan.salesOpenMs, onOpened: () => measurement.salesOpened() }),
      faults,
      arrivals,
      pacer,
      sampler,
      ...(live ? [live] : []),
    ],
    signal: setup.signal,
    idle,
  });
  return { samples: sampler.samples, faults, measurement, wallSeconds: (Date.now() - wallStartMs) / 1_000 };
}
