/**
 * Benchmark (not a test): the four failover rehearsals as phase sweeps, for the design as written
 * and for what-ifs, and how long a sweep of all four takes. Prints one Markdown table per variant
 * (the one in docs/failover.md): per rehearsal the runs that passed, each expectation that failed
 * somewhere with its pass rate and the phases it failed at, and the command's wall time.
 *
 *   npx tsx bench/failover-sweeps.ts [--sweep 6] [--variant design|ec2|shallow]... [rehearsal...]
 *
 * Variants: `design` (as written: deep /health, ELB health checks for the group), `ec2` (the group
 * replaces only instances whose EC2 status fails), `shallow` (the ALB checks `/health/live`).
 * Run it on a quiet machine: anything else running is part of what it measures.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FaultRecord } from '../harness/report/run-record.ts';
import type { SweepSummary } from '../harness/sweep/sweep-report.ts';
import { benchArgs } from './args.ts';

const VARIANTS = {
  design: { label: 'the design as written', set: [] },
  ec2: { label: 'EC2 health checks for the group', set: ['autoScalingGroup.healthCheckType=EC2'] },
  shallow: { label: 'a shallow /health for the ALB', set: ['loadBalancer.healthCheck.path=/health/live'] },
} as const;
type Variant = keyof typeof VARIANTS;
const REHEARSALS = ['instance-failure', 'redis-failover', 'db-failover', 'az-failure'];

const { values, positionals } = benchArgs(
  'npx tsx bench/failover-sweeps.ts [--sweep 6] [--variant design|ec2|shallow]... [rehearsal...]',
  {
    allowPositionals: true,
    options: {
      sweep: { type: 'string', default: '6' },
      variant: { type: 'string', multiple: true, default: ['design'] },
    },
  },
);
const sweep = Number(values.sweep);
if (!Number.isInteger(sweep) || sweep < 1) {
  console.error(`--sweep ${values.sweep}: expected a whole number of runs, at least 1 (e.g. --sweep 6)`);
  process.exit(2);
}
const variants = values.variant as string[];
for (const v of variants)
  if (!(v in VARIANTS)) {
    console.error(`--variant ${v}: expected one of ${Object.keys(VARIANTS).join(', ')}`);
    process.exit(2);
  }
const rehearsals = positionals.length > 0 ? positionals : REHEARSALS;

const BIN = fileURLToPath(new URL('../bin/tiketi-sim.js', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface SweepResult {
  rehearsal: string;
  commandSeconds: number;
  summary: SweepSummary;
  /** Each run's first fault, as its own summary.json recorded it. */
  faults: FaultRecord[];
}

/** One sweep through the CLI, as CI would run it; its progress goes to stderr (ours). */
async function runSweep(rehearsal: string, variant: Variant, reportRoot: string): Promise<SweepResult> {
  const args = [BIN, 'run', rehearsal, '--sweep', String(sweep), '--json', '--no-dashboard'];
  args.push('--report-dir', reportRoot, ...VARIANTS[variant].set.flatMap((s) => ['--set', s]));
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  // Stopped from outside (a terminal's Ctrl-C reaches the child itself): the child stops too,
  // tearing its world down, instead of running on without a reader.
  const forward = () => child.kill('SIGTERM');
  process.once('SIGTERM', forward);
  child.once('exit', () => process.off('SIGTERM', forward));
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const commandSeconds = (performance.now() - started) / 1_000;
  const line = stdout.trim().split('\n').at(-1) ?? '';
  let parsed: { sweep: SweepSummary; reportDir: string };
  try {
    parsed = JSON.parse(line) as { sweep: SweepSummary; reportDir: string };
  } catch {
    throw new Error(`${rehearsal} (${variant}) exited ${code} without a sweep summary`);
  }
  const faults = parsed.sweep.runs.flatMap((run) => {
    const summary = JSON.parse(readFileSync(join(parsed.reportDir, run.report, 'summary.json'), 'utf8'));
    return (summary.faults as FaultRecord[]).slice(0, 1);
  });
  return { rehearsal, commandSeconds, summary: parsed.sweep, faults };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * What still varies between runs: each step of the fault's timeline, seconds after the fault,
 * as median (min–max) over the runs that reached it — Sentinel's and PostgreSQL's own timing
 * among them, which run on the wall clock.
 */
function spread(r: SweepResult): string {
  const steps = new Map<string, number[]>();
  for (const f of r.faults) {
    // A step a run reached twice (a lost AZ's Redis and database recoveries share one label): its last.
    const reached = new Map<string, number>();
    for (const e of f.timeline)
      reached.set(e.label.replace(/\bapp-\d+\b/g, 'app-N').replace(/ [\w-]+ az-[ab]\b/g, ''), e.atMs);
    for (const [label, atMs] of reached)
      steps.set(label, [...(steps.get(label) ?? []), (atMs - f.atMs) / 1_000]);
  }
  return [...steps.entries()]
    .map(([label, xs]) => {
      const lo = Math.min(...xs).toFixed(1);
      const hi = Math.max(...xs).toFixed(1);
      return `${label}: ${median(xs).toFixed(1)} s (${lo}–${hi}, ${xs.length} of ${r.faults.length} runs)`;
    })
    .join('; ');
}

function row(r: SweepResult): string {
  const s = r.summary;
  const passedRuns = s.runs.filter((run) => run.passed).length;
  const misses = s.expectations
    .filter((v) => v.passedRuns < v.runs)
    .map((v) => {
      const at = v.failedAtPhases.length > 0 ? ` (failed at +${v.failedAtPhases.join(', +')} s)` : '';
      return `${v.name}: ${v.passedRuns}/${v.runs}${at}`;
    });
  return `| \`${r.rehearsal}\` | ${passedRuns} of ${s.runs.length} | ${misses.join('; ') || 'every expectation in every run'} | ${Math.round(r.commandSeconds)} s |`;
}

/**
 * Each run's observation of the expectations that failed in some run, and its fault's timeline
 * (seconds after the fault): what moves with the phase, and what moves between same-seed sweeps.
 */
function byPhase(r: SweepResult): string[] {
  const verdicts = r.summary.expectations
    .filter((v) => v.passedRuns < v.runs)
    .map((v) => {
      const runs = v.observed.map((o) => `+${o.phaseSeconds} s ${o.status}: ${o.observed}`);
      return `- \`${r.rehearsal}\` ${v.name}: ${runs.join('; ')}`;
    });
  const timelines = r.faults.map((f, i) => {
    const steps = f.timeline.map((e) => `${e.label} ${((e.atMs - f.atMs) / 1_000).toFixed(1)}`);
    return `- \`${r.rehearsal}\` +${r.summary.runs[i]?.phaseSeconds ?? '?'} s timeline: ${steps.join('; ')}`;
  });
  return [...verdicts, ...timelines];
}

const reportRoot = mkdtempSync(join(tmpdir(), 'tiketi-failover-sweeps-'));
try {
  for (const variant of variants as Variant[]) {
    const results: SweepResult[] = [];
    for (const rehearsal of rehearsals) results.push(await runSweep(rehearsal, variant, reportRoot));
    const total = results.reduce((sum, r) => sum + r.commandSeconds, 0);
    console.log(`\n### ${VARIANTS[variant].label} (${sweep}-phase sweeps)\n`);
    console.log('| rehearsal | runs that passed | expectations that failed somewhere | wall |');
    console.log('| --- | --- | --- | --- |');
    for (const r of results) console.log(row(r));
    console.log(`\nAll ${results.length} sweeps: ${Math.round(total)} s (${(total / 60).toFixed(1)} min).`);
    console.log('\nWhat each run observed, by phase, where an expectation failed somewhere:\n');
    for (const r of results) for (const line of byPhase(r)) console.log(line);
    console.log('\nEach step of the fault timeline, seconds after the fault, median (min–max):\n');
    for (const r of results) console.log(`- \`${r.rehearsal}\`: ${spread(r)}`);
  }
} finally {
  rmSync(reportRoot, { recursive: true, force: true });
}
