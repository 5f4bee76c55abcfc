import { LoadGenerator, type LoadTotals } from '../load/load-generator.ts';
import type { StartedWorld, UserSupply } from '../worlds/world.ts';
import type { RunPlan } from './plan.ts';

/** The drop's users and the load generator that will send them, before the clock starts. */
export interface PreparedLoad {
  users: UserSupply;
  generator: LoadGenerator;
  /** Stops the load once; later calls return the same totals. */
  stop(): Promise<LoadTotals>;
}

/** Setup happens outside simulated time: the event, its seats and users, the load's workers. */
export async function prepareUsers(
  plan: RunPlan,
  world: StartedWorld,
  log: (line: string) => void,
): Promise<PreparedLoad> {
  const { seatIds, users } = await world.prepare({
    seats: plan.scenario.event.seats,
    users: plan.users,
    arrivalsSimMs: plan.arrivalsSimMs,
  });
  const generator = await LoadGenerator.start({
    baseUrl: world.clientUrl,
    eventId: world.eventId,
    seatIds,
    behaviour: plan.scenario.behaviour,
    timeScale: plan.requestedScale,
    users: plan.users,
    seed: plan.seed,
    onError: (m) => log(`[load] ${m}`),
  });
  let stopped: Promise<LoadTotals> | undefined;
  return {
    users,
    generator,
    stop: () => {
      stopped ??= generator.stop();
      return stopped;
    },
  };
}
