/**
 * Benchmark (not a test): `tiketi-sim up` started N times, one after another. For each run: when
 * the CLI printed its first line (the CLI loaded), when each start-up step ended and how long it
 * took (its `✓ label  N.N s` line), when the endpoints were printed, and when the first request
 * through the edge (`GET /api/events/demo`) was answered, and with what. Then Ctrl-C, and a check
 * that none of the run's processes is left. Medians and spreads (min–max) at the end.
 *
 *   npx tsx bench/up.ts [--runs 5] [--hold 5] [--cold] [--baseline <checkout>] [--json]
 *
 * `--hold`: seconds `up` keeps running after the first answer, before Ctrl-C, as a user works
 * with it; meanwhile it copies spare PostgreSQL folders for the next start
 * (servers/postgres-template.ts). `--cold` removes those spares before each run: a first start.
 *
 * `--baseline` alternates runs of another checkout's `up` (e.g. an earlier commit unpacked with
 * `git archive <commit> | tar -x -C /tmp/base`, its node_modules a symlink to this one's) with
 * this one's, so a busy spell on a shared machine does not land on one side only.
 *
 * Times are wall seconds from the spawn of `node bin/tiketi-sim.js up --json`.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { descendantsOf, isAlive } from '../harness/run/process-tree.ts';
import { sparesRoot } from '../servers/postgres-template.ts';
import { benchArgs } from './args.ts';

const { values } = benchArgs(
  'npx tsx bench/up.ts [--runs 5] [--hold 5] [--cold] [--baseline <checkout>] [--json]',
  {
    options: {
      runs: { type: 'string', default: '5' },
      hold: { type: 'string', default: '5' },
      cold: { type: 'boolean', default: false },
      baseline: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  },
);
const runs = Number(values.runs);
const holdMs = Number(values.hold) * 1_000;
if (!(Number.isInteger(runs) && runs > 0) || !(holdMs >= 0)) {
  console.error(
    `--runs must be a whole number above 0 and --hold seconds, 0 or more (got ${values.runs}, ${values.hold})`,
  );
  process.exit(2);
}

const THIS = fileURLToPath(new URL('..', import.meta.url));
const checkouts = values.baseline ? [resolve(values.baseline), THIS] : [THIS];
const STEP_LINE = /^[✓✗] (.+?)\s+(\d+\.\d) s$/;

interface StepTime {
  label: string;
  /** The step's own duration, as `up` printed it. */
  seconds: number;
  /** When its line arrived, from the spawn. */
  endedAt: number;
}

interface UpRun {
  cliLoaded: number;
  steps: StepTime[];
  endpoints: number;
  firstAnswer: number;
  firstStatus: number;
  leftBehind: number;
}

async function once(root: string): Promise<{ run: UpRun; pids: number[] }> {
  const t0 = performance.now();
  const since = () => (performance.now() - t0) / 1_000;
  const up = spawn(process.execPath, [join(root, 'bin/tiketi-sim.js'), 'up', '--json'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const seen = new Set<number>();
  const watch = setInterval(() => {
    for (const pid of descendantsOf(up.pid!)) seen.add(pid);
  }, 100);
  let cliLoaded = Number.NaN;
  const steps: StepTime[] = [];
  let stderr = '';
  let pending = '';
  up.stderr.on('data', (d: Buffer) => {
    const at = since();
    stderr += d;
    pending += d;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      if (Number.isNaN(cliLoaded)) cliLoaded = at;
      const m = STEP_LINE.exec(line);
      if (m) steps.push({ label: m[1]!, seconds: Number(m[2]), endedAt: at });
    }
  });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      up.stdout.on('data', (d: Buffer) => {
        out += d;
        if (out.includes('\n')) resolve(out.split('\n')[0]!);
      });
      up.once('exit', (code) => reject(new Error(`up exited ${code}:\n${stderr}`)));
    });
    const endpoints = since();
    const { edgeUrl } = JSON.parse(line) as { edgeUrl: string };
    const res = await fetch(`${edgeUrl}/api/events/demo`);
    await res.body?.cancel();
    const firstAnswer = since();
    await new Promise((r) => setTimeout(r, holdMs));
    return {
      run: { cliLoaded, steps, endpoints, firstAnswer, firstStatus: res.status, leftBehind: 0 },
      pids: [...seen],
    };
  } finally {
    clearInterval(watch);
    if (up.exitCode === null) {
      up.kill('SIGINT');
      await new Promise((r) => up.once('exit', r));
    }
  }
}

async function leftBehind(pids: number[]): Promise<number> {
  const deadline = Date.now() + 10_000;
  while (pids.some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return pids.filter(isAlive).length;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const spread = (xs: number[]) =>
  `${median(xs).toFixed(1)} s (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;

const results = new Map<string, UpRun[]>(checkouts.map((c) => [c, []]));
for (let i = 0; i < runs; i++) {
  for (const root of checkouts) {
    if (values.cold) rmSync(sparesRoot(), { recursive: true, force: true });
    const { run, pids } = await once(root);
    run.leftBehind = await leftBehind(pids);
    results.get(root)!.push(run);
    console.error(
      `${root} run ${i + 1}: endpoints ${run.endpoints.toFixed(2)} s, first answer ${run.firstStatus} at ${run.firstAnswer.toFixed(2)} s${run.leftBehind ? `, ${run.leftBehind} processes left behind` : ''}`,
    );
  }
}

function table(of: UpRun[]): void {
  const labels = [...new Set(of.flatMap((r) => r.steps.map((s) => s.label)))];
  const width = Math.max(24, ...labels.map((l) => l.length));
  const row = (label: string, own: string, at: string) =>
    console.log(`${label.padEnd(width)}  ${own.padEnd(26)} ${at}`);
  row('step', 'own time, median (min–max)', 'ended at');
  row('CLI loaded (first line)', '', spread(of.map((r) => r.cliLoaded)));
  for (const label of labels) {
    const steps = of.flatMap((r) => r.steps.filter((s) => s.label === label));
    row(label, spread(steps.map((s) => s.seconds)), spread(steps.map((s) => s.endedAt)));
  }
  row('endpoints printed', '', spread(of.map((r) => r.endpoints)));
  row(
    'first request answered',
    '',
    `${spread(of.map((r) => r.firstAnswer))}  statuses ${of.map((r) => r.firstStatus).join(', ')}`,
  );
  console.log(`processes left behind after Ctrl-C: ${of.reduce((n, r) => n + r.leftBehind, 0)}`);
}

if (values.json) console.log(JSON.stringify(Object.fromEntries(results), null, 2));
else
  for (const [root, of] of results) {
    console.log(`\n${root}`);
    table(of);
  }
