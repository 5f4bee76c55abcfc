import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { designTopology } from '../../infra/topology.ts';
import { listScenarios, loadScenario } from './load.ts';
import { HOSTILE_ATTACKS, parseScenario, ScenarioError } from './schema.ts';

const valid = {
  name: 'mine',
  description: 'a test',
  startAt: '19:30',
  endAt: '20:00',
  event: { seats: 10 },
  users: 100,
  arrivals: [
    { at: '19:30', joined: 0 },
    { at: '19:40', joined: 100 },
  ],
  expectations: [{ expect: 'no-seat-sold-twice' }],
};

function problemsOf(input: unknown): string[] {
  try {
    parseScenario(input, 'scenarios/mine.ts');
  } catch (err) {
    expect(err).toBeInstanceOf(ScenarioError);
    return (err as ScenarioError).problems;
  }
  throw new Error('expected the scenario to be rejected');
}

describe('scenario schema', () => {
  it('fills documented defaults into a minimal scenario', () => {
    const s = parseScenario(valid);
    expect(s.timeScale).toBe(30);
    expect(s.behaviour.buyShare).toBe(0.3);
    expect(s.faults).toEqual([]);
  });

  it('a hostile share attacks with every attack by default; an unknown attack is named', () => {
    const s = parseScenario({ ...valid, behaviour: { hostile: { share: 0.1 } } });
    expect(s.behaviour.hostile).toEqual({ share: 0.1, attacks: [...HOSTILE_ATTACKS], attemptsPerAttack: 20 });
    expect(parseScenario(valid).behaviour.hostile).toBeUndefined();
    const problems = problemsOf({ ...valid, behaviour: { hostile: { share: 2, attacks: ['ddos'] } } });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^behaviour\.hostile\.share .*\(got 2\)/),
        expect.stringMatching(/^behaviour\.hostile\.attacks\[0\] .*\(got "ddos"\)/),
      ]),
    );
  });

  it('lists every problem at once, each with its key path and the value', () => {
    const problems = problemsOf({
      ...valid,
      startAt: '7pm',
      users: -5,
      colour: 'blue',
      arrivals: [
        { at: '19:40', joined: 50 },
        { at: '19:35', joined: 10 },
      ],
      faults: [{ at: '19:45', fault: 'kill-az', az: 'zz' }],
      expectations: [{ expect: 'latency', endpoint: 'all', percentile: 97, belowMs: 200 }],
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^startAt must be a time of day as HH:MM.* \(got "7pm"\)$/),
        expect.stringMatching(/^users .*(>0|positive|> 0|>=1).* \(got -5\)$/i),
        'unknown key "colour"',
        expect.stringMatching(/^faults\[0\]\.az must be an AZ label/),
        expect.stringMatching(/^expectations\[0\]\.percentile/),
      ]),
    );
    expect(problems.length).toBeGreaterThanOrEqual(5);
  });

  it('checks cross-field rules: ordering, totals and times inside the run', () => {
    const problems = problemsOf({
      ...valid,
      arrivals: [
        { at: '19:40', joined: 50 },
        { at: '19:35', joined: 10 },
        { at: '21:00', joined: 90 },
      ],
      event: { seats: 10, salesOpenAt: '18:00' },
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'arrivals[1].at times must increase',
        'arrivals[1].joined must not decrease (got 10 after 50)',
        'arrivals[2].joined must equal users (100), got 90',
        'arrivals[2].at 21:00 is outside the run (19:30–20:00)',
        'event.salesOpenAt 18:00 is outside the run (19:30–20:00)',
      ]),
    );
  });

  it('loads user scenario files by path and names the file in errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tiketi-scenario-'));
    try {
      const good = join(dir, 'good.ts');
      writeFileSync(good, `export default ${JSON.stringify(valid)};`);
      expect((await loadScenario(good)).scenario.name).toBe('mine');
      const bad = join(dir, 'bad.ts');
      writeFileSync(bad, `export default ${JSON.stringify({ ...valid, users: 0 })};`);
      await expect(loadScenario(bad)).rejects.toThrow(new RegExp(`${bad}: invalid scenario\\n  users`));
      await expect(loadScenario('no-such-scenario')).rejects.toThrow(/built-in: .*peak-drop/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every built-in scenario is valid', async () => {
    const names = (await listScenarios()).map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['peak-drop', 'smoke']));
  });
});

describe('names a scenario uses', () => {
  it('refuses an unknown alarm, endpoint, AZ and instance id, naming the names that exist', () => {
    const problems = problemsOf({
      ...valid,
      faults: [
        { at: '19:35', fault: 'kill-az', az: 'c' },
        { at: '19:36', fault: 'kill-instance', instance: 'web-1' },
      ],
      expectations: [
        { expect: 'alarm-never', alarm: 'tiketi-queue-scale-oot', state: 'ALARM' },
        { expect: 'alarm-state', alarm: 'nope', state: 'ALARM', within: { from: '19:31', to: '19:40' } },
        { expect: 'latency', endpoint: 'GET /api/event', percentile: 95, belowMs: 100 },
      ],
    });
    expect(problems).toEqual([
      expect.stringMatching(
        /^expectations\[0\]\.alarm no alarm named "tiketi-queue-scale-oot".*"tiketi-queue-scale-out"/,
      ),
      expect.stringMatching(/^expectations\[1\]\.alarm no alarm named "nope"/),
      expect.stringMatching(
        /^expectations\[2\]\.endpoint no endpoint "GET \/api\/event"; endpoints: "all", "POST \/api\/auth\/login"/,
      ),
      expect.stringMatching(/^faults\[0\]\.az no AZ labelled "c" in this topology; AZs: "a", "b"/),
      expect.stringMatching(/^faults\[1\]\.instance "web-1" is not an instance id/),
    ]);
  });

  it('checks alarm names against the scenario’s own topology override', () => {
    const renamed = structuredClone(designTopology.alarms);
    renamed[0]!.name = 'my-alarm';
    const ok = parseScenario({
      ...valid,
      topology: { alarms: renamed },
      expectations: [{ expect: 'alarm-never', alarm: 'my-alarm', state: 'ALARM' }],
    });
    expect(ok.expectations).toHaveLength(1);
    expect(
      problemsOf({
        ...valid,
        topology: { alarms: renamed },
        expectations: [{ expect: 'alarm-never', alarm: designTopology.alarms[0]!.name, state: 'ALARM' }],
      }),
    ).toEqual([expect.stringMatching(/^expectations\[0\]\.alarm no alarm named/)]);
  });

  it('validates a topology override when the scenario is loaded, with its key path', () => {
    expect(problemsOf({ ...valid, topology: { autoScalingGroup: { minSize: -1 } } })).toEqual([
      expect.stringMatching(
        /^topology\.autoScalingGroup\.minSize .*\(got -1\): fix the scenario's override of infra\/topology\.ts/,
      ),
    ]);
  });
});
