/**
 * Whether this machine can measure, interval by interval (docs/report.md, "measurement"): the
 * machine's state each pacer decision, the latency samples of that interval filed as taken with
 * or without headroom, and the CPU the run's processes spent. The pacer reads the latest state,
 * the sampler the minute's, the record the whole run's.
 */

import { cpuBusyMeter } from '../metrics/cpu-busy.ts';
import {
  cpuCost,
  HeadroomLedger,
  type MeasurementRecord,
  type MinuteMachineState,
  withoutRunnerLag,
} from '../metrics/headroom.ts';
import type { LatencyAggregate } from '../metrics/latency.ts';
import {
  type MachineState,
  MachineStateMeter,
  ProcessBusyMeter,
  scenarioHeadroom,
  stallAlone,
} from '../metrics/machine-state.ts';
import type { Scenario } from '../scenario/schema.ts';

/** What the measurement reads of the load generator. */
export interface MeasuredLoad {
  takeFeedback(): LatencyAggregate;
  /**
   * Of the same samples, those clear of their load worker's own stalls, if the workers file them:
   * a worker's stall then takes only its samples in flight, not its whole interval.
   */
  takeClearOfStalls?(): LatencyAggregate | undefined;
  /** The load workers' worst event-loop lag since the last call. */
  takeWorkerLagMs(): number | undefined;
  totals(): { joined: number };
}

export interface MeasuredInterval {
  state: MachineState;
  /** The interval's latency samples (API requests and Socket.IO connects). */
  feedback: LatencyAggregate;
  /**
   * Those the pacer steers by (`steeringSamples`): the samples clear of the stalls the load
   * workers file apart, or all of them when most were held up.
   */
  steering: LatencyAggregate;
  /** What took the headroom, empty when there was some. */
  saturation: readonly string[];
  /** The saturation was an event-loop stall alone (`stallAlone`). */
  stallAlone: boolean;
  /** The same two without the runner's lag, which delays only joins and connects (`RUNNER_PATH`). */
  offRunnerPath: { saturation: readonly string[]; stallAlone: boolean };
  /** The lower of the shares of the run's API requests and deliveries so far taken with headroom (HeadroomLedger.countedShare). */
  countedShare: number | undefined;
}

type CpuTotals = Partial<Record<string, number>>;

/**
 * The samples the pacer steers by: those the verdicts can count, clear of the stalls of the
 * emulator's processes (a load worker's, the runner's hand-over, an app instance's or an ALB
 * worker's: LatencyRecorder): the clock keeps the latency the verdicts judge under their
 * thresholds, and the samples they leave out are not theirs to judge. (Same-hour A/B, quiet: no
 * change of wall time either way; the drain is held by saturated seconds, not by this P95:
 * docs/performance.md.) Were most samples held up, all of them: then the stalls are what the clock
 * must answer.
 */
export function steeringSamples(
  all: LatencyAggregate,
  clear: LatencyAggregate | undefined,
): LatencyAggregate {
  if (!clear) return all;
  const answered = (a: LatencyAggregate) => a.endpointCount() + a.count('socket.connect');
  return 2 * answered(clear) >= answered(all) ? clear : all;
}

export class RunMeasurement {
  private readonly meter = new MachineStateMeter(cpuBusyMeter(), new ProcessBusyMeter(process.pid));
  private readonly ledger: HeadroomLedger;
  private readonly cpuAtStart: CpuTotals;
  private cpuAtSalesOpen: { cpuMs: CpuTotals; joined: number } | undefined;
  private measuredUntilSimMs: number;

  constructor(
    scenario: Pick<Scenario, 'expectations' | 'measurement'>,
    private readonly load: MeasuredLoad,
    startSimMs: number,
  ) {
    this.ledger = new HeadroomLedger(scenarioHeadroom(scenario));
    this.cpuAtStart = this.meter.cpuMs();
    this.measuredUntilSimMs = startSimMs;
  }

  /** The interval since the last call: its state and samples, filed in the ledger. */
  take(nowSimMs: number, wallMs = Date.now()): MeasuredInterval {
    const state = this.meter.take(wallMs, this.load.takeWorkerLagMs());
    const feedback = this.load.takeFeedback();
    const clearOfStalls = this.load.takeClearOfStalls?.();
    this.ledger.add(
      { fromSimMs: this.measuredUntilSimMs, toSimMs: nowSimMs, state },
      feedback,
      clearOfStalls,
    );
    this.measuredUntilSimMs = nowSimMs;
    return {
      state,
      feedback,
      steering: steeringSamples(feedback, clearOfStalls),
      saturation: this.ledger.lastSaturation,
      stallAlone: stallAlone(state, this.ledger.thresholds),
      offRunnerPath: {
        saturation: this.ledger.lastSaturationOffRunnerPath,
        stallAlone: stallAlone(withoutRunnerLag(state), this.ledger.thresholds),
      },
      countedShare: this.ledger.countedShare,
    };
  }

  /** Marks when sales opened: the CPU spent until then, per user joined, is a join's upper cost. */
  salesOpened(): void {
    this.cpuAtSalesOpen ??= { cpuMs: this.meter.cpuMs(), joined: this.load.totals().joined };
  }

  /** The machine over the minute since the last call, for the sample. */
  takeMinute(): MinuteMachineState | undefined {
    return this.ledger.takeMinute();
  }

  /**
   * The whole run's record. `lastInterval`: the workers' final reports, measured while the load
   * stopped, judged like any other interval (read them after the load generator stopped).
   */
  record(nowSimMs: number): MeasurementRecord {
    this.take(nowSimMs);
    return {
      ...this.ledger.record(),
      cpu: cpuCost(this.cpuAtStart, this.cpuAtSalesOpen, this.meter.cpuMs()),
    };
  }

  stop(): void {
    this.meter.stop();
  }
}
