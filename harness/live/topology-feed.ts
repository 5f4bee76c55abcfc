/**
 * `up`'s live page. `up` runs no rehearsal: no load generator, no expectations, no end. Once per
 * simulated minute it samples the topology as a local run samples it (the same `WorldSample`
 * code) and publishes the frame, so the page shows the queue, instances, alarms and connections
 * while people drive the topology by hand or with `tiketi-sim chaos`.
 */
import type { Topology } from '../../infra/topology.ts';
import type { Clock, Timer } from '../clock/clock.ts';
import type { ReportFrame } from '../report/html.ts';
import type { FaultRecord, Sample } from '../report/run-record.ts';
import type { WorldSample } from '../worlds/world.ts';
import type { LiveDashboard } from './dashboard.ts';
import { liveFrame } from './live-frame.ts';

const SAMPLE_EVERY_SIM_MS = 60_000;

export interface TopologyFeedOptions {
  publish: LiveDashboard['publish'];
  topology: Topology;
  clock: Pick<Clock, 'now' | 'setInterval'>;
  /** `up --time-scale`: simulated seconds per wall second. */
  timeScale: number;
  /** The local world's sampling (`sampleTopology`). */
  sample: () => Promise<WorldSample>;
  /** The ALB's own counts, cumulative: requests routed and the 502/503 it answered. */
  albStats: () => { requests: number; errors502: number; errors503: number };
  faults: () => FaultRecord[];
  wallNow: () => number;
  log: (line: string) => void;
}

export class TopologyFeed {
  private readonly samples: Sample[] = [];
  private readonly startMs: number;
  private readonly wallStartMs: number;
  private lastAlb: { requests: number; errors: number };
  private timer: Timer | undefined;

  constructor(private readonly options: TopologyFeedOptions) {
    this.startMs = options.clock.now();
    this.wallStartMs = options.wallNow();
    this.lastAlb = this.alb();
  }

  start(): void {
    this.timer = this.options.clock.setInterval(() => {
      this.sampleNow().catch((err: Error) => this.options.log(`[live] sampling failed: ${err.message}`));
    }, SAMPLE_EVERY_SIM_MS);
  }

  stop(): void {
    this.timer?.cancel();
  }

  /** Takes one sample and publishes the topology so far. */
  async sampleNow(): Promise<void> {
    const o = this.options;
    const atMs = o.clock.now();
    const world = await o.sample();
    const alb = this.alb();
    this.samples.push({
      atMs,
      ...world,
      // The ALB's view: the app's own 5xx pass through it uncounted; `up` has no client to time.
      requests: alb.requests - this.lastAlb.requests,
      errors: alb.errors - this.lastAlb.errors,
      // Admissions are counted by a rehearsal's virtual users; `up` has none.
      admitted: 0,
      socketsConnected: Object.values(world.socketsPerInstance ?? {}).reduce((a, b) => a + b, 0),
      wallSeconds: Math.round((o.wallNow() - this.wallStartMs) / 100) / 10,
      timeScale: o.timeScale,
    });
    this.lastAlb = alb;
    o.publish(this.frame());
  }

  /** The topology so far, as the page draws it. */
  frame(): ReportFrame {
    const o = this.options;
    const nowMs = this.samples.at(-1)?.atMs ?? this.startMs;
    return liveFrame(
      {
        scenario: 'up',
        scenarioFile: 'tiketi-sim up',
        users: 0,
        timeScaleRequested: o.timeScale,
        startMs: this.startMs,
        endMs: nowMs,
        nowMs,
        wallSeconds: (o.wallNow() - this.wallStartMs) / 1_000,
        samples: [...this.samples],
        faults: o.faults(),
        expectations: [],
      },
      o.topology,
    );
  }

  private alb(): { requests: number; errors: number } {
    const s = this.options.albStats();
    return { requests: s.requests, errors: s.errors502 + s.errors503 };
  }
}
