/**
 * The aws world's wiring: SDK clients injected and answering with the recorded-shape fixtures, and
 * a stand-in for the deployed app's HTTP API (the routes the world uses: event, seats, register).
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import {
  DescribeAutoScalingGroupsCommand,
  DescribeScalingActivitiesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import type { DescribeStacksOutput } from '@aws-sdk/client-cloudformation';
import {
  DescribeAlarmHistoryCommand,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import { DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { FailoverDBClusterCommand } from '@aws-sdk/client-rds';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { designTopology, mergeTopology } from '../../../infra/topology.ts';
import { ScaledClock } from '../../clock/clock.ts';
import { FaultError } from '../../faults/inject.ts';
import { prepareForEngine } from '../../run/external-load.ts';
import { planRun } from '../../run/plan.ts';
import { type Scenario, scenarioSchema } from '../../scenario/schema.ts';
import type { AwsStackOutputs } from '../cdk-cli.ts';
import { stackOutputsFrom } from '../stack.ts';
import { type StartedWorld, WorldSetupError } from '../world.ts';
import { AWS_NOT_EVALUABLE, awsWorld } from './aws-world.ts';
import type { SdkClient } from './observe.ts';

const DATE_KEYS = new Set(['Timestamp', 'StartTime', 'EndTime', 'CreationTime', 'LastUpdatedTime']);

/** A fixture as the SDK hands it over: timestamps deserialized to Date. */
function fixture<T>(name: string): T {
  const text = readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8');
  return JSON.parse(text, (key, value) => {
    if (DATE_KEYS.has(key) && typeof value === 'string') return new Date(value);
    if (key === 'Timestamps' && Array.isArray(value)) return value.map((v: string) => new Date(v));
    return value;
  }) as T;
}

function recorder(answer: (command: object) => unknown) {
  const sent: object[] = [];
  let fail: Error | undefined;
  const client: SdkClient = {
    async send(command) {
      sent.push(command);
      if (fail) throw fail;
      return answer(command);
    },
  };
  return { client, sent, failWith: (err: Error | undefined) => (fail = err) };
}

const outputs = stackOutputsFrom(fixture<DescribeStacksOutput>('describe-stacks'), 'Tiketi', 'aws')
  .outputs as AwsStackOutputs;
const t = (iso: string) => Date.parse(iso);
/** The run starts on the wall at WALL0; the scenario's clock reads SIM0 then. */
const WALL0 = t('2025-11-26T11:00:00Z');
const SIM0 = t('2026-11-24T19:30:00Z');
const MINUTE = 60_000;

/** The deployed app's routes the world uses. */
interface FakeApp {
  server: Server;
  url: string;
  event: { status: number; body: unknown };
  registered: string[];
  failRegistrations: number;
}

const app: FakeApp = {
  server: createServer(),
  url: '',
  event: { status: 200, body: {} },
  registered: [],
  failRegistrations: 0,
};

beforeAll(async () => {
  app.server.on('request', (req, res) => {
    const reply = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method === 'GET' && req.url === '/api/events/default')
      return reply(app.event.status, app.event.body);
    if (req.method === 'GET' && req.url === '/api/events/default/seats')
      return reply(200, {
        eventId: 'default',
        seats: [
          { seatId: 'VIP-1-1', section: 'VIP', row: '1', number: 1, ticketId: 'default-VIP', status: 'sold' },
          {
            seatId: 'VIP-1-2',
            section: 'VIP',
            row: '1',
            number: 2,
            ticketId: 'default-VIP',
            status: 'available',
          },
          { seatId: 'R-1-1', section: 'R', row: '1', number: 1, ticketId: 'default-R', status: 'held' },
          { seatId: 'S-1-1', section: 'S', row: '1', number: 1, ticketId: 'default-S', status: 'available' },
        ],
      });
    if (req.method === 'POST' && req.url === '/api/auth/register') {
      let raw = '';
      req.on('data', (d: Buffer) => (raw += d));
      req.on('end', () => {
        const body = JSON.parse(raw) as { email: string; password: string; name: string };
        if (app.failRegistrations > 0) {
          app.failRegistrations--;
          return reply(503, { error: { code: 'unavailable', message: 'retry shortly' } });
        }
        app.registered.push(body.email);
        reply(202, { accepted: true, message: 'sign in next' });
      });
      return;
    }
    if (req.method === 'POST' && req.url === '/api/auth/login') {
      let raw = '';
      req.on('data', (d: Buffer) => (raw += d));
      req.on('end', () => {
        const body = JSON.parse(raw) as { email: string };
        reply(200, { userId: `u-${body.email.split('@')[0]}`, token: `token-for-${body.email}` });
      });
      return;
    }
    reply(404, { error: { code: 'not_found', message: `no route for ${req.method} ${req.url}` } });
  });
  await new Promise<void>((r) => app.server.listen(0, '127.0.0.1', r));
  app.url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
});
afterAll(() => new Promise((r) => app.server.close(r)));

function scenario(overrides: Record<string, unknown> = {}): Scenario {
  return scenarioSchema.parse({
    name: 'aws-wiring',
    description: 'the aws world against recorded answers',
    startAt: '19:30',
    endAt: '20:30',
    timeScale: 30,
    event: { seats: 500, salesOpenAt: '19:32' },
    users: 5,
    arrivals: [
      { at: '19:30', joined: 0 },
      { at: '19:31', joined: 3 },
      { at: '20:10', joined: 3 },
      { at: '20:11', joined: 5 },
    ],
    faults: [
      { at: '19:35', fault: 'terminate-instance' },
      { at: '19:40', fault: 'kill-az', az: 'a' },
    ],
    expectations: [{ expect: 'no-seat-sold-twice' }],
    ...overrides,
  });
}

function setup() {
  let wall = WALL0;
  const cloudWatch = recorder((command) => {
    if (command instanceof DescribeAlarmsCommand) return fixture('describe-alarms');
    if (command instanceof GetMetricDataCommand) return fixture('get-metric-data');
    if (command instanceof DescribeAlarmHistoryCommand)
      return command.input.AlarmName === 'tiketi-queue-scale-out' ? fixture('describe-alarm-history') : {};
    throw new Error(`unexpected ${command.constructor.name}`);
  });
  const autoScaling = recorder((command) => {
    if (command instanceof DescribeAutoScalingGroupsCommand) return fixture('describe-auto-scaling-groups');
    if (command instanceof DescribeScalingActivitiesCommand) return fixture('describe-scaling-activities');
    if (command instanceof TerminateInstanceInAutoScalingGroupCommand)
      return {
        Activity: {
          ActivityId: '3f8e2a1c-5b7d-4e9f-a0c2-6d8b4f1e3a57',
          Description: `Terminating EC2 instance: ${command.input.InstanceId}`,
          StatusCode: 'InProgress',
        },
      };
    throw new Error(`unexpected ${command.constructor.name}`);
  });
  const elbv2 = recorder((command) => {
    if (command instanceof DescribeTargetHealthCommand) return fixture('describe-target-health');
    throw new Error(`unexpected ${command.constructor.name}`);
  });
  const rds = recorder(() => ({}));
  const elastiCache = recorder(() => ({}));
  let stopped = 0;
  const world = awsWorld({
    stackName: 'Tiketi',
    outputs,
    eventId: 'default',
    clients: {
      cloudWatch: cloudWatch.client,
      autoScaling: autoScaling.client,
      elbv2: elbv2.client,
      rds: rds.client,
      elastiCache: elastiCache.client,
    },
    baseUrl: app.url,
    now: () => wall,
    runTag: 'run1',
    onStop: () => stopped++,
  });
  const clock = new ScaledClock({
    timeScale: 1,
    startSimMs: SIM0 - world.warmUpMs,
    wallNow: () => wall,
    paused: true,
  });
  const lines: string[] = [];
  const start = (s = scenario()) =>
    world.start({
      scenario: s,
      topology: mergeTopology(designTopology, s.topology),
      clock,
      users: s.users,
      log: (line) => lines.push(line),
    });
  return {
    world,
    clock,
    lines,
    start,
    cloudWatch,
    autoScaling,
    rds,
    advance: (ms: number) => (wall += ms),
    stopped: () => stopped,
  };
}

const openEvent = {
  status: 200,
  body: {
    id: 'default',
    name: 'Rehearsal drop default',
    venue: 'Olympic Hall, Seoul',
    startsAt: '2025-12-26T10:00:00.000Z',
    salesOpenAt: '2025-11-26T09:00:00.000Z',
    seatCount: 4,
    ticketTypes: [],
  },
};

let started: StartedWorld | undefined;
afterEach(async () => {
  await started?.stop();
  started = undefined;
  app.registered = [];
  app.failRegistrations = 0;
  app.event = openEvent;
});

describe('the aws world', () => {
  it('runs on the wall clock, without warm-up, and cannot check integrity', () => {
    const { world } = setup();
    expect(world).toMatchObject({ name: 'aws', fixedTimeScale: 1, warmUpMs: 0 });
    expect(world.notEvaluable).toBe(AWS_NOT_EVALUABLE);
    expect(world.notEvaluable['no-seat-sold-twice']).toMatch(
      /Aurora, which sits in the stack's private subnets/,
    );
    expect(world.notEvaluable.latency).toBeUndefined();
  });

  it('start: one look at the stack, and says what the aws world will not do', async () => {
    const s = setup();
    started = await s.start(scenario({ topology: { autoScalingGroup: { desiredCapacity: 3 } } }));
    expect(started.clientUrl).toBe(app.url);
    expect(started.eventId).toBe('default');
    expect(s.lines).toContain(
      '[world] kill-az at 19:40: not available in the aws world (no AWS API); it will be recorded as not injected',
    );
    expect(s.lines).toContain(
      '[world] the scenario changes the design (autoScalingGroup): not applied in the aws world, which rehearses stack Tiketi as deployed',
    );
    expect(s.lines.find((l) => l.startsWith('[world] aws: stack Tiketi'))).toMatch(
      /2 instances InService, 1 targets healthy; alarms tiketi-queue-scale-out ALARM, tiketi-queue-scale-out-aggressive ALARM, tiketi-queue-scale-in OK/,
    );
    expect(s.lines).toContain(
      '[world] tiketi-queue-scale-out is in ALARM before the drop: an expectation that it enters ALARM needs a new transition',
    );
    await started.stop();
    started = undefined;
    expect(s.stopped()).toBe(1);
  });

  it('start: a missing permission fails before the drop, naming what the credentials need', async () => {
    const s = setup();
    s.autoScaling.failWith(
      Object.assign(new Error('User is not authorized to perform: autoscaling:DescribeAutoScalingGroups'), {
        name: 'AccessDenied',
      }),
    );
    const err = await s.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorldSetupError);
    expect((err as Error).message).toMatch(
      /^observing stack Tiketi failed \(AccessDenied: User is not authorized .*\)\. The credentials need .*autoscaling:DescribeAutoScalingGroups/,
    );
    expect(s.stopped()).toBe(1);
  });

  it('prepare: the event and its free seats over HTTP; users registered due within half a session, the rest as their arrival nears', async () => {
    const s = setup();
    started = await s.start();
    const arrivalsSimMs = [
      SIM0 + 10_000,
      SIM0 + 20_000,
      SIM0 + 40_000,
      SIM0 + 40 * MINUTE,
      SIM0 + 41 * MINUTE,
    ];
    const drop = await started.prepare({ seats: 500, users: 5, arrivalsSimMs });
    expect(drop.seatIds).toEqual(['VIP-1-2', 'S-1-1']);
    // The design's sessions last 3600 s: users arriving within 30 minutes are registered now.
    expect(drop.users.ready).toBe(3);
    expect(app.registered.sort()).toEqual([
      'fan-run1-1@rehearsal.tiketi.gg',
      'fan-run1-2@rehearsal.tiketi.gg',
      'fan-run1-3@rehearsal.tiketi.gg',
    ]);
    expect(drop.users.take(0, 3)).toEqual([
      { userId: 'u-fan-run1-1', token: 'token-for-fan-run1-1@rehearsal.tiketi.gg' },
      { userId: 'u-fan-run1-2', token: 'token-for-fan-run1-2@rehearsal.tiketi.gg' },
      { userId: 'u-fan-run1-3', token: 'token-for-fan-run1-3@rehearsal.tiketi.gg' },
    ]);
    expect(s.lines).toContain(
      "[world] event default has 4 seats on the stack; the scenario asks for 500: the stack's count holds",
    );
    expect(s.lines).toContain(
      '[world] 2 of 4 seats of default are sold or held (earlier runs): users pick among the 2 left',
    );
    expect(
      s.lines.find((l) => l.includes("the scenario's salesOpenAt 19:32 cannot be applied over HTTP")),
    ).toBeDefined();
    expect(await started.openSales()).toBe(true);

    s.clock.resume();
    started.clockResumed();
    s.advance(5 * MINUTE);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(drop.users.ready).toBe(3); // 19:35 + 30 min is still before 20:10
    s.advance(6 * MINUTE);
    const deadline = Date.now() + 5_000;
    while (drop.users.ready < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(drop.users.ready).toBe(5);
    expect(drop.users.take(3, 5).map((u) => u.userId)).toEqual(['u-fan-run1-4', 'u-fan-run1-5']);
  });

  it('prepare for an engine (--load external): the event checked, no user registered, before or during the drop', async () => {
    const s = setup();
    started = await s.start();
    const plan = planRun({
      scenario: scenario(),
      world: s.world,
      load: { source: 'external' },
      log: () => {},
    });
    const lines: string[] = [];
    const prepared = await prepareForEngine(plan, started, (l) => lines.push(l), undefined);
    expect(prepared.users.ready).toBe(0);
    expect(lines.join('\n')).toMatch(
      /tiketi-sim sends no users; the engine's users go to http:\/\/.+, event default/,
    );
    s.clock.resume();
    started.clockResumed();
    s.advance(30 * MINUTE);
    await new Promise((r) => setTimeout(r, 500));
    expect(app.registered).toEqual([]);
  });

  it('prepare: a registration that fails is retried', async () => {
    const s = setup();
    started = await s.start();
    app.failRegistrations = 1;
    const drop = await started.prepare({ seats: 4, users: 1, arrivalsSimMs: [SIM0] });
    expect(drop.users.take(0, drop.users.ready)).toEqual([
      { userId: 'u-fan-run1-1', token: 'token-for-fan-run1-1@rehearsal.tiketi.gg' },
    ]);
  });

  it('prepare: an event that does not exist is an exit-2 error with the seed command', async () => {
    const s = setup();
    started = await s.start();
    app.event = { status: 404, body: { error: { code: 'not_found', message: 'event default not found' } } };
    const err = await started
      .prepare({ seats: 500, users: 1, arrivalsSimMs: [SIM0] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorldSetupError);
    expect((err as Error).message).toMatch(
      /^event default \(the one the stack's alarms watch\) does not exist on the stack, and the app has no HTTP route that creates events\. Seed it once from an instance: aws ssm start-session .*app\/seed\.ts --event-id default --seats 500 --open/,
    );
    expect(app.registered).toEqual([]);
  });

  it('prepare: sales that are not open are an exit-2 error (no HTTP route opens them)', async () => {
    const s = setup();
    started = await s.start();
    app.event = { status: 200, body: { ...openEvent.body, salesOpenAt: null } };
    await expect(started.prepare({ seats: 4, users: 1, arrivalsSimMs: [SIM0] })).rejects.toThrow(
      /^sales of event default are not open, and the app has no HTTP route that opens them/,
    );
  });

  it("sample: AWS's view in the report's shape; a failed call repeats the last sample", async () => {
    const s = setup();
    started = await s.start();
    const expected = {
      queueSize: 24_310,
      activeUsers: 3_000,
      instances: { pending: 2, inService: 2, terminating: 1 },
      targets: { initial: 1, healthy: 1, unhealthy: 2, draining: 2 },
      alarms: {
        'tiketi-queue-scale-out': 'ALARM',
        'tiketi-queue-scale-out-aggressive': 'ALARM',
        'tiketi-queue-scale-in': 'OK',
      },
      connectionsPerInstance: {},
    };
    expect(await started.sample()).toEqual(expected);
    s.cloudWatch.failWith(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    expect(await started.sample()).toEqual(expected);
    expect(s.lines).toContain('[world] observing AWS failed, the sample repeats the last one: Rate exceeded');
  });

  it('faults: through the AWS API where there is one, "not available in the aws world" where not', async () => {
    const s = setup();
    started = await s.start();
    s.clock.resume();
    s.advance(5 * MINUTE);
    const terminated = await started.injectFault({ fault: 'terminate-instance', instance: 'random' });
    const terminate = s.autoScaling.sent.find((c) => c instanceof TerminateInstanceInAutoScalingGroupCommand);
    expect((terminate as TerminateInstanceInAutoScalingGroupCommand).input).toMatchObject({
      ShouldDecrementDesiredCapacity: false,
    });
    expect(['i-0a1b2c3d4e5f60718', 'i-0b2c3d4e5f6a7b8c9']).toContain(
      (terminate as TerminateInstanceInAutoScalingGroupCommand).input.InstanceId,
    );
    // The record speaks the run's simulated time.
    expect(terminated.record).toMatchObject({
      fault: 'terminate-instance',
      atMs: SIM0 + 5 * MINUTE,
      timeline: [{ label: 'termination requested', atMs: SIM0 + 5 * MINUTE }],
    });
    await expect(terminated.settled).resolves.toBeUndefined();

    await started.injectFault({ fault: 'db-failover' });
    expect((s.rds.sent[0] as FailoverDBClusterCommand).input).toEqual({
      DBClusterIdentifier: 'tiketi-databasecluster5b53a178-k3j4h5g6f7d8',
    });

    const err = await started.injectFault({ fault: 'kill-az', az: 'a' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FaultError);
    expect((err as Error).message).toMatch(/^not available in the aws world: kill-az has no AWS API/);
    await expect(
      started.injectFault({
        fault: 'latency',
        path: 'app-db',
        latencyMs: 100,
        jitterMs: 0,
        durationSeconds: 60,
      }),
    ).rejects.toThrow(/^not available in the aws world: latency has no AWS API/);
  });

  it("finish: alarm transitions and scaling activities since the start, in the run's simulated time; no integrity figures", async () => {
    const s = setup();
    started = await s.start();
    s.clock.resume();
    s.advance(60 * MINUTE);
    const toSim = (wallMs: number) => SIM0 + (wallMs - WALL0);
    const history = await started.finish({ confirmedReservationIds: ['r-1'], toSim });
    const asked = s.cloudWatch.sent.filter(
      (c) => c instanceof DescribeAlarmHistoryCommand,
    ) as DescribeAlarmHistoryCommand[];
    expect(asked.map((c) => c.input.AlarmName)).toEqual(outputs.AlarmNames);
    expect(asked[0]!.input).toMatchObject({
      StartDate: new Date(WALL0),
      EndDate: new Date(WALL0 + 60 * MINUTE),
      HistoryItemType: 'StateUpdate',
    });
    expect(history.alarmHistory.map((a) => [a.alarm, a.from, a.to, a.atMs])).toEqual([
      ['tiketi-queue-scale-out', 'INSUFFICIENT_DATA', 'OK', toSim(t('2025-11-26T10:31:40.022Z'))],
      ['tiketi-queue-scale-out', 'OK', 'ALARM', toSim(t('2025-11-26T10:54:12.610Z'))],
      ['tiketi-queue-scale-out', 'ALARM', 'OK', toSim(t('2025-11-26T11:31:12.104Z'))],
    ]);
    // Activities from 11:00 on (the run's start), oldest first; end times mapped too.
    expect(history.scalingActivities.map((a) => [a.status, a.startMs, a.endMs])).toEqual([
      ['Successful', toSim(t('2025-11-26T11:02:40.874Z')), toSim(t('2025-11-26T11:08:12Z'))],
      ['WaitingForELBConnectionDraining', toSim(t('2025-11-26T11:45:12.310Z')), undefined],
    ]);
    // Instances as first seen by the start's look (launched before the run: first seen).
    expect(history.instances.find((i) => i.id === 'i-0a1b2c3d4e5f60718')).toEqual({
      id: 'i-0a1b2c3d4e5f60718',
      az: 'a',
      launchedAtMs: toSim(WALL0),
      inServiceAtMs: toSim(WALL0),
    });
    expect(history.instances.find((i) => i.id === 'i-0c3d4e5f6a7b8c9d0')).toMatchObject({
      az: 'b',
      terminatingAtMs: toSim(WALL0),
    });
    expect(history.integrity).toBeUndefined();
  });
});
