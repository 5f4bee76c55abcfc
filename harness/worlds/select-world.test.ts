import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../backends/backend.ts';
import type { SdkClient } from './aws/observe.ts';
import { DeployUnavailableError, LOCALSTACK_SERVICES } from './cdk-cli.ts';
import { type AwsSdkClients, type LocalStackSdkClients, selectWorld } from './select-world.ts';
import { WorldSetupError } from './world.ts';

function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`./aws/fixtures/${name}.json`, import.meta.url), 'utf8'));
}

function recorder(answer: (command: object) => unknown) {
  const sent: object[] = [];
  const client: SdkClient = {
    async send(command) {
      sent.push(command);
      return answer(command);
    },
  };
  return { client, sent };
}

const home = mkdtempSync(join(tmpdir(), 'tiketi-world-home-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));
/** No AWS variable, an empty home: what a machine without credentials looks like. */
const noCredentials = { env: { PATH: process.env.PATH }, homeDir: home };
const withKeys = {
  env: { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' },
  homeDir: home,
};
const fakeBackend = { kind: 'local' } as Backend;
const log = () => {};

function awsClients(answers: { stacks?: () => unknown; alarms?: () => unknown } = {}) {
  let destroyed = 0;
  const cloudFormation = recorder((command) => {
    if (!(command instanceof DescribeStacksCommand)) throw new Error('unexpected');
    return (answers.stacks ?? (() => fixture('describe-stacks')))();
  });
  const cloudWatch = recorder((command) => {
    if (!(command instanceof DescribeAlarmsCommand)) throw new Error('unexpected');
    return (answers.alarms ?? (() => fixture('describe-alarms')))();
  });
  const unused = recorder(() => {
    throw new Error('not called while selecting');
  }).client;
  const clients: AwsSdkClients = {
    cloudFormation: cloudFormation.client,
    cloudWatch: cloudWatch.client,
    autoScaling: unused,
    elbv2: unused,
    rds: unused,
    elastiCache: unused,
    destroy: () => destroyed++,
  };
  return { clients, cloudFormation, cloudWatch, destroyed: () => destroyed };
}

describe('selectWorld: local', () => {
  it('is the emulator on the chosen backend, at the scenario’s scale', async () => {
    const chosen: string[] = [];
    const { world, description } = await selectWorld(
      { world: 'local', backend: 'auto', log },
      {
        selectBackend: async (choice) => {
          chosen.push(choice);
          return fakeBackend;
        },
      },
    );
    expect(chosen).toEqual(['auto']);
    expect(world.name).toBe('local');
    expect(world.fixedTimeScale).toBeUndefined();
    expect(world.warmUpMs).toBe(3 * 60_000);
    expect(world.notEvaluable).toEqual({});
    expect(description).toBe('local backend');
  });
});

describe('selectWorld: aws', () => {
  it('names the missing --stack flag', async () => {
    await expect(selectWorld({ world: 'aws', backend: 'auto', log })).rejects.toThrow(
      new WorldSetupError(
        '--world aws needs --stack <name>: the CloudFormation stack to rehearse against (Tiketi when deployed with tiketi-sim deploy --target aws)',
      ),
    );
  });

  it('without credentials: exit-2 error naming what is missing and the fix, before any client exists', async () => {
    let created = 0;
    const err = await selectWorld(
      { world: 'aws', stackName: 'Tiketi', backend: 'auto', log },
      {
        check: noCredentials,
        awsClients: () => {
          created++;
          return awsClients().clients;
        },
      },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeployUnavailableError);
    expect((err as Error).message).toMatch(
      /^--world aws: no AWS credentials found: AWS_ACCESS_KEY_ID and AWS_PROFILE are unset .*Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or configure a profile/,
    );
    expect(created).toBe(0);
  });

  it("refuses LocalStack's dummy key", async () => {
    await expect(
      selectWorld(
        { world: 'aws', stackName: 'Tiketi', backend: 'auto', log },
        { check: { env: { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' }, homeDir: home } },
      ),
    ).rejects.toThrow(/--world aws: AWS_ACCESS_KEY_ID is 'test', LocalStack's dummy key/);
  });

  it('reads the stack outputs and the watched event from recorded DescribeStacks and DescribeAlarms answers', async () => {
    const fake = awsClients();
    const { world, description } = await selectWorld(
      { world: 'aws', stackName: 'Tiketi', backend: 'auto', log },
      { check: withKeys, awsClients: () => fake.clients },
    );
    expect(world.name).toBe('aws');
    expect(world.fixedTimeScale).toBe(1);
    expect(world.warmUpMs).toBe(0);
    expect(Object.keys(world.notEvaluable).sort()).toEqual([
      'max-seats-per-user',
      'no-confirmed-reservation-lost',
      'no-seat-sold-twice',
    ]);
    expect(description).toBe('aws world, stack Tiketi, event default');
    expect((fake.cloudFormation.sent[0] as DescribeStacksCommand).input).toEqual({ StackName: 'Tiketi' });
    expect((fake.cloudWatch.sent[0] as DescribeAlarmsCommand).input).toMatchObject({
      AlarmNames: ['tiketi-queue-scale-out', 'tiketi-queue-scale-out-aggressive', 'tiketi-queue-scale-in'],
    });
    expect(fake.destroyed()).toBe(0);
  });

  it('a stack that does not exist: says to deploy it, and closes the clients', async () => {
    const fake = awsClients({
      stacks: () => {
        throw Object.assign(new Error('Stack with id TiketiStaging does not exist'), {
          name: 'ValidationError',
        });
      },
    });
    await expect(
      selectWorld(
        { world: 'aws', stackName: 'TiketiStaging', backend: 'auto', log },
        { check: withKeys, awsClients: () => fake.clients },
      ),
    ).rejects.toThrow(
      new WorldSetupError(
        'stack TiketiStaging does not exist in AWS: deploy it first (tiketi-sim deploy --target aws --stack TiketiStaging) or pass the name it was deployed under with --stack',
      ),
    );
    expect(fake.destroyed()).toBe(1);
  });

  it('expired credentials: says to refresh them', async () => {
    const fake = awsClients({
      stacks: () => {
        throw Object.assign(new Error('The security token included in the request is expired'), {
          name: 'ExpiredToken',
        });
      },
    });
    await expect(
      selectWorld(
        { world: 'aws', stackName: 'Tiketi', backend: 'auto', log },
        { check: withKeys, awsClients: () => fake.clients },
      ),
    ).rejects.toThrow(/AWS refused DescribeStacks for Tiketi: the session has expired .*aws sso login/);
  });

  it('a LocalStack stack named for the aws world: says which world it belongs to', async () => {
    const fake = awsClients({ stacks: () => fixture('describe-stacks-localstack') });
    await expect(
      selectWorld(
        { world: 'aws', stackName: 'TiketiLocal', backend: 'auto', log },
        { check: withKeys, awsClients: () => fake.clients },
      ),
    ).rejects.toThrow(
      /stack TiketiLocal in AWS is a localstack stack \(it has AlarmTopicArn\): use --world localstack/,
    );
  });

  it('a stack mid-rollback: names its state', async () => {
    const stacks = fixture('describe-stacks') as {
      Stacks: { StackStatus: string; StackStatusReason?: string }[];
    };
    stacks.Stacks[0]!.StackStatus = 'ROLLBACK_COMPLETE';
    stacks.Stacks[0]!.StackStatusReason = 'The following resource(s) failed to create: [Database].';
    const fake = awsClients({ stacks: () => stacks });
    await expect(
      selectWorld(
        { world: 'aws', stackName: 'Tiketi', backend: 'auto', log },
        { check: withKeys, awsClients: () => fake.clients },
      ),
    ).rejects.toThrow(
      'stack Tiketi in AWS is ROLLBACK_COMPLETE (The following resource(s) failed to create: [Database].): it has no running deployment to rehearse against. Deploy it again (tiketi-sim deploy --target aws --stack Tiketi).',
    );
  });

  it('a missing output is named', async () => {
    const stacks = fixture('describe-stacks') as { Stacks: { Outputs: { OutputKey: string }[] }[] };
    stacks.Stacks[0]!.Outputs = stacks.Stacks[0]!.Outputs.filter((o) => o.OutputKey !== 'AlbDnsName');
    const fake = awsClients({ stacks: () => stacks });
    await expect(
      selectWorld(
        { world: 'aws', stackName: 'Tiketi', backend: 'auto', log },
        { check: withKeys, awsClients: () => fake.clients },
      ),
    ).rejects.toThrow(/DescribeStacks in AWS, stack Tiketi \(aws\): missing output AlbDnsName/);
  });
});

describe('selectWorld: localstack', () => {
  let health: Server;
  let healthy = '';
  beforeAll(async () => {
    health = createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          version: '4.14.0',
          edition: 'community',
          services: Object.fromEntries(LOCALSTACK_SERVICES.map((s) => [s, 'running'])),
        }),
      ),
    );
    await new Promise<void>((r) => health.listen(0, '127.0.0.1', r));
    healthy = `http://127.0.0.1:${(health.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise((r) => health.close(r)));

  it('no LocalStack answering: exit-2 error naming the endpoint and how to start it, before the backend is chosen', async () => {
    // A port nothing listens on: bind one and close it.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    let backends = 0;
    const err = await selectWorld(
      { world: 'localstack', backend: 'auto', log },
      {
        check: { localstackEndpoint: `http://127.0.0.1:${port}`, timeoutMs: 1_000 },
        selectBackend: async () => {
          backends++;
          return fakeBackend;
        },
      },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeployUnavailableError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^--world localstack: no LocalStack answers at http://127\\.0\\.0\\.1:${port}/_localstack/health \\(ECONNREFUSED\\)\\. Start it with \`docker compose -f docker-compose\\.localstack\\.yml up -d\``,
      ),
    );
    expect(backends).toBe(0);
  });

  it('reads TiketiLocal by default and builds the hybrid world at 1×, on the event its alarms watch', async () => {
    const stacksAsked: string[] = [];
    let endpointUsed = '';
    const alarms = fixture('describe-alarms') as {
      MetricAlarms: { Dimensions?: { Name: string; Value: string }[] }[];
    };
    alarms.MetricAlarms[0]!.Dimensions = [{ Name: 'EventId', Value: 'concert-42' }];
    const clients: LocalStackSdkClients = {
      cloudFormation: recorder((c) => {
        stacksAsked.push((c as DescribeStacksCommand).input.StackName!);
        return fixture('describe-stacks-localstack');
      }).client,
      cloudWatch: recorder(() => alarms).client,
      sqs: recorder(() => ({})).client,
      destroy: () => {},
    };
    const { world, description } = await selectWorld(
      { world: 'localstack', backend: 'local', log },
      {
        check: { localstackEndpoint: healthy },
        selectBackend: async () => fakeBackend,
        localStackClients: (endpoint) => {
          endpointUsed = endpoint;
          return clients;
        },
      },
    );
    expect(stacksAsked).toEqual(['TiketiLocal']);
    expect(endpointUsed).toBe(healthy);
    expect(world.name).toBe('localstack');
    expect(world.fixedTimeScale).toBe(1);
    expect(world.notEvaluable).toEqual({});
    expect(description).toBe('localstack world (stack TiketiLocal, event concert-42), local backend');
  });

  it('an AWS stack named for the localstack world: says which world it belongs to', async () => {
    const clients: LocalStackSdkClients = {
      cloudFormation: recorder(() => fixture('describe-stacks')).client,
      cloudWatch: recorder(() => fixture('describe-alarms')).client,
      sqs: recorder(() => ({})).client,
      destroy: () => {},
    };
    await expect(
      selectWorld(
        { world: 'localstack', stackName: 'Tiketi', backend: 'local', log },
        {
          check: { localstackEndpoint: healthy },
          selectBackend: async () => fakeBackend,
          localStackClients: () => clients,
        },
      ),
    ).rejects.toThrow(
      /stack Tiketi in LocalStack is an aws stack \(it has no AlarmTopicArn\): use --world aws/,
    );
  });
});
