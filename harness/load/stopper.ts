/**
 * The end of a run, as every journey of a worker waits for it. Not an AbortSignal: Node's
 * EventTarget checks each new listener against all the others, so 25,000 journeys (and every
 * think time among them) registering on one signal cost quadratic time; here, a Set.
 */
export class Stopper {
  private readonly listeners = new Set<() => void>();
  private done = false;

  get stopped(): boolean {
    return this.done;
  }

  /** Calls `listener` once at the stop (at once if already stopped); returns a way to unregister. */
  onStop(listener: () => void): () => void {
    if (this.done) {
      listener();
      return () => undefined;
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stop(): void {
    if (this.done) return;
    this.done = true;
    const listeners = [...this.listeners];
    this.listeners.clear();
    for (const listener of listeners) listener();
  }
}
