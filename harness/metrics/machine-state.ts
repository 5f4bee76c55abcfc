/**
 * The state of this machine while latencies are measured: a verdict on latency is only valid
 * when the machine that measured it had headroom. Three signals, each taken per interval (1 s
 * wall in a run):
 *
 * - the share of all cores busy (`cpu-busy.ts`);
 * - the worst event-loop lag of the runner (it hands arrivals to the load workers and WebSockets to
 *   the instances: joins and connects only, `RUNNER_PATH` in headroom.ts) and of each load worker
 *   (`LagMonitor`): a stalled generator adds its stall to every request and receipt in flight;
 * - how busy the busiest process of each role on the request's path is, as a share of one core
 *   (`ProcessBusyMeter`, from /proc): a single-threaded event loop (ALB worker, app instance,
 *   Redis) busy nearly all the time queues everything behind it. Read from the kernel, so the
 *   app and the ALB need no code of ours; on a machine without /proc it is simply absent.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bundleName } from '../../servers/bundle-manifest.js';
import type { Scenario } from '../scenario/schema.ts';
import type { CpuInterval } from './cpu-busy.ts';
import type { StallWatch } from './latency.ts';

/** Processes on a virtual user's path, recognised by their command line. */
export const PROCESS_ROLES = ['load-worker', 'alb-worker', 'app', 'redis', 'postgres'] as const;
export type ProcessRole = (typeof PROCESS_ROLES)[number];

/** Processes that time their own event loop. */
export type LagSource = 'runner' | 'load-worker';

export interface MachineState {
  /** Share of all cores busy over the interval (0–1), when known. */
  cpuBusy?: number;
  /**
   * The run's share of the CPU it could have had (0–1): the CPU time of its processes over that
   * plus the idle time. Another job's load (a CI neighbour, the bench's hog) is left out: the
   * pacer steers by this (the machine's headroom, `cpuBusy`, still decides a sample's validity).
   * Not summed up per minute.
   */
  runCpuBusy?: number;
  /**
   * Share of the cores' time the hypervisor gave to other guests (0–1), where the kernel counts it:
   * the run's processes stall then (their lag grows) with the CPU far from busy.
   */
  cpuStolen?: number;
  /** Worst event-loop lag in the interval, ms, of each process kind that measures latency. */
  lagMs: Partial<Record<LagSource, number>>;
  /** The busiest process of each role: its main thread's share of one core over the interval (0–1). */
  coreBusy: Partial<Record<ProcessRole, number>>;
}

/**
 * When an interval counts as having headroom. Every field has a default (`headroomThresholds`);
 * a scenario sets its own under `measurement`.
 */
export interface HeadroomThresholds {
  /** All cores busy at or above this share: saturated. @default 0.95 */
  maxCpuBusy: number;
  /**
   * An event-loop lag above this, in the runner or a load worker: saturated. @default half the
   * scenario's lowest latency threshold, between 50 and 250 ms (a stall that short cannot by
   * itself carry a sample over the threshold)
   */
  maxEventLoopLagMs: number;
  /** A process on the path busy at or above this share of one core: saturated. @default 0.9 */
  maxProcessCoreBusy: number;
  /**
   * A latency verdict needs at least this share of its samples taken with headroom; below it the
   * verdict is inconclusive. @default 0.8
   */
  minHeadroomShare: number;
}

export const DEFAULT_MAX_CPU_BUSY = 0.95;
export const DEFAULT_MAX_PROCESS_CORE_BUSY = 0.9;
export const DEFAULT_MIN_HEADROOM_SHARE = 0.8;
const LAG_FLOOR_MS = 50;
const LAG_CEILING_MS = 250;

/** The thresholds of a run: the scenario's, else defaults derived from its latency thresholds. */
export function headroomThresholds(
  latencyThresholdsMs: readonly number[],
  overrides: Partial<HeadroomThresholds> = {},
): HeadroomThresholds {
  const lowest = Math.min(Number.POSITIVE_INFINITY, ...latencyThresholdsMs);
  const lag = Number.isFinite(lowest)
    ? Math.min(LAG_CEILING_MS, Math.max(LAG_FLOOR_MS, lowest / 2))
    : LAG_CEILING_MS;
  return {
    maxCpuBusy: overrides.maxCpuBusy ?? DEFAULT_MAX_CPU_BUSY,
    maxEventLoopLagMs: overrides.maxEventLoopLagMs ?? lag,
    maxProcessCoreBusy: overrides.maxProcessCoreBusy ?? DEFAULT_MAX_PROCESS_CORE_BUSY,
    minHeadroomShare: overrides.minHeadroomShare ?? DEFAULT_MIN_HEADROOM_SHARE,
  };
}

/** What saturated an interval, one phrase per signal over its threshold; empty: headroom. */
export function saturation(state: MachineState, limits: HeadroomThresholds): string[] {
  const { cpu, lag, core } = saturationBySignal(state, limits);
  const reasons = [...cpu, ...lag, ...core];
  // Not a saturation of its own, but what explains one: the run's processes stalled, not busy.
  if (reasons.length > 0 && hostTookCpu(state))
    reasons.push(`hypervisor took ${Math.round(state.cpuStolen! * 100)} % of the CPU`);
  return reasons;
}

/** A share of the cores' time stolen by the hypervisor from which an interval's stalls are the host's. */
export const STOLEN_CPU_SHARE = 0.1;

/** The hypervisor took at least STOLEN_CPU_SHARE of the cores over the interval. */
export function hostTookCpu(state: Pick<MachineState, 'cpuStolen'>): boolean {
  return (state.cpuStolen ?? 0) >= STOLEN_CPU_SHARE;
}

/**
 * Saturated by an event-loop stall alone, the CPU and every process on the path below their
 * limits: a process that waited for a core or collected its garbage, not a machine out of
 * capacity (how the pacer takes it: `loneStall` in pacer.ts).
 */
export function stallAlone(state: MachineState, limits: HeadroomThresholds): boolean {
  const { cpu, lag, core } = saturationBySignal(state, limits);
  return lag.length > 0 && cpu.length === 0 && core.length === 0;
}

function saturationBySignal(
  state: MachineState,
  limits: HeadroomThresholds,
): { cpu: string[]; lag: string[]; core: string[] } {
  const cpu: string[] = [];
  const lag: string[] = [];
  const core: string[] = [];
  if (state.cpuBusy !== undefined && state.cpuBusy >= limits.maxCpuBusy)
    cpu.push(`CPU ${Math.round(state.cpuBusy * 100)} %`);
  for (const [source, lagMs] of Object.entries(state.lagMs))
    if (lagMs > limits.maxEventLoopLagMs) lag.push(`${source} lag ${Math.round(lagMs)} ms`);
  for (const [role, busy] of Object.entries(state.coreBusy))
    if (busy >= limits.maxProcessCoreBusy) core.push(`${role} ${Math.round(busy * 100)} % of a core`);
  return { cpu, lag, core };
}

/** The worse of two states, signal by signal: what a stretch of intervals is summed up as. */
export function worstOf(a: MachineState, b: MachineState): MachineState {
  const max = <K extends string>(x: Partial<Record<K, number>>, y: Partial<Record<K, number>>) => {
    const out: Partial<Record<K, number>> = { ...x };
    for (const [k, v] of Object.entries(y) as [K, number][]) out[k] = Math.max(out[k] ?? 0, v);
    return out;
  };
  const cpu = [a.cpuBusy, b.cpuBusy].filter((v): v is number => v !== undefined);
  const stolen = [a.cpuStolen, b.cpuStolen].filter((v): v is number => v !== undefined);
  return {
    ...(cpu.length > 0 ? { cpuBusy: Math.max(...cpu) } : {}),
    ...(stolen.length > 0 ? { cpuStolen: Math.max(...stolen) } : {}),
    lagMs: max(a.lagMs, b.lagMs),
    coreBusy: max(a.coreBusy, b.coreBusy),
  };
}

/** Lags shorter than this are no stall worth telling (`LagMonitor.longestWithin`). */
const RECENT_LAG_FLOOR_MS = 10;
/**
 * Lags `longestWithin` keeps: each spans its period and its lag (at least 20 ms), so they cover
 * at least the last 5 s, longer than any request with a verdict worth keeping takes.
 */
const RECENT_LAGS = 256;

/**
 * This process's event-loop lag, interval by interval: how much later than due a short timer
 * fired. Not `monitorEventLoopDelay`: its `reset()` drops the first delay after it, so a stall
 * that began just after an interval started would go unseen.
 */
export class LagMonitor implements StallWatch {
  private readonly timer: NodeJS.Timeout;
  private lastTickMs = performance.now();
  private intervalMaxMs = 0;
  private everMs = 0;
  /** When the last lag over `stallMs` was seen to end (performance.now() time). */
  private lastStallEndMs = Number.NEGATIVE_INFINITY;
  /** The latest lags of at least RECENT_LAG_FLOOR_MS, oldest first: what `longestWithin` reads. */
  private readonly recent: { endMs: number; lagMs: number }[] = [];

  /** `stallMs`: the lag over which `stalledWithin` counts a stall (the run's `maxEventLoopLagMs`). */
  constructor(
    private readonly periodMs = 10,
    readonly stallMs = Number.POSITIVE_INFINITY,
  ) {
    this.timer = setInterval(() => this.tick(), periodMs);
    this.timer.unref();
  }

  /** The worst lag since the last call, ms; starts a new interval. */
  takeMaxMs(): number {
    this.tick();
    const lagMs = this.intervalMaxMs;
    this.intervalMaxMs = 0;
    return Math.round(lagMs * 10) / 10;
  }

  /**
   * Whether the loop lagged over `stallMs` within the last `durationMs`: a stall seen ending in
   * that time, or one going on now (the loop held since the last tick, which has not run yet: a
   * reply handled right after a stall is handled before the timer that would see it).
   */
  stalledWithin(durationMs: number): boolean {
    const now = performance.now();
    return this.lastStallEndMs > now - durationMs || now - this.lastTickMs - this.periodMs > this.stallMs;
  }

  /**
   * The longest lag, ms, going on now or that ended within the last `durationMs`, or two periods
   * before (a request that came during a stall is read after it, and after the tick that saw it):
   * what a request this process has had for `durationMs` was held up by at worst. Lags under
   * RECENT_LAG_FLOOR_MS read as 0.
   */
  longestWithin(durationMs: number): number {
    const now = performance.now();
    const since = now - durationMs - 2 * this.periodMs;
    let longest = now - this.lastTickMs - this.periodMs;
    for (let i = this.recent.length - 1; i >= 0 && this.recent[i]!.endMs > since; i--)
      longest = Math.max(longest, this.recent[i]!.lagMs);
    return longest < RECENT_LAG_FLOOR_MS ? 0 : Math.round(longest);
  }

  /** The worst lag so far, ms. */
  get maxEverMs(): number {
    return this.everMs;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    const now = performance.now();
    const lagMs = Math.max(0, now - this.lastTickMs - this.periodMs);
    this.lastTickMs = now;
    if (lagMs > this.stallMs) this.lastStallEndMs = now;
    if (lagMs >= RECENT_LAG_FLOOR_MS) {
      this.recent.push({ endMs: now, lagMs });
      if (this.recent.length > RECENT_LAGS) this.recent.shift();
    }
    if (lagMs > this.intervalMaxMs) this.intervalMaxMs = lagMs;
    if (lagMs > this.everMs) this.everMs = lagMs;
  }
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The node entries of each role on the path, by source path. */
const ENTRIES: readonly [ProcessRole, readonly string[]][] = [
  ['load-worker', ['harness/load/worker.ts']],
  ['alb-worker', ['harness/alb/worker.ts']],
  // An instance the harness starts boots through app-boot.ts; `tiketi-sim up`'s own and a deployed one run main.ts.
  ['app', ['app/main.ts', 'harness/instances/app-boot.ts']],
];

/** Whether a command line runs `entry`: through tsx (its source) or from its bundle (servers/entry-bundle.ts). */
function runs(commandLine: string, entry: string): boolean {
  return commandLine.includes(entry) || commandLine.includes(`/${bundleName(`${ROOT}${entry}`)}.`);
}

/** How a process's command line shows its role; undefined: not on the path. */
export function roleOf(commandLine: string): ProcessRole | undefined {
  for (const [role, entries] of ENTRIES) if (entries.some((e) => runs(commandLine, e))) return role;
  if (commandLine.startsWith('redis-server') || commandLine.includes('/redis-server')) return 'redis';
  if (commandLine.startsWith('postgres') || commandLine.includes('/postgres')) return 'postgres';
  return undefined;
}

/** What the meter reads of a process: its command line and CPU time so far (ns), or undefined if gone. */
export interface ProcessSource {
  /** Every process id now running. */
  pids(): number[];
  parentOf(pid: number): number | undefined;
  commandLine(pid: number): string | undefined;
  /** Its main thread's CPU time: the event loop's, what a single-threaded server queues behind. */
  cpuNs(pid: number): number | undefined;
  /**
   * All its threads' CPU time: what it costs the machine. A Node process's garbage collector and
   * compiler run on threads of their own: an allocating loop here spent 2.1 s on its main thread
   * and 4.7 s in all.
   */
  processCpuNs(pid: number): number | undefined;
}

/** Clock ticks a second in `/proc/<pid>/stat` (USER_HZ: 100 on every Linux architecture Node runs on). */
const USER_HZ = 100;

/**
 * A process's CPU time so far from `/proc/<pid>/stat`, all threads, ms: user + system, and with
 * its children that exited and were waited for (`withExitedChildren`); undefined if it is gone.
 */
export function processCpuMs(pid: number, withExitedChildren = false): number | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // utime, stime, cutime, cstime are fields 14–17 (1-based), i.e. 11–14 after the state field.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = [11, 12, ...(withExitedChildren ? [13, 14] : [])].reduce(
    (sum, i) => sum + Number(fields[i]),
    0,
  );
  return (ticks * 1_000) / USER_HZ;
}

/**
 * The kernel's view (Linux /proc): `schedstat`'s first field is the time the main thread spent on
 * a CPU, ns; `stat`'s utime and stime, the whole process's, in clock ticks.
 */
export const procSource: ProcessSource = {
  // No /proc (macOS): no process is seen, and the state has CPU and lag only.
  pids: () => (existsSync('/proc') ? readdirSync('/proc').map(Number).filter(Number.isInteger) : []),
  parentOf: (pid) => {
    const stat = readProc(`/proc/${pid}/stat`);
    // The command may hold spaces and parentheses: the fields after the last ')' are fixed.
    return stat === undefined ? undefined : Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  },
  commandLine: (pid) => readProc(`/proc/${pid}/cmdline`)?.replaceAll('\0', ' '),
  cpuNs: (pid) => {
    const schedstat = readProc(`/proc/${pid}/schedstat`);
    return schedstat === undefined ? undefined : Number(schedstat.split(' ')[0]);
  },
  processCpuNs: (pid) => {
    const ms = processCpuMs(pid);
    return ms === undefined ? undefined : ms * 1e6;
  },
};

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    // A process that exits between the listing and the read is gone, not an error.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH')
      return undefined;
    throw err;
  }
}

/** Re-read the process tree this often: instances launch and terminate during a run. */
const REFRESH_TREE_MS = 5_000;

/** One interval of the run's processes (`ProcessBusyMeter.sample`). */
export interface ProcessSample {
  /** The busiest process of each role: its main thread's share of one core (0–1). */
  coreBusy: Partial<Record<ProcessRole, number>>;
  /** CPU time of every process of the run (the root's included, all their threads), ms; none on the first sample. */
  runCpuMs?: number;
}

/**
 * How busy the run's processes were between two calls. Finds them by walking the tree from the
 * root (the runner), so it sees the app instances, ALB workers, load workers, Redis and PostgreSQL
 * the run started, and nothing else: the busiest of each role's main thread as a share of one core,
 * and the CPU all of them took.
 */
export class ProcessBusyMeter {
  /** Every process of the run, the root included, with its role if it has one on the path. */
  private processes = new Map<number, ProcessRole | undefined>();
  private lastMainNs = new Map<number, number>();
  private lastProcessNs = new Map<number, number>();
  private readonly cpuNsByRole = new Map<ProcessRole, number>();
  private lastWallMs: number | undefined;
  private treeReadAtMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly rootPid: number,
    private readonly source: ProcessSource = procSource,
  ) {}

  sample(wallMs: number): ProcessSample {
    if (wallMs - this.treeReadAtMs >= REFRESH_TREE_MS) {
      this.processes = this.tree();
      this.treeReadAtMs = wallMs;
    }
    const elapsedMs = this.lastWallMs === undefined ? 0 : wallMs - this.lastWallMs;
    const coreBusy: Partial<Record<ProcessRole, number>> = {};
    const mainNow = new Map<number, number>();
    const processNow = new Map<number, number>();
    let runNs = 0;
    for (const [pid, role] of this.processes) {
      const spentNs = this.spent(pid, this.source.processCpuNs(pid), this.lastProcessNs, processNow);
      runNs += spentNs ?? 0;
      if (role === undefined) continue;
      if (spentNs !== undefined) this.cpuNsByRole.set(role, (this.cpuNsByRole.get(role) ?? 0) + spentNs);
      const mainNs = this.spent(pid, this.source.cpuNs(pid), this.lastMainNs, mainNow);
      if (mainNs === undefined || elapsedMs <= 0) continue;
      coreBusy[role] = Math.max(coreBusy[role] ?? 0, Math.min(1, mainNs / 1e6 / elapsedMs));
    }
    this.lastMainNs = mainNow;
    this.lastProcessNs = processNow;
    const first = this.lastWallMs === undefined;
    this.lastWallMs = wallMs;
    return first ? { coreBusy } : { coreBusy, runCpuMs: runNs / 1e6 };
  }

  /** CPU time each role's processes used (all their threads) between the first and the last `sample()`, ms. */
  cpuMsByRole(): Partial<Record<ProcessRole, number>> {
    const out: Partial<Record<ProcessRole, number>> = {};
    for (const [role, ns] of this.cpuNsByRole) out[role] = Math.round(ns / 1e6);
    return out;
  }

  /** A counter's growth since the last sample (undefined on a process's first), noting its value now. */
  private spent(
    pid: number,
    ns: number | undefined,
    before: Map<number, number>,
    now: Map<number, number>,
  ): number | undefined {
    if (ns === undefined) return undefined;
    now.set(pid, ns);
    const last = before.get(pid);
    return last === undefined ? undefined : Math.max(0, ns - last);
  }

  private tree(): Map<number, ProcessRole | undefined> {
    const children = new Map<number, number[]>();
    for (const pid of this.source.pids()) {
      const parent = this.source.parentOf(pid);
      if (parent !== undefined) children.set(parent, [...(children.get(parent) ?? []), pid]);
    }
    const out = new Map<number, ProcessRole | undefined>([[this.rootPid, undefined]]);
    const stack = [...(children.get(this.rootPid) ?? [])];
    while (stack.length > 0) {
      const pid = stack.pop()!;
      const line = this.source.commandLine(pid);
      out.set(pid, line === undefined ? undefined : roleOf(line));
      stack.push(...(children.get(pid) ?? []));
    }
    return out;
  }
}

const hundredths = (share: number) => Math.round(share * 100) / 100;

/** The machine's state, interval by interval, as the runner sees it. */
export class MachineStateMeter {
  private readonly runnerLag = new LagMonitor();

  constructor(
    private readonly cpu: () => CpuInterval | undefined,
    private readonly processes?: ProcessBusyMeter,
  ) {}

  /** CPU time used so far by the runner (since it started) and by each role's processes (since the first `take`), ms. */
  cpuMs(): Partial<Record<ProcessRole | 'runner', number>> {
    const { user, system } = process.cpuUsage();
    return { runner: Math.round((user + system) / 1_000), ...this.processes?.cpuMsByRole() };
  }

  /** The state since the last call; the load workers' lag comes with their reports. */
  take(wallMs: number, loadWorkerLagMs: number | undefined): MachineState {
    const cpu = this.cpu();
    const processes = this.processes?.sample(wallMs);
    const coreBusy: Partial<Record<ProcessRole, number>> = {};
    for (const [role, busy] of Object.entries(processes?.coreBusy ?? {}))
      coreBusy[role as ProcessRole] = hundredths(busy);
    const runMs = processes?.runCpuMs;
    const runCpuBusy =
      cpu === undefined || runMs === undefined || runMs + cpu.idleCoreMs <= 0
        ? undefined
        : Math.min(1, runMs / (runMs + cpu.idleCoreMs));
    return {
      ...(cpu === undefined ? {} : { cpuBusy: hundredths(cpu.busy) }),
      ...(runCpuBusy === undefined ? {} : { runCpuBusy: hundredths(runCpuBusy) }),
      ...(cpu?.stolen === undefined ? {} : { cpuStolen: hundredths(cpu.stolen) }),
      lagMs: {
        runner: this.runnerLag.takeMaxMs(),
        ...(loadWorkerLagMs === undefined ? {} : { 'load-worker': loadWorkerLagMs }),
      },
      coreBusy,
    };
  }

  stop(): void {
    this.runnerLag.stop();
  }
}

/** A run's thresholds: the scenario's `measurement`, else defaults from its latency expectations. */
export function scenarioHeadroom(
  scenario: Pick<Scenario, 'expectations' | 'measurement'>,
): HeadroomThresholds {
  const latencyThresholdsMs = scenario.expectations.flatMap((e) =>
    e.expect === 'latency' || e.expect === 'socket-delivery' ? [e.belowMs] : [],
  );
  return headroomThresholds(latencyThresholdsMs, scenario.measurement);
}
