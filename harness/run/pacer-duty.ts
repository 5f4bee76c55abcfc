import type { ClockAnchor } from '../clock/timeline.ts';
import type { LatencyAggregate } from '../metrics/latency.ts';
import type { ClockLimit } from '../report/run-record.ts';
import type { DropDuty, DropLoad, DropWorld } from './drop-loop.ts';
import type { ClockPacer } from './pacer.ts';
import type { MeasuredInterval } from './run-measurement.ts';

/** How fast the clock runs now, and what set that speed. */
export interface ClockSpeed {
  readonly scale: number;
  readonly limitedBy: ClockLimit;
}

/** How often the pacer decides whether the machine keeps up, wall ms. */
export const PACER_DECISION_WALL_MS = 1_000;
/** Smaller changes of speed are not worth telling every process about. */
const MIN_SPEED_CHANGE = 0.02;

/** The worse of API requests and Socket.IO connects: both are what a joining user waits for. */
export function p95OfFeedback(latency: LatencyAggregate): number | undefined {
  const values = [latency.allEndpoints()?.p95Ms, latency.summary('socket.connect')?.p95Ms].filter(
    (v): v is number => v !== undefined,
  );
  return values.length > 0 ? Math.max(...values) : undefined;
}

export interface PacerDutyOptions {
  pacer: Pick<ClockPacer, 'next'>;
  /** The speed the clock starts at. */
  requestedScale: number;
  /** Follows the speed (the world's clock, its instances and ALB). */
  world: Pick<DropWorld, 'setTimeScale'>;
  load: Pick<DropLoad, 'totals' | 'followClock'>;
  /** The world's clock as it runs now (after a change of speed): what the load follows. */
  clockAnchor: () => ClockAnchor;
  /** Users sent so far. */
  sent: () => number;
  faultsInProgress: () => boolean;
  /** The fastest the faults allow now at a speed (FaultScheduler.speedLimit). @default no limit */
  faultSpeedLimit?: (nowSimMs: number, scale: number) => number | undefined;
  /**
   * The fastest the pacer may choose (its idle speed): a fault counts as approaching when it is
   * two decisions ahead at that speed, not at the current one — the pacer goes straight to the
   * idle speed, and a fault 90 simulated s ahead, far at 10×, came 40 s late at 960×.
   * @default requestedScale
   */
  fastestScale?: number;
  /** Users waiting in the queue, as last sampled. */
  queueSize: () => number | undefined;
  /** The interval since the last decision: the machine's state and the latency samples (run-measurement.ts). */
  measure: (
    nowSimMs: number,
  ) => Pick<MeasuredInterval, 'state' | 'feedback' | 'saturation'> &
    Partial<Pick<MeasuredInterval, 'steering' | 'countedShare' | 'stallAlone' | 'offRunnerPath'>>;
  /** Instances launching, draining or terminating: the world is busy even with no user due. */
  activityInFlight: () => boolean;
  wallNow: () => number;
  /** @default PACER_DECISION_WALL_MS */
  decisionEveryWallMs?: number;
}

/**
 * The clock never runs ahead of the load (see pacer.ts): once a wall second, asks the pacer for
 * a speed and, when it changed, sets it on the world and the load.
 */
export class PacerDuty implements DropDuty, ClockSpeed {
  readonly name = 'pacer';
  private current: number;
  private limit: ClockLimit = 'requested';
  private nextDecisionWallMs: number;
  /** A decision was made: the intervals measured since are the rehearsal's. */
  private decided = false;
  /** A scaling activity was in flight at the last decision. */
  private activityAtDecision = false;

  constructor(private readonly options: PacerDutyOptions) {
    this.current = options.requestedScale;
    // The first decision at the first tick: a second at the requested speed could send a
    // burst's worth of users before the pacer has read the curve.
    this.nextDecisionWallMs = options.wallNow();
  }

  get scale(): number {
    return this.current;
  }

  get limitedBy(): ClockLimit {
    return this.limit;
  }

  /**
   * Running at the idle speed (a simulated minute in 62 wall ms) while something became due: decide
   * now, not up to a second later — a scaling activity would otherwise run its course at that speed.
   */
  private idleInterrupted(nowSimMs: number): boolean {
    if (this.limit !== 'idle') return false;
    const o = this.options;
    return (
      o.activityInFlight() ||
      (o.queueSize() ?? 0) > 0 ||
      o.faultsInProgress() ||
      o.faultSpeedLimit?.(nowSimMs, this.fastest) !== undefined
    );
  }

  /**
   * The scaling activity the last decision saw is over: decide now, not up to a second later. A
   * full peak's scale-in ran four of them, each held at the requested speed a whole second past
   * its end (4 of the 7 wall seconds of the hour after the drain).
   */
  private activityEnded(): boolean {
    return this.activityAtDecision && !this.options.activityInFlight();
  }

  private get fastest(): number {
    return Math.max(this.current, this.options.fastestScale ?? this.options.requestedScale);
  }

  private get everyWallMs(): number {
    return this.options.decisionEveryWallMs ?? PACER_DECISION_WALL_MS;
  }

  async tick(nowSimMs: number): Promise<void> {
    const o = this.options;
    const wallMs = o.wallNow();
    if (wallMs < this.nextDecisionWallMs && !this.idleInterrupted(nowSimMs) && !this.activityEnded()) return;
    this.nextDecisionWallMs = wallMs + this.everyWallMs;
    const totals = o.load.totals();
    const { state, feedback, steering, saturation, stallAlone, offRunnerPath, countedShare } =
      o.measure(nowSimMs);
    // The first interval is the set-up's (processes starting, code loading and compiling: the CPU
    // 100 % busy, loops late), not the rehearsal's load: read as saturation, it held the room's
    // first minutes at 40 % of the requested speed and its next 25 s under 90 %.
    const setUp = !this.decided;
    this.decided = true;
    this.activityAtDecision = o.activityInFlight();
    const { scale, limitedBy } = o.pacer.next({
      wallMs,
      simMs: nowSimMs,
      sent: o.sent(),
      settled: totals.settled,
      backlog: totals.unsettled,
      usersRecovering: totals.usersAway + totals.usersFailing,
      usersActive: totals.usersActive,
      p95Ms: setUp ? undefined : p95OfFeedback(steering ?? feedback),
      // The CPU left to the run, not the machine's: a neighbour's load is not the run's to make
      // room for (with a one-core hog the machine was 80–90 % busy while the run used 0.6–0.7 of
      // the core left to it, and the clock never rose). The headroom rule still counts it.
      cpuBusy: setUp ? undefined : (state.runCpuBusy ?? state.cpuBusy),
      cpuStolen: setUp ? undefined : state.cpuStolen,
      faultsInProgress: o.faultsInProgress(),
      queueSize: o.queueSize(),
      saturation: setUp ? [] : saturation,
      stallAlone: setUp ? false : stallAlone,
      ...(setUp || !offRunnerPath ? {} : { offRunnerPath }),
      headroomShare: countedShare,
      activityInFlight: this.activityAtDecision,
      faultSpeedLimit: o.faultSpeedLimit?.(nowSimMs, this.fastest),
    });
    this.limit = limitedBy;
    if (Math.abs(scale - this.current) / this.current <= MIN_SPEED_CHANGE) return;
    this.current = scale;
    await o.world.setTimeScale(scale);
    o.load.followClock(o.clockAnchor());
  }
}
