/**
 * One look at the emulated topology, as a rehearsal's per-minute sample sees it: the queue (from
 * Redis), the group's instances and desired capacity, the ALB's targets and connections, the
 * alarms, and the Socket.IO connections each instance holds. `run` (the local world) and `up` (its
 * live page) sample with this same code.
 */
import type { Redis } from 'ioredis';
import { keys } from '../../../app/core/keys.ts';
import { type AlarmState, countLifecycles, countTargetHealth } from '../../model/aws.ts';
import type { StartedTopology } from '../../topology/local-topology.ts';
import type { WorldSample } from '../world.ts';

/**
 * Wall ms a sample waits for the instances' socket counts: a busy or partitioned instance must
 * not stall the drop's loop. One that does not answer in time is left out, never counted as 0.
 */
const SOCKET_COUNT_WAIT_MS = 1_000;

export interface TopologySampleSource {
  topology: Pick<StartedTopology, 'asg' | 'alb' | 'cloudwatch' | 'instances' | 'controlToken'>;
  /** The harness's own Redis connection (queue figures). */
  redis: Pick<Redis, 'zcard' | 'scard'>;
  eventId: string;
  /** Alarm states from elsewhere (the hybrid world's LocalStack). @default the emulated CloudWatch */
  alarms?: () => Promise<Record<string, AlarmState>>;
}

export async function sampleTopology(source: TopologySampleSource): Promise<WorldSample> {
  const { topology, redis, eventId } = source;
  const sockets = socketsPerInstance(topology);
  const lifecycle = lifecycleNow(topology);
  return {
    queueSize: await redis.zcard(keys.queue(eventId)).catch(() => -1),
    activeUsers: await redis.scard(keys.active(eventId)).catch(() => -1),
    instances: lifecycle.instances,
    desiredCapacity: topology.asg.desiredCapacity,
    targets: lifecycle.targets,
    alarms: source.alarms
      ? await source.alarms()
      : Object.fromEntries(topology.cloudwatch.describe().map((a) => [a.name, a.state])),
    connectionsPerInstance: topology.alb.connectionsPerTarget(),
    socketsPerInstance: await sockets,
  };
}

/** The group's instances and the ALB's targets by state, as they are now. */
export function lifecycleNow(
  topology: Pick<StartedTopology, 'asg' | 'alb'>,
): Pick<WorldSample, 'instances' | 'targets'> {
  return {
    instances: countLifecycles(topology.asg.live()),
    targets: countTargetHealth(topology.alb.targetHealth()),
  };
}

/** Socket.IO connections per running instance, as each one's `/health` reports them. */
async function socketsPerInstance(
  topology: Pick<StartedTopology, 'asg' | 'instances' | 'controlToken'>,
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const running = topology.asg
    .live()
    .filter((i) => i.lifecycle === 'InService' || i.lifecycle === 'Terminating')
    .flatMap((i) => {
      const instance = topology.instances.get(i.id);
      return instance?.process.running ? [instance] : [];
    });
  const signal = AbortSignal.timeout(SOCKET_COUNT_WAIT_MS);
  await Promise.allSettled(
    running.map(async (instance) => {
      // The public /health says only the status; the details are the control plane's.
      const res = await fetch(`${instance.url}/health/details`, {
        signal,
        headers: { 'x-control-token': topology.controlToken },
      });
      const body = (await res.json()) as { sockets?: unknown };
      if (typeof body.sockets === 'number') out[instance.id] = body.sockets;
    }),
  );
  return out;
}
