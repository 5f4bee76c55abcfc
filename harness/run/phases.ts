/**
 * A rehearsal is a list of named phases, run in order, like Playwright's runner tasks. A phase
 * may leave something running (the world, the load); its cleanup runs when the run ends, last
 * started first, whether the run succeeded or not. A failure names its phase in the run's log.
 */
export const RUN_PHASES = [
  'start world',
  'prepare users',
  'warm up',
  'drop',
  'finish',
  'evaluate',
  'report',
] as const;
export type RunPhase = (typeof RUN_PHASES)[number];

export class PhaseRunner {
  private readonly cleanups: { phase: RunPhase; cleanup: () => Promise<void> }[] = [];
  private failed: RunPhase | undefined;

  constructor(private readonly log: (line: string) => void) {}

  /** The phase that failed, if one did. */
  get failedPhase(): RunPhase | undefined {
    return this.failed;
  }

  /** Runs `work` as `phase`; `cleanup` (of what it started) runs at `close()`. */
  async run<T>(phase: RunPhase, work: () => Promise<T>, cleanup?: (value: T) => Promise<void>): Promise<T> {
    let value: T;
    try {
      value = await work();
    } catch (err) {
      this.fail(phase, err);
      throw err;
    }
    if (cleanup) this.cleanups.push({ phase, cleanup: () => cleanup(value) });
    return value;
  }

  /** Runs every cleanup, last first, each even if an earlier one failed; throws the first failure. */
  async close(): Promise<void> {
    let first: { error: unknown } | undefined;
    for (const { phase, cleanup } of this.cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        this.log(
          `[runner] cleaning up after "${phase}" failed: ${(error as Error)?.message ?? String(error)}`,
        );
        first ??= { error };
      }
    }
    if (first) throw first.error;
  }

  private fail(phase: RunPhase, err: unknown): void {
    this.failed = phase;
    this.log(`[runner] the "${phase}" phase failed: ${(err as Error)?.message ?? String(err)}`);
  }
}
