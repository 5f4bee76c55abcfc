/**
 * A load worker: runs the journeys of the users the generator sends it, and reports interval
 * histograms and counters every second. Several run side by side because one process may hold at
 * most 20,000 open files here. The process entry is worker.ts; a test builds this class in-process.
 */
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { ScaledClock } from '../clock/clock.ts';
import { LatencyRecorder } from '../metrics/latency.ts';
import { LagMonitor } from '../metrics/machine-state.ts';
import { VirtualUserHttp } from './http-client.ts';
import { JourneyTally } from './journey-tally.ts';
import type { FromWorker, ToWorker, VirtualUserCredentials, WorkerInit, WorkerReport } from './protocol.ts';
import { seededRandom } from './random.ts';
import { Stopper } from './stopper.ts';
import { type JourneyContext, runJourney } from './user-journey.ts';
import { userRandom } from './user-plan.ts';

const REPORT_MS = 1_000;
/** How long stopping waits for journeys to wind down before the final report. */
const STOP_GRACE_MS = 5_000;

export class LoadWorker {
  private readonly stopper = new Stopper();
  private readonly latency: LatencyRecorder;
  private readonly tally = new JourneyTally();
  private readonly journeys = new Set<Promise<void>>();
  private readonly ctx: JourneyContext;
  /** The run's simulated clock, as the generator last described it. */
  private readonly clock: ScaledClock;
  /** Users sent without their arrival place (tests) are numbered as they come. */
  private unplacedArrivals = 0;
  private reportTimer: NodeJS.Timeout | undefined;
  /** A saturated worker delays its own requests and receipts: measured, so the report can say so. */
  private readonly loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  /**
   * The worst lag of each report's interval, and the stalls each sample was in flight through:
   * whether this worker could measure (metrics/headroom.ts).
   */
  private readonly intervalLag: LagMonitor;

  constructor(
    private readonly init: WorkerInit,
    /** Where reports go: the generator. */
    private readonly send: (message: FromWorker) => void,
  ) {
    this.loopDelay.enable();
    this.intervalLag = new LagMonitor(undefined, init.stallMs);
    this.latency = new LatencyRecorder(init.stallMs === undefined ? undefined : this.intervalLag);
    this.clock = new ScaledClock({ timeScale: init.timeScale });
    this.ctx = {
      baseUrl: init.baseUrl,
      eventId: init.eventId,
      seatIds: init.seatIds,
      behaviour: init.behaviour,
      http: new VirtualUserHttp(init.baseUrl, this.latency, { connections: init.httpConnections }),
      latency: this.latency,
      clock: this.clock,
      timeScale: () => this.clock.timeScale,
      random: seededRandom(init.seed),
      stop: this.stopper,
      events: this.tally,
    };
  }

  /** Reports every REPORT_MS from now on, and says `ready`. */
  start(): void {
    this.reportTimer = setInterval(() => this.send(this.report(false)), REPORT_MS);
    this.send({ type: 'ready', workerIndex: this.init.workerIndex });
  }

  /** A message from the generator; on `stop`, settles once the final report is sent. */
  handle(message: ToWorker): Promise<void> | undefined {
    switch (message.type) {
      case 'init':
        return undefined; // the first message, given to the constructor
      case 'arrive':
        this.arrive(message.users);
        return undefined;
      case 'clock':
        this.clock.follow(message.anchor);
        return undefined;
      case 'stop':
        return this.stop();
    }
  }

  /** These users start their journeys now. */
  arrive(users: VirtualUserCredentials[]): void {
    this.tally.arrived(users.length);
    for (const user of users) {
      // Each user draws from its own stream: what it does depends on the seed and its place in
      // the arrival order, not on which worker runs it or what the others did first.
      const random = userRandom(this.init.seed, user.arrival ?? this.unplacedArrivals++);
      const journey = runJourney(user, { ...this.ctx, random }).catch((err: unknown) =>
        this.send({ type: 'error', message: (err as Error).message }),
      );
      this.journeys.add(journey);
      void journey.finally(() => this.journeys.delete(journey));
    }
  }

  report(final: boolean): WorkerReport {
    const http = this.ctx.http;
    return {
      type: 'report',
      workerIndex: this.init.workerIndex,
      final,
      latency: this.latency.drain(),
      latencyThroughStall: this.latency.drainThroughStall(),
      http: { ...http.counters },
      longestGap: http.longestGap,
      usersFailing: http.failingCallers,
      ...this.tally.take(),
      usersActive: this.journeys.size,
      maxEventLoopDelayMs: this.loopDelay.max / 1e6,
      eventLoopLagMs: this.intervalLag.takeMaxMs(),
    };
  }

  /** Stops every user (waiting up to STOP_GRACE_MS), sends the final report, closes connections. */
  async stop(): Promise<void> {
    if (this.reportTimer) clearInterval(this.reportTimer);
    this.stopper.stop();
    this.clock.dispose();
    await Promise.race([Promise.allSettled(this.journeys), new Promise((r) => setTimeout(r, STOP_GRACE_MS))]);
    this.send(this.report(true));
    await this.ctx.http.close().catch(() => undefined);
    this.loopDelay.disable();
    this.intervalLag.stop();
  }
}
