/**
 * `--format k6`: the arrival curve as one `ramping-arrival-rate` scenario, the expectations as
 * thresholds, and the script (harness/export/k6/script.k6.ts, with the shared Socket.IO framing)
 * bundled into one file with esbuild, the plan inlined in place of k6-plan.ts.
 */
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import type { Options, Stage } from 'k6/options';
import { type CurveSegment, exactTimeUnitMs, type WallCurve } from './curve.ts';
import type { K6Plan } from './k6/k6-plan.ts';
import { type ExportPlan, JOURNEY_ENDPOINTS, ENGINE_METRICS as M } from './plan.ts';

const SCRIPT_ENTRY = fileURLToPath(new URL('./k6/script.k6.ts', import.meta.url));
/** Past a day, a whole-number timeUnit is not worth it: rates are rounded to the minute instead. */
const MAX_EXACT_UNIT_MS = 86_400_000;
/** VUs k6 allocates before the run; more are started as the queue grows, up to one per user. */
const PRE_ALLOCATED_VUS = 200;

/** One stage per segment, stepped by a 0 s stage: the cumulative curve is linear between points. */
export function k6Stages(curve: WallCurve): { timeUnitMs: number; stages: Stage[]; exact: boolean } {
  const exactUnit = exactTimeUnitMs(curve.segments);
  const exact = exactUnit <= MAX_EXACT_UNIT_MS;
  const timeUnitMs = exact ? exactUnit : 60_000;
  const rate = (s: CurveSegment) => Math.round((s.arrivals * timeUnitMs) / s.durationMs);
  const stages = curve.segments.flatMap((s) => [
    { duration: '0s', target: rate(s) },
    { duration: `${s.durationMs}ms`, target: rate(s) },
  ]);
  return { timeUnitMs, stages, exact };
}

/**
 * The arrival curve as a `ramping-arrival-rate` scenario; or, with a sign-in lead, every user
 * started evenly over the lead (`constant-arrival-rate`), the script holding each until its place
 * on the curve.
 */
export function k6Scenario(curve: WallCurve, signInLeadMs = 0): NonNullable<Options['scenarios']>[string] {
  const vus = { preAllocatedVUs: Math.min(curve.users, PRE_ALLOCATED_VUS), maxVUs: curve.users };
  if (signInLeadMs > 0)
    return {
      executor: 'constant-arrival-rate',
      rate: curve.users,
      timeUnit: `${signInLeadMs}ms`,
      duration: `${signInLeadMs}ms`,
      ...vus,
      // After the sign-ins, the whole scenario: users join on the curve and may queue until its end.
      gracefulStop: `${curve.idleBeforeMs + sumMs(curve.segments) + curve.tailMs}ms`,
    };
  const { timeUnitMs, stages } = k6Stages(curve);
  return {
    executor: 'ramping-arrival-rate',
    startTime: `${curve.idleBeforeMs}ms`,
    timeUnit: `${timeUnitMs}ms`,
    startRate: 0,
    ...vus,
    stages,
    // Users still queued when arrivals end wait until the scenario's end, then stop.
    gracefulStop: `${curve.tailMs}ms`,
  };
}

function sumMs(segments: readonly CurveSegment[]): number {
  return segments.reduce((ms, s) => ms + s.durationMs, 0);
}

export function k6Options(curve: WallCurve, plan: ExportPlan): Options {
  const thresholds: Record<string, string[]> = {};
  const add = (metric: string, rule: string) => {
    thresholds[metric] = [...(thresholds[metric] ?? []), rule];
  };
  for (const t of plan.thresholds.latency) {
    const tag = t.endpoint === 'all' ? `${M.stepTag}:journey` : `${M.endpointTag}:${t.endpoint}`;
    add(`http_req_duration{${tag}}`, `p(${t.percentile})<${t.belowMs}`);
  }
  for (const t of plan.thresholds.socketDelivery) add(M.k6SocketDelivery, `p(${t.percentile})<${t.belowMs}`);
  if (plan.thresholds.errorRateBelow !== undefined)
    add('http_req_failed', `rate<${plan.thresholds.errorRateBelow}`);
  // Users the engine could not start on time are load the design never saw: the run does not count.
  add('dropped_iterations', 'count==0');
  // Every endpoint in the summary export, for tiketi-sim's report (a no-op rule makes k6 keep a submetric).
  for (const e of JOURNEY_ENDPOINTS)
    if (!thresholds[`http_req_duration{${M.endpointTag}:${e}}`])
      add(`http_req_duration{${M.endpointTag}:${e}}`, 'max>=0');
  if (!thresholds[`http_req_duration{${M.stepTag}:journey}`])
    add(`http_req_duration{${M.stepTag}:journey}`, 'max>=0');
  if (!thresholds[`http_req_failed{${M.stepTag}:journey}`])
    add(`http_req_failed{${M.stepTag}:journey}`, 'rate>=0');
  return {
    scenarios: { [plan.scenario]: k6Scenario(curve, plan.journey.signInLeadMs) },
    thresholds,
    summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'count'],
  };
}

/** The whole k6 script, one ES module: `k6 run script.k6.js`. */
export async function bundleK6Script(plan: K6Plan, options: Options): Promise<string> {
  const inlinePlan: Plugin = {
    name: 'tiketi-k6-plan',
    setup(b) {
      b.onResolve({ filter: /\/k6-plan\.ts$/ }, (args) => ({ path: args.path, namespace: 'k6-plan' }));
      b.onLoad({ filter: /.*/, namespace: 'k6-plan' }, () => ({
        contents: `export const K6_PLAN = ${JSON.stringify(plan, null, 2)};\nexport const k6Options = ${JSON.stringify(options, null, 2)};\n`,
        loader: 'js',
      }));
    },
  };
  const result = await build({
    entryPoints: [SCRIPT_ENTRY],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2019',
    external: ['k6', 'k6/*'],
    plugins: [inlinePlan],
    legalComments: 'none',
    banner: {
      js: `// tiketi-sim export --format k6: scenario ${plan.scenario}, ${plan.users} users. Run: k6 run -e TARGET=${plan.target} <this file>`,
    },
  });
  return result.outputFiles[0]!.text;
}
