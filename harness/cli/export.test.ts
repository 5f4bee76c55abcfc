/** `tiketi-sim export` at the command line: bad input exits 2 with a message naming the field and the fix. */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SIGN_IN_PHASE } from '../export/artillery.ts';
import { runCliBriefly } from './cli-child.ts';

const SCHEMA = fileURLToPath(new URL('../scenario/schema.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tiketi-export-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]) {
  return runCliBriefly(args);
}

describe('tiketi-sim export', () => {
  it('writes the k6 script and the Artillery script with its processor, and says how to run them', async () => {
    const k6 = await cli(
      'export',
      'smoke',
      '--format',
      'k6',
      '--out',
      dir,
      '--target',
      'https://staging.tiketi.gg',
    );
    expect(k6.code, k6.stderr).toBe(0);
    expect(k6.stdout).toContain(`wrote ${join(dir, 'smoke.k6.js')}`);
    expect(k6.stdout).toContain('run: k6 run -e TARGET=https://staging.tiketi.gg');
    const artillery = await cli('export', 'smoke', '--format', 'artillery', '--out', dir, '--users', '50');
    expect(artillery.code, artillery.stderr).toBe(0);
    expect(existsSync(join(dir, 'smoke.artillery.yml'))).toBe(true);
    expect(existsSync(join(dir, 'smoke.processor.mjs'))).toBe(true);
  }, 60_000);

  it('--sign-in-lead signs users in ahead of the drop; a lead past half a session exits 2 with the most it may be', async () => {
    const ahead = await cli(
      'export',
      'smoke',
      '--format',
      'artillery',
      '--out',
      dir,
      '--time-scale',
      '2',
      '--sign-in-lead',
      '200',
    );
    expect(ahead.code, ahead.stderr).toBe(0);
    expect(ahead.stdout).toContain(
      'note: users sign up and in over the first 200 s (400 password hashes, 2.0 a second)',
    );
    const script = JSON.parse(
      readFileSync(join(dir, 'smoke.artillery.yml'), 'utf8').replace(/^#.*\n/gm, ''),
    ) as { config: { phases: object[] } };
    expect(script.config.phases).toEqual([{ name: SIGN_IN_PHASE, duration: 200, arrivalCount: 200 }]);
    // Sessions last an hour of the scenario's time: at 2×, half of it is 900 wall seconds.
    const tooLong = await cli(
      'export',
      'smoke',
      '--format',
      'k6',
      '--out',
      dir,
      '--time-scale',
      '2',
      '--sign-in-lead',
      '901',
    );
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr).toContain(
      '--sign-in-lead 901: the first users would reach the queue with less than half of their session left',
    );
    expect(tooLong.stderr).toContain('use at most 900');
    const negative = await cli('export', 'smoke', '--format', 'k6', '--out', dir, '--sign-in-lead', '-5');
    expect(negative.code).toBe(2);
    expect(negative.stderr).toContain('--sign-in-lead must be a number, 0 or more (got -5)');
  }, 60_000);

  it('an unknown or missing format exits 2 naming the formats', async () => {
    const unknown = await cli('export', 'smoke', '--format', 'jmeter', '--out', dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--format must be one of k6, artillery (got "jmeter")');
    const missing = await cli('export', 'smoke', '--out', dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--format is required: one of k6, artillery');
  });

  it('a target that is not a base URL exits 2', async () => {
    const bad = await cli('export', 'smoke', '--format', 'k6', '--target', 'staging', '--out', dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--target must be a URL such as https://tiketi.gg (got "staging")');
    const path = await cli(
      'export',
      'smoke',
      '--format',
      'k6',
      '--target',
      'https://tiketi.gg/api',
      '--out',
      dir,
    );
    expect(path.code).toBe(2);
    expect(path.stderr).toContain('without a path or query');
  });

  it("a scenario's faults exit 2 (an engine sends users, it injects nothing) unless --without-faults", async () => {
    const refused = await cli('export', 'az-failure', '--format', 'k6', '--out', dir);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /scenarios\/az-failure\.ts: cannot export\n {2}faults\[0\] \(kill-az at \d\d:\d\d\)/,
    );
    expect(refused.stderr).toContain('pass --without-faults');
    const left = await cli('export', 'az-failure', '--format', 'k6', '--out', dir, '--without-faults');
    expect(left.code, left.stderr).toBe(0);
    expect(left.stdout).toMatch(/note: left out 1 fault\(s\): inject them at \d\d:\d\d \(kill-az\)/);
  }, 60_000);

  it('what an engine cannot express is listed at once, each with its field and the fix', async () => {
    const file = join(dir, 'inexpressible.ts');
    writeFileSync(
      file,
      `import { defineScenario } from '${SCHEMA}';
export default defineScenario({
  name: 'inexpressible',
  description: 'features no engine script can run',
  startAt: '19:30',
  endAt: '19:40',
  event: { seats: 100 },
  users: 100,
  arrivals: [{ at: '19:30', joined: 40 }, { at: '19:35', joined: 100 }],
  behaviour: { socket: false, pollQueueEverySeconds: 5 },
  expectations: [{ expect: 'latency', endpoint: 'GET /api/events/:eventId', percentile: 95, belowMs: 200 }],
});
`,
    );
    const artillery = await cli('export', file, '--format', 'artillery', '--out', dir);
    expect(artillery.code).toBe(2);
    expect(artillery.stderr).toContain('arrivals[0].joined: 40 users at one instant (19:30)');
    expect(artillery.stderr).toContain(
      'behaviour.socket: false (users poll for admission) is not expressible with the Artillery Socket.IO engine',
    );
    expect(artillery.stderr).toContain(
      'expectations[0].endpoint: "GET /api/events/:eventId" is never called by the exported journey',
    );
    // k6 polls: only the curve and the endpoint remain.
    const k6 = await cli('export', file, '--format', 'k6', '--out', dir);
    expect(k6.code).toBe(2);
    expect(k6.stderr).not.toContain('behaviour.socket');
    expect(k6.stderr).toContain('arrivals[0].joined');
    expect(k6.stderr).toContain(
      'use one of POST /api/events/:eventId/queue, GET /api/events/:eventId/queue/me',
    );
  }, 60_000);

  it('an unknown scenario exits 2 with the built-in names', async () => {
    const unknown = await cli('export', 'peak-drpo', '--format', 'k6', '--out', dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no built-in scenario with that name');
  });
});

describe('tiketi-sim load-report', () => {
  const FIXTURES = fileURLToPath(new URL('../load-report/fixtures/', import.meta.url));

  it("reads an engine's report on tiketi-sim's names", async () => {
    const k6 = await cli('load-report', join(FIXTURES, 'k6-summary-export.json'));
    expect(k6.code, k6.stderr).toBe(0);
    expect(k6.stdout).toContain(
      'k6 report: 1100 requests, 3 failed (0.273 %), 198 users admitted, 97 payments confirmed',
    );
    const artillery = await cli('load-report', join(FIXTURES, 'artillery-smoke.json'), '--json');
    expect(artillery.code, artillery.stderr).toBe(0);
    expect(JSON.parse(artillery.stdout)).toMatchObject({ engine: 'artillery', usersAdmitted: 200 });
  });

  it('a report of the wrong shape, or no file, exits 2 naming the file and the problem', async () => {
    const wrong = join(dir, 'wrong.json');
    writeFileSync(
      wrong,
      JSON.stringify({ aggregate: { counters: { 'vusers.created': 'many' }, summaries: {} } }),
    );
    const bad = await cli('load-report', wrong);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`${wrong}: not a k6 --summary-export or Artillery --output report`);
    expect(bad.stderr).toContain('aggregate.counters.vusers.created');
    const missing = await cli('load-report', join(dir, 'nope.json'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot be read');
  });
});
