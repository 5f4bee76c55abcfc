import { describe, expect, it } from 'vitest';
import { designTopology, mergeTopology } from '../../infra/topology.ts';
import peakDrop from '../../scenarios/peak-drop.ts';
import smoke from '../../scenarios/smoke.ts';
import { parseScenario } from './schema.ts';
import { estimateAlarmHistory, usersWarning } from './threshold-reach.ts';

const peak = parseScenario(peakDrop);
const topology = mergeTopology(designTopology, peak.topology);
const entered = (users: number) =>
  estimateAlarmHistory(peak, topology, users)
    .filter((h) => h.to === 'ALARM')
    .map((h) => `${new Date(h.atMs).toISOString().slice(11, 16)} ${h.alarm}`);

describe('the alarm history a user count would cause (fluid queue estimate)', () => {
  it("follows the design's peak: +2 before the room is full, +5 at the peak, scale-in after the drain", () => {
    expect(entered(25_000)).toEqual([
      '19:54 tiketi-queue-scale-out',
      '19:59 tiketi-queue-scale-out-aggressive',
      '20:15 tiketi-queue-scale-in',
    ]);
  });

  it('loses the aggressive alarm with 6,000 users, as the issue observed', () => {
    expect(entered(6_000)).not.toContain('19:59 tiketi-queue-scale-out-aggressive');
    expect(entered(6_000)).toContain('19:59 tiketi-queue-scale-out');
  });
});

describe('--users warning', () => {
  it('names each expected alarm the new count moves or loses, and suggests --scale', () => {
    const warning = usersWarning(peak, topology, 6_000);
    expect(warning).toContain('--users 6000: peak-drop');
    expect(warning).toContain(
      'tiketi-queue-scale-out (QueueSize > 5000): ALARM at 19:54 with 25,000 users, at 19:59 with 6,000',
    );
    expect(warning).toContain(
      'tiketi-queue-scale-out-aggressive (QueueSize > 20000): ALARM at 19:59 with 25,000 users, never with 6,000',
    );
    expect(warning).toContain('tiketi-queue-scale-in (QueueSize < 1000)');
    expect(warning).toContain('use --scale 0.24 instead');
  });

  it('stays silent when the count crosses the thresholds at the same minutes, or nothing depends on them', () => {
    expect(usersWarning(peak, topology, 25_000)).toBeUndefined();
    expect(usersWarning(peak, topology, 25_100)).toBeUndefined();
    const s = parseScenario(smoke);
    expect(usersWarning(s, mergeTopology(designTopology, s.topology), 50)).toBeUndefined();
  });
});
