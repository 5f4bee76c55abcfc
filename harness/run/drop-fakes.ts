/**
 * A fake world and a fake load generator for unit tests of the drop's duties: they record what
 * the duties asked of them, and answer from fields a test sets.
 */
import type { ClockAnchor } from '../clock/timeline.ts';
import type { InjectedFault } from '../faults/inject.ts';
import type { VirtualUserCredentials } from '../load/protocol.ts';
import { LatencyAggregate, LatencyRecorder } from '../metrics/latency.ts';
import type { FaultAction } from '../scenario/schema.ts';
import type { WorldSample } from '../worlds/world.ts';
import type { DropLoad, DropLoadTotals, DropWorld } from './drop-loop.ts';

export class FakeWorld implements DropWorld {
  /** What `openSales` answers, one per call; true once these run out. */
  readonly openSalesAnswers: boolean[] = [];
  readonly openSalesCalls: number[] = [];
  readonly faults: { action: FaultAction; fault: FakeFault }[] = [];
  /** Faults whose injection throws, by name. */
  readonly failing = new Set<string>();
  readonly timeScales: number[] = [];
  readonly sampled: WorldSample[] = [];
  queueSize = 0;

  constructor(private readonly clock: { now(): number }) {}

  async openSales(): Promise<boolean> {
    this.openSalesCalls.push(this.clock.now());
    return this.openSalesAnswers.shift() ?? true;
  }

  async injectFault(action: FaultAction): Promise<InjectedFault> {
    if (this.failing.has(action.fault)) throw new Error(`no way to ${action.fault} here`);
    const fault = new FakeFault(action.fault, this.clock.now());
    this.faults.push({ action, fault });
    return fault;
  }

  async setTimeScale(timeScale: number): Promise<void> {
    this.timeScales.push(timeScale);
  }

  /** The clock as the world runs it now: the last speed set (60× before any). */
  anchor(wallMs: number): ClockAnchor {
    return { wallMs, simMs: this.clock.now(), timeScale: this.timeScales.at(-1) ?? 60 };
  }

  async sample(): Promise<WorldSample> {
    const sample: WorldSample = {
      queueSize: this.queueSize,
      activeUsers: 0,
      instances: { pending: 0, inService: 2, terminating: 0 },
      targets: { initial: 0, healthy: 2, unhealthy: 0, draining: 0 },
      alarms: { 'tiketi-queue-scale-out': 'OK' },
      connectionsPerInstance: {},
    };
    this.sampled.push(sample);
    return sample;
  }
}

/** A fault whose timeline completes when the test says so. */
export class FakeFault implements InjectedFault {
  readonly record;
  readonly settled: Promise<void>;
  readonly dataTierBack: Promise<void>;
  stopped = false;
  private settle!: () => void;
  private tierBack!: () => void;

  constructor(name: string, atMs: number) {
    this.record = { fault: name, detail: `${name} injected`, atMs, timeline: [] };
    this.settled = new Promise<void>((resolve) => {
      this.settle = resolve;
    });
    this.dataTierBack = new Promise<void>((resolve) => {
      this.tierBack = resolve;
    });
  }

  /** Every instance reaches Redis and the database again; the rest of the timeline goes on. */
  dataTierRecovered(): void {
    this.tierBack();
  }

  complete(): void {
    this.tierBack();
    this.settle();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.settle();
  }
}

export class FakeLoad implements DropLoad {
  readonly arrived: { userIds: string[]; atSimMs: number }[] = [];
  readonly timeScales: number[] = [];
  readonly current: DropLoadTotals = {
    requests: 0,
    errors: 0,
    admitted: 0,
    joined: 0,
    settled: 0,
    unsettled: 0,
    usersAway: 0,
    usersFailing: 0,
    usersActive: 0,
    socketsConnected: 0,
  };
  /** Latencies (ms) the next `takeInterval` / `takeFeedback` return. */
  intervalLatencyMs: number[] = [];
  feedbackLatencyMs: number[] = [];
  workerLagMs: number | undefined;
  /** Socket.IO connect and delivery latencies (ms) the next `takeInterval` returns. */
  intervalConnectMs: number[] = [];
  intervalDeliveryMs: number[] = [];

  constructor(private readonly clock: { now(): number }) {}

  arrive(users: VirtualUserCredentials[]): void {
    this.arrived.push({ userIds: users.map((u) => u.userId), atSimMs: this.clock.now() });
  }

  followClock(anchor: ClockAnchor): void {
    this.timeScales.push(anchor.timeScale);
  }

  totals(): DropLoadTotals {
    return { ...this.current };
  }

  takeInterval(): LatencyAggregate {
    return aggregateOf(this.intervalLatencyMs.splice(0), {
      'socket.connect': this.intervalConnectMs.splice(0),
      'socket.delivery': this.intervalDeliveryMs.splice(0),
    });
  }

  takeFeedback(): LatencyAggregate {
    return aggregateOf(this.feedbackLatencyMs.splice(0));
  }

  takeWorkerLagMs(): number | undefined {
    return this.workerLagMs;
  }
}

/** The samples of joins that took `latenciesMs`, and of Socket.IO connects and deliveries. */
export function aggregateOf(
  latenciesMs: number[],
  sockets: Partial<Record<'socket.connect' | 'socket.delivery', number[]>> = {},
): LatencyAggregate {
  const recorder = new LatencyRecorder();
  for (const ms of latenciesMs) recorder.record('POST /api/events/:eventId/queue', ms);
  for (const [metric, values] of Object.entries(sockets) as [keyof typeof sockets, number[]][])
    for (const ms of values) recorder.record(metric, ms);
  const aggregate = new LatencyAggregate();
  aggregate.add(recorder.drain());
  return aggregate;
}

/** A measurement as PacerDuty takes it: the load's feedback, a machine busy `cpuBusy`, no saturation. */
export function fakeMeasure(load: Pick<FakeLoad, 'takeFeedback'>, cpuBusy: number) {
  return () => ({
    state: { cpuBusy, lagMs: {}, coreBusy: {} },
    feedback: load.takeFeedback(),
    saturation: [],
  });
}

/** `count` users named user-0… */
export function fakeUsers(count: number): VirtualUserCredentials[] {
  return Array.from({ length: count }, (_, i) => ({ userId: `user-${i}`, token: `token-${i}` }));
}
