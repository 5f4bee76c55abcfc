/**
 * The drop's duty that feeds the live page: once per wall second (LivePublisher), the run so far
 * as a frame — the samples taken, the faults as they unfold, the latency so far, the world's
 * history when it can tell it, and the scenario's expectations, pending until the run ends.
 */
import type { Topology } from '../../infra/topology.ts';
import type { LiveDashboard } from '../live/dashboard.ts';
import type { LiveSnapshot } from '../live/live-frame.ts';
import { LivePublisher } from '../live/publisher.ts';
import type { LatencyAggregate } from '../metrics/latency.ts';
import type { FaultRecord, Sample } from '../report/run-record.ts';
import type { WorldHistory } from '../worlds/world.ts';
import type { DropDuty } from './drop-loop.ts';

/** What the run is, known before the drop. */
export interface LiveRunFacts {
  scenario: string;
  scenarioFile: string;
  users: number;
  timeScaleRequested: number;
  startMs: number;
  endMs: number;
  topology: Topology;
  /** The scenario's expectations as the page lists them until their verdicts exist. */
  expectations: LiveSnapshot['expectations'];
}

export interface LiveFeedOptions {
  dashboard: Pick<LiveDashboard, 'publish'>;
  facts: LiveRunFacts;
  samples: () => readonly Sample[];
  faults: () => FaultRecord[];
  /** The load generator's histograms, merged since the start. */
  latency: () => Pick<LatencyAggregate, 'summaries' | 'allEndpoints'>;
  /** The world's history so far, where it can tell it (the local worlds). */
  history?: () => Partial<Omit<WorldHistory, 'integrity'>>;
  wallNow: () => number;
  /** Wall epoch ms the drop began at. */
  wallStartMs: number;
  /** @default 1000 */
  intervalMs?: number;
}

export class LiveFeed implements DropDuty {
  readonly name = 'live page';
  private readonly publisher: LivePublisher;
  private nowSimMs: number;

  constructor(private readonly options: LiveFeedOptions) {
    this.nowSimMs = options.facts.startMs;
    this.publisher = new LivePublisher({
      dashboard: options.dashboard,
      topology: options.facts.topology,
      snapshot: () => this.snapshot(),
      intervalMs: options.intervalMs,
    });
  }

  tick(nowSimMs: number): void {
    this.nowSimMs = nowSimMs;
    this.publisher.tick(this.options.wallNow());
  }

  /** The run so far (called by the publisher only when a frame is due). */
  snapshot(): LiveSnapshot {
    const o = this.options;
    const { topology: _, ...facts } = o.facts;
    const latency = o.latency();
    const history = o.history?.();
    return {
      ...facts,
      nowMs: this.nowSimMs,
      wallSeconds: (o.wallNow() - o.wallStartMs) / 1_000,
      samples: [...o.samples()],
      faults: o.faults(),
      latency: { ...latency.summaries(), all: latency.allEndpoints() },
      ...(history ?? {}),
    };
  }
}
