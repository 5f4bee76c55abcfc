/**
 * The one simulated clock of the emulated control plane.
 *
 * Health checks, alarm periods, cooldowns, boot and deregistration delays, the Lambda schedule and
 * the scenario timeline all read time from a `Clock` handed to them, never from `Date.now()`, so a
 * unit test drives them with a `ManualClock` and a run uses a `ScaledClock`.
 */
import { type ClockAnchor, ClockTimeline, simAt } from './timeline.ts';

/**
 * The fastest the emulated world is run: the ALB's 30-second health checks then come every 125 ms
 * of wall time, about as often as a check round trip through the emulator can be relied on.
 */
export const FASTEST_TIME_SCALE = 240;

/**
 * The fastest a stretch with nothing due runs (no arrivals ahead, nobody queued or away, no
 * scaling activity or fault in progress): only health checks (every 31 wall ms), alarm periods
 * and the metric schedule tick then, and none of them waits on this machine's speed.
 */
export const FASTEST_IDLE_TIME_SCALE = 960;

/** A scheduled callback; `cancel()` is idempotent. */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Simulated time, epoch milliseconds. */
  now(): number;
  /** Runs `fn` once after `delayMs` of simulated time. */
  setTimeout(fn: () => void, delayMs: number): Timer;
  /**
   * Runs `fn` every `intervalMs` of simulated time on a fixed grid, first after `firstAfterMs`
   * (@default one interval).
   */
  setInterval(fn: () => void, intervalMs: number, firstAfterMs?: number): Timer;
  /** Resolves after `delayMs` of simulated time; rejects with the signal's reason when aborted. */
  sleep(delayMs: number, signal?: AbortSignal): Promise<void>;
}

function sleepOn(clock: Clock, delayMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      timer.cancel();
      reject(signal?.reason);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, delayMs);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function intervalOn(clock: Clock, fn: () => void, intervalMs: number, firstAfterMs = intervalMs): Timer {
  if (!(intervalMs > 0)) throw new RangeError(`intervalMs must be > 0 (got ${intervalMs})`);
  let current: Timer | undefined;
  let cancelled = false;
  // On a fixed grid from the first due time: a timer fires a little late (an event loop's delay,
  // seconds of simulated time at high speed), and counting the next interval from then drifted
  // the phase of every health check with the machine's load and the clock's speed.
  let dueMs = clock.now() + Math.max(0, firstAfterMs);
  const arm = () => {
    current = clock.setTimeout(() => {
      if (cancelled) return;
      const now = clock.now();
      dueMs += intervalMs;
      if (dueMs <= now) dueMs += Math.ceil((now - dueMs + 1) / intervalMs) * intervalMs;
      arm();
      fn();
    }, dueMs - clock.now());
  };
  arm();
  return {
    cancel() {
      cancelled = true;
      current?.cancel();
    },
  };
}

interface ScaledTimer {
  dueSimMs: number;
  fn: () => void;
  handle: NodeJS.Timeout | undefined;
  done: boolean;
}

/**
 * Simulated time running `timeScale` times faster than the wall clock. The scale may change while
 * running (the rehearsal slows the clock when the machine can't keep up with the load); pending
 * timers are re-armed so they still fire at their simulated due time. Every speed change is kept
 * (`toSim`), so wall timestamps map to the simulated moment they happened at.
 */
export class ScaledClock implements Clock {
  private readonly timeline = new ClockTimeline();
  /** Simulated time while paused (the clock starts paused or was paused). */
  private pausedSimMs: number;
  private scale: number;
  private paused: boolean;
  private readonly pending = new Set<ScaledTimer>();
  private readonly wallNow: () => number;

  constructor(options: { timeScale: number; startSimMs?: number; wallNow?: () => number; paused?: boolean }) {
    if (!(options.timeScale > 0)) throw new RangeError(`timeScale must be > 0 (got ${options.timeScale})`);
    this.wallNow = options.wallNow ?? Date.now;
    const wallMs = this.wallNow();
    this.pausedSimMs = options.startSimMs ?? wallMs;
    this.scale = options.timeScale;
    this.paused = options.paused ?? false;
    if (!this.paused) this.timeline.record({ wallMs, simMs: this.pausedSimMs, timeScale: this.scale });
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Stops simulated time (setup work that must not count); timers wait. */
  pause(): void {
    if (this.paused) return;
    const wallMs = this.wallNow();
    this.pausedSimMs = this.now();
    this.timeline.record({ wallMs, simMs: this.pausedSimMs, timeScale: 0 });
    this.paused = true;
    for (const t of this.pending) if (t.handle) clearTimeout(t.handle);
  }

  resume(): void {
    if (!this.paused) return;
    this.timeline.record({ wallMs: this.wallNow(), simMs: this.pausedSimMs, timeScale: this.scale });
    this.paused = false;
    for (const t of this.pending) this.arm(t);
  }

  get timeScale(): number {
    return this.scale;
  }

  now(): number {
    const running = this.timeline.latest;
    if (this.paused || !running) return this.pausedSimMs;
    return simAt(running, this.wallNow());
  }

  /** The current piece of the wall → simulated mapping, for a process that keeps its own time. */
  anchor(): ClockAnchor {
    return { wallMs: this.wallNow(), simMs: this.now(), timeScale: this.paused ? 0 : this.scale };
  }

  /**
   * The simulated moment of a wall timestamp, through every speed the clock ran at. Wall times
   * from before the clock first ran map backward at its first speed.
   */
  toSim(wallMs: number): number {
    return this.timeline.toSim(wallMs);
  }

  /** Changes the speed from now on; simulated time stays continuous. */
  setTimeScale(timeScale: number): void {
    if (!(timeScale > 0)) throw new RangeError(`timeScale must be > 0 (got ${timeScale})`);
    if (!this.paused) this.timeline.record({ wallMs: this.wallNow(), simMs: this.now(), timeScale });
    this.scale = timeScale;
    if (!this.paused) for (const t of this.pending) this.arm(t);
  }

  /**
   * Takes on a piece of another process's clock from its wall time on (a load worker following
   * the run's clock): simulated time here then shows what it shows, whenever the news arrives.
   */
  follow(anchor: ClockAnchor): void {
    const latest = this.timeline.latest;
    // Sent before a piece this clock already has (its own start): the same line, from then.
    const piece =
      latest && anchor.wallMs < latest.wallMs
        ? { wallMs: latest.wallMs, simMs: simAt(anchor, latest.wallMs), timeScale: anchor.timeScale }
        : anchor;
    this.timeline.record(piece);
    if (piece.timeScale > 0) this.scale = piece.timeScale;
    this.paused = piece.timeScale === 0;
    this.pausedSimMs = piece.simMs;
    for (const t of this.pending) this.arm(t);
  }

  setTimeout(fn: () => void, delayMs: number): Timer {
    const timer: ScaledTimer = {
      dueSimMs: this.now() + Math.max(0, delayMs),
      fn,
      handle: undefined,
      done: false,
    };
    this.pending.add(timer);
    this.arm(timer);
    return {
      cancel: () => {
        timer.done = true;
        if (timer.handle) clearTimeout(timer.handle);
        this.pending.delete(timer);
      },
    };
  }

  setInterval(fn: () => void, intervalMs: number, firstAfterMs?: number): Timer {
    return intervalOn(this, fn, intervalMs, firstAfterMs);
  }

  sleep(delayMs: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, delayMs, signal);
  }

  /** Cancels every pending timer (used at shutdown). */
  dispose(): void {
    for (const t of this.pending) {
      t.done = true;
      if (t.handle) clearTimeout(t.handle);
    }
    this.pending.clear();
  }

  private arm(timer: ScaledTimer): void {
    if (timer.handle) clearTimeout(timer.handle);
    if (this.paused) return;
    const wallDelayMs = Math.max(0, (timer.dueSimMs - this.now()) / this.scale);
    timer.handle = setTimeout(() => {
      if (timer.done) return;
      // A scale change may have moved the due time; re-arm if we woke early.
      if (this.now() + 0.5 < timer.dueSimMs) return this.arm(timer);
      timer.done = true;
      this.pending.delete(timer);
      timer.fn();
    }, wallDelayMs);
  }
}

interface ManualTimer {
  dueSimMs: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A clock that moves only when told to: deterministic unit tests. */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private timers: ManualTimer[] = [];

  constructor(startSimMs = 0) {
    this.current = startSimMs;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, delayMs: number): Timer {
    const timer: ManualTimer = {
      dueSimMs: this.current + Math.max(0, delayMs),
      seq: this.seq++,
      fn,
      cancelled: false,
    };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  setInterval(fn: () => void, intervalMs: number, firstAfterMs?: number): Timer {
    return intervalOn(this, fn, intervalMs, firstAfterMs);
  }

  sleep(delayMs: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, delayMs, signal);
  }

  /** Moves time forward by `ms`, firing due timers in order (timers they schedule included). */
  advance(ms: number): void {
    this.advanceTo(this.current + ms);
  }

  advanceTo(targetSimMs: number): void {
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      const next = this.timers
        .filter((t) => t.dueSimMs <= targetSimMs)
        .sort((a, b) => a.dueSimMs - b.dueSimMs || a.seq - b.seq)[0];
      if (!next) break;
      this.current = Math.max(this.current, next.dueSimMs);
      next.cancelled = true;
      next.fn();
    }
    this.current = Math.max(this.current, targetSimMs);
  }

  /** Like `advance`, but lets promise continuations run between timers. */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      await new Promise((r) => setImmediate(r));
      this.timers = this.timers.filter((t) => !t.cancelled);
      const next = this.timers
        .filter((t) => t.dueSimMs <= target)
        .sort((a, b) => a.dueSimMs - b.dueSimMs || a.seq - b.seq)[0];
      if (!next) break;
      this.current = Math.max(this.current, next.dueSimMs);
      next.cancelled = true;
      next.fn();
    }
    this.current = Math.max(this.current, target);
    await new Promise((r) => setImmediate(r));
  }
}
