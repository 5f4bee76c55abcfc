/**
 * A rehearsal: start the world (the emulated topology, LocalStack-backed alarms, or a deployed
 * stack: `harness/worlds/world.ts`), prepare the drop's event and users, send them along the
 * scenario's arrival curve (open model), sample the world every simulated minute, then check the
 * expectations against what was recorded.
 *
 * The clock never runs ahead of the load: when arrivals pile up unsent or unanswered, the
 * simulated clock slows down (and the app instances follow it through Redis); it speeds back up
 * to the requested scale when the machine catches up. The report states the effective scale.
 *
 * The run is a list of phases (phases.ts); the drop is a loop of small duties (drop.ts).
 */
import type { Topology } from '../../infra/topology.ts';
import { ScaledClock } from '../clock/clock.ts';
import { evaluateAll, type Verdict } from '../expectations/evaluate.ts';
import type { LiveDashboard } from '../live/dashboard.ts';
import type { RunRecord } from '../report/run-record.ts';
import type { Scenario } from '../scenario/schema.ts';
import { LOCAL_EVENT_ID } from '../worlds/local/local-world.ts';
import { markNotEvaluable, type World } from '../worlds/world.ts';
import { runDrop, warmUp } from './drop.ts';
import type { LoadChoice } from './external-load.ts';
import { finishRun } from './finish.ts';
import { LiveRun, type LiveRunOptions } from './live-run.ts';
import { PhaseRunner } from './phases.ts';
import { planRun } from './plan.ts';
import { prepareUsers } from './prepare.ts';
import type { Progress } from './sampler.ts';

export type { Progress } from './sampler.ts';

export const EVENT_ID = LOCAL_EVENT_ID;

export interface RunOptions {
  scenario: Scenario;
  /** Where the drop runs (`selectWorld`; `localWorld({ backend })` is the emulator). */
  world: World;
  /** Overrides the scenario's time scale (a world with a fixed scale ignores both). */
  timeScale?: number;
  /** Overrides the scenario's user count (the curve keeps its shape). */
  users?: number;
  /** Who sends the users. @default tiketi-sim's load generator */
  load?: LoadChoice;
  /** Overrides the scenario's seed (`plan.ts` DEFAULT_SEED when neither names one). */
  seed?: number;
  signal: AbortSignal;
  /** Progress lines (or a live line on a terminal). */
  progress: (p: Progress) => void;
  log: (line: string) => void;
  /** The report phase: runs with the result while the world still runs. @default nothing (the caller reports) */
  report?: (result: RunResult, live: LiveView) => Promise<void> | void;
  /** Serve `/metrics` and the live dashboard while the run goes. @default none */
  live?: LiveRunOptions;
}

/** What the report phase may end: the live page, when one is served (`dashboard.finish(frame)`). */
export interface LiveView {
  dashboard?: Pick<LiveDashboard, 'finish'>;
}

export interface RunResult {
  record: RunRecord;
  verdicts: Verdict[];
  topology: Topology;
  aborted: boolean;
}

export async function runScenario(options: RunOptions): Promise<RunResult> {
  const { world: target, signal, log } = options;
  const plan = planRun(options);
  // Setup must not eat into the drop: the clock stays paused until users and workers are ready,
  // then runs from a few minutes before the start so the warm instances pass their health checks.
  const clock = new ScaledClock({
    timeScale: plan.requestedScale,
    startSimMs: plan.startMs - target.warmUpMs,
    paused: true,
  });
  const phases = new PhaseRunner(log);
  try {
    const world = await phases.run(
      'start world',
      () =>
        target.start({
          scenario: plan.scenario,
          topology: plan.topology,
          clock,
          users: plan.users,
          seed: plan.seed,
          log,
        }),
      (started) => started.stop(),
    );
    const liveOptions = options.live;
    const live = liveOptions
      ? await phases.run(
          'start world',
          () => LiveRun.start(world, plan, liveOptions),
          (l) => l.close(),
        )
      : undefined;
    const load = await phases.run(
      'prepare users',
      () => prepareUsers(plan, world, log),
      async (prepared) => void (await prepared.stop().catch(() => undefined)),
    );
    live?.loadReady(load.load);
    await phases.run('warm up', () => warmUp(clock, world, plan, signal));
    load.dropStarting?.();
    const drop = await phases.run('drop', () =>
      runDrop({
        plan,
        clock,
        world,
        load: load.load,
        users: load.users,
        signal,
        progress: options.progress,
        log,
        live,
      }),
    );
    const record = await phases.run('finish', () => finishRun({ plan, clock, world, load, drop }));
    const verdicts = await phases.run('evaluate', async () => {
      const { expectations } = plan.scenario;
      const judged = evaluateAll(expectations, record);
      return markNotEvaluable(load.markVerdicts?.(judged, expectations, record) ?? judged, target);
    });
    const result: RunResult = { record, verdicts, topology: plan.topology, aborted: signal.aborted };
    await phases.run('report', async () => options.report?.(result, { dashboard: live?.dashboard }));
    return result;
  } finally {
    await phases.close();
  }
}
