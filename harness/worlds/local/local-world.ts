/**
 * The local world: the emulated production topology on this machine (`startLocalTopology`), with
 * the harness's own connections to its Redis and PostgreSQL for what clients cannot do: creating
 * the drop's users in bulk, seeding the event, opening sales and the integrity check.
 *
 * The hybrid world is this world with its alarms elsewhere (`externalAlarms`): the queue monitor
 * publishes to LocalStack, and LocalStack's alarm notifications drive the group.
 */
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { createUsersInBulk } from '../../../app/auth/bulk-users.ts';
import { createTokenSigner } from '../../../app/auth/tokens.ts';
import { createRedis } from '../../../app/core/redis.ts';
import type { MetricsSink } from '../../../app/lambda/queue-monitor.ts';
import { openSales, seedDemoEvent } from '../../../app/sales/seed.ts';
import type { Topology } from '../../../infra/topology.ts';
import { StartupFailedError, type StartupOutput } from '../../../servers/startup-steps.ts';
import type { Backend } from '../../backends/backend.ts';
import type { Clock, ScaledClock } from '../../clock/clock.ts';
import { checkIntegrity } from '../../faults/integrity.ts';
import type { AlarmState, AlarmTransition } from '../../model/aws.ts';
import type { HealthReplacementRecord } from '../../report/run-record.ts';
import { CLIENT_PATH_MAX_USERS, ScenarioError } from '../../scenario/schema.ts';
import { type StartedTopology, startLocalTopology } from '../../topology/local-topology.ts';
import {
  readyUsers,
  type StartedWorld,
  type World,
  type WorldHistory,
  type WorldName,
  type WorldSetup,
} from '../world.ts';
import { lifecycleNow, sampleTopology } from './sample-topology.ts';

/** The event a local rehearsal seeds and sells. */
export const LOCAL_EVENT_ID = 'drop';
/** The clock starts this long before the drop so the warm instances pass their health checks. */
export const LOCAL_WARM_UP_MS = 3 * 60_000;

/**
 * Alarms that live outside the emulator (the hybrid world's LocalStack). The emulated CloudWatch
 * then stays idle; these drive the emulated Auto Scaling group and give the report's alarm states.
 */
export interface ExternalAlarms {
  /** The queue monitor publishes here, stamped with `now()`, instead of into the emulated CloudWatch. */
  sink: MetricsSink;
  now: () => Date;
  /** Starts turning alarm actions into policy executions on `group` (the run's topology names the policies). */
  start(run: {
    group: { executePolicy(policyName: string, cause: string): void };
    clock: Clock;
    topology: Topology;
  }): Promise<void>;
  /** Current state of every alarm. */
  states(): Promise<Record<string, AlarmState>>;
  /** Transitions since `start`, in simulated time. */
  history(toSim: (wallMs: number) => number): Promise<AlarmTransition[]>;
  stop(): Promise<void>;
}

export interface LocalWorldOptions {
  /** Where Redis and PostgreSQL come from. */
  backend: Backend;
  /** @default 'drop' */
  eventId?: string;
  /** The hybrid world's alarms. @default the emulated CloudWatch */
  externalAlarms?: ExternalAlarms;
  /** Start-up steps and server logs. @default silent steps, server output kept only for errors */
  startup?: StartupOutput;
}

/** The emulated world, as `tiketi-sim run` has always run it. */
export function localWorld(options: LocalWorldOptions): World {
  return emulatedWorld('local', options);
}

/** The local topology under another name (the hybrid world), possibly at a fixed clock speed. */
export function emulatedWorld(name: WorldName, options: LocalWorldOptions, fixedTimeScale?: number): World {
  return {
    name,
    ...(fixedTimeScale !== undefined ? { fixedTimeScale } : {}),
    warmUpMs: LOCAL_WARM_UP_MS,
    notEvaluable: {},
    start: (setup) => startEmulatedWorld(options, setup),
  };
}

async function startEmulatedWorld(options: LocalWorldOptions, setup: WorldSetup): Promise<StartedWorld> {
  const { scenario, topology, clock, users } = setup;
  const eventId = options.eventId ?? LOCAL_EVENT_ID;
  const external = options.externalAlarms;
  const clientPath = scenario.faults.some((f) => 'path' in f && f.path === 'client-alb');
  if (clientPath && users > CLIENT_PATH_MAX_USERS)
    throw new ScenarioError(scenario.name, [
      `--users ${users}: client-alb faults allow at most ${CLIENT_PATH_MAX_USERS} users; pass fewer`,
    ]);
  let world: StartedTopology;
  try {
    world = await startLocalTopology({
      topology,
      clock,
      backend: options.backend,
      eventId,
      seed: setup.seed,
      log: options.startup?.serverLog ?? (() => {}),
      ...(options.startup ? { steps: options.startup.steps } : {}),
      // Two ALB workers (the default) whatever the users: a WebSocket's client socket goes on to its
      // instance (harness/alb/websocket-handoff.ts), so a worker holds only HTTP connections.
      clientPath,
      redisPath: scenario.faults.some((f) => 'path' in f && f.path === 'app-redis'),
      ...(external ? { queueMetrics: { sink: external.sink, now: external.now } } : {}),
    });
  } catch (err) {
    await external?.stop().catch(() => undefined);
    throw options.startup ? new StartupFailedError(err, options.startup) : err;
  }
  let redis: Redis | undefined;
  const stop = async () => {
    await external?.stop().catch(() => undefined);
    redis?.disconnect();
    await world.stop();
  };
  try {
    // The harness's own Redis client: seeding, sales, the queue figures of each sample.
    const endpoint = world.backend.endpoints.redis;
    redis = createRedis(
      endpoint.kind === 'url'
        ? { kind: 'url', url: endpoint.url }
        : { kind: 'sentinel', sentinels: endpoint.sentinels, masterName: endpoint.masterName },
      pino({ level: 'silent' }),
      'runner',
    );
    await external?.start({ group: world.asg, clock, topology });
  } catch (err) {
    await stop();
    throw err;
  }
  const runner = redis;

  return {
    clientUrl: world.clientUrl,
    clientUrls: world.clientUrls,
    eventId,
    positionUpdateSimMs: world.positionUpdateSimMs,
    async prepare(drop) {
      const { seatIds } = await seedDemoEvent(world.db, runner, { eventId, seats: drop.seats });
      setup.log(`[runner] creating ${drop.users} users ahead of the drop…`);
      const credentials = await createUsersInBulk(world.db, runner, createTokenSigner(world.tokenSecret), {
        count: drop.users,
        emailPrefix: 'fan',
        password: 'rehearsal-only-password',
        sessionTtlSeconds: topology.queue.sessionTtlSeconds,
      });
      return { seatIds, users: readyUsers(credentials) };
    },
    clockResumed() {
      world.alb.publish(); // workers compute cookie expiry from the clock's new anchor
    },
    // A fault may have the data tier down right now: the runner tries again on the next tick.
    openSales: () =>
      openSales(world.db, runner, eventId).then(
        () => true,
        () => false,
      ),
    sample: () =>
      sampleTopology({
        topology: world,
        redis: runner,
        eventId,
        ...(external ? { alarms: () => external.states() } : {}),
      }),
    lifecycleNow: () => lifecycleNow(world),
    control: world.control,
    status: () => world.describe(),
    historySoFar: () => ({
      ...(external ? {} : { alarmHistory: world.cloudwatch.history() }),
      ...groupHistory(world, clock),
    }),
    injectFault: (fault) => world.injectFault(fault),
    setTimeScale: (timeScale) => world.setTimeScale(timeScale),
    async finish({ confirmedReservationIds, toSim }) {
      // Integrity, from the database itself, against what clients were told.
      const integrity = await checkIntegrity(world.db, eventId, confirmedReservationIds);
      return {
        alarmHistory: external ? await external.history(toSim) : world.cloudwatch.history(),
        ...groupHistory(world, clock),
        integrity: {
          seatsSoldTwice: integrity.seatsSoldTwice,
          confirmedReservationsLost: integrity.confirmedReservationsLost,
          confirmedInDatabase: integrity.confirmedInDatabase,
          mostSeatsPerUser: integrity.mostSeatsPerUser,
        },
      };
    },
    stop,
  };
}

/** The Auto Scaling group's side of the history: activities, instances, refusals, health replacements. */
function groupHistory(
  world: Pick<StartedTopology, 'asg' | 'instances'>,
  clock: Pick<ScaledClock, 'toSim'>,
): Omit<WorldHistory, 'alarmHistory' | 'integrity'> {
  const { asg } = world;
  const exitedAtMs = (id: string) => {
    const wallMs = world.instances.get(id)?.exitedAtWallMs;
    return wallMs === undefined ? undefined : clock.toSim(wallMs);
  };
  return {
    scalingActivities: asg.activities.map((a) => ({
      startMs: a.startMs,
      endMs: a.endMs,
      status: a.status,
      description: a.description,
      cause: a.cause,
    })),
    instances: [...asg.instances.values()].map((i) => ({
      id: i.id,
      az: i.az,
      launchedAtMs: i.launchedAtMs,
      inServiceAtMs: i.inServiceAtMs,
      terminatingAtMs: i.terminatingAtMs,
      terminatedAtMs: i.terminatedAtMs,
      processExitedAtMs: exitedAtMs(i.id),
    })),
    policyRefusals: asg.refusals.map((r) => ({ ...r })),
    // Recorded only when the launcher could say whether each process was alive.
    ...(asg.healthReplacements.every((r) => r.processAlive !== undefined)
      ? { healthReplacements: asg.healthReplacements.map((r) => ({ ...r }) as HealthReplacementRecord) }
      : {}),
  };
}
