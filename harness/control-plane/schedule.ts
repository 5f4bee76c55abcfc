/**
 * EventBridge `rate(1 minute)` → the queue-monitor Lambda, on the simulated clock. A run still going
 * when the next is due is not overlapped (recorded as skipped); an error is recorded, not thrown,
 * like a failed Lambda invocation.
 */
import type { Clock, Timer } from '../clock/clock.ts';

export interface ScheduleRecord {
  atMs: number;
  outcome: 'ok' | 'error' | 'skipped';
  error?: string;
}

export class Schedule {
  readonly invocations: ScheduleRecord[] = [];
  private timer: Timer | undefined;
  private running = false;

  constructor(
    private readonly clock: Clock,
    private readonly everySeconds: number,
    private readonly handler: () => Promise<unknown>,
  ) {}

  /** First run on the next whole minute, as a rate rule created mid-minute does. */
  start(): void {
    const periodMs = this.everySeconds * 1_000;
    const toNext = periodMs - (this.clock.now() % periodMs);
    this.timer = this.clock.setTimeout(() => {
      void this.invoke();
      this.timer = this.clock.setInterval(() => void this.invoke(), periodMs);
    }, toNext);
  }

  async invoke(): Promise<void> {
    const atMs = this.clock.now();
    if (this.running) {
      this.invocations.push({ atMs, outcome: 'skipped' });
      return;
    }
    this.running = true;
    try {
      await this.handler();
      this.invocations.push({ atMs, outcome: 'ok' });
    } catch (err) {
      this.invocations.push({ atMs, outcome: 'error', error: (err as Error).message });
    } finally {
      this.running = false;
    }
  }

  stop(): void {
    this.timer?.cancel();
  }
}
