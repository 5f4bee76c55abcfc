import type { Verdict } from '../expectations/evaluate.ts';
import { LoadGenerator, type LoadTotals } from '../load/load-generator.ts';
import { scenarioHeadroom } from '../metrics/machine-state.ts';
import type { RunRecord } from '../report/run-record.ts';
import type { Expectation } from '../scenario/schema.ts';
import type { StartedWorld, UserSupply } from '../worlds/world.ts';
import type { DropLoad } from './drop-loop.ts';
import { prepareForEngine } from './external-load.ts';
import type { LiveLoad } from './live-run.ts';
import type { RunPlan } from './plan.ts';
import type { MeasuredLoad } from './run-measurement.ts';

/** What the run asks of its load, from the drop to the record: the `LoadGenerator`, or a null load. */
export interface RunLoad extends DropLoad, MeasuredLoad, LiveLoad {
  totals(): LoadTotals;
  readonly workerCount: number;
}

/** The drop's users and the load that will send them, before the clock starts. */
export interface PreparedLoad {
  users: UserSupply;
  load: RunLoad;
  /** Stops the load once; later calls return the same totals. */
  stop(): Promise<LoadTotals>;
  /** The scenario's start has come (an engine beside the run starts its arrivals now). @default nothing */
  dropStarting?(): void;
  /** The record with figures measured elsewhere (an engine's report). @default the record as it is */
  completeRecord?(record: RunRecord): RunRecord;
  /** Verdicts, one per expectation, with those this load could not decide marked. @default as they are */
  markVerdicts?(verdicts: Verdict[], expectations: readonly Expectation[], record: RunRecord): Verdict[];
}

/** Setup happens outside simulated time: the event, its seats and users, the load's workers. */
export async function prepareUsers(
  plan: RunPlan,
  world: StartedWorld,
  log: (line: string) => void,
): Promise<PreparedLoad> {
  if (plan.load.source === 'external') return prepareForEngine(plan, world, log, plan.load.report);
  const { seatIds, users } = await world.prepare({
    seats: plan.scenario.event.seats,
    users: plan.users,
    arrivalsSimMs: plan.arrivalsSimMs,
  });
  const generator = await LoadGenerator.start({
    baseUrls: world.clientUrls,
    eventId: world.eventId,
    seatIds,
    behaviour: plan.scenario.behaviour,
    timeScale: plan.requestedScale,
    users: plan.users,
    seed: plan.seed,
    // A sample in flight through its worker's own stall is left out of the verdicts one by one.
    stallMs: scenarioHeadroom(plan.scenario).maxEventLoopLagMs,
    onError: (m) => log(`[load] ${m}`),
  });
  let stopped: Promise<LoadTotals> | undefined;
  return {
    users,
    load: generator,
    stop: () => {
      stopped ??= generator.stop();
      return stopped;
    },
  };
}
