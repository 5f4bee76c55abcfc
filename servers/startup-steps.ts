/**
 * Start-up as named steps, each timed: `✓ PostgreSQL writer + sync replica  0.9 s`. Steps may run
 * in parallel; each prints when it ends. The timings are kept for the benchmark in
 * docs/performance.md.
 */
import type { LogSink } from './process.ts';

export interface StartupSteps {
  step<T>(label: string, run: () => Promise<T>): Promise<T>;
}

/** What a topology's start-up reports to: its steps, and its servers' output lines. */
export interface StartupOutput {
  steps: StartupSteps;
  serverLog: LogSink;
  /** Printed after a failed start-up's error: the servers' last lines and where the rest is. */
  failureLines(): string[];
}

/** A start-up step failed: its error, then the servers' last lines (exit 2, like any environment problem). */
export class StartupFailedError extends Error {
  constructor(cause: unknown, output: Pick<StartupOutput, 'failureLines'>) {
    super(
      [`start-up failed: ${(cause as Error)?.message ?? String(cause)}`, '', ...output.failureLines()].join(
        '\n',
      ),
      { cause },
    );
    this.name = 'StartupFailedError';
  }
}

/** Runs the steps and says nothing (tests, library use). */
export const silentSteps: StartupSteps = { step: (_label, run) => run() };

export interface StepTiming {
  label: string;
  ms: number;
  ok: boolean;
}

/** Prints one line per step as it ends, with its wall duration. */
export class TimedSteps implements StartupSteps {
  readonly timings: StepTiming[] = [];

  constructor(
    private readonly print: (line: string) => void,
    private readonly now: () => number = performance.now.bind(performance),
  ) {}

  async step<T>(label: string, run: () => Promise<T>): Promise<T> {
    const startMs = this.now();
    try {
      const result = await run();
      this.done(label, startMs, true);
      return result;
    } catch (err) {
      this.done(label, startMs, false);
      throw err;
    }
  }

  private done(label: string, startMs: number, ok: boolean): void {
    const ms = this.now() - startMs;
    this.timings.push({ label, ms, ok });
    this.print(`${ok ? '✓' : '✗'} ${label.padEnd(44)} ${(ms / 1_000).toFixed(1).padStart(5)} s`);
  }
}
