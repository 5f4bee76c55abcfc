import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import { designTopology, mergeTopology, type Topology } from '../../infra/topology.ts';
import peakDrop from '../../scenarios/peak-drop.ts';
import { FASTEST_TIME_SCALE } from '../clock/clock.ts';
import type { Verdict } from '../expectations/evaluate.ts';
import { appEnvironment, queueEnvironment } from '../instances/app-instance.ts';
import { markIndicative, ratioOf, scaleModel, unclassifiedTopologyNumbers } from './scale-model.ts';
import { parseScenario, type Scenario } from './schema.ts';
import { estimateAlarmHistory } from './threshold-reach.ts';

/** Every number of a value by key path (array elements by index). */
function numbersOf(value: unknown, path = ''): Map<string, number> {
  const out = new Map<string, number>();
  if (typeof value === 'number') out.set(path, value);
  else if (Array.isArray(value))
    value.forEach((v, i) => {
      for (const [k, n] of numbersOf(v, `${path}[${i}]`)) out.set(k, n);
    });
  else if (typeof value === 'object' && value !== null)
    for (const [key, v] of Object.entries(value))
      for (const [k, n] of numbersOf(v, path ? `${path}.${key}` : key)) out.set(k, n);
  return out;
}

const scenario = parseScenario(peakDrop, 'scenarios/peak-drop.ts');

/** What the issue says must scale in peak-drop at 1:4, written out by hand. */
const MUST_SCALE_AT_QUARTER: Record<string, number> = {
  'topology.instance.capacity.concurrentUsers': 250,
  'topology.instance.capacity.requestsPerSecond': 250,
  'topology.instance.capacity.webSockets': 125,
  'topology.alarms[0].threshold': 1_250,
  'topology.alarms[1].threshold': 5_000,
  'topology.alarms[2].threshold': 250,
  'topology.queue.admissionPerSecond': 12.5,
  'topology.targets.concurrentUsers': 2_500,
  'topology.designTimeline[1].queue': 750,
  'topology.designTimeline[2].queue': 2_000,
  'topology.designTimeline[3].queue': 6_250,
  'topology.designTimeline[4].queue': 5_000,
  'topology.designTimeline[5].queue': 200,
  'topology.designTimeline[6].queue': 125,
  'topology.designTimeline[7].queue': 50,
  users: 6_250,
  'event.seats': 1_250,
  'arrivals[1].joined': 750,
  'arrivals[2].joined': 2_000,
  'arrivals[3].joined': 6_250,
  // The model's requested speed: 120× ÷ F, capped at the fastest the world runs under load.
  timeScale: 240,
};

describe('the scaling rules', () => {
  it('classify every number of the design, optional ones included', () => {
    const everyField: Topology = {
      ...designTopology,
      instance: { ...designTopology.instance, bootSeconds: 240 },
      alarms: designTopology.alarms.map((a) => ({ ...a, datapointsToAlarm: 1 })),
    };
    expect(unclassifiedTopologyNumbers(everyField)).toEqual([]);
  });

  it('name a number nobody classified (a new field of the topology)', () => {
    const withNewField = {
      ...designTopology,
      instance: { ...designTopology.instance, maxConnections: 5_000 },
      redis: { ...designTopology.redis, clientTimeouts: { idleSeconds: 300 } },
    };
    expect(unclassifiedTopologyNumbers(withNewField)).toEqual([
      'topology.instance.maxConnections',
      'topology.redis.clientTimeouts.idleSeconds',
    ]);
  });
});

describe('the 1:1/F model of a scenario', () => {
  const design = { ...scenario, topology: designTopology } as unknown as Scenario;
  const model = scaleModel(scenario, 0.25);
  const before = numbersOf(design);
  const after = numbersOf({ ...model.scenario, scale: undefined });

  it('scales every count and rate of users by F', () => {
    for (const [path, value] of Object.entries(MUST_SCALE_AT_QUARTER))
      expect([path, after.get(path)]).toEqual([path, value]);
  });

  it('keeps every other number as designed: times, instance counts, policies, periods, prices', () => {
    const changed = [...after].filter(([path, n]) => before.get(path) !== n).map(([path]) => path);
    expect(changed.sort()).toEqual(Object.keys(MUST_SCALE_AT_QUARTER).sort());
    const times = [...before.keys()].filter((p) => /(Seconds|Ms|Days)(Min|Max)?$|(Seconds|Ms)\b/.test(p));
    expect(times.length).toBeGreaterThan(30);
    for (const path of times) expect([path, after.get(path)]).toEqual([path, before.get(path)]);
  });

  it('lists every scaled number beside the design’s, by name', () => {
    expect(model.record).toMatchObject({ factor: 0.25, ratio: '1:4', latencyGates: false });
    expect(model.record.scaled).toContainEqual({
      path: 'topology.alarms[tiketi-queue-scale-out-aggressive].threshold',
      design: 20_000,
      model: 5_000,
    });
    expect(model.record.scaled).toContainEqual({
      path: 'arrivals[19:55].joined',
      design: 8_000,
      model: 2_000,
    });
    expect(model.record.scaled).toContainEqual({
      path: 'topology.queue.admissionPerSecond',
      design: 50,
      model: 12.5,
    });
    expect(model.record.scaled.filter((s) => s.design !== 0)).toHaveLength(
      Object.keys(MUST_SCALE_AT_QUARTER).length,
    );
  });

  it('asks for a faster clock, as much faster as it is smaller, up to the fastest the world runs', () => {
    const sixty = parseScenario({ ...peakDrop, timeScale: 60 }, 'sixty');
    expect(scaleModel(sixty, 0.5).scenario.timeScale).toBe(120);
    expect(scaleModel(sixty, 0.1).scenario.timeScale).toBe(FASTEST_TIME_SCALE);
    const fast = parseScenario({ ...peakDrop, timeScale: 500 }, 'fast');
    // Never slower than the scenario asked for.
    expect(scaleModel(fast, 0.5).scenario.timeScale).toBe(500);
    expect(scaleModel(fast, 0.5).record.scaled.map((s) => s.path)).not.toContain('timeScale');
  });

  it('scales the expectations’ rates, keeps instance counts, windows and latency bounds', () => {
    const withRates = parseScenario({
      ...peakDrop,
      expectations: [
        { expect: 'admission-rate', atLeastPerSecond: 45 },
        { expect: 'instances', at: '20:10', min: 4, max: 10 },
        { expect: 'reconnect', withinSeconds: 30 },
        { expect: 'latency', endpoint: 'all', percentile: 95, belowMs: 200 },
      ],
    });
    expect(scaleModel(withRates, 0.2).scenario.expectations).toEqual([
      { expect: 'admission-rate', atLeastPerSecond: 9 },
      { expect: 'instances', at: '20:10', lifecycle: 'InService', min: 4, max: 10 },
      { expect: 'reconnect', withinSeconds: 30, keepsState: true },
      { expect: 'latency', endpoint: 'all', percentile: 95, belowMs: 200 },
    ]);
  });

  it('scales the scenario’s own design override, and is pure', () => {
    const input = parseScenario({
      ...peakDrop,
      topology: { queue: { admissionPerSecond: 80 }, autoScalingGroup: { desiredCapacity: 4 } },
    });
    const copy = structuredClone(input);
    const a = scaleModel(input, 0.5);
    expect(a.topology.queue.admissionPerSecond).toBe(40);
    expect(a.topology.autoScalingGroup.desiredCapacity).toBe(4);
    expect(a.scenario.topology).toEqual(a.topology);
    expect(input).toEqual(copy);
    expect(scaleModel(input, 0.5)).toEqual(a);
    // The scenario runs the model once: it does not carry its factor to be applied again.
    expect(a.scenario.scale).toBeUndefined();
  });

  it('rounds whole counts and keeps the arrival curve ending at the users', () => {
    const m = scaleModel(scenario, 0.3);
    expect(m.record.ratio).toBe('1:3.33');
    expect(m.scenario.users).toBe(7_500);
    expect(m.scenario.arrivals.at(-1)!.joined).toBe(m.scenario.users);
    expect(m.topology.alarms[0]!.threshold).toBe(1_500);
    expect(ratioOf(0.125)).toBe('1:8');
  });

  it('refuses a factor outside (0, 1]', () => {
    expect(() => scaleModel(scenario, 0)).toThrow(/scale factor must be in \(0, 1\], got 0/);
    expect(() => scaleModel(scenario, 1.5)).toThrow(/got 1.5/);
    expect(() => parseScenario({ ...peakDrop, scale: 1.5 }, 'mine.ts')).toThrow(
      /mine.ts: invalid scenario\n {2}scale must be <= 1 \(1 is the design itself; a scale model is smaller\) \(got 1.5\)/,
    );
    expect(() => parseScenario({ ...peakDrop, scale: 0 })).toThrow(/scale must be > 0 .*\(got 0\)/);
  });

  it('crosses each threshold at the same simulated minute as the design (by the fluid queue)', () => {
    const minutes = (s: Scenario, t: Topology) =>
      estimateAlarmHistory(s, t, s.users).map(
        (h) => `${new Date(h.atMs).toISOString().slice(11, 16)} ${h.alarm} ${h.to}`,
      );
    const full = minutes(scenario, mergeTopology(designTopology, scenario.topology));
    expect(full).toContain('19:54 tiketi-queue-scale-out ALARM');
    for (const factor of [0.5, 0.25, 0.1]) {
      const m = scaleModel(scenario, factor);
      expect([factor, minutes(m.scenario, m.topology)]).toEqual([factor, full]);
    }
  });
});

describe('the app instances of a scale model', () => {
  it("admit at the model's rate: the topology's queue figures reach the app's configuration", () => {
    const { topology } = scaleModel(scenario, 0.25);
    const env = appEnvironment(
      {
        id: 'app-1',
        az: 'a',
        endpoints: {
          redis: { kind: 'url', url: 'redis://127.0.0.1:6379' },
          postgres: { writerUrl: 'postgres://x@127.0.0.1/x', readerUrl: 'postgres://x@127.0.0.1/x' },
        },
        tokenSecret: 'a-token-secret-of-length',
        env: queueEnvironment(topology.queue),
      },
      3001,
    );
    expect(loadConfig(env)).toMatchObject({
      admissionPerSecond: 12.5,
      shoppingWindowSeconds: designTopology.queue.shoppingWindowSeconds,
      seatHoldSeconds: designTopology.queue.seatHoldSeconds,
    });
  });
});

describe('latency verdicts of a scale model', () => {
  const verdicts: Verdict[] = [
    {
      kind: 'latency',
      name: 'P95 < 200 ms',
      status: 'failed',
      passed: false,
      expected: '< 200 ms',
      observed: '310 ms',
    },
    {
      kind: 'socket-delivery',
      name: 'delivery',
      status: 'passed',
      passed: true,
      expected: '< 100 ms',
      observed: '20 ms',
    },
    {
      kind: 'alarm-state',
      name: 'alarm',
      status: 'failed',
      passed: false,
      expected: 'ALARM',
      observed: 'never',
    },
    {
      kind: 'baseline',
      name: 'P95 within 20 %',
      status: 'failed',
      passed: false,
      expected: '<= 60 ms',
      observed: '90 ms',
    },
  ];

  it('are indicative, with the reason; every other verdict still gates', () => {
    const marked = markIndicative(verdicts, scaleModel(scenario, 0.25).record);
    expect(marked.map((v) => v.indicative)).toEqual([
      expect.stringMatching(/^scale model 1:4: indicative/),
      expect.stringMatching(/^scale model 1:4: indicative/),
      undefined,
      expect.stringMatching(/^scale model 1:4: indicative/),
    ]);
    expect(marked.map((v) => v.passed)).toEqual([false, true, false, false]);
  });

  it('gate when the scenario opts in', () => {
    const optIn = parseScenario({ ...peakDrop, latencyGatesAtScale: true });
    expect(markIndicative(verdicts, scaleModel(optIn, 0.25).record)).toEqual(verdicts);
  });
});
