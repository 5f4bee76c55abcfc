import type { UserSupply } from '../worlds/world.ts';
import type { DropDuty, DropLoad } from './drop-loop.ts';

/**
 * Users leave in waves, each due at the first multiple of this many wall ms at or after its time:
 * the users of a wave leave together, and each process on their way (load worker, ALB worker,
 * runner, app instance, Redis) wakes once for the wave, not once for each. A process woken for
 * one join at a time costs about twice as much per join as one kept busy (`bench/app-cpu.ts`:
 * an app instance 2.8 ms a join at 100 joins a second, 2.0 ms at 400, 1.5 ms with 25 always in
 * flight). Each user is timed from its wave's time (`dueAtWallMs`): the wait behind the rest of
 * its wave counts in its latency (docs/performance.md, "users leave in waves").
 *
 * 80 ms: against 40, a full peak's CPU per join fell by 12–22 % in three alternated pairs. 120 ms
 * saved about 8 % more, but its joins' P95 was 72–79 ms against 62–66 (the wait behind a larger
 * wave), and at a burst's 400 joins a second its waves give each load worker 24 users at once:
 * half its 50 ms lag limit (docs/performance.md, 2026-12-04 evening).
 */
export const ARRIVAL_WAVE_WALL_MS = 80;

/** The wall ms at which a user due at `wallMs` leaves: its wave's (every `waveWallMs`; 0: its own). */
export function waveOf(wallMs: number, waveWallMs: number): number {
  return waveWallMs > 0 ? Math.ceil(wallMs / waveWallMs) * waveWallMs : wallMs;
}

/**
 * Sends each user to the load generator once its arrival time has come (open model), in waves
 * (ARRIVAL_WAVE_WALL_MS).
 */
export class ArrivalFeeder implements DropDuty {
  readonly name = 'arrival feeder';
  private sentCount = 0;

  constructor(
    private readonly options: {
      /** Simulated epoch ms at which each user arrives, ascending. */
      arrivalsSimMs: readonly number[];
      users: UserSupply;
      load: Pick<DropLoad, 'arrive'>;
      /**
       * Users are handed over this far ahead (a tick of the drop, in simulated ms), each with the
       * wall time it is due: its join leaves then and is timed from then, however busy the
       * generator is when it could send (no coordinated omission). @default 0 (handed over when due)
       */
      aheadSimMs?: () => number;
      /** Simulated epoch ms → the wall epoch ms it will be at the clock's current speed. */
      toWallMs?: (simMs: number) => number;
      /** Wall ms between waves of users leaving (`waveOf`). @default ARRIVAL_WAVE_WALL_MS */
      waveWallMs?: number;
    },
  ) {}

  /** Users handed to the load generator so far. */
  get sent(): number {
    return this.sentCount;
  }

  tick(nowSimMs: number): void {
    const { arrivalsSimMs, users, load, toWallMs, waveWallMs = ARRIVAL_WAVE_WALL_MS } = this.options;
    const horizonSimMs = nowSimMs + (this.options.aheadSimMs?.() ?? 0);
    let due = this.sentCount;
    while (due < arrivalsSimMs.length && arrivalsSimMs[due]! <= horizonSimMs) due++;
    // A deployed world may still be registering later users: they arrive once they can.
    if (due > users.ready) due = users.ready;
    if (due <= this.sentCount) return;
    const from = this.sentCount;
    const batch = users.take(from, due);
    load.arrive(
      batch.map((u, k) => ({
        ...u,
        arrival: from + k,
        ...(toWallMs ? { dueAtWallMs: waveOf(toWallMs(arrivalsSimMs[from + k]!), waveWallMs) } : {}),
      })),
    );
    this.sentCount = due;
  }
}
