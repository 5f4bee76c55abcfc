/**
 * The aws world: a rehearsal against a deployed stack. Load goes to the stack's ALB; observations
 * come from AWS APIs (`AwsObserver`); faults go through the APIs AWS has for them (`AwsFaults`);
 * the event, the users and sales go through the app's HTTP API (`http-drop.ts`). The clock is the
 * wall clock: alarms, cooldowns, boots and health checks run at AWS's own pace.
 *
 * Not evaluable here: the integrity checks (they count confirmed sales in Aurora, which only the
 * stack's instances reach).
 */

import { designAlarmName } from '../../../infra/cdk/stack-outputs.ts';
import { FaultError, type InjectedFault } from '../../faults/inject.ts';
import type { Expectation, FaultAction } from '../../scenario/schema.ts';
import type { AwsStackOutputs } from '../cdk-cli.ts';
import {
  type StartedWorld,
  type World,
  type WorldSample,
  type WorldSetup,
  WorldSetupError,
} from '../world.ts';
import { type AwsFaultClients, AwsFaults } from './faults.ts';
import { deployedSeats, type Fetch, findDeployedEvent, UserRegistrar } from './http-drop.ts';
import { type AwsClients, AwsObserver } from './observe.ts';

export type AwsWorldClients = AwsClients & AwsFaultClients;

export interface AwsWorldOptions {
  stackName: string;
  outputs: AwsStackOutputs;
  /** The event the stack's alarms watch (`watchedEventIdFrom`). */
  eventId: string;
  clients: AwsWorldClients;
  /** Where users send traffic. @default `http://<AlbDnsName>` (the ALB's HTTP listener) */
  baseUrl?: string;
  fetch?: Fetch;
  /** Wall clock. @default Date.now */
  now?: () => number;
  /** Distinguishes this run's users. @default from the time */
  runTag?: string;
  /** Called once the world stops (closes the SDK clients). */
  onStop?: () => void;
}

const INTEGRITY_REASON =
  "it counts confirmed sales in Aurora, which sits in the stack's private subnets where only its instances reach, and the app has no HTTP route that reports them (GET /api/reservations/:id answers only a reservation's owner, and the load generator keeps no owners)";

/** Expectations a deployed stack cannot check from here. */
export const AWS_NOT_EVALUABLE: Partial<Record<Expectation['expect'], string>> = {
  'no-seat-sold-twice': INTEGRITY_REASON,
  'no-confirmed-reservation-lost': INTEGRITY_REASON,
  'max-seats-per-user': INTEGRITY_REASON,
};

/** Faults with no AWS API; `AwsFaults` says what would inject each. */
const NO_API: ReadonlySet<FaultAction['fault']> = new Set(['kill-az', 'latency', 'partition']);

export function awsWorld(options: AwsWorldOptions): World {
  return {
    name: 'aws',
    fixedTimeScale: 1,
    // The stack is running already: no warm-up before the drop.
    warmUpMs: 0,
    notEvaluable: AWS_NOT_EVALUABLE,
    start: (setup) => startAwsWorld(options, setup),
  };
}

function emptySample(): WorldSample {
  return {
    queueSize: -1,
    activeUsers: -1,
    instances: { pending: 0, inService: 0, terminating: 0 },
    targets: { initial: 0, healthy: 0, unhealthy: 0, draining: 0 },
    alarms: {},
    connectionsPerInstance: {},
  };
}

async function startAwsWorld(options: AwsWorldOptions, setup: WorldSetup): Promise<StartedWorld> {
  const { scenario, topology, clock, log } = setup;
  const now = options.now ?? Date.now;
  const baseUrl = options.baseUrl ?? `http://${options.outputs.AlbDnsName}`;
  const fetchImpl = options.fetch ?? fetch;
  const eventId = options.eventId;
  const observer = new AwsObserver({
    clients: options.clients,
    outputs: options.outputs,
    topology,
    eventId,
    now,
  });
  // Fault records speak the run's simulated time, like every other record.
  const faults = new AwsFaults({
    clients: options.clients,
    outputs: options.outputs,
    topology,
    now: () => clock.now(),
  });
  let registrar: UserRegistrar | undefined;
  const stop = async () => {
    registrar?.stop();
    options.onStop?.();
  };

  try {
    for (const fault of scenario.faults)
      if (NO_API.has(fault.fault))
        log(
          `[world] ${fault.fault} at ${fault.at}: not available in the aws world (no AWS API); it will be recorded as not injected`,
        );
    if (scenario.topology)
      log(
        `[world] the scenario changes the design (${Object.keys(scenario.topology).join(', ')}): not applied in the aws world, which rehearses stack ${options.stackName} as deployed`,
      );
    // One look at everything before the drop: a missing permission shows up now, not mid-run.
    const first = await observer.sample().catch((err: Error) => {
      throw new WorldSetupError(
        `observing stack ${options.stackName} failed (${err.name}: ${err.message}). The credentials need cloudwatch:DescribeAlarms, GetMetricData and DescribeAlarmHistory, autoscaling:DescribeAutoScalingGroups and DescribeScalingActivities, elasticloadbalancing:DescribeTargetHealth.`,
        { cause: err },
      );
    });
    log(
      `[world] aws: stack ${options.stackName}, ${baseUrl}: ${first.instances.inService} instances InService, ${first.targets.healthy} targets healthy; alarms ${Object.entries(
        first.alarms,
      )
        .map(([name, state]) => `${name} ${state}`)
        .join(', ')}`,
    );
    for (const [name, state] of Object.entries(first.alarms))
      if (state === 'ALARM')
        log(
          `[world] ${name} is in ALARM before the drop: an expectation that it enters ALARM needs a new transition`,
        );
  } catch (err) {
    await stop();
    throw err;
  }

  const startedAtWallMs = now();
  let last: WorldSample | undefined;
  let sampleErrors = 0;

  return {
    clientUrl: baseUrl,
    clientUrls: [baseUrl],
    eventId,
    async prepare(drop) {
      const event = await findDeployedEvent(baseUrl, eventId, drop.seats, fetchImpl);
      const seats = await deployedSeats(baseUrl, eventId, fetchImpl);
      if (seats.all.length !== drop.seats)
        log(
          `[world] event ${eventId} has ${seats.all.length} seats on the stack; the scenario asks for ${drop.seats}: the stack's count holds`,
        );
      if (seats.available.length < seats.all.length)
        log(
          `[world] ${seats.all.length - seats.available.length} of ${seats.all.length} seats of ${eventId} are sold or held (earlier runs): users pick among the ${seats.available.length} left`,
        );
      if (seats.available.length === 0)
        throw new WorldSetupError(
          `every seat of event ${eventId} is sold or held (earlier rehearsals): seed the event again under a new id and deploy with -c watchedEventId=<it>`,
        );
      if (scenario.event.salesOpenAt && scenario.event.salesOpenAt !== scenario.startAt)
        log(
          `[world] sales of ${eventId} have been open since ${event.salesOpenAt}: the scenario's salesOpenAt ${scenario.event.salesOpenAt} cannot be applied over HTTP, so admission starts as soon as users join`,
        );
      registrar = new UserRegistrar({
        baseUrl,
        arrivalsSimMs: drop.arrivalsSimMs,
        now: () => clock.now(),
        // Half a session lifetime: a user registered this early still has half an hour (design) left on arrival.
        leadMs: (topology.queue.sessionTtlSeconds * 1_000) / 2,
        runTag: options.runTag ?? now().toString(36),
        log,
        fetch: fetchImpl,
      });
      const due = registrar.dueCount();
      log(
        `[world] registering ${due} of ${drop.users} users over HTTP before the drop (the rest shortly before each arrives)…`,
      );
      await registrar.registerDue();
      if (due > 0 && registrar.failed === due)
        throw new WorldSetupError(`no user could be registered on the stack: ${registrar.lastError}`);
      if (registrar.failed > 0)
        log(
          `[world] ${registrar.failed} users could not be registered (${registrar.lastError}): they never arrive`,
        );
      return { seatIds: seats.available, users: registrar };
    },
    clockResumed() {
      registrar?.start();
    },
    // Sales are open already (prepare checked): there is no HTTP route to open them.
    openSales: async () => true,
    async sample() {
      try {
        const s = await observer.sample();
        last = {
          queueSize: s.queueSize,
          activeUsers: s.activeUsers,
          instances: s.instances,
          targets: s.targets,
          // Scenarios name the design's alarms; the stack prefixes them with its name.
          alarms: Object.fromEntries(
            Object.entries(s.alarms).map(([name, state]) => [
              designAlarmName(options.stackName, name),
              state,
            ]),
          ),
          // AWS reports connections per load balancer, not per target.
          connectionsPerInstance: {},
        };
      } catch (err) {
        // A throttled or failed call must not end a drop: the minute repeats the last observation.
        if (sampleErrors++ < 5)
          log(`[world] observing AWS failed, the sample repeats the last one: ${(err as Error).message}`);
      }
      return last ? structuredClone(last) : emptySample();
    },
    async injectFault(fault): Promise<InjectedFault> {
      try {
        const record = await faults.inject(fault);
        return { record, settled: Promise.resolve(), stop: async () => {} };
      } catch (err) {
        if (err instanceof FaultError) throw new FaultError(`not available in the aws world: ${err.message}`);
        throw err;
      }
    },
    setTimeScale: async () => {},
    async finish({ toSim }) {
      registrar?.stop();
      if (registrar && registrar.registered < registrar.ready)
        log(`[world] ${registrar.ready - registrar.registered} users were never registered`);
      const history = await observer.history(startedAtWallMs, now());
      return {
        alarmHistory: history.alarmHistory.map((t) => ({
          ...t,
          alarm: designAlarmName(options.stackName, t.alarm),
          atMs: toSim(t.atMs),
        })),
        scalingActivities: history.scalingActivities.map((a) => ({
          ...a,
          startMs: toSim(a.startMs),
          ...(a.endMs !== undefined ? { endMs: toSim(a.endMs) } : {}),
        })),
        instances: observer.instances().map((i) => ({
          id: i.id,
          az: i.az,
          launchedAtMs: toSim(i.launchedAtMs),
          ...(i.inServiceAtMs !== undefined ? { inServiceAtMs: toSim(i.inServiceAtMs) } : {}),
          ...(i.terminatingAtMs !== undefined ? { terminatingAtMs: toSim(i.terminatingAtMs) } : {}),
          ...(i.terminatedAtMs !== undefined ? { terminatedAtMs: toSim(i.terminatedAtMs) } : {}),
        })),
      };
    },
    stop,
  };
}
