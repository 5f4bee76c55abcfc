/**
 * `--format artillery`: the arrival curve as phases (`arrivalCount`: evenly spaced, exact), the
 * journey as a `socketio-v3` flow, the expectations as `ensure` checks on tiketi-sim's own metric
 * names, and the processor (harness/export/artillery/processor.ts) bundled with the plan.
 */
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import type { WallCurve } from './curve.ts';
import {
  type ExportPlan,
  type JourneyEndpoint,
  ENGINE_METRICS as M,
  SIGN_IN_ENDPOINT,
  SIGN_UP_ENDPOINT,
} from './plan.ts';

const PROCESSOR_ENTRY = fileURLToPath(new URL('./artillery/processor.ts', import.meta.url));

export type ArtilleryPhase = { pause: number } | { name: string; duration: number; arrivalCount: number };

/** The phase in which users sign up and in ahead of the drop: they join the queue at their places on the curve. */
export const SIGN_IN_PHASE = 'sign-up and sign-in before the drop';

/**
 * The arrival curve, a phase per segment; or, with a sign-in lead, one phase of sign-ins spread
 * over the lead (the processor then holds each user until its place on the curve).
 */
export function artilleryPhases(curve: WallCurve, signInLeadMs = 0): ArtilleryPhase[] {
  if (signInLeadMs > 0)
    return [{ name: SIGN_IN_PHASE, duration: signInLeadMs / 1_000, arrivalCount: curve.users }];
  const phases: ArtilleryPhase[] = [];
  if (curve.idleBeforeMs > 0) phases.push({ pause: curve.idleBeforeMs / 1_000 });
  for (const s of curve.segments) {
    if (s.arrivals === 0) phases.push({ pause: s.durationMs / 1_000 });
    else phases.push({ name: `${s.from}–${s.to}`, duration: s.durationMs / 1_000, arrivalCount: s.arrivals });
  }
  return phases;
}

export function artilleryEnsure(plan: ExportPlan): {
  thresholds: Record<string, number>[];
  conditions: { expression: string }[];
} {
  const metric = (endpoint: JourneyEndpoint | 'all') =>
    endpoint === 'all' ? M.artilleryJourneyLatency : `${M.artilleryEndpointLatencyPrefix}${endpoint}`;
  const thresholds = [
    ...plan.thresholds.latency.map((t) => ({ [`${metric(t.endpoint)}.p${t.percentile}`]: t.belowMs })),
    ...plan.thresholds.socketDelivery.map((t) => ({
      [`${M.artillerySocketDelivery}.p${t.percentile}`]: t.belowMs,
    })),
  ];
  const conditions =
    plan.thresholds.errorRateBelow === undefined
      ? []
      : [
          {
            // A user whose flow failed (no response, not admitted) counts as at least one failed request.
            expression: `(${M.artilleryErrors} + vusers.created - vusers.completed) / ${M.artilleryRequests} < ${plan.thresholds.errorRateBelow}`,
          },
        ];
  return { thresholds, conditions };
}

/** The flow of one user; requests are named as tiketi-sim names its endpoints. */
function flow(plan: ExportPlan): object[] {
  const auth = { authorization: 'Bearer {{ token }}' };
  const holds = Array.from({ length: plan.journey.seatsPerOrder * 4 }, () => ({
    post: {
      url: '/api/events/{{ eventId }}/seats/{{ seatId }}/hold',
      name: 'POST /api/events/:eventId/seats/:seatId/hold' satisfies JourneyEndpoint,
      headers: auth,
      ifTrue: 'wantsSeat',
      afterResponse: 'noteHold',
    },
  }));
  return [
    { function: 'signUp' },
    {
      post: {
        url: '/api/auth/register',
        name: SIGN_UP_ENDPOINT,
        json: { email: '{{ email }}', name: '{{ name }}', password: '{{ password }}' },
        afterResponse: 'recordResponse',
      },
    },
    {
      post: {
        url: '/api/auth/login',
        name: SIGN_IN_ENDPOINT,
        json: { email: '{{ email }}', password: '{{ password }}' },
        capture: { json: '$.token', as: 'token' },
        afterResponse: 'recordResponse',
      },
    },
    { function: 'awaitArrival' },
    {
      post: {
        url: '/api/events/{{ eventId }}/queue',
        name: 'POST /api/events/:eventId/queue' satisfies JourneyEndpoint,
        headers: auth,
        afterResponse: 'recordResponse',
      },
    },
    { function: 'socketCookie' },
    {
      connect: {
        auth: { token: '{{ token }}', eventId: '{{ eventId }}' },
        extraHeaders: { cookie: '{{ albCookie }}' },
      },
    },
    { function: 'waitForAdmission' },
    { function: 'decideToBuy' },
    {
      get: {
        url: '/api/events/{{ eventId }}/seats',
        name: 'GET /api/events/:eventId/seats' satisfies JourneyEndpoint,
        headers: auth,
        ifTrue: 'isBuyer',
        afterResponse: ['noteSeatMap', 'recordResponse'],
      },
    },
    ...holds,
    { function: 'buyerThinks' },
    {
      post: {
        url: '/api/reservations',
        name: 'POST /api/reservations' satisfies JourneyEndpoint,
        headers: auth,
        ifTrue: 'holdsSeats',
        beforeRequest: 'reservationBody',
        capture: { json: '$.reservationId', as: 'reservationId' },
        afterResponse: 'recordResponse',
      },
    },
    { function: 'buyerThinks' },
    {
      post: {
        url: '/api/reservations/{{ reservationId }}/payments',
        name: 'POST /api/reservations/:id/payments' satisfies JourneyEndpoint,
        headers: auth,
        json: { method: 'card' },
        ifTrue: 'hasReservation',
        afterResponse: 'notePayment',
      },
    },
    { function: 'leave' },
  ];
}

export function artilleryScript(
  curve: WallCurve,
  plan: ExportPlan,
  target: string,
  processorFile: string,
): object {
  return {
    config: {
      target,
      phases: artilleryPhases(curve, plan.journey.signInLeadMs),
      processor: `./${processorFile}`,
      engines: { 'socketio-v3': { transports: ['websocket'] } },
      // A browser waits longer than Artillery's 10 s default: a burst of sign-ins queues behind
      // the app's password hashing (scrypt at OWASP's minimum, two at a time per instance), and a
      // user who gave up at 10 s would count as an error the design did not make. k6's default.
      http: { timeout: 60 },
      ensure: artilleryEnsure(plan),
      // Artillery loads the ensure plugin only when it is listed.
      plugins: { ensure: {} },
    },
    scenarios: [{ name: plan.scenario, engine: 'socketio-v3', flow: flow(plan) }],
  };
}

/** YAML is a superset of JSON: the script is JSON under a comment, readable by any YAML parser. */
export function artilleryYaml(script: object, plan: ExportPlan): string {
  return `# tiketi-sim export --format artillery: scenario ${plan.scenario}, ${plan.users} users.\n# Run: artillery run --target <url> --output report.json <this file>\n${JSON.stringify(script, null, 2)}\n`;
}

export async function bundleArtilleryProcessor(plan: ExportPlan): Promise<string> {
  const inlinePlan: Plugin = {
    name: 'tiketi-artillery-plan',
    setup(b) {
      b.onResolve({ filter: /\/artillery-plan\.ts$/ }, (args) => ({
        path: args.path,
        namespace: 'artillery-plan',
      }));
      b.onLoad({ filter: /.*/, namespace: 'artillery-plan' }, () => ({
        contents: `export const ARTILLERY_PLAN = ${JSON.stringify(plan, null, 2)};\n`,
        loader: 'js',
      }));
    },
  };
  const result = await build({
    entryPoints: [PROCESSOR_ENTRY],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    plugins: [inlinePlan],
    legalComments: 'none',
    banner: { js: `// tiketi-sim export --format artillery: the processor of scenario ${plan.scenario}.` },
  });
  return result.outputFiles[0]!.text;
}
