import type { UserSupply } from '../worlds/world.ts';
import type { DropDuty, DropLoad } from './drop-loop.ts';

/** Sends each user to the load generator once its arrival time has come (open model). */
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
    },
  ) {}

  /** Users handed to the load generator so far. */
  get sent(): number {
    return this.sentCount;
  }

  tick(nowSimMs: number): void {
    const { arrivalsSimMs, users, load, toWallMs } = this.options;
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
        ...(toWallMs ? { dueAtWallMs: toWallMs(arrivalsSimMs[from + k]!) } : {}),
      })),
    );
    this.sentCount = due;
  }
}
