import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import smoke from '../../scenarios/smoke.ts';
import { runCli as cli, lastJsonLine, stillAlive as noneAlive } from '../cli/cli-child.ts';

/** A real run of the exported smoke script with Artillery 2.0.34 (docs/load-engines.md). */
const ARTILLERY_REPORT = fileURLToPath(
  new URL('../load-report/fixtures/artillery-smoke.json', import.meta.url),
);
const work = mkdtempSync(join(tmpdir(), 'tiketi-external-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * Stands in for the engine beside the run: `count` users sign up and join the queue, as the
 * exported script's users do first (the latencies come from Artillery's recorded report).
 */
async function engineUsers(
  baseUrl: string,
  eventId: string,
  count: number,
): Promise<{ joined: number; failures: string[] }> {
  const post = async (path: string, body: object, token?: string) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    return { path, status: res.status, body: (await res.json().catch(() => ({}))) as { token?: string } };
  };
  let joined = 0;
  const failures: string[] = [];
  for (let i = 0; i < count; i++) {
    const credentials = { email: `engine-${i}@rehearsal.tiketi.gg`, password: 'engine-user-password' };
    await post('/api/auth/register', { ...credentials, name: `Engine ${i}` });
    const session = await post('/api/auth/login', credentials);
    const join = session.body.token
      ? await post(`/api/events/${eventId}/queue`, {}, session.body.token)
      : session;
    if (join.status < 300) joined++;
    else failures.push(`${join.path} ${join.status} ${JSON.stringify(join.body)}`);
  }
  return { joined, failures };
}

interface Verdict {
  kind: string;
  status: string;
  observed: string;
  reason?: string;
}

describe('run --load external (real processes, 1×)', () => {
  it("smoke with Artillery's report: the design verdicts and Artillery's latencies in one summary", async () => {
    // smoke's design, three simulated minutes at 1× (plus the local world's warm-up).
    const file = join(work, 'smoke-external.ts');
    writeFileSync(
      file,
      `export default ${JSON.stringify({
        ...smoke,
        name: 'smoke-external',
        description: 'smoke, three minutes, users sent by an engine',
        endAt: '19:33',
        event: { seats: 500, salesOpenAt: '19:30:30' },
        arrivals: [
          { at: '19:30', joined: 0 },
          { at: '19:31', joined: 200 },
        ],
        expectations: [
          { expect: 'instances', at: '19:32', min: 2, max: 2 },
          { expect: 'alarm-never', alarm: 'tiketi-queue-scale-out-aggressive', state: 'ALARM' },
          { expect: 'latency', endpoint: 'all', percentile: 95, belowMs: 2_000 },
          { expect: 'socket-delivery', percentile: 95, belowMs: 1_000 },
          { expect: 'error-rate', below: 0.01 },
          { expect: 'no-seat-sold-twice' },
          { expect: 'no-confirmed-reservation-lost' },
        ],
      })};\n`,
    );
    const reports = join(work, 'reports');
    let target: { baseUrl: string; eventId: string } | undefined;
    let engine: Promise<{ joined: number; failures: string[] }> | undefined;
    const onLine = (line: string) => {
      const to = /the engine's users go to (\S+), event (\S+)/.exec(line);
      if (to) target = { baseUrl: to[1]!, eventId: to[2]! };
      if (/the drop begins/.test(line) && target) engine = engineUsers(target.baseUrl, target.eventId, 20);
    };
    const run = await cli(
      [
        'run',
        file,
        '--load',
        'external',
        '--load-report',
        ARTILLERY_REPORT,
        '--report-dir',
        reports,
        '--json',
        '--no-dashboard',
      ],
      600_000,
      onLine,
    );
    // The engine's users reached the stack: the design was under load (else its verdicts say they were not).
    expect(await engine, run.stderr).toEqual({ joined: 20, failures: [] });
    const result = lastJsonLine<{ reportDir: string; expectations: Verdict[] }>(run);
    const summary = JSON.parse(readFileSync(join(result.reportDir, 'summary.json'), 'utf8'));
    const byKind = (kind: string) => summary.expectations.find((v: Verdict) => v.kind === kind) as Verdict;
    // The design, observed by tiketi-sim: two instances, no aggressive alarm, no double sale.
    expect(
      summary.series.some((s: { queueSize: number; activeUsers: number }) => s.queueSize + s.activeUsers > 0),
    ).toBe(true);
    expect(byKind('instances').status).toBe('passed');
    expect(byKind('alarm-never').status).toBe('passed');
    expect(byKind('no-seat-sold-twice').status).toBe('passed');
    // The users' side, from Artillery's report: its figures, judged by the scenario's expectations.
    expect(byKind('latency')).toMatchObject({ status: 'passed' });
    expect(byKind('latency').observed).toMatch(
      /^1525\.7 ms over 634 requests \(artillery report .*artillery-smoke\.json\)$/,
    );
    expect(byKind('socket-delivery')).toMatchObject({ status: 'passed' });
    expect(byKind('error-rate').observed).toMatch(/^0\.000 % \(0 of 942\)/);
    // Only the engine's users know which payments they were told were confirmed.
    expect(byKind('no-confirmed-reservation-lost')).toMatchObject({ status: 'inconclusive' });
    expect(byKind('no-confirmed-reservation-lost').reason).toMatch(/^measured by the engine: /);
    expect(run.code, run.stderr).toBe(3);
    expect(summary.latency.all.p95Ms).toBe(1525.7);
    expect(summary.counters).toMatchObject({
      requests: 942,
      errors: 0,
      usersAdmitted: 200,
      paymentsConfirmed: 108,
    });
    expect(summary.loadEngine).toMatchObject({ engine: 'artillery', file: ARTILLERY_REPORT });
    // tiketi-sim sent no users, at 1×.
    expect(summary.loadGenerator.workers).toBe(0);
    expect(summary.timeScale.requested).toBe(1);
    expect(summary.series.every((s: { requests: number }) => s.requests === 0)).toBe(true);
    expect(readFileSync(join(result.reportDir, 'junit.xml'), 'utf8')).toContain(
      '<testsuite name="smoke-external (artillery report)"',
    );
    expect(await noneAlive(run.descendants)).toEqual([]);
  }, 660_000);
});
