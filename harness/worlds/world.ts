/**
 * Where a rehearsal runs. The runner (`harness/run/run-scenario.ts`) drives arrivals, the clock and
 * the report; a world supplies what the drop acts on and what it observes:
 *
 * | world | load goes to | observations | faults | clock |
 * | --- | --- | --- | --- | --- |
 * | `local` | the emulated ALB | the emulator itself | every fault | the scenario's scale |
 * | `localstack` | the emulated ALB | alarms from LocalStack, the rest from the emulator | every fault | 1× |
 * | `aws` | the deployed ALB | AWS APIs | the ones AWS has an API for | 1× |
 *
 * A world is chosen by name (`selectWorld`), started once per run, and stopped by the runner.
 */
import type { Topology } from '../../infra/topology.ts';
import type { ScaledClock } from '../clock/clock.ts';
import type { Verdict } from '../expectations/evaluate.ts';
import type { InjectedFault } from '../faults/inject.ts';
import type { VirtualUserCredentials } from '../load/protocol.ts';
import type { AlarmTransition, InstanceRecord, ScalingActivityRecord } from '../model/aws.ts';
import type {
  HealthReplacementRecord,
  Integrity,
  PolicyRefusalRecord,
  Sample,
} from '../report/run-record.ts';
import type { Expectation, FaultAction, Scenario } from '../scenario/schema.ts';
import type { ControlServer } from '../topology/control-server.ts';
import type { TopologyStatus } from '../topology/local-topology.ts';

export const WORLD_NAMES = ['local', 'localstack', 'aws'] as const;
export type WorldName = (typeof WORLD_NAMES)[number];

/** The part of a `Sample` a world observes; requests, errors and latencies come from the load. */
export type WorldSample = Pick<
  Sample,
  | 'queueSize'
  | 'activeUsers'
  | 'instances'
  | 'targets'
  | 'alarms'
  | 'connectionsPerInstance'
  | 'socketsPerInstance'
  | 'desiredCapacity'
>;

/**
 * The drop's users, in arrival order. A world may still be creating the later ones while the run
 * goes on (a deployed app's sessions expire, so users are registered shortly before they arrive):
 * the runner never sends more than `ready`.
 */
export interface UserSupply {
  /** Users from the first one that are ready to arrive. */
  readonly ready: number;
  /** Users `from` (inclusive) to `to` (exclusive); both at most `ready`. */
  take(from: number, to: number): VirtualUserCredentials[];
}

/** Users ready up front: the local worlds create them all before the drop. */
export function readyUsers(users: readonly VirtualUserCredentials[]): UserSupply {
  return {
    ready: users.length,
    take: (from, to) => users.slice(from, to).map((u) => ({ userId: u.userId, token: u.token })),
  };
}

export interface PreparedDrop {
  /** Seats the virtual users pick from. */
  seatIds: string[];
  users: UserSupply;
}

/** What a world recorded over the run, in simulated time (`toSim` maps its wall times). */
export interface WorldHistory {
  alarmHistory: AlarmTransition[];
  scalingActivities: ScalingActivityRecord[];
  instances: InstanceRecord[];
  /** The database's own counts; absent when the world cannot reach the database (`notEvaluable`). */
  integrity?: Integrity;
  /** Scaling-policy invocations the group refused; absent where the world cannot see them. */
  policyRefusals?: PolicyRefusalRecord[];
  /** Instances the ELB health check had replaced; absent where the world cannot see them. */
  healthReplacements?: HealthReplacementRecord[];
}

export interface WorldSetup {
  scenario: Scenario;
  /** The design with the scenario's overrides. */
  topology: Topology;
  /** The run's simulated clock, paused until the drop starts. */
  clock: ScaledClock;
  users: number;
  /** The run's seed: every choice the world makes at random draws from it. @default 1 */
  seed?: number;
  log: (line: string) => void;
}

/** A world before it runs: what the runner needs to know to set up its clock and checks. */
export interface World {
  readonly name: WorldName;
  /**
   * The only clock speed this world can run at (deployed worlds evaluate alarms, cooldowns and
   * boots on the wall clock: 1). Absent: the scenario's or `--time-scale`.
   */
  readonly fixedTimeScale?: number;
  /** Simulated ms the clock runs before the scenario's start (warm instances pass health checks). */
  readonly warmUpMs: number;
  /** Expectation kinds this world cannot check, each with the reason. */
  readonly notEvaluable: Partial<Record<Expectation['expect'], string>>;
  start(setup: WorldSetup): Promise<StartedWorld>;
}

/** A running world. `stop()` is safe to call at any point after `start()` resolved. */
export interface StartedWorld {
  /** Where virtual users send their traffic: one client's address. */
  readonly clientUrl: string;
  /** Every address of that site, `clientUrl` first; each load worker's users keep to one. */
  readonly clientUrls: readonly string[];
  /** The event the drop sells (the one the world's alarms watch). */
  readonly eventId: string;
  /**
   * How often each queued user is told their place, simulated ms, where the clock can move (local
   * worlds): the pacer plans for those messages while the queue drains. @default not planned for
   */
  readonly positionUpdateSimMs?: number;
  /** The event's seats and the users, before the clock starts. */
  prepare(drop: { seats: number; users: number; arrivalsSimMs: readonly number[] }): Promise<PreparedDrop>;
  /** The runner has resumed the clock: the drop's time begins. */
  clockResumed(): void;
  /** Opens sales (admission begins); false when it could not right now (tried again next tick). */
  openSales(): Promise<boolean>;
  sample(): Promise<WorldSample>;
  /**
   * The group's instances and the ALB's targets by state right now (local worlds, where they are
   * this process's own objects): what the pacer counts as a scaling activity in flight, without
   * waiting up to a simulated minute for the next sample. @default the last sample's
   */
  lifecycleNow?(): Pick<WorldSample, 'instances' | 'targets'>;
  /** The emulator's control endpoint (local worlds): the run mounts its live page and `/metrics` there. */
  readonly control?: Pick<ControlServer, 'mount' | 'url'>;
  /** What `tiketi-sim status` shows (local worlds): `/metrics` reads it. */
  status?(): TopologyStatus;
  /** The history so far, for the live page (local worlds; the hybrid world's alarms are elsewhere). */
  historySoFar?(): Partial<Omit<WorldHistory, 'integrity'>>;
  /** Injects a fault now; throws `FaultError` when this world has no way to. */
  injectFault(fault: FaultAction): Promise<InjectedFault>;
  /** Follows the runner's clock speed (a no-op in fixed-scale worlds). */
  setTimeScale(timeScale: number): Promise<void>;
  /** After the load has stopped: the world's history, and the integrity check where it can run. */
  finish(run: {
    confirmedReservationIds: readonly string[];
    /** Wall epoch ms → the run's simulated epoch ms. */
    toSim: (wallMs: number) => number;
  }): Promise<WorldHistory>;
  stop(): Promise<void>;
}

/** A world cannot be used from here (a stack, an event or a service is missing); the message says what to do. */
export class WorldSetupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WorldSetupError';
  }
}

/** Integrity figures of a world that cannot count them: -1, never a made-up 0. */
export const INTEGRITY_NOT_EVALUATED: Integrity = {
  seatsSoldTwice: -1,
  confirmedReservationsLost: -1,
  confirmedInDatabase: -1,
  mostSeatsPerUser: -1,
};

/** The observation a verdict carries when the world could not check its expectation. */
export const NOT_EVALUABLE_PREFIX = 'not evaluable';

/**
 * Verdicts of expectations the world cannot check become "not evaluable" with the reason: they are
 * inconclusive (nothing was checked), and the report says why rather than showing a number.
 */
export function markNotEvaluable(
  verdicts: Verdict[],
  world: Pick<World, 'name' | 'notEvaluable'>,
): Verdict[] {
  return verdicts.map((verdict) => {
    const reason = verdict.kind === 'baseline' ? undefined : world.notEvaluable[verdict.kind];
    if (!reason) return verdict;
    const observed = `${NOT_EVALUABLE_PREFIX} in the ${world.name} world: ${reason}`;
    return { ...verdict, status: 'inconclusive', passed: false, observed, reason: observed };
  });
}

export function isNotEvaluable(verdict: Verdict): boolean {
  return !verdict.passed && verdict.observed.startsWith(`${NOT_EVALUABLE_PREFIX} in the `);
}
