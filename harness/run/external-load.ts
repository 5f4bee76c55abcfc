/**
 * `--load external`: an engine (k6, Artillery: `tiketi-sim export`) sends the users, tiketi-sim
 * sends none. The run still seeds the event, opens sales, follows the clock and observes the
 * world; the load it hands the drop is a null load (no users to send, zero totals), so the duties
 * run unchanged. Expectations about what users saw are the engine's to measure: judged on its
 * report when one is given (`--load-report`), else inconclusive, "measured by the engine".
 */
import type { Verdict } from '../expectations/evaluate.ts';
import type { LoadTotals } from '../load/load-generator.ts';
import type { VirtualUserCredentials } from '../load/protocol.ts';
import { mergeEngineReport } from '../load-report/merge.ts';
import type { EngineLoadReport, EngineMetric } from '../load-report/parse.ts';
import { LatencyAggregate } from '../metrics/latency.ts';
import type { RunRecord } from '../report/run-record.ts';
import type { Expectation } from '../scenario/schema.ts';
import { readyUsers, type StartedWorld } from '../worlds/world.ts';
import type { RunPlan } from './plan.ts';
import type { PreparedLoad, RunLoad } from './prepare.ts';

// The CLI reads the choices before it loads a command: they live in a module of their own.
export { LOAD_SOURCES, type LoadSource } from './load-source.ts';

export type LoadChoice = { source: 'generator' } | { source: 'external'; report?: EngineLoadReport };

/** The clock speed of a run whose users an engine sends: engines run in wall time. */
export const EXTERNAL_LOAD_TIME_SCALE = 1;

/** The observation and reason of a verdict the engine measures. */
export const MEASURED_BY_ENGINE = 'measured by the engine';

function zeroTotals(): LoadTotals {
  return {
    requests: 0,
    errors: 0,
    conflicts: 0,
    sameInstance: 0,
    instanceSwitches: 0,
    rejected: 0,
    joined: 0,
    settled: 0,
    admitted: 0,
    seatsHeld: 0,
    reservations: 0,
    confirmedReservationIds: [],
    socketDisconnects: 0,
    noticesDelivered: 0,
    noticesRescuedByApp: 0,
    noticesRescuedByPoll: 0,
    noticesLost: 0,
    socketsConnected: 0,
    usersActive: 0,
    unsettled: 0,
    usersAway: 0,
    usersFailing: 0,
    longestGap: undefined,
    reconnects: [],
    maxWorkerEventLoopDelayMs: 0,
  };
}

/** The load of a run whose users an engine sends: nothing to send, nothing measured here. */
export class ExternalLoad implements RunLoad {
  readonly total = new LatencyAggregate();
  readonly workerCount = 0;

  arrive(users: VirtualUserCredentials[]): void {
    // The run prepares no users for an external load, so the feeder has none to hand over.
    if (users.length > 0)
      throw new Error(`an engine sends this run's users; ${users.length} were handed to tiketi-sim`);
  }

  followClock(): void {}

  totals(): LoadTotals {
    return zeroTotals();
  }

  takeInterval(): LatencyAggregate {
    return new LatencyAggregate();
  }

  takeFeedback(): LatencyAggregate {
    return new LatencyAggregate();
  }

  takeWorkerLagMs(): number | undefined {
    return undefined;
  }

  async stop(): Promise<LoadTotals> {
    return zeroTotals();
  }
}

/** The event and its seats for the engine's users; no users of tiketi-sim's own. */
export async function prepareForEngine(
  plan: RunPlan,
  world: Pick<StartedWorld, 'prepare' | 'clientUrl' | 'eventId'>,
  log: (line: string) => void,
  report: EngineLoadReport | undefined,
): Promise<PreparedLoad> {
  await world.prepare({ seats: plan.scenario.event.seats, users: 0, arrivalsSimMs: [] });
  log(
    `[runner] --load external: tiketi-sim sends no users; the engine's users go to ${world.clientUrl}, event ${world.eventId}`,
  );
  const load = new ExternalLoad();
  return {
    users: readyUsers([]),
    load,
    stop: () => load.stop(),
    dropStarting: () =>
      log(
        `[runner] ${new Date(plan.startMs).toISOString().slice(11, 16)}: the drop begins — start the engine now (its exported curve starts at the scenario's start)`,
      ),
    ...(report ? { completeRecord: (record: RunRecord) => mergeEngineReport(record, report) } : {}),
    markVerdicts: (verdicts, expectations, record) =>
      markMeasuredByEngine(markIdleDesign(verdicts, expectations, record), expectations, report),
  };
}

/**
 * Who judges each expectation when an engine sends the users: the world (tiketi-sim observes
 * it), or the engine, naming what of the engine's report the verdict reads (undefined: neither
 * k6's `--summary-export` nor Artillery's `--output` carries it).
 */
const JUDGED_BY: Record<Expectation['expect'], 'world' | { engine: string | undefined }> = {
  'alarm-state': 'world',
  'alarm-never': 'world',
  instances: 'world',
  'max-instances': 'world',
  'no-instance-lost': 'world',
  'no-seat-sold-twice': 'world',
  'max-seats-per-user': 'world',
  latency: { engine: 'request latency' },
  'socket-delivery': { engine: 'Socket.IO delivery latency' },
  'error-rate': { engine: 'requests and failures' },
  purchases: { engine: 'confirmed payments' },
  sticky: { engine: undefined },
  'admission-rate': { engine: undefined },
  reconnect: { engine: undefined },
  'max-request-gap': { engine: undefined },
  // The database is checked against the reservations clients were told were paid: only the
  // engine's users know which those are, and its report counts them without naming them.
  'no-confirmed-reservation-lost': { engine: undefined },
};

/** The report's latency metric an expectation reads, if it reads one. */
function latencyMetricOf(expectation: Expectation): EngineMetric | undefined {
  if (expectation.expect === 'socket-delivery') return 'socket.delivery';
  if (expectation.expect === 'latency') return expectation.endpoint as EngineMetric;
  return undefined;
}

/** Why the engine's report cannot decide `expectation`, or undefined when it can. */
function missingFromReport(
  expectation: Expectation,
  report: EngineLoadReport | undefined,
): string | undefined {
  const judge = JUDGED_BY[expectation.expect];
  if (judge === 'world') return undefined;
  if (!report)
    return `${MEASURED_BY_ENGINE}: tiketi-sim sent no users (--load external); pass the engine's report with --load-report, or read the engine's own verdict (k6 thresholds, Artillery ensure)`;
  if (judge.engine === undefined)
    return `${MEASURED_BY_ENGINE}: its ${report.engine} report carries no figure for this; only the engine's users saw it`;
  const metric = latencyMetricOf(expectation);
  if (metric !== undefined && !report.latency[metric]?.count)
    return `${MEASURED_BY_ENGINE}: its ${report.engine} report has no ${judge.engine} of ${metric}`;
  return undefined;
}

/**
 * Verdicts (one per expectation, in order) of a run whose users an engine sent: those the engine
 * measures are inconclusive with the reason, unless its report decided them, and then they say
 * the figure is the engine's.
 */
export function markMeasuredByEngine(
  verdicts: readonly Verdict[],
  expectations: readonly Expectation[],
  report: EngineLoadReport | undefined,
): Verdict[] {
  return verdicts.map((verdict, i) => {
    const expectation = expectations[i];
    if (!expectation || JUDGED_BY[expectation.expect] === 'world') return verdict;
    const missing = missingFromReport(expectation, report);
    if (missing !== undefined)
      return { ...verdict, status: 'inconclusive', passed: false, observed: missing, reason: missing };
    const from = report!.file ? `${report!.engine} report ${report!.file}` : `${report!.engine} report`;
    return { ...verdict, observed: `${verdict.observed} (${from})` };
  });
}

/** The observation and reason of a design verdict no engine user was there to test. */
export const NO_ENGINE_USERS =
  'no user of the engine reached the stack during the drop (every sample: queue 0, active users 0): the design was not under load; start the engine when the run prints that the drop begins';

/**
 * Whether the world saw an engine's user at all: someone queued or active in some sample. Unknown
 * (undefined) when the world could not count them (-1).
 */
function engineUsersSeen(record: Pick<RunRecord, 'samples'>): boolean | undefined {
  const counts = record.samples.flatMap((s) => [s.queueSize, s.activeUsers]);
  if (counts.length === 0 || counts.some((n) => n < 0)) return undefined;
  return counts.some((n) => n > 0);
}

/**
 * Verdicts of the design on a stack no engine user reached pass for want of load (no alarm, no
 * double sale): they are inconclusive, and say so.
 */
export function markIdleDesign(
  verdicts: readonly Verdict[],
  expectations: readonly Expectation[],
  record: Pick<RunRecord, 'samples'>,
): Verdict[] {
  if (engineUsersSeen(record) !== false) return [...verdicts];
  return verdicts.map((verdict, i) => {
    const expectation = expectations[i];
    if (!expectation || JUDGED_BY[expectation.expect] !== 'world') return verdict;
    return { ...verdict, status: 'inconclusive', passed: false, reason: NO_ENGINE_USERS };
  });
}
