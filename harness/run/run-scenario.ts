/**
 * A rehearsal: start the world (the emulated topology, LocalStack-backed alarms, or a deployed
 * stack: `harness/worlds/world.ts`), prepare the drop's event and users, send them along the
 * scenario's arrival curve (open model), sample the world every simulated minute, then check the
 * expectations against what was recorded.
 *
 * The clock never runs ahead of the load: when arrivals pile up unsent or unanswered, the
 * simulated clock slows down (and the app instances follow it through Redis); it speeds back up
 * to the requested scale when the machine catches up. The report states the effective scale.
 */
import { designTopology, mergeTopology, type Topology } from '../../infra/topology.ts';
import { ScaledClock } from '../clock/clock.ts';
import { evaluateAll, type Verdict } from '../expectations/evaluate.ts';
import type { InjectedFault } from '../faults/inject.ts';
import { arrivalOffsetsSeconds, rescaleArrivals } from '../load/arrivals.ts';
import { LoadGenerator } from '../load/load-generator.ts';
import type { LatencyAggregate } from '../metrics/latency.ts';
import type { AlarmStateName, ClockLimit, RunRecord, Sample } from '../report/run-record.ts';
import { clockTimeToSeconds, type Scenario } from '../scenario/schema.ts';
import { LOCAL_EVENT_ID } from '../worlds/local/local-world.ts';
import { INTEGRITY_NOT_EVALUATED, markNotEvaluable, type StartedWorld, type World } from '../worlds/world.ts';
import { cpuBusyMeter } from './cpu-busy.ts';
import { ClockPacer } from './pacer.ts';

export const EVENT_ID = LOCAL_EVENT_ID;

export interface RunOptions {
  scenario: Scenario;
  /** Where the drop runs (`selectWorld`; `localWorld({ backend })` is the emulator). */
  world: World;
  /** Overrides the scenario's time scale (a world with a fixed scale ignores both). */
  timeScale?: number;
  /** Overrides the scenario's user count (the curve keeps its shape). */
  users?: number;
  signal: AbortSignal;
  /** Progress lines (or a live line on a terminal). */
  progress: (p: Progress) => void;
  log: (line: string) => void;
}

export interface Progress {
  simulated: string;
  phase: string;
  queueSize: number;
  instances: { pending: number; inService: number };
  alarms: Record<string, AlarmStateName>;
  apiP95Ms?: number;
  timeScale: number;
  joined: number;
  users: number;
}

export interface RunResult {
  record: RunRecord;
  verdicts: Verdict[];
  topology: Topology;
  aborted: boolean;
}

function simEpoch(scenario: Scenario, time: string): number {
  return Date.parse(`${scenario.date}T00:00:00Z`) + clockTimeToSeconds(time) * 1_000;
}

/** Lowest speed the clock slows to: a drop must still finish. */
const MIN_TIME_SCALE = 1;
const ARRIVAL_TICK_MS = 50;
/** How often the runner checks whether the machine keeps up, wall ms. */
const FEEDBACK_MS = 1_000;
/**
 * Joins (HTTP join + Socket.IO connect) per wall second this machine answers, as a first guess
 * the pacer corrects as the run goes: about 200 at full load on 2 cores, measured here.
 */
const INITIAL_JOINS_PER_SECOND = 150;

/** The worse of API requests and Socket.IO connects: both are what a joining user waits for. */
function p95OfFeedback(latency: LatencyAggregate): number | undefined {
  const values = [latency.allEndpoints()?.p95Ms, latency.summary('socket.connect')?.p95Ms].filter(
    (v): v is number => v !== undefined,
  );
  return values.length > 0 ? Math.max(...values) : undefined;
}

/** A fault that could not run still shows in the report, with the reason. */
function failedFault(fault: string, atMs: number, reason: string): InjectedFault {
  return {
    record: { fault, detail: `not injected: ${reason}`, atMs, timeline: [] },
    settled: Promise.resolve(),
    stop: async () => {},
  };
}

export async function runScenario(options: RunOptions): Promise<RunResult> {
  const { scenario, world: target } = options;
  const requestedScale = target.fixedTimeScale ?? options.timeScale ?? scenario.timeScale;
  if (target.fixedTimeScale !== undefined && scenario.timeScale !== target.fixedTimeScale)
    options.log(
      `[runner] the ${target.name} world runs on the wall clock (${target.fixedTimeScale}×), not the scenario's ${scenario.timeScale}×: ${scenario.startAt}–${scenario.endAt} takes ${Math.round((clockTimeToSeconds(scenario.endAt) - clockTimeToSeconds(scenario.startAt)) / 60 / target.fixedTimeScale)} minutes`,
    );
  const users = options.users ?? scenario.users;
  const topology = mergeTopology(designTopology, scenario.topology);
  const startMs = simEpoch(scenario, scenario.startAt);
  const endMs = simEpoch(scenario, scenario.endAt);
  const salesOpenMs = simEpoch(scenario, scenario.event.salesOpenAt ?? scenario.startAt);
  const dayStartMs = simEpoch(scenario, '00:00');

  // Setup must not eat into the drop: the clock stays paused until users and workers are ready,
  // then runs from a few minutes before the start so the warm instances pass their health checks.
  const clock = new ScaledClock({
    timeScale: requestedScale,
    startSimMs: startMs - target.warmUpMs,
    paused: true,
  });
  let world: StartedWorld | undefined;
  let generator: LoadGenerator | undefined;
  try {
    world = await target.start({ scenario, topology, clock, users, log: options.log });
    // Setup happens outside simulated time: the drop starts once everything is ready.
    const offsets = arrivalOffsetsSeconds(rescaleArrivals(scenario.arrivals, users)).map(
      (s) => dayStartMs + s * 1_000,
    );
    const { seatIds, users: arrivals } = await world.prepare({
      seats: scenario.event.seats,
      users,
      arrivalsSimMs: offsets,
    });
    generator = await LoadGenerator.start({
      baseUrl: world.clientUrl,
      eventId: world.eventId,
      seatIds,
      behaviour: scenario.behaviour,
      timeScale: requestedScale,
      users,
      onError: (m) => options.log(`[load] ${m}`),
    });

    clock.resume();
    world.clockResumed();
    while (clock.now() < startMs && !options.signal.aborted)
      await new Promise((r) => setTimeout(r, ARRIVAL_TICK_MS));
    const wallStart = Date.now();
    // Wall moments map to simulated ones through every speed the clock ran at.
    const anchors = [{ wallMs: wallStart, simMs: clock.now(), scale: clock.timeScale }];
    const toSim = (wallMs: number) => {
      let a = anchors[0]!;
      for (const x of anchors) if (x.wallMs <= wallMs) a = x;
      return a.simMs + (wallMs - a.wallMs) * a.scale;
    };
    let sent = 0;
    let salesOpened = false;
    let currentScale = requestedScale;
    let clockLimitedBy: ClockLimit = 'requested';
    const pacer = new ClockPacer({
      requestedScale,
      minScale: Math.min(MIN_TIME_SCALE, requestedScale),
      arrivalsSimMs: offsets,
      initialJoinsPerSecond: INITIAL_JOINS_PER_SECOND,
      admissionsPerSimSecond: topology.queue.admissionPerSecond,
      salesOpenSimMs: salesOpenMs,
    });
    const cpuBusy = cpuBusyMeter();
    const samples: Sample[] = [];
    let lastTotals = generator.totals();
    let nextSampleMs = startMs + 60_000;
    let nextFeedbackWall = Date.now() + FEEDBACK_MS;
    const faultsDue = [...scenario.faults].sort(
      (a, b) => clockTimeToSeconds(a.at) - clockTimeToSeconds(b.at),
    );
    const injected: InjectedFault[] = [];
    /** Until a fault's timeline is complete, slow responses are the rehearsal, not saturation. */
    let faultsInProgress = 0;

    const sample = async (atMs: number) => {
      const g = generator!;
      const totals = g.totals();
      const interval = g.takeInterval();
      const s: Sample = {
        atMs,
        ...(await world!.sample()),
        requests: totals.requests - lastTotals.requests,
        errors: totals.errors - lastTotals.errors,
        admitted: totals.admitted - lastTotals.admitted,
        apiP95Ms: interval.allEndpoints()?.p95Ms,
        apiP99Ms: interval.allEndpoints()?.p99Ms,
        socketDeliveryP95Ms: interval.summary('socket.delivery')?.p95Ms,
        socketsConnected: totals.socketsConnected,
        wallSeconds: Math.round((Date.now() - wallStart) / 100) / 10,
        timeScale: Math.round(currentScale * 100) / 100,
        clockLimitedBy,
      };
      lastTotals = totals;
      samples.push(s);
      options.progress({
        simulated: new Date(atMs).toISOString().slice(11, 16),
        phase: atMs < salesOpenMs ? 'filling the waiting room' : s.queueSize > 0 ? 'admitting' : 'draining',
        queueSize: s.queueSize,
        instances: { pending: s.instances.pending, inService: s.instances.inService },
        alarms: s.alarms,
        apiP95Ms: s.apiP95Ms,
        timeScale: currentScale,
        joined: totals.joined,
        users,
      });
    };

    while (clock.now() < endMs && !options.signal.aborted) {
      const now = clock.now();
      if (!salesOpened && now >= salesOpenMs) {
        // A fault may have the data tier down right now: try again on the next tick.
        salesOpened = await world.openSales();
      }
      while (faultsDue.length > 0 && simEpoch(scenario, faultsDue[0]!.at) <= now) {
        const fault = faultsDue.shift()!;
        try {
          const f = await world.injectFault(fault);
          injected.push(f);
          faultsInProgress++;
          void f.settled.then(() => faultsInProgress--);
          options.log(
            `[fault] ${new Date(now).toISOString().slice(11, 19)} ${fault.fault}: ${f.record.detail}`,
          );
        } catch (err) {
          options.log(`[fault] ${fault.fault} at ${fault.at} could not run: ${(err as Error).message}`);
          injected.push(failedFault(fault.fault, now, (err as Error).message));
        }
      }
      let due = sent;
      while (due < offsets.length && offsets[due]! <= now) due++;
      // A deployed world may still be registering later users: they arrive once they can.
      if (due > arrivals.ready) due = arrivals.ready;
      if (due > sent) {
        generator.arrive(arrivals.take(sent, due));
        sent = due;
      }
      // The clock never runs ahead of the load (see pacer.ts): checked every FEEDBACK_MS.
      if (Date.now() >= nextFeedbackWall) {
        nextFeedbackWall = Date.now() + FEEDBACK_MS;
        const { scale: target, limitedBy } = pacer.next({
          wallMs: Date.now(),
          simMs: now,
          sent,
          settled: generator.totals().settled,
          backlog: generator.totals().unsettled,
          p95Ms: p95OfFeedback(generator.takeFeedback()),
          cpuBusy: cpuBusy(),
          faultsInProgress: faultsInProgress > 0,
          queueSize: samples.at(-1)?.queueSize,
        });
        clockLimitedBy = limitedBy;
        if (Math.abs(target - currentScale) / currentScale > 0.02) {
          currentScale = target;
          await world.setTimeScale(currentScale);
          anchors.push({ wallMs: Date.now(), simMs: clock.now(), scale: currentScale });
          generator.setTimeScale(currentScale);
        }
      }
      while (clock.now() >= nextSampleMs && nextSampleMs <= endMs) {
        await sample(nextSampleMs);
        nextSampleMs += 60_000;
      }
      await new Promise((r) => setTimeout(r, ARRIVAL_TICK_MS));
    }
    const wallSeconds = (Date.now() - wallStart) / 1_000;
    await Promise.all(injected.map((f) => f.stop()));
    const latency = generator.total;
    const workers = generator.workerCount;
    const totals = await generator.stop();
    generator = undefined;

    const history = await world.finish({ confirmedReservationIds: totals.confirmedReservationIds, toSim });

    const record: RunRecord = {
      scenario: scenario.name,
      startMs,
      endMs: Math.min(endMs, clock.now()),
      timeScaleRequested: requestedScale,
      timeScaleEffective:
        Math.round(((Math.min(endMs, clock.now()) - startMs) / 1_000 / wallSeconds) * 10) / 10,
      wallSeconds: Math.round(wallSeconds),
      users,
      samples,
      alarmHistory: history.alarmHistory,
      scalingActivities: history.scalingActivities,
      instances: history.instances,
      faults: injected.map((f) => structuredClone(f.record)),
      reconnects: totals.reconnects.map((r) => ({
        userId: r.userId,
        // Reconnect times are wall; the report speaks simulated time.
        disconnectedAtMs: toSim(r.disconnectedAtWallMs),
        reconnectedAtMs: r.reconnectedAtWallMs === undefined ? undefined : toSim(r.reconnectedAtWallMs),
        stateKept: r.stateKept,
      })),
      latency: { ...latency.summaries(), all: latency.allEndpoints() },
      counters: {
        usersJoined: totals.joined,
        usersAdmitted: totals.admitted,
        requests: totals.requests,
        errors: totals.errors,
        conflicts: totals.conflicts,
        rejected: totals.rejected,
        sameInstance: totals.sameInstance,
        instanceSwitches: totals.instanceSwitches,
        seatsHeld: totals.seatsHeld,
        reservations: totals.reservations,
        paymentsConfirmed: totals.confirmedReservationIds.length,
        socketDisconnects: totals.socketDisconnects,
      },
      integrity: history.integrity ?? INTEGRITY_NOT_EVALUATED,
      peakSocketConnections: Math.max(0, ...samples.map((s) => s.socketsConnected)),
      longestClientGapMs: totals.longestGap
        ? toSim(totals.longestGap.toWallMs) - toSim(totals.longestGap.fromWallMs)
        : 0,
      loadGenerator: {
        workers,
        maxEventLoopDelayMs: Math.round(totals.maxWorkerEventLoopDelayMs),
      },
    };
    return {
      record,
      verdicts: markNotEvaluable(evaluateAll(scenario.expectations, record), target),
      topology,
      aborted: options.signal.aborted,
    };
  } finally {
    await generator?.stop().catch(() => undefined);
    await world?.stop();
  }
}
