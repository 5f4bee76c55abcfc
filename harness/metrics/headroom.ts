/**
 * Which latency samples count. Interval by interval (1 s wall in a run) the runner hands over the
 * machine's state and the samples that arrived; samples count only when the machine had headroom
 * in that interval and in the one before (a load worker reports what it measured over its last
 * second, so a batch may have been measured in either). A load worker's own stall is judged
 * sample by sample where the workers file them (`LatencyRecorder` with a `StallWatch`): it takes
 * the samples it delayed, not the second. So is the runner's: the workers file apart a join whose
 * user it handed over late and a connect whose WebSocket it relayed late; where they do not, its
 * stall takes the interval's samples on its path (`RUNNER_PATH`). The rest is kept out of the
 * verdicts, and the stretches in which the machine was saturated are recorded with what
 * saturated it.
 */
import { LatencyAggregate, type LatencyMetric, type LatencySummary } from './latency.ts';
import { type HeadroomThresholds, type MachineState, saturation, worstOf } from './machine-state.ts';

/** A stretch of simulated time in which the machine was saturated, and the worst it got. */
export interface SaturatedStretch {
  fromMs: number;
  toMs: number;
  /** Each signal's worst value over the stretch. */
  worst: MachineState;
  /** The signals over their thresholds, e.g. `CPU 100 %`, `load-worker lag 580 ms`. */
  reasons: string[];
}

/** The machine over one simulated minute of the report's series. */
export interface MinuteMachineState {
  /** Share of the minute's intervals with headroom (0–1). */
  headroomShare: number;
  /** Each signal's worst value over the minute. */
  worst: MachineState;
  /** What saturated it, if anything did. */
  saturatedBy?: string[];
}

/** What `summary.json` and the verdicts read: the thresholds, the counted latency and the stretches. */
export interface MeasurementRecord {
  thresholds: HeadroomThresholds;
  /** Latency of the samples taken with headroom, per metric and all API requests merged. */
  latencyWithHeadroom: Partial<Record<LatencyMetric | 'all', LatencySummary>>;
  saturated: SaturatedStretch[];
  /** Intervals judged, and how many had headroom. */
  intervals: { total: number; withHeadroom: number };
  /** Where the CPU went (`cpuCost`). */
  cpu?: CpuCost;
}

/** CPU time of the run's processes, and what the arrivals cost. */
export interface CpuCost {
  /** CPU time per process role over the run (the runner's own since it started), ms. */
  byRoleMs: Partial<Record<string, number>>;
  /**
   * CPU of every process on the path from the start until sales opened, per user joined by then,
   * ms: an upper bound of a join's cost (HTTP join and first Socket.IO connect), since the queued
   * users' position updates and the health checks run meanwhile too.
   */
  perJoinUntilSalesOpenMs?: number;
  /** The same, per process role: which processes a join's cost lies in. */
  perJoinUntilSalesOpenByRoleMs?: Partial<Record<string, number>>;
}

/** `CpuCost` from CPU totals (ms per role) at the start, when sales opened and at the end. */
export function cpuCost(
  atStart: Partial<Record<string, number>>,
  atSalesOpen: { cpuMs: Partial<Record<string, number>>; joined: number } | undefined,
  atEnd: Partial<Record<string, number>>,
): CpuCost {
  const byRoleMs = spentByRole(atStart, atEnd);
  if (!atSalesOpen || atSalesOpen.joined <= 0) return { byRoleMs };
  const perJoinByRole: Partial<Record<string, number>> = {};
  let perJoin = 0;
  for (const [role, ms] of Object.entries(spentByRole(atStart, atSalesOpen.cpuMs))) {
    perJoin += (ms ?? 0) / atSalesOpen.joined;
    perJoinByRole[role] = hundredths((ms ?? 0) / atSalesOpen.joined);
  }
  return {
    byRoleMs,
    perJoinUntilSalesOpenMs: hundredths(perJoin),
    perJoinUntilSalesOpenByRoleMs: perJoinByRole,
  };
}

/** CPU each role spent between two readings of the totals, ms. */
function spentByRole(from: Partial<Record<string, number>>, to: Partial<Record<string, number>>) {
  const spent: Partial<Record<string, number>> = {};
  for (const [role, ms] of Object.entries(to)) spent[role] = (ms ?? 0) - (from[role] ?? 0);
  return spent;
}

const hundredths = (x: number) => Math.round(x * 100) / 100;

export interface MeasuredInterval {
  /** Simulated span of the interval. */
  fromSimMs: number;
  toSimMs: number;
  state: MachineState;
}

const EMPTY_STATE: MachineState = { lagMs: {}, coreBusy: {} };

/** Samples of a kind before its counted share means anything (the first seconds start the world). */
const MIN_SAMPLES_FOR_SHARE = 500;

/** Samples so far of one kind a latency verdict judges, and those taken with headroom. */
interface SampleTally {
  total: number;
  counted: number;
}

const shareOf = ({ total, counted }: SampleTally) =>
  total < MIN_SAMPLES_FOR_SHARE ? undefined : counted / total;

/**
 * The samples the runner's own event loop is on the path of. It hands each arriving user to a load
 * worker (`ArrivalFeeder`) and passes each WebSocket from the ALB to its instance
 * (`harness/alb/websocket-handoff.ts`): its stall can delay a join or a connect. An admitted
 * user's requests and the Socket.IO deliveries go from the load workers through the ALB workers
 * to the instances and back without it.
 */
export const RUNNER_PATH: ReadonlySet<LatencyMetric> = new Set<LatencyMetric>([
  'POST /api/events/:eventId/queue',
  'socket.connect',
]);

/**
 * The state without the lags the load workers judge sample by sample: their own stalls, and the
 * runner's, which holds up only the joins and connects it hands over (each filed apart by how long
 * it waited there: `heldUpMs` in LatencyRecorder.record).
 */
function withoutLagsJudgedPerSample(state: MachineState): MachineState {
  const { 'load-worker': _worker, runner: _runner, ...lagMs } = state.lagMs;
  return { ...state, lagMs };
}

/** The state with the runner's lag left out: what samples off its path are judged on. */
export function withoutRunnerLag(state: MachineState): MachineState {
  const { runner: _runner, ...lagMs } = state.lagMs;
  return { ...state, lagMs };
}

export class HeadroomLedger {
  private readonly counted: LatencyAggregate = new LatencyAggregate();
  private readonly stretches: SaturatedStretch[] = [];
  private previousHadHeadroom = true;
  /** The interval before had headroom for the samples off the runner's path (`RUNNER_PATH`). */
  private previousHadHeadroomOffRunnerPath = true;
  private intervals = { total: 0, withHeadroom: 0 };
  /** API requests and Socket.IO deliveries so far, and those taken with headroom (what latency verdicts count). */
  private readonly requests: SampleTally = { total: 0, counted: 0 };
  private readonly deliveries: SampleTally = { total: 0, counted: 0 };
  private minute = { total: 0, withHeadroom: 0, worst: EMPTY_STATE };
  /** What saturated the last interval; empty when it had headroom. */
  lastSaturation: string[] = [];
  /** The same without the runner's lag: what the samples off its path (`RUNNER_PATH`) lost it to. */
  lastSaturationOffRunnerPath: string[] = [];

  constructor(readonly thresholds: HeadroomThresholds) {}

  /**
   * One interval; returns whether all its samples counted. `clearOfStalls`: the samples of
   * `samples` that neither a load worker's own stall nor the runner's holding them up delayed,
   * when the workers tell them apart. Then those lags take only the samples they delayed. Without
   * it, the runner's lag takes the interval's samples on its path (`RUNNER_PATH`: joins and
   * connects). What the whole machine shows (CPU, a busy process on the path) takes the interval's
   * samples; each of these takes the next interval's too.
   */
  add(interval: MeasuredInterval, samples: LatencyAggregate, clearOfStalls?: LatencyAggregate): boolean {
    const reasons = saturation(interval.state, this.thresholds);
    const judged = clearOfStalls ? withoutLagsJudgedPerSample(interval.state) : interval.state;
    const headroom = saturation(judged, this.thresholds).length === 0;
    this.lastSaturationOffRunnerPath = saturation(withoutRunnerLag(interval.state), this.thresholds);
    const offRunnerPath = saturation(withoutRunnerLag(judged), this.thresholds).length === 0;
    const counts = headroom && this.previousHadHeadroom;
    const clear = clearOfStalls ?? samples;
    const counted = counts
      ? clear
      : offRunnerPath && this.previousHadHeadroomOffRunnerPath
        ? clear.without(RUNNER_PATH)
        : undefined;
    this.requests.total += samples.endpointCount();
    this.deliveries.total += samples.count('socket.delivery');
    if (counted) {
      this.counted.addAggregate(counted);
      this.requests.counted += counted.endpointCount();
      this.deliveries.counted += counted.count('socket.delivery');
    }
    this.previousHadHeadroom = headroom;
    this.previousHadHeadroomOffRunnerPath = offRunnerPath;
    this.lastSaturation = reasons;
    const machineHadHeadroom = reasons.length === 0;
    this.intervals.total++;
    this.minute.total++;
    this.minute.worst = worstOf(this.minute.worst, interval.state);
    if (machineHadHeadroom) {
      this.intervals.withHeadroom++;
      this.minute.withHeadroom++;
    } else this.extendStretch(interval);
    return counts;
  }

  /**
   * The lower of the shares of the run's API requests and of its Socket.IO deliveries so far taken
   * with headroom: how close the latency verdicts are to their `minHeadroomShare`. Each counts once
   * MIN_SAMPLES_FOR_SHARE samples tell; undefined until one does. Requests alone watched, a hog
   * run ended with its deliveries at 80.5 % (80 % needed) while its requests stood at 86.7 %.
   */
  get countedShare(): number | undefined {
    const shares = [shareOf(this.requests), shareOf(this.deliveries)].filter(
      (s): s is number => s !== undefined,
    );
    return shares.length === 0 ? undefined : Math.min(...shares);
  }

  /** The machine over the minute since the last call (for the report's series). */
  takeMinute(): MinuteMachineState | undefined {
    const m = this.minute;
    this.minute = { total: 0, withHeadroom: 0, worst: EMPTY_STATE };
    if (m.total === 0) return undefined;
    const saturatedBy = saturation(m.worst, this.thresholds);
    return {
      headroomShare: Math.round((m.withHeadroom / m.total) * 100) / 100,
      worst: m.worst,
      ...(m.withHeadroom < m.total ? { saturatedBy } : {}),
    };
  }

  record(): MeasurementRecord {
    return {
      thresholds: this.thresholds,
      latencyWithHeadroom: { ...this.counted.summaries(), all: this.counted.allEndpoints() },
      saturated: this.stretches.map((s) => ({ ...s, reasons: saturation(s.worst, this.thresholds) })),
      intervals: { ...this.intervals },
    };
  }

  private extendStretch(interval: MeasuredInterval): void {
    const last = this.stretches.at(-1);
    // Joined across one interval of headroom: a stretch reads as one episode, not a stutter.
    const lengthMs = interval.toSimMs - interval.fromSimMs;
    if (last && interval.fromSimMs - last.toMs <= lengthMs) {
      last.toMs = interval.toSimMs;
      last.worst = worstOf(last.worst, interval.state);
    } else {
      this.stretches.push({
        fromMs: interval.fromSimMs,
        toMs: interval.toSimMs,
        worst: interval.state,
        reasons: [],
      });
    }
  }
}
