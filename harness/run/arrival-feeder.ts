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
    },
  ) {}

  /** Users handed to the load generator so far. */
  get sent(): number {
    return this.sentCount;
  }

  tick(nowSimMs: number): void {
    const { arrivalsSimMs, users, load } = this.options;
    let due = this.sentCount;
    while (due < arrivalsSimMs.length && arrivalsSimMs[due]! <= nowSimMs) due++;
    // A deployed world may still be registering later users: they arrive once they can.
    if (due > users.ready) due = users.ready;
    if (due <= this.sentCount) return;
    load.arrive(users.take(this.sentCount, due));
    this.sentCount = due;
  }
}
