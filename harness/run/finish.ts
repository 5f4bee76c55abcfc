import type { ScaledClock } from '../clock/clock.ts';
import { buildRunRecord } from '../report/build-run-record.ts';
import type { RunRecord } from '../report/run-record.ts';
import { INTEGRITY_NOT_EVALUATED, type StartedWorld } from '../worlds/world.ts';
import type { DropOutcome } from './drop.ts';
import { plannedChoices, type RunPlan } from './plan.ts';
import type { PreparedLoad } from './prepare.ts';

/** After the drop: faults reverted, the load stopped, the world's history, the run's record. */
export async function finishRun(run: {
  plan: RunPlan;
  clock: ScaledClock;
  world: StartedWorld;
  load: PreparedLoad;
  drop: DropOutcome;
}): Promise<RunRecord> {
  const { drop } = run;
  try {
    return await recordRun(run);
  } finally {
    drop.measurement.stop();
  }
}

async function recordRun(run: Parameters<typeof finishRun>[0]): Promise<RunRecord> {
  const { plan, clock, drop } = run;
  await drop.faults.stopAll();
  const latency = run.load.load.total;
  const workers = run.load.load.workerCount;
  const totals = await run.load.stop();
  // The workers' final reports: measured while the run stopped, judged like any other interval.
  const measurement = drop.measurement.record(clock.now());
  const toSim = (wallMs: number) => clock.toSim(wallMs);
  const history = await run.world.finish({ confirmedReservationIds: totals.confirmedReservationIds, toSim });
  const record = buildRunRecord({
    scenario: plan.scenario.name,
    startMs: plan.startMs,
    endMs: plan.endMs,
    clockNowMs: clock.now(),
    timeScaleRequested: plan.requestedScale,
    wallSeconds: drop.wallSeconds,
    users: plan.users,
    samples: drop.samples,
    history,
    integrity: history.integrity ?? INTEGRITY_NOT_EVALUATED,
    faults: drop.faults.injected.map((f) => f.record),
    load: { totals, latency, workers },
    toSim,
    measurement,
    seed: plan.seed,
    plannedChoices: plannedChoices(plan),
  });
  return run.load.completeRecord?.(record) ?? record;
}
