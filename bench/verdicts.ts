/**
 * Benchmark (not a test): are a scenario's verdicts the design's or the machine's? Runs the
 * scenario K times through the CLI (each run its own processes), optionally with a one-core CPU
 * hog running through it, and prints per run each expectation's verdict, the wall seconds, the
 * effective speed and the share of latency samples that counted (taken with headroom); then how
 * well the runs agree.
 *
 * `--compare-hog` makes `--runs` quiet runs and as many with the hog, alternately (quiet, hog,
 * quiet, hog…): a machine whose speed drifts within the hour then slows both sides alike. It ends
 * with the agreement of all of them and the hog runs' median over the quiet runs' (#11 asks for
 * the same verdicts and at most 2.5×).
 *
 *   npx tsx bench/verdicts.ts [scenario] [--runs 3] [--hog | --compare-hog] [--time-scale N] [--users N] [--scale F]
 *     [--keep-reports DIR]
 *
 * Each run's report (summary.json, report.html, junit.xml) goes to a temporary directory removed at
 * the end, or into `--keep-reports DIR` (one directory per run, kept) to read a run's minutes after.
 *
 * Before each run (and before its hog starts) it waits for the machine to settle, then measures its
 * speed by a fixed yardstick (bench/machine-reference.ts: node:http hello world under wrk), and
 * prints it beside the wall times, so a figure is read with the hour it comes from
 * (docs/performance.md).
 *
 * Run it on a quiet machine: anything else running is part of what it measures.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Summary } from '../harness/report/write-report.ts';
import { startCpuHog } from '../harness/run/cpu-hog.ts';
import { benchArgs } from './args.ts';
import { type MachineReference, measureMachineReference } from './machine-reference.ts';

const { values, positionals } = benchArgs(
  'npx tsx bench/verdicts.ts [scenario] [--runs 3] [--hog | --compare-hog] [--time-scale N] [--users N] [--scale F] [--keep-reports DIR]',
  {
    allowPositionals: true,
    options: {
      runs: { type: 'string', default: '3' },
      hog: { type: 'boolean', default: false },
      'compare-hog': { type: 'boolean', default: false },
      'time-scale': { type: 'string' },
      users: { type: 'string' },
      scale: { type: 'string' },
      'keep-reports': { type: 'string' },
    },
  },
);
const scenario = positionals[0] ?? 'peak-drop';
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`--runs ${values.runs}: expected a whole number of runs, at least 1 (e.g. --runs 3)`);
  process.exit(2);
}
if (values.hog && values['compare-hog']) {
  console.error('--hog and --compare-hog: choose one (--compare-hog already makes the hog runs)');
  process.exit(2);
}

const BIN = fileURLToPath(new URL('../bin/tiketi-sim.js', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** How many times slower the hog runs may be than the quiet ones (#11). */
const HOG_SLOWDOWN_LIMIT = 2.5;

interface RunResult {
  /** Whether the one-core hog ran through it. */
  hog: boolean;
  exitCode: number | null;
  commandSeconds: number;
  summary: Summary;
  reportDir: string;
  /** The machine's speed just before the run (before its hog started). */
  machine?: MachineReference;
}

/** What stops the bench and its rehearsal: Ctrl-C, a stop by pid, the terminal closing. */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** One rehearsal through the CLI, as CI runs it; its progress goes to stderr (ours). */
async function rehearse(reportRoot: string, hog: boolean): Promise<RunResult> {
  const args = [BIN, 'run', scenario, '--json', '--report-dir', reportRoot];
  if (values['time-scale']) args.push('--time-scale', values['time-scale']);
  if (values.users) args.push('--users', values.users);
  if (values.scale) args.push('--scale', values.scale);
  const started = performance.now();
  // In a process group of its own, so that a terminal's Ctrl-C reaches the bench alone: the bench
  // passes on one SIGINT (a second one would force the rehearsal's exit before its report).
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  // Ctrl-C, or stopped by its pid: the rehearsal stops too (its own Ctrl-C path), then the bench,
  // no run after.
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return; // one SIGINT is passed on; the rehearsal is writing its report
    stopping = true;
    child.once('exit', () => process.exit(signal === 'SIGINT' ? 130 : 143));
    child.kill('SIGINT');
  };
  for (const signal of STOP_SIGNALS) process.on(signal, stop);
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  for (const signal of STOP_SIGNALS) process.off(signal, stop);
  const commandSeconds = (performance.now() - started) / 1_000;
  const line = stdout.trim().split('\n').at(-1) ?? '';
  let reportDir: string;
  try {
    reportDir = (JSON.parse(line) as { reportDir: string }).reportDir;
  } catch (err) {
    throw new Error(`run exited ${exitCode} without a result line (stdout: ${stdout.slice(-500)})`, {
      cause: err,
    });
  }
  const summary = JSON.parse(readFileSync(join(reportDir, 'summary.json'), 'utf8')) as Summary;
  return { hog, exitCode, commandSeconds, summary, reportDir };
}

const percent = (share: number | undefined) =>
  share === undefined ? '-' : `${Math.round(share * 1_000) / 10} %`;

function printRun(index: number, run: RunResult): void {
  const { summary } = run;
  const counted = summary.measurement?.countedShare ?? {};
  console.log(
    `\nrun ${index + 1}${run.hog ? ' (one-core hog)' : ''}: exit ${run.exitCode} (${summary.aborted ? 'ABORTED, left out of the agreement' : summary.outcome}), ${summary.wallSeconds} s rehearsal, ${Math.round(run.commandSeconds)} s command, effective ${summary.timeScale.effective}× of ${summary.timeScale.requested}×, latency samples counted: API ${percent(counted.all)}, delivery ${percent(counted['socket.delivery'])}`,
  );
  if (run.machine)
    console.log(
      `  machine before it: ${run.machine.rps} req/s (node:http hello world under wrk, median of ${run.machine.rounds.join(', ')}; measured after ${run.machine.settledAfterSeconds} s of settling, the CPU ${percent(run.machine.busyBefore)} busy)`,
    );
  const cpu = summary.measurement?.cpu;
  if (cpu?.perJoinUntilSalesOpenMs !== undefined) {
    const byRole = Object.entries(cpu.perJoinUntilSalesOpenByRoleMs ?? {})
      .map(([role, ms]) => `${role} ${ms}`)
      .join(', ');
    console.log(`  CPU per join until sales open: ${cpu.perJoinUntilSalesOpenMs} ms (${byRole})`);
  }
  if (kept) console.log(`  report: ${run.reportDir}`);
  for (const v of summary.expectations)
    console.log(
      `  ${v.status.toUpperCase().padEnd(12)} ${v.name}: ${v.status === 'inconclusive' ? v.reason : v.observed}`,
    );
}

/** The middle value; of an even count, the mean of the two middle ones (2 runs: 916 and 856 s → 886, not 916). */
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

function printAgreement(all: RunResult[]): void {
  // A run stopped before its end judged only part of the drop, and its wall time is not a run's.
  const results = all.filter((r) => !r.summary.aborted);
  if (results.length < all.length)
    console.log(`\n${all.length - results.length} aborted run(s) left out of the agreement and the medians`);
  if (results.length === 0) return;
  const hogs = results.filter((r) => r.hog).length;
  const which =
    hogs === 0
      ? ''
      : hogs === results.length
        ? ' with a one-core CPU hog'
        : `, ${hogs} of them with a one-core CPU hog`;
  console.log(`\nagreement over ${results.length} run(s)${which}:`);
  const names = results[0]!.summary.expectations.map((v) => v.name);
  let identical = 0;
  for (const name of names) {
    const statuses = results.map((r) => r.summary.expectations.find((v) => v.name === name)?.status ?? '-');
    const same = statuses.every((s) => s === statuses[0]);
    if (same) identical++;
    console.log(`  ${same ? 'same     ' : 'DIFFERENT'} ${name}: ${statuses.join(' / ')}`);
  }
  console.log(
    `  ${identical} of ${names.length} expectations had the same verdict in every run; exit codes ${results.map((r) => r.exitCode).join(' / ')}`,
  );
  for (const hog of [false, true]) {
    const walls = results.filter((r) => r.hog === hog).map((r) => r.summary.wallSeconds);
    if (walls.length > 0)
      console.log(
        `  ${hog ? 'hog' : 'quiet'} runs: rehearsal wall seconds median ${median(walls)} (${walls.join(', ')})`,
      );
  }
  const yardstick = results.flatMap((r) => (r.machine ? [r.machine.rps] : []));
  if (yardstick.length > 0)
    console.log(
      `  the machine's yardstick before the runs: median ${median(yardstick)} req/s (${yardstick.join(', ')})`,
    );
  if (hogs > 0 && hogs < results.length) {
    const ratio =
      median(results.filter((r) => r.hog).map((r) => r.summary.wallSeconds)) /
      median(results.filter((r) => !r.hog).map((r) => r.summary.wallSeconds));
    console.log(
      `  hog median / quiet median: ${ratio.toFixed(2)}× (${ratio <= HOG_SLOWDOWN_LIMIT ? 'within' : 'over'} the ${HOG_SLOWDOWN_LIMIT}× the issue allows)`,
    );
  }
}

const kept = values['keep-reports'];
const reportRoot = kept ? resolve(kept) : mkdtempSync(join(tmpdir(), 'tiketi-verdicts-'));
if (kept) mkdirSync(reportRoot, { recursive: true });
const results: RunResult[] = [];
try {
  const plan = values['compare-hog']
    ? Array.from({ length: runs }, () => [false, true]).flat()
    : Array.from({ length: runs }, () => values.hog === true);
  for (const [i, withHog] of plan.entries()) {
    const machine = await measureMachineReference();
    if ('missing' in machine) console.log(`\nno machine yardstick: ${machine.missing}`);
    const hog = withHog ? await startCpuHog() : undefined;
    try {
      const run = await rehearse(reportRoot, withHog);
      if (!('missing' in machine)) run.machine = machine;
      results.push(run);
      printRun(i, run);
    } finally {
      await hog?.stop();
    }
  }
  printAgreement(results);
  if (kept) console.log(`\nreports kept in ${reportRoot}`);
} finally {
  if (!kept) rmSync(reportRoot, { recursive: true, force: true });
}
