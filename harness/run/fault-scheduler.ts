import type { InjectedFault } from '../faults/inject.ts';
import {
  FAULT_APPROACH_MAX_SCALE,
  FAULT_APPROACH_WALL_MS,
  recoversOnWallTime,
  WALL_TIME_RECOVERY_MAX_SCALE,
} from '../faults/speed.ts';
import type { Fault } from '../scenario/schema.ts';
import type { DropDuty, DropWorld } from './drop-loop.ts';

export interface ScheduledFault {
  /** Simulated epoch ms at which the fault starts. */
  atSimMs: number;
  action: Fault;
}

/** A fault that could not run still shows in the report, with the reason. */
function failedFault(fault: string, atMs: number, reason: string): InjectedFault {
  return {
    record: { fault, detail: `not injected: ${reason}`, atMs, timeline: [] },
    settled: Promise.resolve(),
    stop: async () => {},
  };
}

/** Starts each of the scenario's faults once its time has come, and stops them all at the end. */
export class FaultScheduler implements DropDuty {
  readonly name = 'fault scheduler';
  private readonly due: ScheduledFault[];
  private readonly started: InjectedFault[] = [];
  private unsettled = 0;
  /** Faults in progress whose recovery runs partly on wall time (faults/speed.ts). */
  private onWallTime = 0;

  constructor(
    private readonly options: {
      world: Pick<DropWorld, 'injectFault'>;
      faults: readonly ScheduledFault[];
      log: (line: string) => void;
    },
  ) {
    this.due = [...options.faults].sort((a, b) => a.atSimMs - b.atSimMs);
  }

  /** Until a fault's timeline is complete, slow responses are the rehearsal, not saturation. */
  get inProgress(): boolean {
    return this.unsettled > 0;
  }

  /**
   * The fastest the clock may run now for the faults' sake (faults/speed.ts), or undefined: one
   * due within two decisions at `scale`, or one whose recovery runs on wall time in progress.
   * Towards a fault the clock glides: the fault stays two decisions ahead at every speed, down
   * to FAULT_APPROACH_MAX_SCALE (at 60×, the last two simulated minutes took 6 wall s at a flat
   * 10×; gliding, 2.6 s — and a 6-phase sweep runs that six times per rehearsal).
   */
  speedLimit(nowSimMs: number, scale: number): number | undefined {
    const next = this.due[0];
    const aheadSimMs = next === undefined ? Number.POSITIVE_INFINITY : next.atSimMs - nowSimMs;
    const approaching = aheadSimMs <= FAULT_APPROACH_WALL_MS * scale;
    const limits = [
      ...(this.onWallTime > 0 ? [WALL_TIME_RECOVERY_MAX_SCALE] : []),
      ...(approaching ? [Math.max(FAULT_APPROACH_MAX_SCALE, aheadSimMs / FAULT_APPROACH_WALL_MS)] : []),
    ];
    return limits.length > 0 ? Math.min(...limits) : undefined;
  }

  /** Every fault started so far, failed ones included, in start order. */
  get injected(): readonly InjectedFault[] {
    return this.started;
  }

  async tick(nowSimMs: number): Promise<void> {
    while (this.due.length > 0 && this.due[0]!.atSimMs <= nowSimMs) {
      const { action } = this.due.shift()!;
      await this.start(action, nowSimMs);
    }
  }

  /** Stops watching every fault and reverts what is revertible. */
  async stopAll(): Promise<void> {
    await Promise.all(this.started.map((f) => f.stop()));
  }

  private async start(action: Fault, nowSimMs: number): Promise<void> {
    const { log } = this.options;
    try {
      const fault = await this.options.world.injectFault(action);
      this.started.push(fault);
      const onWallTime = recoversOnWallTime(action.fault) ? 1 : 0;
      this.unsettled++;
      this.onWallTime += onWallTime;
      void fault.settled.then(() => this.unsettled--);
      // The wall-time part ends when the data tier is back; a replacement instance booting
      // afterwards runs on the simulated clock alone, at the drop's speed.
      void (fault.dataTierBack ?? fault.settled).then(() => {
        this.onWallTime -= onWallTime;
      });
      log(
        `[fault] ${new Date(nowSimMs).toISOString().slice(11, 19)} ${action.fault}: ${fault.record.detail}`,
      );
    } catch (err) {
      const reason = (err as Error).message;
      log(`[fault] ${action.fault} at ${action.at} could not run: ${reason}`);
      this.started.push(failedFault(action.fault, nowSimMs, reason));
    }
  }
}
