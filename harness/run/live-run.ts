/**
 * A rehearsal's live view: `/metrics` and the live dashboard on the world's control server (a
 * server of its own for a world without one), fed by the drop's `LiveFeed` duty. The caller ends
 * it: `dashboard.finish(frame)` with the report's frame once the report is written; `close()`
 * when the run ends, whatever happened (a page that got no last frame stops listening).
 */
import { evaluateAll } from '../expectations/evaluate.ts';
import { createLiveDashboard, type LiveDashboard } from '../live/dashboard.ts';
import { liveFrame } from '../live/live-frame.ts';
import { type LiveUrls, mountLive } from '../live/mount.ts';
import type { LoadSnapshot, MetricsSource } from '../live/prometheus.ts';
import type { LatencyAggregate } from '../metrics/latency.ts';
import type { FaultRecord, RunRecord, Sample } from '../report/run-record.ts';
import { NO_COUNTS } from '../report/run-record.ts';
import { type ControlServer, startControlServer } from '../topology/control-server.ts';
import { INTEGRITY_NOT_EVALUATED, type StartedWorld } from '../worlds/world.ts';
import type { DropDuty } from './drop-loop.ts';
import { LiveFeed, type LiveRunFacts } from './live-feed.ts';
import type { ClockSpeed } from './pacer-duty.ts';
import type { RunPlan } from './plan.ts';

export interface LiveRunOptions {
  /** Serve the live page (false: `/metrics` only, where the world can be described). */
  dashboard: boolean;
  /** The scenario's file, as the page names it. */
  scenarioFile: string;
  /** The URLs, once served (printed at start; `--open` opens the page). */
  onReady?(urls: LiveUrls): void;
}

/** What the live view reads of the load generator. */
export interface LiveLoad {
  totals(): LoadSnapshot['totals'];
  readonly total: LatencyAggregate;
}

/** What the drop hands the live view once its duties exist. */
export interface LiveDropView {
  samples: () => readonly Sample[];
  faults: () => FaultRecord[];
  speed: ClockSpeed;
  wallStartMs: number;
  wallNow: () => number;
}

/**
 * The scenario's expectations, named as their verdicts will be: evaluated on a run with nothing in
 * it, for the names and targets only (the page shows them pending).
 */
export function pendingExpectations(
  plan: Pick<RunPlan, 'scenario' | 'startMs'>,
): LiveRunFacts['expectations'] {
  const nothing: RunRecord = {
    scenario: plan.scenario.name,
    startMs: plan.startMs,
    endMs: plan.startMs,
    timeScaleRequested: 1,
    timeScaleEffective: 1,
    wallSeconds: 0,
    users: 0,
    samples: [],
    alarmHistory: [],
    scalingActivities: [],
    instances: [],
    faults: [],
    reconnects: [],
    latency: {},
    counters: { ...NO_COUNTS },
    integrity: INTEGRITY_NOT_EVALUATED,
    peakSocketConnections: 0,
    longestClientGapMs: 0,
    loadGenerator: { workers: 0, maxEventLoopDelayMs: 0 },
  };
  return evaluateAll(plan.scenario.expectations, nothing).map(({ kind, name, expected }) => ({
    kind,
    name,
    expected,
  }));
}

export class LiveRun {
  private load: LiveLoad | undefined;
  private speed: ClockSpeed | undefined;

  private constructor(
    private readonly world: StartedWorld,
    private readonly facts: LiveRunFacts,
    readonly dashboard: LiveDashboard | undefined,
    private readonly ownServer: ControlServer | undefined,
  ) {}

  /** Mounts the live view once the world runs; reports the URLs through `onReady`. */
  static async start(world: StartedWorld, plan: RunPlan, options: LiveRunOptions): Promise<LiveRun> {
    const facts: LiveRunFacts = {
      scenario: plan.scenario.name,
      scenarioFile: options.scenarioFile,
      users: plan.users,
      timeScaleRequested: plan.requestedScale,
      startMs: plan.startMs,
      endMs: plan.endMs,
      topology: plan.topology,
      expectations: pendingExpectations(plan),
    };
    const dashboard = options.dashboard
      ? createLiveDashboard({
          topology: plan.topology,
          initialFrame: liveFrame(
            { ...facts, nowMs: plan.startMs, wallSeconds: 0, samples: [], faults: [] },
            plan.topology,
          ),
        })
      : undefined;
    // A deployed world has no control server: the page gets one of its own (and no /metrics).
    const ownServer = world.control ? undefined : dashboard ? await startControlServer() : undefined;
    const live = new LiveRun(world, facts, dashboard, ownServer);
    const control = world.control ?? ownServer;
    const urls = control ? mountLive(control, { metrics: live.metricsSource(), dashboard }) : {};
    options.onReady?.(urls);
    return live;
  }

  /** The load generator exists (after the users are prepared): `/metrics` gains its figures. */
  loadReady(load: LiveLoad): void {
    this.load = load;
  }

  /** The drop's duty that publishes the page (none without a dashboard). */
  feed(drop: LiveDropView): DropDuty | undefined {
    this.speed = drop.speed;
    const { dashboard, load } = this;
    if (!dashboard || !load) return undefined;
    return new LiveFeed({
      dashboard,
      facts: this.facts,
      samples: drop.samples,
      faults: drop.faults,
      latency: () => load.total,
      history: this.world.historySoFar && (() => this.world.historySoFar!()),
      wallNow: drop.wallNow,
      wallStartMs: drop.wallStartMs,
    });
  }

  /** Ends the page's streams (after `dashboard.finish`, nothing is left to end) and its own server. */
  async close(): Promise<void> {
    this.dashboard?.close();
    await this.ownServer?.stop();
  }

  private metricsSource(): MetricsSource | undefined {
    const { world } = this;
    if (!world.status) return undefined;
    return {
      status: () => world.status!(),
      clockLimitedBy: () => this.speed?.limitedBy,
      load: () => this.load && { totals: this.load.totals(), latency: this.load.total },
    };
  }
}
