import { createHash } from 'node:crypto';
import { designTopology, mergeTopology, type Topology } from '../../infra/topology.ts';
import { arrivalOffsetsSeconds, rescaleArrivals } from '../load/arrivals.ts';
import { buyerArrivals } from '../load/user-plan.ts';
import type { PlannedChoices } from '../report/run-record.ts';
import { clockTimeToSeconds, type Scenario } from '../scenario/schema.ts';
import type { World } from '../worlds/world.ts';
import { EXTERNAL_LOAD_TIME_SCALE, type LoadChoice } from './external-load.ts';
import type { ScheduledFault } from './fault-scheduler.ts';

/** The seed of a run that names none: the same scenario makes the same choices every time. */
export const DEFAULT_SEED = 1;

/** Everything the phases need to know before anything starts, in simulated epoch ms. */
export interface RunPlan {
  scenario: Scenario;
  /** The design with the scenario's overrides. */
  topology: Topology;
  users: number;
  /** Every choice the harness makes at random draws from it (users, the group's ties, fault victims). */
  seed: number;
  requestedScale: number;
  /** A deployed world's speed, or an external load's: it never moves (the wall clock). */
  fixedTimeScale?: number;
  /** Who sends the users. */
  load: LoadChoice;
  startMs: number;
  endMs: number;
  salesOpenMs: number;
  /** When each user arrives, ascending. */
  arrivalsSimMs: number[];
  faults: ScheduledFault[];
}

/** A scenario's `HH:MM[:SS]` on its date, as simulated epoch ms. */
export function simEpoch(scenario: Scenario, time: string): number {
  return Date.parse(`${scenario.date}T00:00:00Z`) + clockTimeToSeconds(time) * 1_000;
}

export function planRun(options: {
  scenario: Scenario;
  world: Pick<World, 'name' | 'fixedTimeScale'>;
  timeScale?: number;
  users?: number;
  /** @default tiketi-sim's load generator */
  load?: LoadChoice;
  seed?: number;
  log: (line: string) => void;
}): RunPlan {
  const { scenario, world } = options;
  const load = options.load ?? { source: 'generator' };
  // An engine sends its arrivals in wall time: the run follows at 1× (the CLI refuses another scale).
  const fixedTimeScale =
    world.fixedTimeScale ?? (load.source === 'external' ? EXTERNAL_LOAD_TIME_SCALE : undefined);
  const requestedScale = fixedTimeScale ?? options.timeScale ?? scenario.timeScale;
  if (fixedTimeScale !== undefined && scenario.timeScale !== fixedTimeScale)
    options.log(
      `[runner] ${world.fixedTimeScale !== undefined ? `the ${world.name} world runs` : 'an external load engine sends users'} on the wall clock (${fixedTimeScale}×), not the scenario's ${scenario.timeScale}×: ${scenario.startAt}–${scenario.endAt} takes ${Math.round((clockTimeToSeconds(scenario.endAt) - clockTimeToSeconds(scenario.startAt)) / 60 / fixedTimeScale)} minutes`,
    );
  const users = options.users ?? scenario.users;
  const dayStartMs = simEpoch(scenario, '00:00');
  return {
    scenario,
    topology: mergeTopology(designTopology, scenario.topology),
    users,
    seed: options.seed ?? scenario.seed ?? DEFAULT_SEED,
    requestedScale,
    fixedTimeScale,
    load,
    startMs: simEpoch(scenario, scenario.startAt),
    endMs: simEpoch(scenario, scenario.endAt),
    salesOpenMs: simEpoch(scenario, scenario.event.salesOpenAt ?? scenario.startAt),
    arrivalsSimMs: arrivalOffsetsSeconds(rescaleArrivals(scenario.arrivals, users)).map(
      (s) => dayStartMs + s * 1_000,
    ),
    faults: scenario.faults.map((action) => ({ atSimMs: simEpoch(scenario, action.at), action })),
  };
}

const digest = (values: readonly number[]) =>
  createHash('sha256').update(JSON.stringify(values)).digest('hex').slice(0, 16);

/** What the plan's seed decides, as the record states it: two runs with one seed state the same. */
export function plannedChoices(plan: RunPlan): PlannedChoices {
  const buyers = buyerArrivals(plan.seed, plan.users, plan.scenario.behaviour);
  return {
    buyers: buyers.length,
    buyersDigest: digest(buyers),
    arrivalsDigest: digest(plan.arrivalsSimMs),
    faultsAtMs: plan.faults.map((f) => f.atSimMs),
  };
}
