import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deployedAlarmName,
  designAlarmName,
  stackOutputDescription,
  stackOutputNames,
} from '../../infra/cdk/stack-outputs.ts';
import {
  type CommandRunner,
  checkDeployTarget,
  DeployUnavailableError,
  deployArgs,
  deployEnv,
  deployStack,
  destroyStack,
  LOCALSTACK_SERVICES,
  readStackOutputs,
  StackOutputsError,
} from './cdk-cli.ts';

const fixtures = fileURLToPath(new URL('./aws/fixtures/', import.meta.url));
let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tiketi-cdk-cli-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A port on 127.0.0.1 where nothing listens (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A stand-in for LocalStack's health endpoint on 127.0.0.1. */
async function healthServer(body: unknown): Promise<{ endpoint: string; server: Server }> {
  const server = createServer((req, res) => {
    if (req.url !== '/_localstack/health') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const allServices = Object.fromEntries(LOCALSTACK_SERVICES.map((s) => [s, 'available']));

function emptyHome(name: string): string {
  const home = join(tmp, name);
  mkdirSync(home, { recursive: true });
  return home;
}

describe('checkDeployTarget localstack', () => {
  it('says how to start LocalStack, and that it needs an auth token, when nothing answers', async () => {
    const port = await closedPort();
    const check = await checkDeployTarget('localstack', { localstackEndpoint: `http://127.0.0.1:${port}` });
    expect(check.ok).toBe(false);
    if (check.ok) return;
    expect(check.reason).toContain(
      `no LocalStack answers at http://127.0.0.1:${port}/_localstack/health (ECONNREFUSED)`,
    );
    expect(check.reason).toContain('docker compose -f docker-compose.localstack.yml up -d');
    expect(check.reason).toContain('LOCALSTACK_AUTH_TOKEN');
  });

  it('accepts a LocalStack with every service the stack needs', async () => {
    const { endpoint, server } = await healthServer({
      services: allServices,
      version: '4.14.0',
      edition: 'community',
    });
    try {
      expect(await checkDeployTarget('localstack', { localstackEndpoint: endpoint })).toEqual({
        ok: true,
        found: `LocalStack 4.14.0 community at ${endpoint}`,
      });
    } finally {
      server.close();
    }
  });

  it('refuses a LocalStack whose CloudWatch predates the SDK v3 JSON protocol', async () => {
    const { endpoint, server } = await healthServer({ services: allServices, version: '4.4.0' });
    try {
      const check = await checkDeployTarget('localstack', { localstackEndpoint: endpoint });
      expect(check).toMatchObject({
        ok: false,
        reason: expect.stringMatching(/LocalStack 4\.4\.0 is too old.*4\.9/),
      });
    } finally {
      server.close();
    }
  });

  it('names the services a LocalStack started with a narrower SERVICES lacks', async () => {
    const services = { ...allServices, sns: 'disabled' } as Record<string, string>;
    delete services.cloudformation;
    const { endpoint, server } = await healthServer({ services, version: '4.14.0' });
    try {
      const check = await checkDeployTarget('localstack', { localstackEndpoint: endpoint });
      expect(check).toMatchObject({
        ok: false,
        reason: expect.stringContaining('lacks cloudformation, sns'),
      });
    } finally {
      server.close();
    }
  });
});

describe('checkDeployTarget aws', () => {
  it('says no credentials were found, and how to provide them, in a bare environment', async () => {
    const home = emptyHome('bare');
    const check = await checkDeployTarget('aws', {
      env: { HOME: home, PATH: process.env.PATH },
      homeDir: home,
    });
    expect(check.ok).toBe(false);
    if (check.ok) return;
    expect(check.reason).toContain('no AWS credentials found');
    expect(check.reason).toContain(join(home, '.aws', 'credentials'));
    expect(check.reason).toContain('AWS_PROFILE');
    expect(check.reason).toContain('npx cdk bootstrap aws://<account>/ap-northeast-2');
  });

  it('finds the default profile in ~/.aws/credentials', async () => {
    const home = emptyHome('with-credentials');
    mkdirSync(join(home, '.aws'));
    writeFileSync(
      join(home, '.aws', 'credentials'),
      '[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n',
    );
    const check = await checkDeployTarget('aws', { env: { HOME: home } });
    expect(check).toMatchObject({ ok: true, found: expect.stringContaining('profile default') });
  });

  it('finds an SSO profile named by AWS_PROFILE in ~/.aws/config', async () => {
    const home = emptyHome('with-sso');
    mkdirSync(join(home, '.aws'));
    writeFileSync(
      join(home, '.aws', 'config'),
      '[profile tiketi]\nsso_session = tiketi\nsso_account_id = 123456789012\nsso_role_name = Admin\nregion = ap-northeast-2\n',
    );
    expect(await checkDeployTarget('aws', { env: { HOME: home, AWS_PROFILE: 'tiketi' } })).toMatchObject({
      ok: true,
    });
  });

  it('names an AWS_PROFILE that does not exist, and the profiles that do', async () => {
    const home = emptyHome('wrong-profile');
    mkdirSync(join(home, '.aws'));
    writeFileSync(
      join(home, '.aws', 'config'),
      '[profile dev]\nregion = ap-northeast-2\ncredential_process = /bin/true\n',
    );
    const check = await checkDeployTarget('aws', { env: { HOME: home, AWS_PROFILE: 'prod' } });
    expect(check).toMatchObject({
      ok: false,
      reason: expect.stringMatching(
        /AWS_PROFILE=prod names a profile with no credentials .*profiles there: dev/,
      ),
    });
  });

  it.each([
    [{ AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' }, /LocalStack's dummy key/],
    [{ AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE' }, /AWS_SECRET_ACCESS_KEY is not/],
    [
      { AWS_ENDPOINT_URL: 'http://127.0.0.1:4566', AWS_ACCESS_KEY_ID: 'AKIA', AWS_SECRET_ACCESS_KEY: 'x' },
      /would deploy there, not to AWS/,
    ],
  ])('refuses %o', async (env, reason) => {
    const home = emptyHome('env-cases');
    expect(await checkDeployTarget('aws', { env: { HOME: home, ...env } })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(reason),
    });
  });
});

describe('deployStack / destroyStack', () => {
  function recordingRunner(code = 0) {
    const calls: { command: string; args: string[]; env: NodeJS.ProcessEnv; cwd: string }[] = [];
    const run: CommandRunner = async (command, args, options) => {
      calls.push({ command, args, env: options.env, cwd: options.cwd });
      return code;
    };
    return { run, calls };
  }

  it('bootstraps LocalStack, then deploys with the endpoint environment and the outputs file', async () => {
    const { endpoint, server } = await healthServer({ services: allServices, version: '4.14.0' });
    const { run, calls } = recordingRunner();
    try {
      const result = await deployStack(
        {
          target: 'localstack',
          outputsFile: 'infra/cdk.out/outputs-localstack.json',
          localstackEndpoint: endpoint,
        },
        { run, env: { PATH: '/usr/bin' }, log: () => {} },
      );
      expect(result).toEqual({ stackName: 'TiketiLocal' });
    } finally {
      server.close();
    }
    expect(calls.map((c) => [c.command, ...c.args].join(' '))).toEqual([
      'npx cdk bootstrap aws://000000000000/ap-northeast-2 -c target=localstack',
      'npx cdk deploy TiketiLocal --require-approval never -c target=localstack --outputs-file infra/cdk.out/outputs-localstack.json',
    ]);
    expect(calls[1]!.env).toMatchObject({
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: 'ap-northeast-2',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      CDK_DEFAULT_ACCOUNT: '000000000000',
      PATH: '/usr/bin',
    });
    expect(calls[1]!.cwd).toBe(fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, ''));
  });

  it('refuses to run the CLI when the target is unavailable', async () => {
    const port = await closedPort();
    const { run, calls } = recordingRunner();
    const attempt = deployStack(
      { target: 'localstack', outputsFile: 'out.json', localstackEndpoint: `http://127.0.0.1:${port}` },
      { run, log: () => {} },
    );
    await expect(attempt).rejects.toBeInstanceOf(DeployUnavailableError);
    await expect(attempt).rejects.toThrow(/docker compose -f docker-compose\.localstack\.yml up -d/);
    expect(calls).toEqual([]);
  });

  it('reports the failing command with its exit code', async () => {
    const home = emptyHome('deploy-aws');
    const { run } = recordingRunner(1);
    await expect(
      deployStack(
        { target: 'aws', stackName: 'TiketiStaging', outputsFile: 'o.json' },
        {
          run,
          env: { HOME: home, AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE', AWS_SECRET_ACCESS_KEY: 'x' },
          log: () => {},
        },
      ),
    ).rejects.toThrow(
      /`npx cdk deploy TiketiStaging --require-approval never -c target=aws -c stackName=TiketiStaging --outputs-file o\.json` exited with 1\. If the CLI says the environment is not bootstrapped: npx cdk bootstrap/,
    );
  });

  it('destroys the named stack with --force', async () => {
    const home = emptyHome('destroy-aws');
    const { run, calls } = recordingRunner();
    await destroyStack(
      { target: 'aws' },
      {
        run,
        env: { HOME: home, AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE', AWS_SECRET_ACCESS_KEY: 'x' },
        log: () => {},
      },
    );
    expect(calls[0]!.args).toEqual(['cdk', 'destroy', 'Tiketi', '--force', '-c', 'target=aws']);
    expect(calls[0]!.env.AWS_ENDPOINT_URL).toBeUndefined();
  });

  it('passes extra context and keeps credentials that are set', () => {
    expect(
      deployArgs({
        target: 'aws',
        outputsFile: 'o.json',
        context: { certificateArn: 'arn:aws:acm:us-east-1:1:certificate/x' },
      }),
    ).toEqual([
      'cdk',
      'deploy',
      'Tiketi',
      '--require-approval',
      'never',
      '-c',
      'target=aws',
      '-c',
      'certificateArn=arn:aws:acm:us-east-1:1:certificate/x',
      '--outputs-file',
      'o.json',
    ]);
    const env = deployEnv('localstack', { AWS_ACCESS_KEY_ID: 'mine', AWS_SECRET_ACCESS_KEY: 'secret' });
    expect(env).toMatchObject({
      AWS_ACCESS_KEY_ID: 'mine',
      AWS_ENDPOINT_URL_S3: 'http://s3.localhost.localstack.cloud:4566',
    });
  });
});

describe('readStackOutputs', () => {
  it('reads the aws outputs into a typed object', () => {
    const read = readStackOutputs(join(fixtures, 'cdk-outputs-aws.json'));
    expect(read.target).toBe('aws');
    expect(read.stackName).toBe('Tiketi');
    if (read.target !== 'aws') return;
    expect(read.outputs.AlarmNames).toEqual([
      'tiketi-queue-scale-out',
      'tiketi-queue-scale-out-aggressive',
      'tiketi-queue-scale-in',
    ]);
    expect(read.outputs.AutoScalingGroupName).toBe('tiketi-backend-asg');
    expect(read.outputs.HostedZoneNameServers).toHaveLength(4);
  });

  it('reads the localstack outputs (topic and queue, no load balancer)', () => {
    const read = readStackOutputs(join(fixtures, 'cdk-outputs-localstack.json'));
    expect(read).toMatchObject({
      target: 'localstack',
      stackName: 'TiketiLocal',
      outputs: {
        AlarmQueueUrl:
          'http://sqs.ap-northeast-2.localhost.localstack.cloud:4566/000000000000/TiketiLocal-AlarmQueue4F5E6D7C-a1b2c3d4',
      },
    });
  });

  it('names a missing output', () => {
    const file = join(tmp, 'missing.json');
    const { Tiketi: outputs } = JSON.parse(readFileSync(join(fixtures, 'cdk-outputs-aws.json'), 'utf8')) as {
      Tiketi: Record<string, string>;
    };
    delete outputs.AutoScalingGroupName;
    writeFileSync(file, JSON.stringify({ Tiketi: outputs }));
    expect(() => readStackOutputs(file)).toThrow(StackOutputsError);
    expect(() => readStackOutputs(file)).toThrow(
      /stack Tiketi \(aws\): missing output AutoScalingGroupName\./,
    );
  });

  it('asks for the stack name when the file has several, and says when the file is absent', () => {
    const file = join(tmp, 'two.json');
    writeFileSync(file, JSON.stringify({ Tiketi: {}, TiketiStaging: {} }));
    expect(() => readStackOutputs(file)).toThrow(/stacks Tiketi, TiketiStaging: name the stack/);
    expect(() => readStackOutputs(file, { stackName: 'Other' })).toThrow(/has no stack Other/);
    expect(() => readStackOutputs(join(tmp, 'nope.json'))).toThrow(
      /no stack outputs at .*nope\.json: deploy first/,
    );
  });
});

describe('the stack outputs contract (infra/cdk/stack-outputs.ts)', () => {
  it('gives each target its outputs, every one with a meaning', () => {
    expect(stackOutputNames('localstack')).toEqual(
      expect.arrayContaining(['AlarmTopicArn', 'AlarmQueueUrl']),
    );
    expect(stackOutputNames('aws')).not.toContain('AlarmTopicArn');
    for (const name of [...stackOutputNames('aws'), ...stackOutputNames('localstack')]) {
      expect(stackOutputDescription(name).length, name).toBeGreaterThan(5);
    }
  });

  it('reads back the alarm names the stack derives from its own name', () => {
    const deployed = deployedAlarmName('TiketiStaging', 'tiketi-queue-scale-out');
    expect(deployed).toBe('TiketiStaging-tiketi-queue-scale-out');
    expect(designAlarmName('TiketiStaging', deployed)).toBe('tiketi-queue-scale-out');
    // Another stack's alarm, or one deployed before the prefix, keeps its name.
    expect(designAlarmName('Tiketi', deployed)).toBe(deployed);
    expect(designAlarmName('Tiketi', 'tiketi-queue-scale-in')).toBe('tiketi-queue-scale-in');
  });
});
