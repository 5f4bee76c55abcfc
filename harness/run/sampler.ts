import type { MinuteMachineState } from '../metrics/headroom.ts';
import type { AlarmState } from '../model/aws.ts';
import type { Sample } from '../report/run-record.ts';
import type { DropDuty, DropLoad, DropLoadTotals, DropWorld } from './drop-loop.ts';
import type { ClockSpeed } from './pacer-duty.ts';

/** What the runner shows while it runs (a line per sample, or a live line on a terminal). */
export interface Progress {
  simulated: string;
  phase: string;
  queueSize: number;
  instances: { pending: number; inService: number };
  alarms: Record<string, AlarmState>;
  apiP95Ms?: number;
  timeScale: number;
  joined: number;
  users: number;
}

export const SAMPLE_EVERY_SIM_MS = 60_000;

export interface SamplerOptions {
  world: Pick<DropWorld, 'sample'>;
  load: Pick<DropLoad, 'totals' | 'takeInterval'>;
  /** The first sample is one minute after this; the last at or before `endSimMs`. */
  startSimMs: number;
  endSimMs: number;
  salesOpenSimMs: number;
  users: number;
  speed: ClockSpeed;
  wallNow: () => number;
  /** Wall epoch ms the drop began at (a sample says the wall seconds since). */
  wallStartMs: number;
  progress: (p: Progress) => void;
  /** The machine over the minute since the last call (run-measurement.ts). */
  machine?: () => MinuteMachineState | undefined;
}

/** Samples the world and the load every simulated minute, and reports progress. */
export class Sampler implements DropDuty {
  readonly name = 'sampler';
  private readonly taken: Sample[] = [];
  private lastTotals: DropLoadTotals;
  private nextSampleSimMs: number;

  constructor(private readonly options: SamplerOptions) {
    this.lastTotals = options.load.totals();
    this.nextSampleSimMs = options.startSimMs + SAMPLE_EVERY_SIM_MS;
  }

  get samples(): readonly Sample[] {
    return this.taken;
  }

  /** Users waiting in the queue at the last sample. */
  get lastQueueSize(): number | undefined {
    return this.taken.at(-1)?.queueSize;
  }

  /**
   * Users waiting in the queue now, as far as the load tells: the last sample's, plus the joins
   * answered since, less the admissions the load heard of since. Never fewer than wait (an
   * admission not heard of yet keeps its user counted); undefined before the first sample.
   */
  queueEstimate(totals: Pick<DropLoadTotals, 'joined' | 'admitted'>): number | undefined {
    const last = this.taken.at(-1);
    if (!last) return undefined;
    const joined = totals.joined - this.lastTotals.joined;
    const admitted = totals.admitted - this.lastTotals.admitted;
    return Math.max(0, last.queueSize + joined - admitted);
  }

  async tick(nowSimMs: number): Promise<void> {
    while (nowSimMs >= this.nextSampleSimMs && this.nextSampleSimMs <= this.options.endSimMs) {
      await this.sampleAt(this.nextSampleSimMs);
      this.nextSampleSimMs += SAMPLE_EVERY_SIM_MS;
    }
  }

  private async sampleAt(atMs: number): Promise<void> {
    const { load, speed } = this.options;
    const totals = load.totals();
    const interval = load.takeInterval();
    const sample: Sample = {
      atMs,
      ...(await this.options.world.sample()),
      requests: totals.requests - this.lastTotals.requests,
      errors: totals.errors - this.lastTotals.errors,
      admitted: totals.admitted - this.lastTotals.admitted,
      apiP95Ms: interval.allEndpoints()?.p95Ms,
      apiP99Ms: interval.allEndpoints()?.p99Ms,
      socketDeliveryP95Ms: interval.summary('socket.delivery')?.p95Ms,
      socketDeliveryP99Ms: interval.summary('socket.delivery')?.p99Ms,
      socketConnectP95Ms: interval.summary('socket.connect')?.p95Ms,
      socketConnectP99Ms: interval.summary('socket.connect')?.p99Ms,
      socketsConnected: totals.socketsConnected,
      wallSeconds: Math.round((this.options.wallNow() - this.options.wallStartMs) / 100) / 10,
      timeScale: Math.round(speed.scale * 100) / 100,
      clockLimitedBy: speed.limitedBy,
      machine: this.options.machine?.(),
    };
    this.lastTotals = totals;
    this.taken.push(sample);
    this.report(sample, totals.joined);
  }

  private report(sample: Sample, joined: number): void {
    const { salesOpenSimMs, users, speed } = this.options;
    this.options.progress({
      simulated: new Date(sample.atMs).toISOString().slice(11, 16),
      phase:
        sample.atMs < salesOpenSimMs
          ? 'filling the waiting room'
          : sample.queueSize > 0
            ? 'admitting'
            : 'queue empty',
      queueSize: sample.queueSize,
      instances: { pending: sample.instances.pending, inService: sample.instances.inService },
      alarms: sample.alarms,
      apiP95Ms: sample.apiP95Ms,
      timeScale: speed.scale,
      joined,
      users,
    });
  }
}
