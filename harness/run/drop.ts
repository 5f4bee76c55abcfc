import type { ScaledClock } from '../clock/clock.ts';
import type { Sample } from '../report/run-record.ts';
import type { StartedWorld, UserSupply } from '../worlds/world.ts';
import { ArrivalFeeder } from './arrival-feeder.ts';
import { cpuBusyMeter } from './cpu-busy.ts';
import { type DropLoad, runDropLoop } from './drop-loop.ts';
import { FaultScheduler } from './fault-scheduler.ts';
import type { LiveRun } from './live-run.ts';
import { ClockPacer } from './pacer.ts';
import { PacerDuty } from './pacer-duty.ts';
import type { RunPlan } from './plan.ts';
import { SalesOpener } from './sales-opener.ts';
import { type Progress, Sampler } from './sampler.ts';

/** Lowest speed the clock slows to: a drop must still finish. */
const MIN_TIME_SCALE = 1;
/** Wall ms between two ticks of the drop. */
const TICK_WALL_MS = 50;
/**
 * Joins (HTTP join + Socket.IO connect) per wall second this machine answers, as a first guess
 * the pacer corrects as the run goes: about 200 at full load on 2 cores, measured here.
 */
const INITIAL_JOINS_PER_SECOND = 150;

const idle = () => new Promise<void>((resolve) => setTimeout(resolve, TICK_WALL_MS));

/** Starts the clock and waits, outside the scenario's time, until its start. */
export async function warmUp(
  clock: ScaledClock,
  world: Pick<StartedWorld, 'clockResumed'>,
  startSimMs: number,
  signal: AbortSignal,
): Promise<void> {
  clock.resume();
  world.clockResumed();
  while (clock.now() < startSimMs && !signal.aborted) await idle();
}

export interface DropOutcome {
  samples: readonly Sample[];
  faults: FaultScheduler;
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

/** The scenario's time, from its start to its end: the duties, in the order they run each tick. */
export async function runDrop(setup: DropSetup): Promise<DropOutcome> {
  const { plan, world, load } = setup;
  const wallStartMs = Date.now();
  const faults = new FaultScheduler({ world, faults: plan.faults, log: setup.log });
  const arrivals = new ArrivalFeeder({ arrivalsSimMs: plan.arrivalsSimMs, users: setup.users, load });
  const pacer: PacerDuty = new PacerDuty({
    pacer: new ClockPacer({
      requestedScale: plan.requestedScale,
      minScale: Math.min(MIN_TIME_SCALE, plan.requestedScale),
      arrivalsSimMs: plan.arrivalsSimMs,
      initialJoinsPerSecond: INITIAL_JOINS_PER_SECOND,
      admissionsPerSimSecond: plan.topology.queue.admissionPerSecond,
      salesOpenSimMs: plan.salesOpenMs,
    }),
    requestedScale: plan.requestedScale,
    world,
    load,
    sent: () => arrivals.sent,
    faultsInProgress: () => faults.inProgress,
    queueSize: () => sampler.lastQueueSize,
    cpuBusy: cpuBusyMeter(),
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
  });
  const live = setup.live?.feed({
    samples: () => sampler.samples,
    faults: () => faults.injected.map((f) => f.record),
    speed: pacer,
    wallStartMs,
    wallNow: Date.now,
  });
  await runDropLoop({
    clock: setup.clock,
    endSimMs: plan.endMs,
    duties: [
      new SalesOpener({ world, salesOpenSimMs: plan.salesOpenMs }),
      faults,
      arrivals,
      pacer,
      sampler,
      ...(live ? [live] : []),
    ],
    signal: setup.signal,
    idle,
  });
  return { samples: sampler.samples, faults, wallSeconds: (Date.now() - wallStartMs) / 1_000 };
}
