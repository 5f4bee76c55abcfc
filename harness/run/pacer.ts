import { USERS_RECOVERING_MAX_SCALE } from '../faults/speed.ts';
import { hostTookCpu } from '../metrics/machine-state.ts';
import type { ClockLimit } from '../report/run-record.ts';
import { DrainCostCalibration } from './drain-cost.ts';
import { JoinCostFit } from './join-cost.ts';
import { PACER_DECISION_WALL_MS } from './pacer-duty.ts';

/**
 * How fast the simulated clock may run, decided every second of a rehearsal. The clock never
 * runs ahead of the load: if this machine cannot deliver the scenario's arrivals at the requested
 * speed, the clock slows so that the queue follows the curve, and the report states the effective
 * speed.
 *
 * Two limits, the lower wins:
 * - feed-forward, from the arrival curve: the clock may go as fast as this machine can answer the
 *   joins the curve asks for in the next few seconds (and, while the queue drains, the design's
 *   admissions, each costing about half a join, counted once every user has arrived at the share
 *   of that cost the CPU showed: drain-cost.ts). The machine's join capacity is learnt as the
 *   run goes (joins answered per wall second while a backlog stands, probed upward while none
 *   does), so the clock slows *before* a burst rather than after the backlog has piled up;
 * - feedback, from the machine and from latency: when the machine lacks the headroom a valid
 *   latency verdict needs (`harness/metrics/machine-state.ts`), or the API's P95 nears the
 *   scenario's own thresholds while its CPU is busy, the clock slows — below 1× if it must (slow
 *   motion: arrivals, admissions, windows and holds all follow the clock), so a slow machine still
 *   measures validly, only later. It speeds up again once it is not. Slow answers on an idle CPU,
 *   or during deliberate faults, are not this machine's saturation: slowing would not help.
 *
 * Stretches with nothing due (no arrivals ahead, nobody queued, no scaling activity or fault in
 * progress) run faster than requested, up to `idleScale`: an hour of an emptied waiting room
 * costs seconds, not a minute.
 */
export interface PacerOptions {
  /** The speed the scenario asks for: the pacer never goes faster. */
  requestedScale: number;
  /** The slowest it goes: a drop must still finish. */
  minScale: number;
  /** Simulated epoch ms at which each user joins, ascending. */
  arrivalsSimMs: readonly number[];
  /** A first guess of joins per wall second this machine answers. */
  initialJoinsPerSecond: number;
  /** Users admitted per simulated second while the queue drains (the design's rate). @default 0 */
  admissionsPerSimSecond?: number;
  /**
   * Simulated epoch ms at which sales open and admissions start. The lookahead counts them from
   * then on, so the clock is already slow when they start (without it, the clock sped up over the
   * last seconds of the arrivals and met the first admissions at full speed).
   * @default the start: admissions count whenever users wait
   */
  salesOpenSimMs?: number;
  /**
   * What one admission costs the machine, in joins (the notice, the socket closing or the
   * purchase that follows). @default 0.5
   */
  admissionCost?: number;
  /**
   * How often each queued user is told their place, simulated ms: once admissions run, every
   * place moves, so each update is a message to every queued user (POSITION_MESSAGE_COST joins
   * each). @default not planned for
   */
  positionUpdateSimMs?: number;
  /**
   * How far ahead the curve is read, in wall ms at the speed being considered: a decision and its
   * successor's, so a step of the curve is met at its speed (slowing takes effect at once). Read
   * 5 s ahead, a full peak's clock at 100× began slowing for 19:50's step at 19:42; read 2 s
   * ahead, at 19:48, and its room filled (19:30–19:55) in a median 28.5 wall seconds instead of
   * 33.8 (docs/performance.md, 2026-12-04 late).
   * @default 2000
   */
  lookaheadWallMs?: number;
  /** Share of the learnt capacity the feed-forward limit plans for. @default 0.8 */
  utilization?: number;
  /**
   * API P95 above which the machine counts as saturated: below the scenario's own latency
   * thresholds (`latencyTargetMs`). @default 300
   */
  saturatedP95Ms?: number;
  /**
   * How fast the clock may run while nothing is due (see above): at least `requestedScale`.
   * @default requestedScale
   */
  idleScale?: number;
  /** CPU busy share at or above which slow answers count as saturation. @default 0.85 */
  saturatedCpuBusy?: number;
  /**
   * The most the speed may grow from one decision to the next. Estimates can be wrong (what an
   * admission costs, how fast a backlog clears); rising gradually lets the latency feedback catch
   * a wrong one before a second at full speed piles work up. @default 1.3
   */
  maxSpeedUp?: number;
  /**
   * The share of latency samples with headroom a valid verdict needs (the scenario's
   * `measurement.minHeadroomShare`). Within HEADROOM_MARGIN of it the pacer is careful: it rises
   * only on a mostly idle CPU and plans for no more joins than it has seen answered.
   * @default no such care
   */
  minHeadroomShare?: number;
  /**
   * The first seconds of a drop meet processes that have answered nothing yet (code not yet
   * compiled by the JIT, pools not yet open): for `wallMs` from the first decision the pacer plans
   * for `share` of its capacity. @default none
   */
  coldStart?: { wallMs: number; share: number };
  /**
   * Hold at USERS_RECOVERING_MAX_SCALE while users recover (`PacerInput.usersRecovering`): when
   * the scenario judges their return (a reconnect or request-gap expectation). @default false
   */
  holdWhileUsersRecover?: boolean;
}

export interface PacerInput {
  wallMs: number;
  simMs: number;
  /** Users sent so far, and users whose arrival is over (join answered, socket connected). */
  sent: number;
  settled: number;
  /**
   * Users sent whose arrival is not over, as the load measured it now. @default sent − settled
   * (which counts a report's lag of arrivals as backlog)
   */
  backlog?: number;
  /** P95 of API requests and Socket.IO connects since the last call, if any finished. */
  p95Ms: number | undefined;
  /**
   * Share of the CPU this rehearsal could have had that it used since the last call (0–1), if
   * known: its processes' CPU over that plus the idle time (`MachineState.runCpuBusy`), so another
   * job's load is not counted as the rehearsal's. Slow answers on an idle machine come from bursts
   * the clock's speed does not cause: slowing down would not help.
   */
  cpuBusy?: number;
  /** Share of the cores' time the hypervisor took for other guests since the last call (`MachineState.cpuStolen`). */
  cpuStolen?: number;
  faultsInProgress: boolean;
  /**
   * Users waiting in the queue, as last observed (or estimated since). Admissions are planned for
   * while any wait or are yet to come, and never more of them than there are users to admit: the
   * design's 50 a second, planned for a smoke test's 200 users over a 150 s lookahead, held it at
   * 2× for 40 wall seconds after its queue had emptied in 4 simulated ones.
   */
  queueSize?: number;
  /**
   * What took the machine's headroom over the last interval (`saturation()`), empty when it had
   * some. The clock slows while it is not empty, whatever the latency: the verdicts need it.
   */
  saturation?: readonly string[];
  /**
   * The saturation was an event-loop stall alone (`stallAlone`, machine-state.ts). On a CPU below
   * `saturatedCpuBusy`, after a second with headroom, the clock does not slow for it (`loneStall`).
   */
  stallAlone?: boolean;
  /**
   * `saturation` and `stallAlone` without the runner's own lag: the runner delays only joins and
   * connects (`RUNNER_PATH`, headroom.ts). While none is due or under way, these are what the clock
   * follows (`onTheRunnersPath`). @default the same as with it
   */
  offRunnerPath?: { saturation: readonly string[]; stallAlone: boolean };
  /** Instances launching, draining or terminating: the world is busy even with no user due. */
  activityInFlight?: boolean;
  /**
   * Users whose journey is under way (waiting, shopping, thinking, paying), as the load last saw
   * them: nothing counts as idle while any is. @default 0
   */
  usersActive?: number;
  /**
   * The lower of the shares of the run's API requests and of its deliveries so far taken with
   * headroom, if enough tell: near the verdicts' `minHeadroomShare`, the clock stops rising on a
   * busy CPU.
   */
  headroomShare?: number;
  /**
   * The fastest a fault allows now (harness/faults/speed.ts): one due soon, or one whose recovery
   * runs on wall time. Nothing counts as idle while it is set.
   */
  faultSpeedLimit?: number;
  /**
   * Users recovering: their socket dropped and they are not back yet, or their requests fail and
   * they keep trying. While any is, the clock runs at most USERS_RECOVERING_MAX_SCALE
   * (harness/faults/speed.ts) if `holdWhileUsersRecover`. Nothing counts as idle meanwhile.
   */
  usersRecovering?: number;
}

export interface PacerDecision {
  scale: number;
  /** Which limit set it: for the progress line and the report. */
  limitedBy: ClockLimit;
  joinsPerSecond: number;
}

/**
 * What telling one queued user their moved place costs, in joins (it stands for the admitted
 * users' purchases beyond `admissionCost` too). Unplanned, the first update after sales open
 * (25,000 messages in 18 simulated seconds) met a clock that had risen to 13–24× on a CPU the
 * last joins had left idle, and saturated it in 9 full peaks of 11 (4 of 8 once planned).
 * Fitted to full peaks' drains (2026-12-03), against the capacity learnt by the burst's end
 * (1,030–1,290 joins a second): with 14,000–18,000 queued they ran at 11–12× with the CPU
 * 53–88 % busy, where 0.065 puts the plan. At 0.05 the plan met that first update at 12–13×,
 * and the CPU at 96 % in one run of two.
 */
const POSITION_MESSAGE_COST = 0.065;
/**
 * A saturated decision this soon after its episode's first (wall ms: one decision, with room for
 * a late one) is still clearing the first one's backlog (`speedThatRanOut`).
 */
const BACKLOG_CARRIED_MS = 1.5 * PACER_DECISION_WALL_MS;
/** How long the speed stays under the one that last ran out of headroom, wall ms. */
const SATURATION_MEMORY_MS = 30_000;
/** Slowed this many times over (or to the minimum) and still saturated… */
const FUTILE_SLOWDOWN = 16;
/** …for at least this long, wall ms: the saturation is not the rehearsal's doing. */
const FUTILE_AFTER_MS = 15_000;
/**
 * Below this CPU busy share the machine is mostly idle: the capacity probe may extrapolate from
 * the CPU, and the speed that last ran out of headroom is forgotten (what took it is over).
 * Above it those stay careful: a 25,000-user drain run near its limit lost the headroom the
 * delivery verdict needs (79 % of its samples against 80 %).
 */
const IDLE_CPU_BUSY = 0.4;
/**
 * Below this CPU busy share the clock may rise by MOSTLY_IDLE_SPEED_UP a decision: a full peak's
 * drained queue, its seats sold, took 5 wall seconds to climb from 15× to 60× at 1.3× a second
 * with the CPU 10–39 % busy. Linear, 1.6 times a CPU under 30 % is under 48 %.
 */
const MOSTLY_IDLE_CPU_BUSY = 0.3;
const MOSTLY_IDLE_SPEED_UP = 1.6;
/** The CPU busy share the capacity probe extrapolates the answered rate to. */
const PROBE_CPU_BUSY = 0.7;
/**
 * The CPU busy share the planned joins (`utilization` of the capacity) aim at on the join-cost
 * line. The line is straight, the machine is not: aimed at 85 %, a 1:4 model's burst ran at
 * 89–98 % and lost the headroom of a quarter of its requests.
 */
const FIT_CPU_BUSY = 0.75;
/**
 * The join-cost line's capacity counts at most this many times the best rate answered: a line
 * fitted over a narrow range of rates extrapolates far.
 */
const FIT_MAX_OVER_PEAK = 2;
/** How far above the verdict's `minHeadroomShare` the run's share must stay for the pacer to rise freely. */
const HEADROOM_MARGIN = 0.03;
/**
 * Within that margin the clock still rises (slowly) while the CPU is below this share: the
 * saturation a verdict loses samples to starts at 95 %. At 40 % a 25,000-user peak only ever
 * slowed once careful (each lost second cut the speed, none gave it back): its burst ended at
 * 0.5× and its drain ran at 2× with the CPU 40–70 % busy.
 */
const CAREFUL_RISE_CPU_BUSY = 0.6;
/**
 * Joins the machine may be behind for a moment, as a share of what the lookahead plans for: over
 * the whole window the plan stays at 1.1 × `utilization` of the capacity, whatever its length
 * (half a second's worth over the 5-second window the constants were tuned with).
 */
const BURST_SHARE = 0.1;
/**
 * How far ahead, in wall ms at the idle speed, no arrival may be due for a stretch to count as
 * idle: a late decision at 960× would otherwise meet the next arrivals at that speed.
 */
const IDLE_LOOKAHEAD_WALL_MS = 5_000;
/**
 * The plan counts on at most this many times the best rate answered so far (once one was): a
 * capacity never answered (the first guess) is a guess. A peak's arrivals step from 45 joins a
 * second to 300 at 19:50 and 19:55; planned on the first guess of 250, each step held the CPU at
 * 99–100 % for seconds, and those seconds' samples kept the verdict's share near its limit.
 */
const UNANSWERED_CAPACITY_FACTOR = 2;

/** The lower of a fault's limit and the one for users recovering, and which it is; undefined: neither. */
function heldBy(
  input: PacerInput,
  holdWhileUsersRecover: boolean,
): { scale: number; by: 'fault' | 'users-recovering' } | undefined {
  const fault = input.faultSpeedLimit;
  const recovering = holdWhileUsersRecover && (input.usersRecovering ?? 0) > 0;
  if (recovering && (fault === undefined || USERS_RECOVERING_MAX_SCALE < fault))
    return { scale: USERS_RECOVERING_MAX_SCALE, by: 'users-recovering' };
  return fault === undefined ? undefined : { scale: fault, by: 'fault' };
}

export class ClockPacer {
  private readonly lookaheadWallMs: number;
  private readonly utilization: number;
  private readonly saturatedP95Ms: number;
  private readonly saturatedCpuBusy: number;
  private capacity: number;
  private latencyCap: number;
  private scale: number;
  private limitedBy: PacerDecision['limitedBy'] = 'requested';
  private last: { wallMs: number; settled: number } | undefined;
  /** The most joins per second seen answered. */
  private peakAnswered = 0;
  /**
   * The speed at which the machine last ran out of headroom, when (wall ms), and whether users
   * were still arriving then: the work a simulated second asks differs between the arrivals and
   * the drain after them, so a speed remembered from one says nothing of the other.
   */
  private saturatedAt: { scale: number; wallMs: number; arriving: boolean } | undefined;
  /** The saturation going on: the speed and wall ms it began at, and whether slowing proved futile. */
  private episode: { fromScale: number; fromWallMs: number; futile: boolean } | undefined;
  private answered: number | undefined;
  /** The last decision's interval was saturated. */
  private lastSaturated = false;
  /** Wall ms of the first decision: the cold start counts from it. */
  private firstWallMs: number | undefined;
  /** What a join costs the CPU at the margin (join-cost.ts): where the probe may aim. */
  private readonly joinCost = new JoinCostFit();
  /** How much of the drain's planned cost the CPU shows (drain-cost.ts). */
  private readonly drainCost = new DrainCostCalibration();

  constructor(private readonly options: PacerOptions) {
    this.lookaheadWallMs = options.lookaheadWallMs ?? 2_000;
    this.utilization = options.utilization ?? 0.8;
    this.saturatedP95Ms = options.saturatedP95Ms ?? 300;
    this.saturatedCpuBusy = options.saturatedCpuBusy ?? 0.85;
    this.capacity = options.initialJoinsPerSecond;
    this.latencyCap = options.requestedScale;
    this.scale = options.requestedScale;
  }

  /** The speed to run at from now on. */
  next(measured: PacerInput): PacerDecision {
    const { minScale } = this.options;
    this.firstWallMs ??= measured.wallMs;
    const backlog = measured.backlog ?? measured.sent - measured.settled;
    const input = this.saturationThatMatters(measured, backlog);
    const held = heldBy(input, this.options.holdWhileUsersRecover ?? false);
    const idle = held === undefined && this.nothingDue(input, backlog);
    const asked = idle ? this.idleScale : this.options.requestedScale;
    const holding = held !== undefined && held.scale < asked ? held : undefined;
    const requestedScale = holding ? holding.scale : asked;
    this.learnCapacity(input, backlog);
    const usersWait = (input.queueSize ?? 0) > 0 || input.sent < this.options.arrivalsSimMs.length;
    const admissionsPerSimSecond = usersWait ? (this.options.admissionsPerSimSecond ?? 0) : 0;
    this.learnDrainCost(input, admissionsPerSimSecond);
    this.followMachine(input, idle, requestedScale);
    // Not by a fault's limit: once it is lifted, latency has not been what held the clock.
    this.latencyCap = Math.min(asked, this.latencyCap);

    let scale = requestedScale;
    let limitedBy: PacerDecision['limitedBy'] = idle ? 'idle' : (holding?.by ?? 'requested');
    const arrivalsCap = this.fastestKeepingUp(input, requestedScale, admissionsPerSimSecond, backlog);
    if (arrivalsCap < scale) {
      scale = arrivalsCap;
      limitedBy = 'arrivals';
    }
    // With nothing due nothing is asked of the machine: its latency says nothing of the speed.
    if (this.latencyCap < scale && !idle) {
      scale = this.latencyCap;
      limitedBy = 'latency';
    }
    if (backlog > 2 * this.capacity && this.scale * 0.7 < scale) {
      // A standing backlog despite the plan: slow down now, whatever the estimates say.
      scale = this.scale * 0.7;
      limitedBy = 'backlog';
    }
    // Gradually, but straight to the idle speed: with nothing due, no estimate can be wrong.
    const rising = this.scale * this.maxRise(input);
    if (scale > rising && !idle) scale = rising;
    this.scale = Math.min(requestedScale, Math.max(minScale, scale));
    this.limitedBy = limitedBy;
    return { scale: this.scale, limitedBy, joinsPerSecond: Math.round(this.capacity) };
  }

  /**
   * The input with the saturation the samples of the moment lose headroom to: the runner's own lag
   * only while a join or a connect is due or under way (arrivals to come, joins unanswered, users
   * reconnecting). Followed in the drain, the runner's garbage collections cut a full peak's clock
   * by 30 % five times in three minutes, with the CPU 55–80 % busy and no sample on its path.
   */
  private saturationThatMatters(input: PacerInput, backlog: number): PacerInput {
    const onTheRunnersPath =
      this.arriving(input) || backlog > 0 || (input.usersRecovering ?? 0) > 0 || !input.offRunnerPath;
    return onTheRunnersPath ? input : { ...input, ...input.offRunnerPath };
  }

  /** Joins answered since the last decision tell what the machine can do (see `probe`). */
  private learnCapacity(input: PacerInput, backlog: number): void {
    if (this.last && input.wallMs > this.last.wallMs) {
      const justNow = ((input.settled - this.last.settled) * 1_000) / (input.wallMs - this.last.wallMs);
      this.learnJoinCost(input, justNow, backlog);
      // Smoothed: a backlog clearing at once is a burst of answers, not a rate the machine holds.
      this.answered = this.answered === undefined ? justNow : 0.5 * this.answered + 0.5 * justNow;
      const answeredPerSecond = this.answered;
      this.peakAnswered = Math.max(this.peakAnswered, answeredPerSecond);
      if (backlog > this.capacity) {
        // More than a second of joins waiting: what got answered is what the machine can do.
        this.capacity = Math.max(1, 0.6 * this.capacity + 0.4 * answeredPerSecond);
      } else if (backlog < this.capacity / 4 && (input.cpuBusy ?? 0) < this.saturatedCpuBusy) {
        // Kept up: at least what it answered, and more if the curve's limit held the clock back.
        this.capacity = Math.max(this.capacity, answeredPerSecond);
        if (this.limitedBy === 'arrivals' && !this.careful(input))
          this.probe(answeredPerSecond, input.cpuBusy, justNow);
      }
    }
    this.last = { wallMs: input.wallMs, settled: input.settled };
  }

  /**
   * The latency cap, from the machine's headroom and the answers' latency. Saturated by what the
   * clock does not drive: hold the speed (the verdicts will say why), but a stretch with nothing
   * due still runs ahead — the busy CPU is not the rehearsal's.
   */
  private followMachine(input: PacerInput, idle: boolean, requestedScale: number): void {
    const lone = this.loneStall(input);
    this.lastSaturated = (input.saturation?.length ?? 0) > 0;
    // Neither slower nor faster: the second's answers, taken through a stall, tell nothing.
    if (lone) return;
    const following = this.saturationToFollow(input);
    if (following === 'hold') {
      if (idle) this.latencyCap *= 1.3;
      return;
    }
    const { minScale } = this.options;
    const saturated = following === 'slow';
    if (saturated || this.slow(input)) {
      // Stalls on a CPU with headroom say little of the speed the machine can take: remembered,
      // stalls every 10–15 s kept the clock at its minimum for good. Nor does a saturation of cold
      // processes (code still compiling): remembered, it held a full peak's room at 24× for 17 s
      // with the CPU 55 % busy, under 0.9 × the speed of its first minute.
      if (saturated && !this.stallWithCpuToSpare(input) && !this.cold(input.wallMs))
        this.saturatedAt = {
          scale: this.speedThatRanOut(input.wallMs),
          wallMs: input.wallMs,
          arriving: this.arriving(input),
        };
      this.latencyCap = Math.max(minScale, this.scale * 0.7);
      return;
    }
    // Nothing due and headroom: what slowed the clock is over. The next work starts from the
    // requested speed (slowing again if it must) rather than from the cap the last burst left,
    // which held a scale-in's drain at a third of it.
    if (idle) {
      this.latencyCap = Math.max(this.latencyCap, this.options.requestedScale);
      return;
    }
    // No request finished: nothing is being asked of the machine (a quiet stretch of the drop).
    // During a fault slow answers are the rehearsal, not this machine: the CPU alone decides
    // (without that, a fault that began while the clock was slow held it there to its end).
    const answersQuick =
      input.faultsInProgress || input.p95Ms === undefined || input.p95Ms < this.saturatedP95Ms / 3;
    if (!answersQuick) return;
    // Back up fast while the CPU idles, carefully once it is busy (what a faster clock costs
    // shows seconds later: admitted users buy after their think time), not at all near the top.
    const cpu = input.cpuBusy ?? 0;
    const step = this.riseStep(input, cpu);
    // Not straight back to the speed that ran out of headroom: a saw-tooth through it would
    // spoil a sample in every few seconds. Unless the CPU is now mostly idle: then what took
    // the headroom (a burst of arrivals, the drain's buyers) is over, and at the old speed it
    // would be half busy. Forgotten for good: remembered again at the next busier second, it held
    // a full peak's last queued minutes at one speed (25, 35, 36×) for 3.6–5.1 wall seconds, the
    // seats sold and the CPU 40–60 % busy (docs/performance.md, 2026-12-04 night).
    if (cpu < IDLE_CPU_BUSY) this.saturatedAt = undefined;
    const recent =
      this.saturatedAt &&
      this.saturatedAt.arriving === this.arriving(input) &&
      input.wallMs - this.saturatedAt.wallMs < SATURATION_MEMORY_MS;
    const ceiling = recent ? Math.max(minScale, 0.9 * this.saturatedAt!.scale) : requestedScale;
    this.latencyCap = Math.max(this.latencyCap, Math.min(ceiling, this.latencyCap * step));
  }

  /**
   * A second's joins against its CPU, for the join-cost line: only while users arrive and the
   * machine answered what was sent (no backlog, no saturation, no fault), so the rate is the one
   * the clock offered and the CPU is what it cost.
   */
  private learnJoinCost(input: PacerInput, joinsPerSecond: number, backlog: number): void {
    const fair =
      input.cpuBusy !== undefined &&
      this.arriving(input) &&
      !input.faultsInProgress &&
      (input.saturation?.length ?? 0) === 0 &&
      backlog < Math.max(5, this.capacity / 4);
    if (fair) this.joinCost.add(joinsPerSecond, input.cpuBusy!);
  }

  /**
   * Plans for more joins than answered while the curve's limit holds the clock back: 10 % more a
   * second (30 % on a mostly idle CPU), never beyond a quarter above the best rate answered — or,
   * when the CPU says so, beyond what it answered scaled to a CPU at PROBE_CPU_BUSY (at most 2×).
   * That extrapolation from zero underestimates whenever part of the CPU does not grow with the
   * joins, so it stays on the safe side; without it a trickle of arrivals taught the pacer only
   * the trickle, and it met a burst at a fraction of what an idle machine could answer. Once the
   * seconds seen tell a join's own cost from the rest (join-cost.ts), the bound is the rate that
   * line puts at FIT_CPU_BUSY, at most FIT_MAX_OVER_PEAK times the best rate answered.
   */
  private probe(answeredPerSecond: number, cpuBusy: number | undefined, justNow: number): void {
    const byCpu =
      cpuBusy !== undefined && cpuBusy > 0.05 && cpuBusy < IDLE_CPU_BUSY
        ? answeredPerSecond * Math.min(2, PROBE_CPU_BUSY / cpuBusy)
        : 0;
    const byCost =
      cpuBusy === undefined
        ? undefined
        : this.joinCost.rateAt(FIT_CPU_BUSY, { joinsPerSecond: justNow, cpuBusy });
    const byFit = Math.min((byCost ?? 0) / this.utilization, FIT_MAX_OVER_PEAK * this.peakAnswered);
    const bound = Math.max(Math.max(1.25 * this.peakAnswered, byCpu) / this.utilization, byFit);
    const step = cpuBusy !== undefined && cpuBusy < 0.5 ? 1.3 : 1.1;
    this.capacity = Math.max(this.capacity, Math.min(this.capacity * step, bound));
  }

  /**
   * Whether to slow for the machine's saturation: yes, unless slowing many times over has not
   * brought the headroom back — then this rehearsal is not what saturates the machine (another
   * job on it is), slowing further would only stretch the run, and the speed goes back to where
   * the episode began until headroom returns.
   */
  private saturationToFollow(input: PacerInput): 'none' | 'slow' | 'hold' {
    if ((input.saturation?.length ?? 0) === 0) {
      this.episode = undefined;
      return 'none';
    }
    this.episode ??= { fromScale: this.scale, fromWallMs: input.wallMs, futile: false };
    const slowedEnough = Math.max(this.options.minScale, this.episode.fromScale / FUTILE_SLOWDOWN);
    if (
      !this.episode.futile &&
      this.scale <= slowedEnough &&
      input.wallMs - this.episode.fromWallMs >= FUTILE_AFTER_MS
    ) {
      this.episode.futile = true;
      this.latencyCap = this.episode.fromScale;
      this.saturatedAt = undefined;
    }
    return this.episode.futile ? 'hold' : 'slow';
  }

  /**
   * The speed that ran out of headroom, for the saturation's memory: the speed of the second just
   * measured, except in the decision right after the episode began. That second's CPU also cleared
   * the backlog of the first, so it says nothing of its own, lower speed: remembered, a 2-second
   * spike in a full peak's burst (at 5.3×, then at 3.7×) held the rest of the burst at 3.3× for 50
   * wall seconds with the CPU 60–78 % busy. A saturation that lasts beyond it is the speed's own.
   */
  private speedThatRanOut(wallMs: number): number {
    const episode = this.episode;
    const carriesBacklog = episode !== undefined && wallMs - episode.fromWallMs <= BACKLOG_CARRIED_MS;
    return carriesBacklog ? episode.fromScale : this.scale;
  }

  /**
   * A lone event-loop stall: the only saturation, on a CPU below `saturatedCpuBusy`, after a
   * second with headroom. In a 25,000-user peak, stalls of 50–120 ms came every few seconds even
   * at 0.25× with each load worker 7 % busy (one in sixteen was a garbage collection; the rest,
   * the worker waiting for a core: its run-queue time in /proc): slowing by 30 % for each took
   * the clock to its minimum and held it there. Not slowing for any took the burst at 1–2× and
   * lost more of its samples (the share with headroom fell from 86 % to 69 %; slowed, it stayed
   * at 77–82 %): they come more often the busier the machine. Two in a row slow the clock,
   * unless the hypervisor took part of the cores meanwhile (`hostTookCpu`): then the stalls are the
   * host's, however many in a row, and a slower clock would not end them. Followed, stalls with the
   * CPU 24–69 % busy held a quiet full peak at 0.3–1.3× for 100 and 117 wall seconds, in a half
   * hour in which the hypervisor took a tenth of the cores' time.
   */
  private loneStall(input: PacerInput): boolean {
    return this.stallWithCpuToSpare(input) && (!this.lastSaturated || hostTookCpu(input));
  }

  /** Saturated by an event-loop stall alone on a CPU below `saturatedCpuBusy`. */
  private stallWithCpuToSpare(input: PacerInput): boolean {
    return input.stallAlone === true && (input.cpuBusy ?? 1) < this.saturatedCpuBusy;
  }

  /** How much faster than now the clock may go: less on a busier CPU, and when careful. */
  private riseStep(input: PacerInput, cpu: number): number {
    if (this.careful(input)) return cpu < CAREFUL_RISE_CPU_BUSY ? 1.15 : 1;
    if (this.mostlyIdle(input)) return MOSTLY_IDLE_SPEED_UP;
    return cpu < 0.5 ? 1.3 : cpu < 0.8 ? 1.15 : 1;
  }

  /** The most the speed may grow in one decision (`maxSpeedUp`; more on a mostly idle CPU). */
  private maxRise(input: PacerInput): number {
    const step = this.options.maxSpeedUp ?? 1.3;
    return this.mostlyIdle(input) && !this.careful(input) ? Math.max(step, MOSTLY_IDLE_SPEED_UP) : step;
  }

  /** The CPU is known, and under MOSTLY_IDLE_CPU_BUSY. */
  private mostlyIdle(input: PacerInput): boolean {
    return input.cpuBusy !== undefined && input.cpuBusy < MOSTLY_IDLE_CPU_BUSY;
  }

  /** What admissions and position messages cost the machine, in joins. */
  private drainJoins(admissions: number, messages: number): number {
    return (this.options.admissionCost ?? 0.5) * admissions + POSITION_MESSAGE_COST * messages;
  }

  /**
   * The run's latency samples come near the share a valid verdict needs: a 25,000-user peak ended
   * inconclusive at 79.4 % (80 % needed) while the clock kept rising on a CPU 60–80 % busy. Within
   * 7 points (87 %) the care held a quiet peak, which usually ends at 85–90 %, to 411 s instead
   * of 260–314.
   */
  private careful(input: PacerInput): boolean {
    const { minHeadroomShare } = this.options;
    return (
      minHeadroomShare !== undefined &&
      input.headroomShare !== undefined &&
      input.headroomShare < minHeadroomShare + HEADROOM_MARGIN
    );
  }

  /** The drop's first seconds (`coldStart.wallMs`): its processes are still cold. */
  private cold(wallMs: number): boolean {
    const cold = this.options.coldStart;
    return cold !== undefined && wallMs - (this.firstWallMs ?? wallMs) < cold.wallMs;
  }

  /** The share of its capacity the pacer plans for now: less in the drop's first seconds. */
  private coldShare(wallMs: number): number {
    return this.cold(wallMs) ? this.options.coldStart!.share : 1;
  }

  /**
   * The capacity the plan counts on: less in the drop's first seconds, and never more than
   * UNANSWERED_CAPACITY_FACTOR times the best rate answered.
   */
  private plannedCapacity(wallMs: number): number {
    const planned = this.capacity * this.coldShare(wallMs);
    if (this.peakAnswered <= 0) return planned;
    return Math.min(planned, UNANSWERED_CAPACITY_FACTOR * this.peakAnswered);
  }

  /** Users are still due to arrive (the drain, if any, follows the last of them). */
  private arriving(input: PacerInput): boolean {
    return input.sent < this.options.arrivalsSimMs.length;
  }

  private get idleScale(): number {
    return Math.max(this.options.requestedScale, this.options.idleScale ?? this.options.requestedScale);
  }

  /**
   * Nothing due: no arrival within IDLE_LOOKAHEAD_WALL_MS at the idle speed, nobody waiting for
   * admission or on their way through a purchase, no join unanswered, no fault or scaling activity
   * in progress.
   */
  private nothingDue(input: PacerInput, backlog: number): boolean {
    if (this.idleScale <= this.options.requestedScale) return false;
    if (input.faultsInProgress || input.activityInFlight || backlog > 0) return false;
    // Shoppers between two steps: at the idle speed a 100 ms payment lasts 48 simulated seconds
    // (bot-storm's buyers, the queue empty at 19:33, ran out of the scenario before paying).
    if ((input.usersActive ?? 0) > 0) return false;
    // Before the first sample the queue is unknown: users sent may be waiting.
    if ((input.queueSize ?? (input.sent > 0 ? 1 : 0)) > 0) return false;
    const dueNow = this.firstAtOrAfter(input.simMs + 1);
    const dueAhead = this.firstAtOrAfter(input.simMs + IDLE_LOOKAHEAD_WALL_MS * this.idleScale);
    return input.sent >= dueNow && dueAhead === dueNow;
  }

  private slow(input: PacerInput): boolean {
    return (
      !input.faultsInProgress &&
      (input.p95Ms ?? 0) > this.saturatedP95Ms &&
      (input.cpuBusy ?? 1) >= this.saturatedCpuBusy
    );
  }

  /**
   * The fastest speed, up to `ceiling`, at which the machine keeps up with the arrivals (and the
   * admissions once sales are open, in join equivalents) of the next `lookaheadWallMs` of wall
   * time. A token bucket: by the end of each second ahead, what arrived must fit in what the
   * machine answers by then plus the share it may be behind (BURST_SHARE) not yet taken by the
   * present backlog. The window is read at the very speed considered (a burst 60 simulated seconds
   * away matters at 30×, not yet at 2×), so the search is a bisection. Admissions count at
   * `admissionCost`, and no more of them than there are users to admit (`admissible`).
   */
  private fastestKeepingUp(
    input: PacerInput,
    ceiling: number,
    admissionsPerSimSecond: number,
    backlog: number,
  ): number {
    const { minScale } = this.options;
    const simMs = input.simMs;
    const perSecond = this.utilization * this.plannedCapacity(input.wallMs);
    const slices = Math.max(1, Math.round(this.lookaheadWallMs / PACER_DECISION_WALL_MS));
    const sliceWallMs = this.lookaheadWallMs / slices;
    const headroom = Math.max(0, (BURST_SHARE * perSecond * this.lookaheadWallMs) / 1_000 - backlog);
    const salesOpenSimMs = this.options.salesOpenSimMs ?? Number.NEGATIVE_INFINITY;
    const messagesPerAdmittingMs = this.messagesPerSimSecond(input) / 1_000;
    // Once every user has arrived, what the CPU showed of the drain's costs (drain-cost.ts).
    const drainShare = this.arriving(input) ? 1 : this.drainCost.scale(input.simMs);
    const from = this.firstAtOrAfter(simMs);
    const keepsUp = (scale: number) => {
      for (let slice = 1; slice <= slices; slice++) {
        const endMs = simMs + slice * sliceWallMs * scale;
        const admittingMs = Math.max(0, endMs - Math.max(simMs, salesOpenSimMs));
        const admissions = Math.min(
          (admissionsPerSimSecond * admittingMs) / 1_000,
          this.admissible(input, endMs, backlog),
        );
        const messages = admissionsPerSimSecond > 0 ? messagesPerAdmittingMs * admittingMs : 0;
        const load = this.firstAtOrAfter(endMs) - from + drainShare * this.drainJoins(admissions, messages);
        if (load > (perSecond * slice * sliceWallMs) / 1_000 + headroom) return false;
      }
      return true;
    };
    if (keepsUp(ceiling)) return ceiling;
    let slow = minScale;
    let fast = ceiling;
    for (let i = 0; i < 12 && fast - slow > 0.01; i++) {
      const middle = (slow + fast) / 2;
      if (keepsUp(middle)) slow = middle;
      else fast = middle;
    }
    return slow;
  }

  /** Position messages per simulated second once admissions move every place: the queue as last seen. */
  private messagesPerSimSecond(input: PacerInput): number {
    const { positionUpdateSimMs } = this.options;
    return positionUpdateSimMs === undefined ? 0 : ((input.queueSize ?? 0) * 1_000) / positionUpdateSimMs;
  }

  /**
   * A second of the drain (every user arrived, admissions running, no fault), for its calibration
   * (drain-cost.ts): the CPU it took against the share of the planned capacity the plan put on it
   * at the speed that ran. A lone stall on a CPU with room to spare is not the plan's doing.
   */
  private learnDrainCost(input: PacerInput, admissionsPerSimSecond: number): void {
    const salesOpenSimMs = this.options.salesOpenSimMs ?? Number.NEGATIVE_INFINITY;
    const draining = !this.arriving(input) && admissionsPerSimSecond > 0 && input.simMs >= salesOpenSimMs;
    if (!draining || input.faultsInProgress) {
      this.drainCost.reset();
      return;
    }
    if (input.cpuBusy === undefined) return;
    const perSimSecond = this.drainJoins(admissionsPerSimSecond, this.messagesPerSimSecond(input));
    this.drainCost.add(input.simMs, {
      plannedShare: (this.scale * perSimSecond) / this.plannedCapacity(input.wallMs),
      cpuBusy: input.cpuBusy,
      saturated: (input.saturation?.length ?? 0) > 0 && !this.stallWithCpuToSpare(input),
    });
  }

  /**
   * The most users that can be admitted by `endMs`: those queued now, those due until then, and
   * those sent whose join is not answered yet. Unbounded while the queue is unknown.
   */
  private admissible(input: PacerInput, endMs: number, backlog: number): number {
    if (input.queueSize === undefined) return Number.POSITIVE_INFINITY;
    return input.queueSize + this.firstAtOrAfter(endMs) - this.firstAtOrAfter(input.simMs) + backlog;
  }

  private firstAtOrAfter(simMs: number): number {
    const arrivals = this.options.arrivalsSimMs;
    let low = 0;
    let high = arrivals.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (arrivals[middle]! < simMs) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

/** The P95 the pacer keeps API answers under when no scenario threshold is lower. */
const DEFAULT_LATENCY_TARGET_MS = 300;
/** Share of the scenario's lowest API threshold the pacer aims under. */
const LATENCY_TARGET_SHARE = 0.8;

/** `saturatedP95Ms` for a scenario: below its own lowest API latency threshold. */
export function latencyTargetMs(apiThresholdsMs: readonly number[]): number {
  return Math.min(DEFAULT_LATENCY_TARGET_MS, ...apiThresholdsMs.map((ms) => ms * LATENCY_TARGET_SHARE));
}
