/**
 * Where the ALB sends a new request, as pure rules (tested in-process in routing.test.ts): which
 * targets take new traffic, sticky or round robin, and which targets left the table.
 */
import type { TargetState } from './protocol.ts';

/**
 * The targets that take new traffic: the healthy ones; when none is healthy, AWS fails open and
 * routes to every unhealthy one. Initial, draining and unused targets never take new traffic
 * (a draining target keeps only the connections it has).
 */
export function routableTargets<T>(targets: readonly T[], stateOf: (target: T) => TargetState): T[] {
  const healthy = targets.filter((t) => stateOf(t) === 'healthy');
  return healthy.length > 0 ? healthy : targets.filter((t) => stateOf(t) === 'unhealthy');
}

export interface TargetChoice<T> {
  target: T;
  /** A new AWSALB cookie goes with the response: the client had none for a routable target. */
  setCookie: boolean;
}

/**
 * The sticky target while it is routable; else the `turn`-th routable one (round robin), with a
 * new cookie. Undefined when nothing is routable: the ALB answers 503. The caller advances `turn`
 * after a choice with `setCookie`.
 */
export function chooseTarget<T>(
  routable: readonly T[],
  sticky: T | undefined,
  turn: number,
): TargetChoice<T> | undefined {
  if (sticky !== undefined && routable.includes(sticky)) return { target: sticky, setCookie: false };
  if (routable.length === 0) return undefined;
  return { target: routable[turn % routable.length]!, setCookie: true };
}

/** Ids in the table now that the new table leaves out: their connections close. */
export function departedTargets(current: Iterable<string>, next: readonly { id: string }[]): string[] {
  const kept = new Set(next.map((t) => t.id));
  return [...current].filter((id) => !kept.has(id));
}
