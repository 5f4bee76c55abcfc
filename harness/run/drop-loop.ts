/**
 * The drop: a short loop that hands the simulated time to each duty in turn (open sales, start
 * due faults, feed arrivals, pace the clock, sample the world), then lets the machine work.
 *
 * Duties see the world and the load through the small interfaces below, which the started world
 * and the `LoadGenerator` satisfy, so a unit test drives the loop on a `ManualClock` with fakes.
 */
import type { ClockAnchor } from '../clock/timeline.ts';
import type { LoadTotals } from '../load/load-generator.ts';
import type { VirtualUserCredentials } from '../load/protocol.ts';
import type { LatencyAggregate } from '../metrics/latency.ts';
import type { StartedWorld } from '../worlds/world.ts';

/** One thing the drop does every tick. */
export interface DropDuty {
  /** Named in a failure of the drop. */
  readonly name: string;
  /** `nowSimMs`: the run's simulated time, epoch ms. */
  tick(nowSimMs: number): Promise<void> | void;
}

/** What the drop's duties ask of the world. */
export type DropWorld = Pick<StartedWorld, 'openSales' | 'injectFault' | 'setTimeScale' | 'sample'>;

/** The load figures the duties read. */
export type DropLoadTotals = Pick<
  LoadTotals,
  | 'requests'
  | 'errors'
  | 'admitted'
  | 'joined'
  | 'settled'
  | 'unsettled'
  | 'usersAway'
  | 'usersFailing'
  | 'usersActive'
  | 'socketsConnected'
>;

/** What the drop's duties ask of the load generator. */
export interface DropLoad {
  arrive(users: VirtualUserCredentials[]): void;
  /** The clock from `anchor.wallMs` on: the load keeps simulated time with it (think times). */
  followClock(anchor: ClockAnchor): void;
  totals(): DropLoadTotals;
  /** Latency since the last call (a sample's minute). */
  takeInterval(): LatencyAggregate;
  /** Latency since the last call (the pacer's second). */
  takeFeedback(): LatencyAggregate;
  /** The load workers' worst event-loop lag since the last call, if they reported any. */
  takeWorkerLagMs(): number | undefined;
}

export interface DropLoopOptions {
  clock: { now(): number };
  /** The loop ends once simulated time reaches this (or the signal aborts). */
  endSimMs: number;
  /** Run in this order every tick, each with the simulated time it starts at. */
  duties: readonly DropDuty[];
  signal: AbortSignal;
  /** Lets the machine work between ticks (50 wall ms in a run; a clock advance in a test). */
  idle: () => Promise<void>;
}

/** A duty failed: the error names it; `cause` is what it threw. */
export class DropDutyError extends Error {
  constructor(
    readonly duty: string,
    cause: unknown,
  ) {
    super(`${duty}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'DropDutyError';
  }
}

export async function runDropLoop(options: DropLoopOptions): Promise<void> {
  const { clock, endSimMs, duties, signal } = options;
  while (clock.now() < endSimMs && !signal.aborted) {
    for (const duty of duties) {
      try {
        await duty.tick(clock.now());
      } catch (err) {
        throw new DropDutyError(duty.name, err);
      }
    }
    await options.idle();
  }
}
