/**
 * The load generator: worker processes running virtual users, fed on the open-model schedule
 * and merged into one view (histograms merged, never averaged).
 */
import { fileURLToPath } from 'node:url';
import { type ForkedWorker, forkWorker } from '../../servers/fork-worker.ts';
import type { ClockAnchor } from '../clock/timeline.ts';
import { LatencyAggregate } from '../metrics/latency.ts';
import type { Behaviour } from '../scenario/schema.ts';
import type { WallSpan } from './http-client.ts';
import {
  type FromWorker,
  JOURNEY_COUNTERS,
  type ReconnectObservation,
  type ToWorker,
  type VirtualUserCredentials,
  type WorkerReport,
  zeroCounters,
} from './protocol.ts';

const WORKER_ENTRY = fileURLToPath(new URL('./worker.ts', import.meta.url));
/**
 * 12,500 sockets and a worker's HTTP pool (64 connections) stay well under the 20,000 open files
 * a process may hold here. As few workers as that allows: a full peak's 25,000 users in two
 * workers took 88 CPU-seconds of the load workers where four took 130–146, and 410–429 s where
 * four took 506–576 (docs/performance.md): fewer processes woken for each turn of the same work.
 */
export const USERS_PER_WORKER = 12_500;

export interface LoadGeneratorOptions {
  /**
   * The site's addresses (an ALB's nodes): worker i's users go to address i mod n, as clients
   * spread over the addresses a name resolves to. One address for 25,000 sockets was a cliff of
   * the machine's (alb.ts, NODE_ADDRESSES).
   */
  baseUrls: readonly string[];
  eventId: string;
  seatIds: string[];
  behaviour: Behaviour;
  /** The clock's speed until the first `followClock`. */
  timeScale: number;
  users: number;
  seed?: number;
  /** @default enough for `users` at USERS_PER_WORKER each, at least 2 */
  workers?: number;
  httpConnectionsPerWorker?: number;
  /**
   * Event-loop lag (ms) over which a worker files the samples in flight as measured through its
   * stall (`WorkerInit.stallMs`); `takeClearOfStalls` then tells them apart. @default none filed so
   */
  stallMs?: number;
  onError?: (message: string) => void;
}

export interface LoadTotals {
  requests: number;
  errors: number;
  conflicts: number;
  sameInstance: number;
  instanceSwitches: number;
  rejected: number;
  joined: number;
  /** Users whose arrival is over (see WorkerReport.settled): what the pacer compares with arrivals sent. */
  settled: number;
  admitted: number;
  seatsHeld: number;
  reservations: number;
  confirmedReservationIds: string[];
  socketDisconnects: number;
  /** How users who waited with a socket learned of their admission (WorkerReport.notices*). */
  noticesDelivered: number;
  noticesRescuedByApp: number;
  noticesRescuedByPoll: number;
  noticesLost: number;
  socketsConnected: number;
  usersActive: number;
  /**
   * Users waiting for their join to be answered, as each worker last saw it. A gauge, not sent
   * minus settled: those counters are a report apart (up to a second of arrivals).
   */
  unsettled: number;
  /** Users whose socket dropped and who are not back yet, as each worker last saw it. */
  usersAway: number;
  /** Users whose requests fail and who keep trying, as each worker last saw it. */
  usersFailing: number;
  longestGap: WallSpan | undefined;
  reconnects: ReconnectObservation[];
  /** Longest event-loop stall of any worker (wall ms). */
  maxWorkerEventLoopDelayMs: number;
}

export class LoadGenerator {
  private readonly workers: ForkedWorker<ToWorker>[] = [];
  private readonly latest = new Map<number, WorkerReport>();
  private readonly finals = new Map<number, WorkerReport>();
  private next = 0;
  /** Every histogram of the run. */
  readonly total = new LatencyAggregate();
  /** Histograms since the last `takeInterval()`. */
  private interval = new LatencyAggregate();
  /** Histograms since the last `takeFeedback()`: the runner's view of whether the machine keeps up. */
  private feedback = new LatencyAggregate();
  /** The feedback's samples clear of their worker's stalls (all of them without `stallMs`). */
  private clearOfStalls = new LatencyAggregate();
  private readonly sums = zeroCounters();
  /** Worst event-loop lag any worker reported since the last `takeWorkerLagMs()`. */
  private workerLagMs: number | undefined;
  private readonly confirmed: string[] = [];
  private readonly reconnects: ReconnectObservation[] = [];

  private constructor(private readonly options: LoadGeneratorOptions) {}

  static async start(options: LoadGeneratorOptions): Promise<LoadGenerator> {
    if (options.baseUrls.length === 0) throw new Error('load generator: no address to send users to');
    const generator = new LoadGenerator(options);
    const count = options.workers ?? Math.max(2, Math.ceil(options.users / USERS_PER_WORKER));
    const started = await Promise.allSettled(
      Array.from({ length: count }, (_, i) => generator.startWorker(i)),
    );
    for (const s of started) if (s.status === 'fulfilled') generator.workers.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await generator.stop();
      throw failed.reason;
    }
    return generator;
  }

  private startWorker(index: number): Promise<ForkedWorker<ToWorker>> {
    return forkWorker<ToWorker, FromWorker>({
      name: `load-worker-${index}`,
      entry: WORKER_ENTRY,
      serialization: 'advanced',
      isReady: (message) => message.type === 'ready',
      onMessage: (message) => {
        if (message.type === 'error') this.options.onError?.(message.message);
        else if (message.type === 'report') this.absorb(message);
      },
      init: {
        message: {
          type: 'init',
          workerIndex: index,
          baseUrl: this.options.baseUrls[index % this.options.baseUrls.length]!,
          eventId: this.options.eventId,
          seatIds: this.options.seatIds,
          behaviour: this.options.behaviour,
          timeScale: this.options.timeScale,
          // One seed for all: each user's stream comes from it and its arrival place (user-plan.ts).
          seed: this.options.seed ?? 1,
          httpConnections: this.options.httpConnectionsPerWorker ?? 64,
          ...(this.options.stallMs === undefined ? {} : { stallMs: this.options.stallMs }),
        },
      },
    });
  }

  private absorb(report: WorkerReport): void {
    const clear = LatencyAggregate.fromSnapshot(report.latency);
    const stalled = LatencyAggregate.fromSnapshot(report.latencyThroughStall ?? {});
    for (const latency of [clear, stalled]) {
      this.total.addAggregate(latency);
      this.interval.addAggregate(latency);
      this.feedback.addAggregate(latency);
    }
    this.clearOfStalls.addAggregate(clear);
    if (report.eventLoopLagMs !== undefined)
      this.workerLagMs = Math.max(this.workerLagMs ?? 0, report.eventLoopLagMs);
    for (const key of JOURNEY_COUNTERS) this.sums[key] += report[key];
    this.confirmed.push(...report.confirmedReservationIds);
    this.reconnects.push(...report.reconnects);
    this.latest.set(report.workerIndex, report);
    if (report.final) this.finals.set(report.workerIndex, report);
  }

  get workerCount(): number {
    return this.workers.length;
  }

  /** Users arrive now; spread over workers round robin. */
  arrive(users: VirtualUserCredentials[]): void {
    const batches = this.workers.map(() => [] as VirtualUserCredentials[]);
    for (const user of users) batches[this.next++ % this.workers.length]!.push(user);
    batches.forEach((batch, i) => {
      if (batch.length > 0) this.workers[i]!.send({ type: 'arrive', users: batch });
    });
  }

  /** The run's clock from `anchor.wallMs` on: workers keep simulated time with it. */
  followClock(anchor: ClockAnchor): void {
    for (const w of this.workers) w.send({ type: 'clock', anchor });
  }

  /** Latency of the interval since the last call. */
  takeInterval(): LatencyAggregate {
    const out = this.interval;
    this.interval = new LatencyAggregate();
    return out;
  }

  takeFeedback(): LatencyAggregate {
    const out = this.feedback;
    this.feedback = new LatencyAggregate();
    return out;
  }

  /**
   * The samples since the last call clear of their worker's own stalls, when workers file them
   * (`stallMs`): a subset of `takeFeedback`'s over the same reports. Call the two together.
   */
  takeClearOfStalls(): LatencyAggregate | undefined {
    const out = this.clearOfStalls;
    this.clearOfStalls = new LatencyAggregate();
    return this.options.stallMs === undefined ? undefined : out;
  }

  /** The worst event-loop lag the workers reported since the last call (undefined: no report came). */
  takeWorkerLagMs(): number | undefined {
    const out = this.workerLagMs;
    this.workerLagMs = undefined;
    return out;
  }

  totals(): LoadTotals {
    const reports = [...this.latest.values()];
    const sum = (f: (r: WorkerReport) => number) => reports.reduce((s, r) => s + f(r), 0);
    return {
      requests: sum((r) => r.http.requests),
      errors: sum((r) => r.http.errors),
      conflicts: sum((r) => r.http.conflicts),
      sameInstance: sum((r) => r.http.sameInstance),
      instanceSwitches: sum((r) => r.http.instanceSwitches),
      rejected: sum((r) => r.http.rejected),
      ...this.sums,
      confirmedReservationIds: [...this.confirmed],
      socketsConnected: sum((r) => r.socketsConnected),
      usersActive: sum((r) => r.usersActive),
      unsettled: sum((r) => r.unsettled),
      usersAway: sum((r) => r.usersAway),
      usersFailing: sum((r) => r.usersFailing),
      longestGap: reports
        .map((r) => r.longestGap)
        .reduce<WallSpan | undefined>(
          (a, b) => (!b || (a && a.toWallMs - a.fromWallMs >= b.toWallMs - b.fromWallMs) ? a : b),
          undefined,
        ),
      reconnects: [...this.reconnects],
      maxWorkerEventLoopDelayMs: Math.max(0, ...reports.map((r) => r.maxEventLoopDelayMs)),
    };
  }

  /** Stops every user, collects the final reports, ends the workers. */
  async stop(): Promise<LoadTotals> {
    await Promise.all(
      this.workers.map((w, i) =>
        w.stop(10_000, () => {
          // A worker that sent its final report is on its way out already.
          if (!this.finals.has(i)) w.send({ type: 'stop' });
        }),
      ),
    );
    return this.totals();
  }
}
