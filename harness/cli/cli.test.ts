import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCliBriefly } from './cli-child.ts';

// Never deploy for real from a test: this one runs only where no LocalStack answers.
const localstackAnswers = await fetch('http://127.0.0.1:4566/_localstack/health', {
  signal: AbortSignal.timeout(1_000),
}).then(
  () => true,
  () => false,
);

function cli(...args: string[]) {
  return runCliBriefly(args);
}

function cliWith(env: NodeJS.ProcessEnv, ...args: string[]) {
  return runCliBriefly(args, env);
}

/** The environment of a machine with no AWS credentials: no AWS_* variable, a home without ~/.aws. */
const emptyHome = mkdtempSync(join(tmpdir(), 'tiketi-cli-home-'));
afterAll(() => rmSync(emptyHome, { recursive: true, force: true }));
const noAwsEnv = Object.fromEntries(
  Object.entries({ ...process.env, HOME: emptyHome }).filter(([key]) => !key.startsWith('AWS_')),
);

describe('tiketi-sim CLI', () => {
  it('lists the built-in scenarios, one line each', async () => {
    const { code, stdout } = await cli('list');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^peak-drop\s+The design's peak/m);
    expect(stdout).toMatch(/^smoke\s+/m);
  });

  it('doctor reports what the local backend needs', async () => {
    const { code, stdout } = await cli('doctor', '--json');
    expect(code).toBe(0);
    const checks = JSON.parse(stdout) as { name: string; ok: boolean; required: boolean }[];
    expect(checks.filter((c) => c.required).map((c) => [c.name, c.ok])).toEqual([
      ['node', true],
      ['redis-server', true],
      ['postgresql', true],
    ]);
  });

  it('lists the failover rehearsals', async () => {
    const { stdout } = await cli('list');
    for (const name of ['instance-failure', 'az-failure', 'redis-failover', 'db-failover'])
      expect(stdout).toMatch(new RegExp(`^${name}\\s+\\S`, 'm'));
  });

  it('--set names a wrong key or value of the design and exits 2 before starting anything', async () => {
    const key = await cli('run', 'smoke', '--set', 'autoScalingGroup.healthCheckTyp=EC2');
    expect(key.code).toBe(2);
    expect(key.stderr).toContain('topology.autoScalingGroup: Unrecognized key: "healthCheckTyp"');
    const value = await cli('run', 'smoke', '--set', 'autoScalingGroup.healthCheckType=EC3');
    expect(value.code).toBe(2);
    expect(value.stderr).toMatch(
      /autoScalingGroup\.healthCheckType: Invalid option: expected one of "EC2"\|"ELB"/,
    );
  });

  it('chaos names the missing argument, and says when no topology is up', async () => {
    const az = await cli('chaos', 'kill-az');
    expect(az.code).toBe(2);
    expect(az.stderr).toMatch(/chaos kill-az: az: .*\(give <a\|b>\)/);
    const latency = await cli('chaos', 'latency', '--path', 'app-db');
    expect(latency.code).toBe(2);
    expect(latency.stderr).toMatch(/latencyMs: .*--ms <n>/);
    const down = await cli('chaos', 'db-failover', '--control-url', 'http://127.0.0.1:9');
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(/does not answer .*is `tiketi-sim up` still running/);
  });

  it.skipIf(localstackAnswers)(
    'deploy says exactly what is missing when LocalStack does not answer',
    async () => {
      const { code, stderr } = await cli('deploy', '--target', 'localstack');
      expect(code).toBe(2);
      expect(stderr).toMatch(
        /no LocalStack answers at http:\/\/127\.0\.0\.1:4566.*docker compose -f docker-compose\.localstack\.yml up -d/s,
      );
    },
  );

  it('run --world aws names the missing --stack flag and exits 2', async () => {
    const { code, stdout, stderr } = await cli('run', 'smoke', '--world', 'aws');
    expect(code).toBe(2);
    expect(stderr).toMatch(
      /^--world aws needs --stack <name>: the CloudFormation stack to rehearse against/m,
    );
    expect(stdout).not.toContain('[tiketi-sim] smoke');
  });

  it('run --world aws without credentials says what is missing and how to fix it, exit 2', async () => {
    const { code, stderr } = await cliWith(noAwsEnv, 'run', 'smoke', '--world', 'aws', '--stack', 'Tiketi');
    expect(code).toBe(2);
    expect(stderr).toContain(
      `--world aws: no AWS credentials found: AWS_ACCESS_KEY_ID and AWS_PROFILE are unset and there is no ${join(emptyHome, '.aws', 'credentials')} or ${join(emptyHome, '.aws', 'config')}. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or configure a profile`,
    );
    const profile = await cliWith(
      { ...noAwsEnv, AWS_PROFILE: 'tiketi-prod' },
      'run',
      'smoke',
      '--world',
      'aws',
      '--stack',
      'Tiketi',
    );
    expect(profile.code).toBe(2);
    expect(profile.stderr).toMatch(
      /--world aws: AWS_PROFILE=tiketi-prod names a profile with no credentials/,
    );
  });

  it.skipIf(localstackAnswers)(
    'run --world localstack with no LocalStack answering: exit 2, names the endpoint and the fix',
    async () => {
      const { code, stderr } = await cli('run', 'smoke', '--world', 'localstack');
      expect(code).toBe(2);
      expect(stderr).toMatch(
        /^--world localstack: no LocalStack answers at http:\/\/127\.0\.0\.1:4566\/_localstack\/health \(\w+\)\. Start it with `docker compose -f docker-compose\.localstack\.yml up -d`/m,
      );
    },
  );

  it('run: world flags that cannot work together are named before anything starts', async () => {
    const world = await cli('run', 'smoke', '--world', 'gcp');
    expect(world.code).toBe(2);
    expect(world.stderr).toMatch(/--world must be one of local, localstack, aws \(got gcp\)/);
    const stack = await cli('run', 'smoke', '--stack', 'Tiketi');
    expect(stack.code).toBe(2);
    expect(stack.stderr).toMatch(
      /--stack Tiketi names a deployed stack: use it with --world aws or --world localstack/,
    );
    const scale = await cli('run', 'smoke', '--world', 'aws', '--stack', 'Tiketi', '--time-scale', '30');
    expect(scale.code).toBe(2);
    expect(scale.stderr).toMatch(/--time-scale 30: the aws world runs on the wall clock \(1×\)/);
  });

  it('run --load external: flags that cannot work and a report of the wrong shape exit 2 before anything starts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tiketi-cli-load-'));
    try {
      const scale = await cli(
        'run',
        'smoke',
        '--load',
        'external',
        '--time-scale',
        '30',
        '--report-dir',
        dir,
      );
      expect(scale.code).toBe(2);
      expect(scale.stderr).toMatch(
        /--time-scale 30: with --load external the engine sends its users in wall time, so the run follows at 1×/,
      );
      const source = await cli('run', 'smoke', '--load', 'k6', '--report-dir', dir);
      expect(source.code).toBe(2);
      expect(source.stderr).toMatch(/--load must be one of generator, external \(got k6\)/);
      const alone = await cli('run', 'smoke', '--load-report', 'report.json', '--report-dir', dir);
      expect(alone.code).toBe(2);
      expect(alone.stderr).toMatch(/--load-report report\.json: .* add --load external/);
      const file = join(dir, 'not-a-report.json');
      writeFileSync(file, JSON.stringify({ aggregate: { counters: {} } }));
      const shape = await cli(
        'run',
        'smoke',
        '--load',
        'external',
        '--load-report',
        file,
        '--report-dir',
        dir,
      );
      expect(shape.code).toBe(2);
      expect(shape.stderr).toMatch(
        /not-a-report\.json: not a k6 --summary-export or Artillery --output report/,
      );
      expect(shape.stderr).toMatch(/aggregate\.summaries: /);
      const missing = await cli(
        'run',
        'smoke',
        '--load',
        'external',
        '--load-report',
        join(dir, 'nope.json'),
        '--report-dir',
        dir,
      );
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/nope\.json: [^\n]*\n\s+cannot be read \(ENOENT[^\n]*check the path/);
      // Refused before anything started: no topology line, no report.
      for (const r of [scale, source, alone, shape, missing]) expect(r.stdout).not.toMatch(/\[tiketi-sim\]/);
      expect(readdirSync(dir)).toEqual(['not-a-report.json']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('run: a scenario naming an alarm, an endpoint and a fault path that do not exist is refused, all three named, nothing started', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tiketi-cli-names-'));
    try {
      const file = join(dir, 'typos.ts');
      writeFileSync(
        file,
        `export default ${JSON.stringify({
          name: 'typos',
          description: 'three misspelled names',
          startAt: '19:30',
          endAt: '20:00',
          event: { seats: 10 },
          users: 10,
          arrivals: [
            { at: '19:30', joined: 0 },
            { at: '19:40', joined: 10 },
          ],
          faults: [{ at: '19:35', fault: 'latency', path: 'app-redsi', latencyMs: 50, durationSeconds: 30 }],
          expectations: [
            { expect: 'alarm-never', alarm: 'tiketi-queue-scale-oot', state: 'ALARM' },
            { expect: 'latency', endpoint: 'POST /api/event/:eventId/queue', percentile: 95, belowMs: 200 },
          ],
        })};\n`,
      );
      const { code, stderr, stdout } = await cli('run', file, '--report-dir', dir);
      expect(code).toBe(2);
      expect(stderr).toMatch(/faults\[0\]\.path .*"app-redis"/);
      expect(stderr).toMatch(/expectations\[0\]\.alarm no alarm named "tiketi-queue-scale-oot"/);
      expect(stderr).toMatch(/expectations\[1\]\.endpoint no endpoint "POST \/api\/event\/:eventId\/queue"/);
      // Refused before anything started: no topology line, no report.
      expect(stdout).not.toMatch(/\[tiketi-sim\]/);
      expect(readdirSync(dir)).toEqual(['typos.ts']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 with help on a usage error', async () => {
    const { code, stderr } = await cli('nope');
    expect(code).toBe(2);
    expect(stderr).toMatch(/unknown command 'nope'/);
    const bad = await cli('run', 'smoke', '--users', '-5');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--users must be a positive number \(got -5\)/);
    const target = await cli('deploy', '--target', 'gcp');
    expect(target.code).toBe(2);
    expect(target.stderr).toMatch(/--target must be aws or localstack \(got gcp\)/);
  });
});

describe('scale models on the command line', () => {
  it('bad --scale values exit 2 naming the option, the value and the fix', async () => {
    for (const value of ['0', '1.5', 'quarter']) {
      const { code, stderr } = await cli('run', 'peak-drop', '--scale', value);
      expect([value, code]).toEqual([value, 2]);
      expect(stderr).toContain(
        `--scale must be a fraction of the design, 0 < F <= 1 (got ${value}): e.g. --scale 0.25 runs a 1:4 scale model`,
      );
    }
  });

  it('a scale model with --users, or in a deployed world, is refused before anything starts', async () => {
    const both = await cli('run', 'peak-drop', '--scale', '0.25', '--users', '1000');
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^--users 1000 and --scale 0.25 both set the user count: .* drop --users/m);
    const aws = await cli('run', 'peak-drop', '--scale', '0.25', '--world', 'aws', '--stack', 'Tiketi');
    expect(aws.code).toBe(2);
    expect(aws.stderr).toMatch(/^--scale 0.25: the aws world rehearses deployed alarms .* local world/m);
  });

  it('--users warns on stderr, before anything starts, when it moves the alarms the expectations name', async () => {
    // --backend external with no URLs stops the run right after the warning, before any server starts.
    const { code, stdout, stderr } = await cli(
      'run',
      'peak-drop',
      '--users',
      '6000',
      '--backend',
      'external',
    );
    expect(code).toBe(2);
    const warning = stderr.indexOf('[tiketi-sim] warning: --users 6000: peak-drop');
    expect(warning).toBeGreaterThanOrEqual(0);
    expect(stderr).toContain(
      'tiketi-queue-scale-out-aggressive (QueueSize > 20000): ALARM at 19:59 with 25,000 users, never with 6,000',
    );
    expect(stderr).toContain('use --scale 0.24 instead');
    expect(warning).toBeLessThan(stderr.indexOf('--backend external needs the URLs'));
    expect(stdout).not.toContain('[tiketi-sim] peak-drop');
    // A count that crosses the same thresholds at the same minutes is not warned about.
    const same = await cli('run', 'peak-drop', '--users', '25100', '--backend', 'external');
    expect(same.stderr).not.toContain('warning: --users');
  });
});

describe('--set overrides', () => {
  it('builds nested overrides, with JSON values where they parse', async () => {
    const { topologyOverrides } = await import('./overrides.ts');
    expect(
      topologyOverrides([
        'autoScalingGroup.healthCheckType=EC2',
        'autoScalingGroup.maxSize=12',
        'loadBalancer.healthCheck.intervalSeconds=10',
      ]),
    ).toEqual({
      autoScalingGroup: { healthCheckType: 'EC2', maxSize: 12 },
      loadBalancer: { healthCheck: { intervalSeconds: 10 } },
    });
    expect(topologyOverrides([])).toBeUndefined();
  });
});
