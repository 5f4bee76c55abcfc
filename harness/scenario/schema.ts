/**
 * Scenarios are typed data: `scenarios/<name>.ts` exports `defineScenario({...})`. One strict zod
 * schema per shape (an unknown key is an error); the TypeScript types derive from it.
 */
import { z } from 'zod';
import type { DeepPartial, TopologyInput } from '../../infra/topology.ts';
import { ALARM_STATES } from '../model/aws.ts';
import { nameProblems } from './names.ts';

/** Simulated wall-clock time of the drop's day, `HH:MM` or `HH:MM:SS`. */
export const clockTimeSchema = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/, 'must be a time of day as HH:MM or HH:MM:SS (e.g. 19:58)');

export function clockTimeToSeconds(time: string): number {
  const [h, m, s] = time.split(':').map(Number) as [number, number, number | undefined];
  return h * 3600 + m * 60 + (s ?? 0);
}

const windowSchema = z.object({ from: clockTimeSchema, to: clockTimeSchema }).strict();

/** A point of the arrival curve: by `at`, `joined` users in all have joined the queue. */
const arrivalPointSchema = z.object({ at: clockTimeSchema, joined: z.number().int().nonnegative() }).strict();

const thinkTimeSchema = z
  .object({
    /** Simulated seconds. */
    minSeconds: z.number().nonnegative(),
    maxSeconds: z.number().nonnegative(),
  })
  .strict()
  .refine((t) => t.minSeconds <= t.maxSeconds, { message: 'minSeconds must be <= maxSeconds' });

/** What an attacker tries (issue #17), in this order. */
export const HOSTILE_ATTACKS = [
  'malformed-frames',
  'flood-subscriptions',
  'hammer-login',
  're-hold',
  'many-reservations',
] as const;

export const hostileSchema = z
  .object({
    /** Share of users who attack instead of shopping (0–1). */
    share: z.number().min(0).max(1),
    /** What each attacker tries, in the order of `HOSTILE_ATTACKS`. @default all of them */
    attacks: z
      .array(z.enum(HOSTILE_ATTACKS))
      .min(1)
      .default([...HOSTILE_ATTACKS]),
    /** Requests or frames per attack and attacker. @default 20 */
    attemptsPerAttack: z.number().int().positive().max(1_000).default(20),
  })
  .strict();

export const behaviourSchema = z
  .object({
    /** Hold a Socket.IO connection while queued and admitted. @default true */
    socket: z.boolean().default(true),
    /** Share of admitted users who hold seats, reserve and pay (0–1). @default 0.3 */
    buyShare: z.number().min(0).max(1).default(0.3),
    /** Seats each buyer holds. @default 2 */
    seatsPerOrder: z.number().int().min(1).max(10).default(2),
    /** Pause between steps of a buyer. @default 5–20 simulated seconds */
    thinkTime: thinkTimeSchema.default({ minSeconds: 5, maxSeconds: 20 }),
    /** Users poll `GET queue/me` this often while queued, simulated seconds; 0 = never. @default 0 */
    pollQueueEverySeconds: z.number().nonnegative().default(0),
    /** Disconnect and stay after admission (true) or leave once done (false). @default false */
    stayConnectedAfterPurchase: z.boolean().default(false),
    /** Attackers among the users (bots, scalpers). @default none */
    hostile: hostileSchema.optional(),
  })
  .strict();

const az = z.string().regex(/^[a-z]$/, 'must be an AZ label such as a or b');
const path = z.enum(['client-alb', 'app-redis', 'app-db']);

const killInstanceFault = z
  .object({
    fault: z.literal('kill-instance'),
    /** An instance id (`app-3`) or `random` among those InService. @default 'random' */
    instance: z.string().default('random'),
  })
  .strict();
const terminateInstanceFault = z
  .object({
    fault: z.literal('terminate-instance'),
    /** @default 'random' */
    instance: z.string().default('random'),
  })
  .strict();
const killAzFault = z.object({ fault: z.literal('kill-az'), az }).strict();
const redisFailoverFault = z.object({ fault: z.literal('redis-failover') }).strict();
const dbFailoverFault = z.object({ fault: z.literal('db-failover') }).strict();
const latencyFault = z
  .object({
    fault: z.literal('latency'),
    path,
    latencyMs: z.number().int().positive(),
    /** @default 0 */
    jitterMs: z.number().int().nonnegative().default(0),
    /** Simulated seconds until it is reverted. */
    durationSeconds: z.number().positive(),
  })
  .strict();
const partitionFault = z
  .object({
    fault: z.literal('partition'),
    path,
    /** Simulated seconds until it is reverted. */
    durationSeconds: z.number().positive(),
  })
  .strict();

/** A failure to inject, without its time: what `tiketi-sim chaos` sends to a running topology. */
export const faultActionSchema = z.discriminatedUnion('fault', [
  killInstanceFault,
  terminateInstanceFault,
  killAzFault,
  redisFailoverFault,
  dbFailoverFault,
  latencyFault,
  partitionFault,
]);

const at = { at: clockTimeSchema };
/** A scenario step: a fault at a simulated time, e.g. `{ at: '20:15', fault: 'kill-az', az: 'a' }`. */
export const faultSchema = z.discriminatedUnion('fault', [
  killInstanceFault.extend(at),
  terminateInstanceFault.extend(at),
  killAzFault.extend(at),
  redisFailoverFault.extend(at),
  dbFailoverFault.extend(at),
  latencyFault.extend(at),
  partitionFault.extend(at),
]);

/** One proxy process holds two files per client connection, under the 20,000-file limit. */
export const CLIENT_PATH_MAX_USERS = 8_000;

const percentile = z.union([z.literal(50), z.literal(90), z.literal(95), z.literal(99)]);

export const expectationSchema = z.discriminatedUnion('expect', [
  z
    .object({
      expect: z.literal('alarm-state'),
      alarm: z.string(),
      state: z.enum(ALARM_STATES),
      /** The alarm must enter `state` inside this window. */
      within: windowSchema,
    })
    .strict(),
  z
    .object({
      expect: z.literal('alarm-never'),
      alarm: z.string(),
      state: z.enum(ALARM_STATES),
      /** @default the whole run */
      during: windowSchema.optional(),
    })
    .strict(),
  z
    .object({
      expect: z.literal('instances'),
      at: clockTimeSchema,
      /** Count InService instances (default) or all that are not terminated. */
      lifecycle: z.enum(['InService', 'any']).default('InService'),
      min: z.number().int().nonnegative().optional(),
      max: z.number().int().nonnegative().optional(),
    })
    .strict()
    .refine((e) => e.min !== undefined || e.max !== undefined, { message: 'needs min or max (or both)' }),
  z.object({ expect: z.literal('max-instances'), max: z.number().int().positive() }).strict(),
  z
    .object({
      expect: z.literal('latency'),
      /** `METHOD /route` as the app declares it (e.g. `POST /api/events/:eventId/queue`) or `all`. */
      endpoint: z.string(),
      percentile,
      belowMs: z.number().positive(),
    })
    .strict(),
  z.object({ expect: z.literal('socket-delivery'), percentile, belowMs: z.number().positive() }).strict(),
  z.object({ expect: z.literal('error-rate'), below: z.number().min(0).max(1) }).strict(),
  z
    .object({
      expect: z.literal('sticky'),
      /** Share of a user's consecutive responses that came from the same instance (0–1). */
      atLeast: z.number().min(0).max(1),
    })
    .strict(),
  z
    .object({
      expect: z.literal('admission-rate'),
      /** Admitted users per simulated second while the queue is not empty. */
      atLeastPerSecond: z.number().positive(),
    })
    .strict(),
  z.object({ expect: z.literal('no-seat-sold-twice') }).strict(),
  z.object({ expect: z.literal('no-confirmed-reservation-lost') }).strict(),
  z
    .object({
      expect: z.literal('max-seats-per-user'),
      /** No user holds more seats than this in live reservations (the design's limit). */
      max: z.number().int().positive(),
    })
    .strict(),
  /** No instance was terminated or replaced during the run (for runs without scale-in). */
  z.object({ expect: z.literal('no-instance-lost') }).strict(),
  z
    .object({
      expect: z.literal('purchases'),
      /** Payments confirmed to virtual users. */
      atLeast: z.number().int().nonnegative(),
    })
    .strict(),
  z
    .object({
      expect: z.literal('reconnect'),
      /** Every user disconnected by a fault is back within this many simulated seconds. */
      withinSeconds: z.number().positive(),
      /** ...with its queue position, admitted state and held seats. @default true */
      keepsState: z.boolean().default(true),
    })
    .strict(),
  z
    .object({
      expect: z.literal('max-request-gap'),
      /** Longest stretch a client's requests kept failing (first failure to the next success), simulated seconds. */
      belowSeconds: z.number().positive(),
    })
    .strict(),
]);

export const scenarioSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'must be lower-case letters, digits and dashes'),
    description: z.string().min(1),
    /** Simulated date of the drop. @default '2026-11-24' */
    date: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD')
      .default('2026-11-24'),
    startAt: clockTimeSchema,
    endAt: clockTimeSchema,
    /** Simulated seconds per wall second. @default 30 */
    timeScale: z.number().positive().default(30),
    /**
     * Runs the design as a 1:1/F scale model (docs/scale-models.md): users, the arrival curve,
     * seats, alarm thresholds, the admission rate, capacity figures and the expectations' counts
     * scale by F; every time stays. `--scale` overrides it. @default 1 (the design itself)
     */
    scale: z
      .number()
      .gt(0, 'must be > 0 (a fraction of the design, e.g. 0.25 for 1:4)')
      .max(1, 'must be <= 1 (1 is the design itself; a scale model is smaller)')
      .optional(),
    /** Latency expectations gate a scale-model run too (by default they are indicative). @default false */
    latencyGatesAtScale: z.boolean().optional(),
    /** Overrides of the design (infra/topology.ts); arrays replace, objects merge. */
    topology: z.custom<DeepPartial<TopologyInput>>((v) => typeof v === 'object' && v !== null).optional(),
    event: z
      .object({
        seats: z.number().int().positive(),
        /** When the waiting room starts admitting (sales open). @default startAt */
        salesOpenAt: clockTimeSchema.optional(),
      })
      .strict(),
    /**
     * Every choice the harness makes at random draws from this seed (which users buy, their think
     * times and seats, the group's tie-breaks, a `random` fault victim); `--seed` overrides it.
     * @default 1
     */
    seed: z.number().int().nonnegative().max(4_294_967_295).optional(),
    /** A phase sweep by default (`--sweep` overrides): the rehearsal `runs` times, its faults shifted across `periodSeconds`. */
    sweep: z
      .object({
        runs: z.number().int().min(2).max(60),
        /** @default the ALB health-check interval */
        periodSeconds: z.number().positive().optional(),
        /** @default 'all' */
        require: z.enum(['all', 'majority']).default('all'),
      })
      .strict()
      .optional(),
    /** Virtual users in all; `--users` rescales the arrival curve to another total. */
    users: z.number().int().positive(),
    /** Cumulative joins over time, linear between points; the last point's `joined` must equal `users`. */
    arrivals: z.array(arrivalPointSchema).min(1),
    behaviour: behaviourSchema.default({
      socket: true,
      buyShare: 0.3,
      seatsPerOrder: 2,
      thinkTime: { minSeconds: 5, maxSeconds: 20 },
      pollQueueEverySeconds: 0,
      stayConnectedAfterPurchase: false,
    }),
    faults: z.array(faultSchema).default([]),
    /**
     * When this machine counts as having headroom to measure latency (harness/metrics/machine-state.ts,
     * docs/report.md). @default derived from the expectations' latency thresholds
     */
    measurement: z
      .object({
        maxCpuBusy: z.number().gt(0).max(1).optional(),
        maxEventLoopLagMs: z.number().positive().optional(),
        maxProcessCoreBusy: z.number().gt(0).max(1).optional(),
        minHeadroomShare: z.number().min(0).max(1).optional(),
      })
      .strict()
      .optional(),
    expectations: z.array(expectationSchema).min(1, 'a scenario needs at least one expectation to gate on'),
  })
  .strict()
  .superRefine((s, ctx) => {
    const start = clockTimeToSeconds(s.startAt);
    const end = clockTimeToSeconds(s.endAt);
    if (end <= start)
      ctx.addIssue({ code: 'custom', path: ['endAt'], message: `must be after startAt (${s.startAt})` });
    const inRun = (time: string, keyPath: (string | number)[]) => {
      const t = clockTimeToSeconds(time);
      if (t < start || t > end) {
        ctx.addIssue({
          code: 'custom',
          path: keyPath,
          message: `${time} is outside the run (${s.startAt}–${s.endAt})`,
        });
      }
    };
    let previous = -1;
    let previousJoined = -1;
    s.arrivals.forEach((point, i) => {
      inRun(point.at, ['arrivals', i, 'at']);
      const t = clockTimeToSeconds(point.at);
      if (t <= previous)
        ctx.addIssue({ code: 'custom', path: ['arrivals', i, 'at'], message: 'times must increase' });
      if (point.joined < previousJoined) {
        ctx.addIssue({
          code: 'custom',
          path: ['arrivals', i, 'joined'],
          message: `must not decrease (got ${point.joined} after ${previousJoined})`,
        });
      }
      previous = t;
      previousJoined = point.joined;
    });
    const last = s.arrivals.at(-1);
    if (last && last.joined !== s.users) {
      ctx.addIssue({
        code: 'custom',
        path: ['arrivals', s.arrivals.length - 1, 'joined'],
        message: `must equal users (${s.users}), got ${last.joined}`,
      });
    }
    if (s.event.salesOpenAt) inRun(s.event.salesOpenAt, ['event', 'salesOpenAt']);
    for (const [i, f] of s.faults.entries()) {
      inRun(f.at, ['faults', i, 'at']);
      if ('path' in f && f.path === 'client-alb' && s.users > CLIENT_PATH_MAX_USERS) {
        ctx.addIssue({
          code: 'custom',
          path: ['faults', i, 'path'],
          message: `client-alb faults send every client connection through one proxy process (at most ${CLIENT_PATH_MAX_USERS} users, this scenario has ${s.users}); lower users or fault app-redis / app-db`,
        });
      }
    }
    s.expectations.forEach((e, i) => {
      if (e.expect === 'alarm-state') {
        inRun(e.within.from, ['expectations', i, 'within', 'from']);
        inRun(e.within.to, ['expectations', i, 'within', 'to']);
      }
      if (e.expect === 'instances') inRun(e.at, ['expectations', i, 'at']);
    });
  });

export type ScenarioInput = z.input<typeof scenarioSchema>;
export type Scenario = z.output<typeof scenarioSchema>;
export type FaultAction = z.output<typeof faultActionSchema>;
export type Fault = z.output<typeof faultSchema>;
export type Expectation = z.output<typeof expectationSchema>;
export type Behaviour = z.output<typeof behaviourSchema>;
export type HostileBehaviour = z.output<typeof hostileSchema>;

/** A scenario file's error: every problem, each with the file and the key path. */
export class ScenarioError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: invalid scenario\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ScenarioError';
  }
}

/** `expectations[2].alarm`, as a reader finds it in the file. */
function keyPathOf(path: readonly PropertyKey[]): string {
  return path
    .map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i === 0 ? '' : '.'}${String(k)}`))
    .join('');
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const keyPath = keyPathOf(issue.path);
  let got: unknown = input;
  for (const k of issue.path)
    got = got && typeof got === 'object' ? (got as Record<PropertyKey, unknown>)[k] : undefined;
  // Cross-field messages name their values themselves.
  const shown =
    issue.code === 'custom' || got === undefined || typeof got === 'object'
      ? ''
      : ` (got ${JSON.stringify(got)})`;
  if (issue.code === 'unrecognized_keys') {
    return `${keyPath ? `${keyPath}: ` : ''}unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  }
  return `${keyPath || '(scenario)'} ${issue.message}${shown}`;
}

/** Validates a scenario; used by `defineScenario` and by the loader (which adds the file name). */
export function parseScenario(input: unknown, file = '<scenario>'): Scenario {
  const parsed = scenarioSchema.safeParse(input);
  // Names are checked even when the shape is wrong elsewhere: every problem is listed at once.
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.map((i) => describeIssue(i, input))),
    ...nameProblems(input).map((p) => `${keyPathOf(p.path)} ${p.message}`),
  ];
  if (!parsed.success || problems.length > 0) throw new ScenarioError(file, problems);
  return parsed.data;
}

/** What a scenario file exports: checked when the file is loaded, with every problem listed. */
export function defineScenario(input: ScenarioInput): ScenarioInput {
  return input;
}
