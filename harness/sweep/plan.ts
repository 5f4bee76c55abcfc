/**
 * A phase sweep: the same rehearsal N times, its faults shifted across one period of the slowest
 * cycle they interact with (by default the ALB's health-check interval), each run with a seed of
 * its own derived from the sweep's. A failover's outcome depends on where the fault lands in the
 * health-check, alarm and reconnect cycles; one run shows one phase, the sweep shows all of them,
 * and the same seed repeats the same sweep exactly.
 */
import type { Topology } from '../../infra/topology.ts';
import { clockTimeToSeconds, type Scenario } from '../scenario/schema.ts';

/** How the runs' verdicts combine into the sweep's: every run must pass, or most of them. */
export type SweepRule = 'all' | 'majority';

export interface SweepOptions {
  runs: number;
  /** Simulated seconds the faults' offsets spread over. @default the ALB health-check interval */
  periodSeconds?: number;
  /** The sweep's seed; each run's is derived from it. */
  seed: number;
}

export interface PlannedRun {
  /** 1-based, as printed. */
  index: number;
  /** Simulated seconds every fault of this run is shifted by. */
  phaseSeconds: number;
  seed: number;
}

/** A run's seed from the sweep's: splitmix32, so neighbouring indexes give unrelated streams. */
export function runSeed(sweepSeed: number, index: number): number {
  let z = (sweepSeed + Math.imul(index, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** N offsets evenly spread over one period: 0, P/N, 2P/N, … (the last stops short of P ≡ 0). */
export function planSweep(options: SweepOptions, topology: Topology): PlannedRun[] {
  const period = options.periodSeconds ?? topology.loadBalancer.healthCheck.intervalSeconds;
  return Array.from({ length: options.runs }, (_, i) => ({
    index: i + 1,
    phaseSeconds: Math.round(((i * period) / options.runs) * 1_000) / 1_000,
    seed: runSeed(options.seed, i + 1),
  }));
}

function clockTime(seconds: number): string {
  const whole = Math.floor(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(Math.floor(whole / 3600))}:${pad(Math.floor((whole % 3600) / 60))}:${pad(whole % 60)}`;
}

/**
 * The scenario with every fault `phaseSeconds` later. Fault times are whole seconds (HH:MM:SS),
 * so a phase is rounded down to one; a shifted fault must still fall inside the run.
 */
export function shiftFaults(scenario: Scenario, phaseSeconds: number): Scenario {
  const end = clockTimeToSeconds(scenario.endAt);
  const faults = scenario.faults.map((fault) => {
    const at = clockTimeToSeconds(fault.at) + phaseSeconds;
    if (at > end)
      throw new RangeError(
        `a fault at ${fault.at} shifted by ${phaseSeconds} s falls after the run's end (${scenario.endAt}): use a shorter --sweep-period or a later endAt`,
      );
    return { ...fault, at: clockTime(at) };
  });
  return { ...scenario, faults };
}
