/**
 * The runner's duty that feeds the live page: on each tick, at most once per interval, it turns
 * the run so far into a frame and publishes it. Driven by the runner's loop (`tick(wallMs)`), so a
 * unit test drives it with plain numbers.
 */
import type { Topology } from '../../infra/topology.ts';
import type { LiveDashboard } from './dashboard.ts';
import { type LiveSnapshot, liveFrame } from './live-frame.ts';

export interface LivePublisherOptions {
  dashboard: Pick<LiveDashboard, 'publish'>;
  topology: Topology;
  /** The run so far; called only when a frame is due. */
  snapshot: () => LiveSnapshot;
  /** Wall ms between frames. @default 1000 */
  intervalMs?: number;
}

export class LivePublisher {
  private nextWallMs = 0;

  constructor(private readonly options: LivePublisherOptions) {}

  tick(wallMs: number): void {
    if (wallMs < this.nextWallMs) return;
    this.nextWallMs = wallMs + (this.options.intervalMs ?? 1_000);
    this.options.dashboard.publish(liveFrame(this.options.snapshot(), this.options.topology));
  }
}
