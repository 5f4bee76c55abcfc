/**
 * From a scenario to what an engine can run: every problem an engine cannot express, listed at
 * once with its key path and the fix; then the plan both scripts read.
 */
import { designTopology, mergeTopology } from '../../infra/topology.ts';
import { clockTimeToSeconds, type Scenario } from '../scenario/schema.ts';
import { arrivalPoints, type WallCurve } from './curve.ts';
import { type ExportPlan, JOURNEY_ENDPOINTS, type JourneyEndpoint, type LatencyThreshold } from './plan.ts';

export const EXPORT_FORMATS = ['k6', 'artillery'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  format: ExportFormat;
  /** Base URL users go to (the edge / CloudFront or the ALB). */
  target: string;
  users: number;
  /** The event users queue for. @default 'demo' (what `tiketi-sim up` seeds) */
  eventId: string;
  /** Simulated seconds per wall second. @default 1 (the drop in real time) */
  timeScale: number;
  /** Leave the scenario's faults to the world (`tiketi-sim chaos`, AWS FIS) instead of refusing them. */
  withoutFaults: boolean;
  /** Wall ms before the drop over which users sign up and in (JourneyPlan.signInLeadMs). @default 0 */
  signInLeadMs?: number;
}

/** An export that cannot be written: every problem, each naming the field and the fix. */
export class ExportError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source}: cannot export\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ExportError';
  }
}

/** What `format` cannot express of `scenario`; empty when it exports. */
export function exportProblems(scenario: Scenario, options: ExportOptions): string[] {
  const problems: string[] = [];
  const engine = options.format;
  if (!options.withoutFaults) {
    scenario.faults.forEach((f, i) => {
      problems.push(
        `faults[${i}] (${f.fault} at ${f.at}): a load engine sends users, it cannot inject failures; pass --without-faults and inject it yourself at ${f.at} (tiketi-sim chaos ${f.fault}, or AWS FIS on a deployed stack)`,
      );
    });
  }
  const first = scenario.arrivals[0]!;
  if (first.joined > 0)
    problems.push(
      `arrivals[0].joined: ${first.joined} users at one instant (${first.at}) is no arrival rate ${engine} can run; start the curve at 0 users a little earlier`,
    );
  const leadProblem = signInLeadProblem(scenario, options);
  if (leadProblem) problems.push(leadProblem);
  const { behaviour } = scenario;
  if (!behaviour.socket && engine === 'artillery')
    problems.push(
      'behaviour.socket: false (users poll for admission) is not expressible with the Artillery Socket.IO engine, whose flow waits on a socket; set it to true or export --format k6',
    );
  if (behaviour.socket && behaviour.pollQueueEverySeconds > 0)
    problems.push(
      `behaviour.pollQueueEverySeconds: ${behaviour.pollQueueEverySeconds} (polling while holding a socket) is not in the exported journey; set it to 0, or behaviour.socket to false (k6 only)`,
    );
  const called = new Set<string>(journeyEndpoints(scenario));
  scenario.expectations.forEach((e, i) => {
    if (e.expect === 'latency' && e.endpoint !== 'all' && !called.has(e.endpoint))
      problems.push(
        `expectations[${i}].endpoint: "${e.endpoint}" is never called by the exported journey, so ${engine} could not measure it; use one of ${[...called].join(', ')} or all`,
      );
  });
  return problems;
}

/**
 * A user signed in ahead must arrive with half its session left, as the deployed world's users
 * registered ahead do (harness/worlds/aws/http-drop.ts): the lead is at most half a session.
 */
function signInLeadProblem(scenario: Scenario, options: ExportOptions): string | undefined {
  const leadSeconds = (options.signInLeadMs ?? 0) / 1_000;
  const ttlSeconds = mergeTopology(designTopology, scenario.topology).queue.sessionTtlSeconds;
  const mostSeconds = ttlSeconds / 2 / options.timeScale;
  if (leadSeconds <= mostSeconds) return undefined;
  return `--sign-in-lead ${leadSeconds}: the first users would reach the queue with less than half of their session left (sessions last ${ttlSeconds} s of the scenario's time, ${options.timeScale}× here); use at most ${Math.floor(mostSeconds)}`;
}

function journeyEndpoints(scenario: Scenario): JourneyEndpoint[] {
  const polls = !scenario.behaviour.socket;
  return JOURNEY_ENDPOINTS.filter((e) => polls || e !== 'GET /api/events/:eventId/queue/me');
}

export function buildPlan(scenario: Scenario, curve: WallCurve, options: ExportOptions): ExportPlan {
  const wallMs = (simSeconds: number) => Math.round((simSeconds * 1_000) / options.timeScale);
  const b = scenario.behaviour;
  const latency: LatencyThreshold[] = [];
  const socketDelivery: ExportPlan['thresholds']['socketDelivery'] = [];
  let errorRateBelow: number | undefined;
  for (const e of scenario.expectations) {
    if (e.expect === 'latency')
      latency.push({
        endpoint: e.endpoint as LatencyThreshold['endpoint'],
        percentile: e.percentile,
        belowMs: e.belowMs,
      });
    else if (e.expect === 'socket-delivery')
      socketDelivery.push({ percentile: e.percentile, belowMs: e.belowMs });
    else if (e.expect === 'error-rate') errorRateBelow = Math.min(errorRateBelow ?? 1, e.below);
  }
  return {
    scenario: scenario.name,
    users: curve.users,
    journey: {
      eventId: options.eventId,
      socket: b.socket,
      pollEveryMs: wallMs(b.pollQueueEverySeconds || 10),
      buyShare: b.buyShare,
      seatsPerOrder: b.seatsPerOrder,
      thinkMinMs: wallMs(b.thinkTime.minSeconds),
      thinkMaxMs: wallMs(b.thinkTime.maxSeconds),
      runMs: wallMs(clockTimeToSeconds(scenario.endAt) - clockTimeToSeconds(scenario.startAt)),
      firstArrivalMs: curve.idleBeforeMs,
      stayConnectedAfterPurchase: b.stayConnectedAfterPurchase,
      signInLeadMs: options.signInLeadMs ?? 0,
      arrivals: arrivalPoints(curve),
    },
    thresholds: { latency, socketDelivery, ...(errorRateBelow === undefined ? {} : { errorRateBelow }) },
  };
}
