/**
 * Why clients dropped. Each drop a virtual user saw (the instance its socket was on, Socket.IO's
 * reason, when) is joined with what the harness knew of that instance at that moment — its process
 * had exited, it was deregistered and draining (and what took it out of service), or it was still
 * in service — and counted per instance, reason and cause.
 */
import type { FaultAction } from '../scenario/schema.ts';
import type {
  DisconnectCause,
  DisconnectGroup,
  DrainTrigger,
  ReconnectRecord,
  RunRecord,
} from './run-record.ts';

/** What the inference reads of a run: the instances' lives, the group's activities, the faults. */
export type DisconnectContext = Pick<RunRecord, 'instances' | 'scalingActivities' | 'faults'> &
  Partial<Pick<RunRecord, 'healthReplacements'>>;

export interface InferredCause {
  cause: DisconnectCause;
  /** When the cause began: the process exit (or the kill that caused it), the deregistration. */
  atMs?: number;
  trigger?: DrainTrigger;
  fault?: string;
  /** In words: `process exited at 20:15:02, killed by kill-instance`. */
  detail: string;
}

/**
 * A client's drop and the harness's sight of its cause are seen by different processes (a load
 * worker, the runner) on one timeline: this close, simulated, they are one moment.
 */
export const SAME_MOMENT_MS = 2_000;

/** Faults that end instances' processes. */
const KILLS: readonly FaultAction['fault'][] = ['kill-instance', 'kill-az'];

const hhmmss = (ms: number) => new Date(ms).toISOString().slice(11, 19);
const near = (a: number, b: number) => Math.abs(a - b) <= SAME_MOMENT_MS;

/** Whether a fault's detail names the instance (`app-3 (AZ a)`, `AZ a: 2 instance(s): app-1, app-3; …`). */
function names(detail: string, instanceId: string): boolean {
  return detail.split(/[\s(),:;]+/).includes(instanceId);
}

/** What took an instance out of service at `leftAtMs`: its health replacement, else the group's activity. */
function drainTrigger(
  run: DisconnectContext,
  instanceId: string,
  leftAtMs: number,
): { trigger: DrainTrigger; why: string } {
  const replacement = {
    trigger: 'health-check-replacement',
    why: 'replaced after failing ELB health checks',
  } as const;
  if (run.healthReplacements?.some((r) => r.instanceId === instanceId && near(r.atMs, leftAtMs)))
    return replacement;
  const terminating = run.scalingActivities.filter(
    (a) => a.description.startsWith('Terminating') && near(a.startMs, leftAtMs),
  );
  // Its own activity (`Terminating EC2 instance: app-3`), else the one that terminated some (a policy's).
  const activity =
    terminating.find((a) => a.description.endsWith(`: ${instanceId}`)) ??
    terminating.find((a) => !/: \S+$/.test(a.description));
  const cause = activity?.cause ?? '';
  const policy = /triggered policy (\S+)/.exec(cause)?.[1];
  if (policy) return { trigger: 'scale-in', why: `scale-in (${policy})` };
  if (/health check/i.test(cause)) return replacement;
  if (/user request/i.test(cause)) return { trigger: 'terminate-request', why: 'a terminate request' };
  if (/difference between desired and actual capacity/.test(cause))
    return { trigger: 'capacity', why: 'the group trimmed capacity above desired' };
  return { trigger: 'unknown', why: 'no recorded activity says why' };
}

/** What the harness knew of `instanceId` when a client dropped from it at `atMs`. */
export function inferCause(
  run: DisconnectContext,
  instanceId: string | undefined,
  atMs: number,
): InferredCause {
  if (instanceId === undefined)
    return {
      cause: 'instance-unknown',
      detail: 'the client had not learned its instance (no session:state on that connection)',
    };
  const instance = run.instances.find((i) => i.id === instanceId);
  if (!instance)
    return { cause: 'instance-unknown', detail: `${instanceId} is not among the run's instances` };
  const kill = run.faults.find(
    (f) =>
      KILLS.includes(f.fault as FaultAction['fault']) &&
      f.atMs <= atMs + SAME_MOMENT_MS &&
      names(f.detail, instanceId),
  );
  // Its process went at the kill (the exit follows at once), else when the world saw it exit.
  const endedAtMs = kill?.atMs ?? instance.processExitedAtMs;
  const leftAtMs = instance.terminatingAtMs;
  // Deregistered while its process still ran: the drain closed the connection (the process exits after it).
  if (
    leftAtMs !== undefined &&
    leftAtMs <= atMs + SAME_MOMENT_MS &&
    (endedAtMs === undefined || leftAtMs <= endedAtMs)
  ) {
    const { trigger, why } = drainTrigger(run, instanceId, leftAtMs);
    return {
      cause: 'drained',
      atMs: leftAtMs,
      trigger,
      detail: `deregistered at ${hhmmss(leftAtMs)} and drained: ${why}`,
    };
  }
  if (endedAtMs !== undefined && endedAtMs <= atMs + SAME_MOMENT_MS) {
    const exitedAtMs = instance.processExitedAtMs ?? endedAtMs;
    const fault = kill
      ? kill.fault === 'kill-az'
        ? `AZ ${instance.az} down (kill-az)`
        : `killed by ${kill.fault}`
      : undefined;
    return {
      cause: 'process-exited',
      atMs: exitedAtMs,
      ...(kill ? { fault: kill.fault } : {}),
      detail: `process exited at ${hhmmss(exitedAtMs)}${fault ? `, ${fault}` : ''}`,
    };
  }
  const target = targetHealthAt(run, instanceId, atMs);
  if (target && target.to !== 'healthy')
    return {
      cause: 'in-service',
      detail: `InService, not draining, no process exit seen; its target ${target.to} in the ALB since ${hhmmss(target.atMs)}${target.reason ? ` (${target.reason})` : ''}`,
    };
  return {
    cause: 'in-service',
    detail: "InService, not draining, no process exit seen: Socket.IO's reason is all the harness knows",
  };
}

/** The last health change of `instanceId`'s target at `atMs`, as the faults' windows recorded it. */
function targetHealthAt(run: DisconnectContext, instanceId: string, atMs: number) {
  return run.faults
    .flatMap((f) => f.targetHealth ?? [])
    .filter((t) => t.target === instanceId && t.atMs <= atMs + SAME_MOMENT_MS)
    .sort((a, b) => a.atMs - b.atMs)
    .at(-1);
}

/** The drops of `reconnects` per instance, reason and cause, in the order they began. */
export function disconnectBreakdown(
  reconnects: readonly ReconnectRecord[],
  run: DisconnectContext,
): DisconnectGroup[] {
  const groups = new Map<string, { group: DisconnectGroup; minutes: Map<number, number> }>();
  for (const r of reconnects) {
    const inferred = inferCause(run, r.instanceId, r.disconnectedAtMs);
    const key = [r.instanceId, r.reason, inferred.cause, inferred.atMs].join('|');
    let entry = groups.get(key);
    if (!entry) {
      entry = {
        group: {
          ...(r.instanceId === undefined ? {} : { instanceId: r.instanceId }),
          reason: r.reason,
          cause: inferred.cause,
          ...(inferred.atMs === undefined ? {} : { causeAtMs: inferred.atMs }),
          ...(inferred.trigger ? { trigger: inferred.trigger } : {}),
          ...(inferred.fault ? { fault: inferred.fault } : {}),
          causeDetail: inferred.detail,
          count: 0,
          back: 0,
          firstAtMs: r.disconnectedAtMs,
          lastAtMs: r.disconnectedAtMs,
          perMinute: [],
        },
        minutes: new Map(),
      };
      groups.set(key, entry);
    }
    const { group, minutes } = entry;
    group.count++;
    if (r.reconnectedAtMs !== undefined) group.back++;
    group.firstAtMs = Math.min(group.firstAtMs, r.disconnectedAtMs);
    group.lastAtMs = Math.max(group.lastAtMs, r.disconnectedAtMs);
    const minute = r.disconnectedAtMs - (r.disconnectedAtMs % 60_000);
    minutes.set(minute, (minutes.get(minute) ?? 0) + 1);
  }
  return (
    [...groups.values()]
      .map(({ group, minutes }) => ({
        ...group,
        perMinute: [...minutes].sort(([a], [b]) => a - b).map(([atMs, count]) => ({ atMs, count })),
      }))
      // At one moment, known instances first.
      .sort(
        (a, b) =>
          a.firstAtMs - b.firstAtMs ||
          Number(a.instanceId === undefined) - Number(b.instanceId === undefined) ||
          (a.instanceId ?? '').localeCompare(b.instanceId ?? ''),
      )
  );
}
