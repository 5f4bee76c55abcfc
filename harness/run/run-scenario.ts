/**
 * A rehearsal: start the emulated topology, create the drop's users ahead of time, send them along
 * the scenario's arrival curve (open model), sample the world every simulated minute, then check
 * the expectations against what was recorded.
 *
 * The clock never runs ahead of the load: when arrivals pile up unsent or unanswered, the
 * simulated clock slows down (and the app instances follow it through Redis); it speeds back up
 * to the requested scale when the machine catches up. The report states the effective scale.
 */
import { pino } from 'pino';
import { createUsersInBulk } from '../../app/auth/bulk-users.ts';
import { createTokenSigner } from '../../app/auth/tokens.ts';
import { keys } from '../../app/core/keys.ts';
import { createRedis } from '../../app/core/redis.ts';
import { openSales, seedDemoEvent } from '../../app/sales/seed.ts';
import { designTopology, mergeTopology, type Topology } from '../../infra/topology.ts';
import type { Backend } from '../backends/backend.ts';
import { ScaledClock } from '../clock/clock.ts';
import { evaluateAll, type Verdict } from '../expectations/evaluate.ts';
import type { InjectedFault } from '../faults/inject.ts';
import { checkIntegrity } from '../faults/integrity.ts';
import { arrivalOffsetsSeconds, rescaleArrivals } from '../load/arrivals.ts';
import { LoadGenerator } from '../load/load-generator.ts';
import type { AlarmStateName, RunRecord, Sample } from '../report/run-record.ts';
import {
  CLIENT_PATH_MAX_USERS,
  clockTimeToSeconds,
  type Scenario,
  ScenarioError,
} from '../scenario/schema.ts';
import { type StartedTopology, startLocalTopology } from '../topology/local-topology.ts';

export const EVENT_ID = 'drop';

export interface RunOptions {
  scenario: Scenario;
  backend: Backend;
  /** Overrides the scenario's time scale. */
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
const PREWARM_MS = 3 * 60_000;
/** How often the runner checks whether the machine keeps up, wall ms. */
const FEEDBACK_MS = 2_000;
/**
 * API P95 over the last check above which the load is not what the scenario asks for: the
 * machine, not the design, would be measured. The clock slows until it falls under a third.
 */
const SATURATED_P95_MS = 400;

/** A fault that could not run still shows in the report, with the reason. */
function failedFault(fault: string, atMs: number, reason: string): InjectedFault {
  return {
    record: { fault, detail: `not injected: ${reason}`, atMs, timeline: [] },
    settled: Promise.resolve(),
    stop: async () => {},
  };
}

export async function runScenario(options: RunOptions): Promise<RunResult> {
  const { scenario } = options;
  const requestedScale = options.timeScale ?? scenario.timeScale;
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
    startSimMs: startMs - PREWARM_MS,
    paused: true,
  });
  let world: StartedTopology | undefined;
  let generator: LoadGenerator | undefined;
  try {
    const clientPath = scenario.faults.some((f) => 'path' in f && f.path === 'client-alb');
    if (clientPath && users > CLIENT_PATH_MAX_USERS)
      throw new ScenarioError(scenario.name, [
        `--users ${users}: client-alb faults allow at most ${CLIENT_PATH_MAX_USERS} users; pass fewer`,
      ]);
    world = await startLocalTopology({
      topology,
      clock,
      backend: options.backend,
      eventId: EVENT_ID,
      log: () => {},
      albWorkers: users > 12_000 ? 3 : 2,
      clientPath,
      redisPath: scenario.faults.some((f) => 'path' in f && f.path === 'app-redis'),
    });
    // Setup happens outside simulated time: the drop starts once everything is ready.
    const redisSettings =
      world.backend.endpoints.redis.kind === 'url'
        ? ({ kind: 'url', url: world.backend.endpoints.redis.url } as const)
        : ({
            kind: 'sentinel',
            sentinels: world.backend.endpoints.redis.sentinels,
            masterName: world.backend.endpoints.redis.masterName,
          } as const);
    const redis = createRedis(redisSettings, pino({ level: 'silent' }), 'runner');
    const { seatIds } = await seedDemoEvent(world.db, redis, {
      eventId: EVENT_ID,
      seats: scenario.event.seats,
    });
    options.log(`[runner] creating ${users} users ahead of the drop…`);
    const credentials = await createUsersInBulk(world.db, redis, createTokenSigner(world.tokenSecret), {
      count: users,
      emailPrefix: 'fan',
      password: 'rehearsal-only-password',
      sessionTtlSeconds: topology.queue.sessionTtlSeconds,
    });
    generator = await LoadGenerator.start({
      baseUrl: world.clientUrl,
      eventId: EVENT_ID,
      seatIds,
      behaviour: scenario.behaviour,
      timeScale: requestedScale,
      users,
      onError: (m) => options.log(`[load] ${m}`),
    });
    const offsets = arrivalOffsetsSeconds(rescaleArrivals(scenario.arrivals, users)).map(
      (s) => dayStartMs + s * 1_000,
    );

    clock.resume();
    world.alb.publish(); // workers compute cookie expiry from the clock's new anchor
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
    const samples: Sample[] = [];
    let lastTotals = generator.totals();
    let nextSampleMs = startMs + 60_000;
    let nextFeedbackWall = Date.now() + FEEDBACK_MS;
    let saturated = false;
    const faultsDue = [...scenario.faults].sort(
      (a, b) => clockTimeToSeconds(a.at) - clockTimeToSeconds(b.at),
    );
    const injected: InjectedFault[] = [];
    /** Until a fault's timeline is complete, slow responses are the rehearsal, not saturation. */
    let faultsInProgress = 0;

    const sample = async (atMs: number) => {
      const w = world!;
      const g = generator!;
      const totals = g.totals();
      const interval = g.takeInterval();
      const instances = w.asg.live();
      const targets = w.alb.targetHealth();
      const s: Sample = {
        atMs,
        queueSize: await redis.zcard(keys.queue(EVENT_ID)).catch(() => -1),
        activeUsers: await redis.scard(keys.active(EVENT_ID)).catch(() => -1),
        instances: {
          pending: instances.filter((i) => i.lifecycle === 'Pending').length,
          inService: instances.filter((i) => i.lifecycle === 'InService').length,
          terminating: instances.filter((i) => i.lifecycle === 'Terminating').length,
        },
        targets: {
          initial: targets.filter((t) => t.state === 'initial').length,
          healthy: targets.filter((t) => t.state === 'healthy').length,
          unhealthy: targets.filter((t) => t.state === 'unhealthy').length,
          draining: targets.filter((t) => t.state === 'draining').length,
        },
        alarms: Object.fromEntries(w.cloudwatch.describe().map((a) => [a.name, a.state])),
        connectionsPerInstance: w.alb.connectionsPerTarget(),
        requests: totals.requests - lastTotals.requests,
        errors: totals.errors - lastTotals.errors,
        admitted: totals.admitted - lastTotals.admitted,
        apiP95Ms: interval.allEndpoints()?.p95Ms,
        apiP99Ms: interval.allEndpoints()?.p99Ms,
        socketDeliveryP95Ms: interval.summary('socket.delivery')?.p95Ms,
        socketsConnected: totals.socketsConnected,
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
        salesOpened = await openSales(world.db, redis, EVENT_ID).then(
          () => true,
          () => false,
        );
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
      if (due > sent) {
        generator.arrive(credentials.slice(sent, due).map((u) => ({ userId: u.userId, token: u.token })));
        sent = due;
      }
      // Backpressure, checked every FEEDBACK_MS: joins not yet answered (beyond ~2 s of arrivals), or
      // responses slowed by this machine's saturation. The clock slows rather than let the load
      // diverge from the curve, and speeds back up to the requested scale once the machine keeps up.
      if (Date.now() >= nextFeedbackWall) {
        nextFeedbackWall = Date.now() + FEEDBACK_MS;
        const p95 = generator.takeFeedback().allEndpoints()?.p95Ms ?? 0;
        saturated =
          faultsInProgress > 0
            ? false
            : p95 > SATURATED_P95_MS
              ? true
              : p95 < SATURATED_P95_MS / 3
                ? false
                : saturated;
        const backlog = sent - generator.totals().joined;
        const rate = (currentScale * users) / Math.max(60, (offsets.at(-1)! - offsets[0]!) / 1_000);
        const limit = Math.max(300, rate * 2);
        const target =
          backlog > limit || saturated
            ? Math.max(MIN_TIME_SCALE, currentScale * 0.7)
            : backlog < limit / 4
              ? Math.min(requestedScale, currentScale * 1.15)
              : currentScale;
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

    // Integrity, from the database itself, against what clients were told.
    const integrity = await checkIntegrity(world.db, EVENT_ID, totals.confirmedReservationIds);

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
      alarmHistory: world.cloudwatch.history(),
      scalingActivities: world.asg.activities.map((a) => ({
        startMs: a.startMs,
        endMs: a.endMs,
        status: a.status,
        description: a.description,
        cause: a.cause,
      })),
      instances: [...world.asg.instances.values()].map((i) => ({
        id: i.id,
        az: i.az,
        launchedAtMs: i.launchedAtMs,
        inServiceAtMs: i.inServiceAtMs,
        terminatedAtMs: i.terminatedAtMs,
      })),
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
        sameInstance: totals.sameInstance,
        instanceSwitches: totals.instanceSwitches,
        seatsHeld: totals.seatsHeld,
        reservations: totals.reservations,
        paymentsConfirmed: totals.confirmedReservationIds.length,
        socketDisconnects: totals.socketDisconnects,
      },
      integrity: {
        seatsSoldTwice: integrity.seatsSoldTwice,
        confirmedReservationsLost: integrity.confirmedReservationsLost,
        confirmedInDatabase: integrity.confirmedInDatabase,
      },
      peakSocketConnections: Math.max(0, ...samples.map((s) => s.socketsConnected)),
      longestClientGapMs: totals.longestGap
        ? toSim(totals.longestGap.toWallMs) - toSim(totals.longestGap.fromWallMs)
        : 0,
      loadGenerator: {
        workers,
        maxEventLoopDelayMs: Math.round(totals.maxWorkerEventLoopDelayMs),
      },
    };
    redis.disconnect();
    return {
      record,
      verdicts: evaluateAll(scenario.expectations, record),
      topology,
      aborted: options.signal.aborted,
    };
  } finally {
    await generator?.stop().catch(() => undefined);
    await world?.stop();
  }
}
