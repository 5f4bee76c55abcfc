/**
 * Ready means a client would be served: every registered target `healthy` in the ALB, and one
 * request through the edge and the ALB answered 200. `up` prints its endpoints, and a rehearsal
 * starts its clock, only after this.
 */
import type { TargetDescription } from '../alb/alb.ts';

/** How long the topology may take to serve once started, wall time. */
export const READY_TIMEOUT_MS = 30_000;
/** A path every app instance answers through the edge's `/api/*` behaviour, touching the database. */
export const READY_PROBE_PATH = '/api/events';
/** Waits between polls, as Playwright's web-server plugin backs off; the last one repeats. */
const BACKOFF_MS = [50, 100, 250, 500, 1_000];

export interface ReadinessProbe {
  targets(): TargetDescription[];
  /** How many targets should be registered (the group's starting capacity). */
  expectedTargets: number;
  edgeUrl: string;
  /** @default READY_TIMEOUT_MS */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export class NotReadyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotReadyError';
  }
}

/** Resolves once the topology serves; throws {@link NotReadyError} naming what was not ready by the deadline. */
export async function waitUntilServing(probe: ReadinessProbe): Promise<void> {
  const timeoutMs = probe.timeoutMs ?? READY_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  let lastAnswer = 'not tried: targets not healthy yet';
  for (let attempt = 0; ; attempt++) {
    probe.signal?.throwIfAborted();
    const targets = probe.targets();
    const waiting = targets.filter((t) => t.state !== 'healthy');
    if (targets.length >= probe.expectedTargets && waiting.length === 0) {
      lastAnswer = await probeEdge(probe.edgeUrl);
      if (lastAnswer === '200') return;
    }
    if (Date.now() >= deadline)
      throw new NotReadyError(notReadyMessage(probe, targets, lastAnswer, timeoutMs));
    const waitMs = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)]!;
    await new Promise((r) => setTimeout(r, Math.min(waitMs, Math.max(0, deadline - Date.now()))));
  }
}

/** `200`, another status, or why no answer came. */
async function probeEdge(edgeUrl: string): Promise<string> {
  try {
    const res = await fetch(`${edgeUrl}${READY_PROBE_PATH}`, { signal: AbortSignal.timeout(5_000) });
    await res.body?.cancel();
    return String(res.status);
  } catch (err) {
    return `no answer (${(err as Error).message})`;
  }
}

function notReadyMessage(
  probe: ReadinessProbe,
  targets: TargetDescription[],
  lastAnswer: string,
  timeoutMs: number,
): string {
  const problems: string[] = [];
  if (targets.length < probe.expectedTargets)
    problems.push(`${targets.length} of ${probe.expectedTargets} targets registered in the ALB`);
  for (const t of targets)
    if (t.state !== 'healthy')
      problems.push(`target ${t.id} is ${t.state}${t.reason ? ` (${t.reason})` : ''}`);
  problems.push(`GET ${probe.edgeUrl}${READY_PROBE_PATH} through the edge and the ALB: ${lastAnswer}`);
  return `the topology did not serve within ${timeoutMs / 1_000} s:\n  ${problems.join('\n  ')}`;
}
