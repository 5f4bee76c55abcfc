/** What a start-up has started, stopped in reverse order at the end or when a later step fails. */
export class Teardown {
  private readonly steps: (() => Promise<unknown> | unknown)[] = [];

  defer(step: () => Promise<unknown> | unknown): void {
    this.steps.push(step);
  }

  /**
   * Runs every step, last first. A step's failure does not keep the others from running: a
   * half-stopped topology would leave servers behind.
   */
  async unwind(): Promise<void> {
    for (const step of this.steps.splice(0).reverse())
      await Promise.resolve()
        .then(step)
        .catch(() => undefined);
  }
}
