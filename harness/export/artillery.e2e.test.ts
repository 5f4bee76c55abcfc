/**
 * The exported Artillery script, run by the real Artillery CLI against a local `tiketi-sim up`:
 * the smoke scenario's 200 users sign up, join, are admitted over Socket.IO, the buyers pay, the
 * database holds every confirmed payment, and Artillery's own `ensure` checks pass.
 *
 * Both sides run at 2×: `up --time-scale 2` (the app's seat holds and the control plane) and
 * `export --time-scale 2` (arrivals and think times), so the drop takes about two minutes and a
 * buyer's think times stay within its seat holds, as at 1×. The users sign up and in ahead of the
 * drop (`--sign-in-lead`): 400 scrypt hashes within the drop's first minute are more than two cores
 * can do (89–151 of 200 users failed at sign-up, docs/load-engines.md), which is the machine's
 * limit, not the script's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLoadReport } from '../load-report/parse.ts';
import { descendantsOf, isAlive } from '../run/process-tree.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/tiketi-sim.js');
const ARTILLERY = join(ROOT, 'node_modules/.bin/artillery');
const TIME_SCALE = '2';
/** Wall seconds of sign-ins before the drop: 2 hashes a second, about two thirds of what two cores hash. */
const SIGN_IN_LEAD_S = 200;
const ARTILLERY_MS = SIGN_IN_LEAD_S * 1_000 + 240_000;
const TEST_MS = ARTILLERY_MS + 180_000;

interface Ready {
  edgeUrl: string;
  postgres: { writerUrl: string };
}

function run(
  command: string,
  args: string[],
  options: { cwd: string; timeoutMs: number },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ARTILLERY_DISABLE_TELEMETRY: 'true' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('tiketi-sim export --format artillery, run by Artillery against tiketi-sim up', () => {
  let up: ChildProcess;
  let ready: Ready;
  const seen = new Set<number>();
  let watch: NodeJS.Timeout;
  const out = mkdtempSync(join(tmpdir(), 'tiketi-export-'));

  beforeAll(async () => {
    // The exported script signs its 200 users up and in from this one machine: the design's
    // per-address limits (30 sign-ups an hour) would refuse most, as they would a load test from
    // one host against production. A rehearsal stack raises them; so does this one.
    const limits = ['registerPerAddress', 'loginPerAddress'].flatMap((limit) => [
      '--set',
      `limits.rate.${limit}.points=10000`,
    ]);
    up = spawn(process.execPath, [BIN, 'up', '--json', '--time-scale', TIME_SCALE, ...limits], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    watch = setInterval(() => {
      for (const pid of descendantsOf(up.pid!)) seen.add(pid);
    }, 500);
    let stderr = '';
    up.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d).slice(-4_000);
    });
    const line = await new Promise<string>((resolve, reject) => {
      let text = '';
      up.stdout!.on('data', (d: Buffer) => {
        text += d;
        if (text.includes('\n')) resolve(text.split('\n')[0]!);
      });
      up.once('exit', (code) => reject(new Error(`up exited ${code}: ${stderr}`)));
    });
    ready = JSON.parse(line) as Ready;
    // Targets serve once their health checks pass.
    const deadline = Date.now() + 90_000;
    for (;;) {
      const res = await fetch(`${ready.edgeUrl}/api/events/demo`).catch(() => undefined);
      await res?.body?.cancel();
      if (res?.status === 200) break;
      if (Date.now() > deadline) throw new Error('the topology did not serve /api/events/demo within 90 s');
      await new Promise((r) => setTimeout(r, 500));
    }
  }, 150_000);

  afterAll(async () => {
    clearInterval(watch);
    up?.kill('SIGINT');
    if (up && up.exitCode === null) await new Promise((r) => up.once('exit', r));
    rmSync(out, { recursive: true, force: true });
    const deadline = Date.now() + 10_000;
    while ([...seen].some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect([...seen].filter(isAlive)).toEqual([]);
  }, 60_000);

  it(
    'every user joins and is admitted over Socket.IO, buyers pay, the database agrees, ensure passes',
    async () => {
      const exportRun = await run(
        process.execPath,
        [
          BIN,
          'export',
          'smoke',
          '--format',
          'artillery',
          '--users',
          '200',
          '--time-scale',
          TIME_SCALE,
          '--sign-in-lead',
          String(SIGN_IN_LEAD_S),
          '--target',
          ready.edgeUrl,
          '--out',
          out,
        ],
        { cwd: ROOT, timeoutMs: 60_000 },
      );
      expect(exportRun.code, exportRun.stderr).toBe(0);

      const artillery = await run(
        ARTILLERY,
        ['run', '--output', join(out, 'report.json'), join(out, 'smoke.artillery.yml')],
        { cwd: ROOT, timeoutMs: ARTILLERY_MS },
      );
      const tail = `${artillery.stdout.slice(-3_000)}\n${artillery.stderr.slice(-2_000)}`;
      expect(artillery.code, tail).toBe(0);
      // Artillery's own verdicts: every ensure check printed as ok, none failed.
      expect(artillery.stdout).toContain('ok: tiketi.journey.response_time.p95 < 2000');
      expect(artillery.stdout).toMatch(
        /ok: \(tiketi\.journey\.errors \+ vusers\.created - vusers\.completed\)/,
      );
      expect(artillery.stdout).not.toMatch(/fail: /);

      const raw = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as {
        aggregate: { counters: Record<string, number> };
      };
      expect(raw.aggregate.counters['vusers.created']).toBe(200);
      expect(raw.aggregate.counters['vusers.completed']).toBe(200);
      const report = parseLoadReport(readFileSync(join(out, 'report.json'), 'utf8'), 'report.json');
      expect(report.latency['POST /api/events/:eventId/queue']?.count).toBe(200);
      expect(report.usersAdmitted).toBe(200);
      expect(report.latency['socket.delivery']?.count).toBeGreaterThanOrEqual(200);
      expect(report.errors).toBe(0);
      // About half of them buy (buyShare 0.5).
      expect(report.paymentsConfirmed).toBeGreaterThan(50);
      expect(report.paymentsConfirmed).toBeLessThan(150);

      const pool = new pg.Pool({ connectionString: ready.postgres.writerUrl, max: 1 });
      try {
        const { rows } = await pool.query<{ users: string; payments: string }>(
          `SELECT (SELECT count(*) FROM users WHERE email LIKE 'artillery-%@load.tiketi.gg') AS users,
                (SELECT count(*) FROM payments p JOIN reservations r ON r.id = p.reservation_id
                   JOIN users u ON u.id = r.user_id
                  WHERE p.status = 'confirmed' AND r.status = 'confirmed'
                    AND u.email LIKE 'artillery-%@load.tiketi.gg') AS payments`,
        );
        expect(Number(rows[0]!.users)).toBe(200);
        expect(Number(rows[0]!.payments)).toBe(report.paymentsConfirmed);
      } finally {
        await pool.end();
      }
    },
    TEST_MS,
  );
});
