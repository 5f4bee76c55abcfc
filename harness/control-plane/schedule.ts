/**
 * EventBridge `rate(1 minute)` → the queue-monitor Lambda, on the simulated clock. Every minute of
 * the grid gets its invocation, told the minute it was due (the scheduled event's `time`): a timer
 * that fires late — the emulator's host busy for 125 ms is a minute at 480× — runs the minutes it
 * missed at once, as EventBridge would have run them on time. Runs never overlap: one due while
 * another runs waits for it; one more due meanwhile is recorded as skipped (a hung Lambda does not
 * pile up a backlog). An error is recorded, not thrown, like a failed Lambda invocation.
 */
import type { Clock, Timer } from '../clock/clock.ts';

export interface ScheduleRecord {
  /** The minute the invocation was due (not when it ran). */
  atMs: number;
  outcome: 'ok' | 'error' | 'skipped';
  error?: string;
}

export class Schedule {
  readonly invocations: ScheduleRecord[] = [];
  private timer: Timer | undefined;
  private nextDueMs = 0;
  /** Due times not yet run, oldest first; at most one waits behind the running one. */
  private readonly due: number[] = [];
  private running: Promise<void> | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly everySeconds: number,
    private readonly handler: (dueMs: number) => Promise<unknown>,
  ) {}

  /** First run on the next whole period, as a rate rule created mid-minute does. */
  start(): void {
    const periodMs = this.everySeconds * 1_000;
    this.nextDueMs = (Math.floor(this.clock.now() / periodMs) + 1) * periodMs;
    this.arm();
  }

  /**
   * Resolves once no invocation is running or waiting (at once if none is), or after `maxWallMs`
   * of wall time if given: a run hung on a data tier that is down is not waited for.
   */
  settled(maxWallMs?: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    if (maxWallMs === undefined) return this.running;
    let timer: NodeJS.Timeout | undefined;
    // Unreferenced: a process that ends meanwhile is not held up by it.
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, maxWallMs).unref()));
    return Promise.race([this.running, deadline]).finally(() => clearTimeout(timer));
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private arm(): void {
    this.timer = this.clock.setTimeout(() => {
      const periodMs = this.everySeconds * 1_000;
      for (const now = this.clock.now(); this.nextDueMs <= now; this.nextDueMs += periodMs)
        this.enqueue(this.nextDueMs);
      this.arm();
    }, this.nextDueMs - this.clock.now());
  }

  private enqueue(dueMs: number): void {
    // The running invocation took its own due time off the list: one more may wait.
    if (this.due.length > 0) {
      this.invocations.push({ atMs: dueMs, outcome: 'skipped' });
      return;
    }
    this.due.push(dueMs);
    this.running ??= this.runDue().finally(() => {
      this.running = undefined;
    });
  }

  private async runDue(): Promise<void> {
    for (let atMs = this.due.shift(); atMs !== undefined; atMs = this.due.shift()) {
      try {
        await this.handler(atMs);
        this.invocations.push({ atMs, outcome: 'ok' });
      } catch (err) {
        this.invocations.push({ atMs, outcome: 'error', error: (err as Error).message });
      }
    }
  }
}
