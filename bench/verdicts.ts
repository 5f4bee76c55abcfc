/**
 * Benchmark (not a test): are a scenario's verdicts the design's or the machine's? Runs the
 * scenario K times through the CLI (each run its own processes), optionally with a one-core CPU
 * hog running through it, and prints per run each expectation's verdict, the wall seconds, the
 * effective speed and the share of latency samples that counted (taken with headroom); then how
 * well the runs agree.
 *
 *   npx tsx bench/verdicts.ts [scenario] [--runs 3] [--hog] [--time-scale N] [--users N] [--scale F]
 *
 * Run it on a quiet machine: anything else running is part of what it measures.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Summary } from '../harness/report/write-report.ts';
import { startCpuHog } from '../harness/run/cpu-hog.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: 'string', default: '3' },
    hog: { type: 'boolean', default: false },
    'time-scale': { type: 'string' },
    users: { type: 'string' },
    scale: { type: 'string' },
  },
});
const scenario = positionals[0] ?? 'peak-drop';
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`--runs ${values.runs}: expected a whole number of runs, at least 1 (e.g. --runs 3)`);
  process.exit(2);
}

const BIN = fileURLToPath(new URL('../bin/tiketi-sim.js', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface RunResult {
  exitCode: number | null;
  commandSeconds: number;
  summary: Summary;
}

/** One rehearsal through the CLI, as CI runs it; its progress goes to stderr (ours). */
async function rehearse(reportRoot: string): Promise<RunResult> {
  const args = [BIN, 'run', scenario, '--json', '--report-dir', reportRoot];
  if (values['time-scale']) args.push('--time-scale', values['time-scale']);
  if (values.users) args.push('--users', values.users);
  if (values.scale) args.push('--scale', values.scale);
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  // Stopped by its pid: the rehearsal stops too (its own Ctrl-C path), then the bench, no run after.
  const stop = () => {
    child.once('exit', () => process.exit(143));
    child.kill('SIGINT');
  };
  process.once('SIGTERM', stop);
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  process.off('SIGTERM', stop);
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
  return { exitCode, commandSeconds, summary };
}

const percent = (share: number | undefined) =>
  share === undefined ? '-' : `${Math.round(share * 1_000) / 10} %`;

function printRun(index: number, run: RunResult): void {
  const { summary } = run;
  const counted = summary.measurement?.countedShare ?? {};
  console.log(
    `\nrun ${index + 1}: exit ${run.exitCode} (${summary.outcome}), ${summary.wallSeconds} s rehearsal, ${Math.round(run.commandSeconds)} s command, effective ${summary.timeScale.effective}× of ${summary.timeScale.requested}×, latency samples counted: API ${percent(counted.all)}, delivery ${percent(counted['socket.delivery'])}`,
  );
  for (const v of summary.expectations)
    console.log(
      `  ${v.status.toUpperCase().padEnd(12)} ${v.name}: ${v.status === 'inconclusive' ? v.reason : v.observed}`,
    );
}

function printAgreement(results: RunResult[]): void {
  console.log(`\nagreement over ${results.length} run(s)${values.hog ? ' with a one-core CPU hog' : ''}:`);
  const names = results[0]!.summary.expectations.map((v) => v.name);
  let identical = 0;
  for (const name of names) {
    const statuses = results.map((r) => r.summary.expectations.find((v) => v.name === name)?.status ?? '-');
    const same = statuses.every((s) => s === statuses[0]);
    if (same) identical++;
    console.log(`  ${same ? 'same     ' : 'DIFFERENT'} ${name}: ${statuses.join(' / ')}`);
  }
  const walls = results.map((r) => r.summary.wallSeconds).sort((a, b) => a - b);
  console.log(
    `  ${identical} of ${names.length} expectations had the same verdict in every run; exit codes ${results.map((r) => r.exitCode).join(' / ')}; rehearsal wall seconds median ${walls[Math.floor(walls.length / 2)]} (${walls.join(', ')})`,
  );
}

const reportRoot = mkdtempSync(join(tmpdir(), 'tiketi-verdicts-'));
const results: RunResult[] = [];
try {
  for (let i = 0; i < runs; i++) {
    const hog = values.hog ? await startCpuHog() : undefined;
    try {
      const run = await rehearse(reportRoot);
      results.push(run);
      printRun(i, run);
    } finally {
      await hog?.stop();
    }
  }
  printAgreement(results);
} finally {
  rmSync(reportRoot, { recursive: true, force: true });
}
