import { describe, expect, it } from 'vitest';
import { designTopology } from '../../infra/topology.ts';
import { disconnectBreakdown } from './disconnects.ts';
import { evaluateFindings, type FindingRule } from './findings.ts';
import { at, recordedPeakDrop } from './record-fixture.ts';
import type { RunRecord } from './run-record.ts';

const findingsOf = (record: RunRecord, rule: FindingRule) =>
  evaluateFindings(record, designTopology).findings.filter((f) => f.rule === rule);

describe('findings on a recorded peak-drop', () => {
  it('scale-out that received no existing sockets: the numbers and the instances', () => {
    const [f, ...rest] = findingsOf(recordedPeakDrop(), 'scale-out-without-sockets');
    expect(rest).toEqual([]);
    expect(f!.numbers).toMatchObject({ newInstances: 2, received: 0, total: 24_942 });
    expect(f!.text).toContain('app-3, app-4 (InService 19:59)');
    expect(f!.text).toContain('held 0 of 24,942 Socket.IO connections');
  });

  it('does not fire when the new instances took their share of sockets', () => {
    const record = recordedPeakDrop();
    for (const s of record.samples)
      if (s.socketsPerInstance?.['app-3'] !== undefined) {
        s.socketsPerInstance['app-3'] = 6_000;
        s.socketsPerInstance['app-4'] = 6_000;
      }
    expect(findingsOf(record, 'scale-out-without-sockets')).toEqual([]);
  });

  it('falls back to connections per instance and says so when sockets were not recorded', () => {
    const record = recordedPeakDrop();
    for (const s of record.samples) {
      s.socketsPerInstance = undefined;
      for (const id of ['app-3', 'app-4'])
        if (id in s.connectionsPerInstance) s.connectionsPerInstance[id] = 0;
    }
    const [f] = findingsOf(record, 'scale-out-without-sockets');
    expect(f!.text).toContain('open connections (HTTP + WebSocket)');
  });

  it('a policy refused while its alarm was in ALARM, with the cooldown and the queue', () => {
    const [f, ...rest] = findingsOf(recordedPeakDrop(), 'policy-refused-in-alarm');
    expect(rest).toEqual([]);
    expect(f!.designElement).toBe('scalingPolicies[tiketi-scale-out-aggressive]');
    expect(f!.numbers).toMatchObject({
      refusals: 5,
      firstMs: at('19:58'),
      lastMs: at('20:02'),
      threshold: 20_000,
    });
    expect(f!.text).toMatch(
      /refused 5 times from 19:58 to 20:02 while tiketi-queue-scale-out-aggressive was in ALARM/,
    );
  });

  it('a refusal while the alarm was OK is not a finding; without refusals recorded the rule says what is missing', () => {
    const record = recordedPeakDrop();
    record.policyRefusals = [
      { atMs: at('19:40'), policy: 'tiketi-scale-out-aggressive', reason: 'cooldown until x' },
    ];
    expect(findingsOf(record, 'policy-refused-in-alarm')).toEqual([]);
    record.policyRefusals = undefined;
    expect(evaluateFindings(record, designTopology).notEvaluated).toContainEqual({
      rule: 'policy-refused-in-alarm',
      missing: 'RunRecord.policyRefusals (AutoScalingGroup.refusals)',
    });
  });

  it('the design timeline claims AWS semantics contradict: 9 at 20:00 against 4, and 8 → 2 in 15 min', () => {
    const found = findingsOf(recordedPeakDrop(), 'design-timeline-contradicted');
    const at2000 = found.find((f) => f.designElement === 'designTimeline[20:00]');
    expect(at2000!.numbers).toMatchObject({ designInstances: 9, observedInstances: 4 });
    expect(at2000!.text).toContain('refused');
    const at2100 = found.find((f) => f.designElement === 'designTimeline[21:00]');
    expect(at2100!.text).toContain('takes at least 50 min of cooldowns, the table allows 15');
    // 19:30, 19:50, 19:55 match the design: nothing to say.
    expect(found.map((f) => f.designElement)).not.toContain('designTimeline[19:50]');
  });

  it('a timeline row the run missed only because the load differed is not a finding', () => {
    const record = recordedPeakDrop();
    record.policyRefusals = [];
    record.alarmHistory = record.alarmHistory.filter((t) => t.to !== 'ALARM');
    const found = findingsOf(record, 'design-timeline-contradicted').map((f) => f.designElement);
    expect(found).not.toContain('designTimeline[20:00]');
    // The scale-in rows stay: they contradict AWS semantics whatever the load.
    expect(found).toContain('designTimeline[21:00]');
  });

  it('health checks that replaced capacity no fault had hit; a killed instance does not count', () => {
    const record = recordedPeakDrop();
    record.healthReplacements = undefined;
    record.faults.push({ fault: 'kill-instance', detail: 'app-1 (AZ a)', atMs: at('20:10'), timeline: [] });
    const cause = (id: string, hhmm: string) => ({
      startMs: at(hhmm),
      status: 'Successful',
      description: `Terminating EC2 instance: ${id}`,
      cause: `At ${hhmm} an instance was taken out of service in response to an ELB system health check failure of ${id}.`,
    });
    record.scalingActivities.push(cause('app-1', '20:11'));
    expect(findingsOf(record, 'healthy-capacity-replaced')).toEqual([]);
    record.scalingActivities.push(cause('app-2', '20:16'));
    const [f] = findingsOf(record, 'healthy-capacity-replaced');
    expect(f!.numbers.replaced).toBe(1);
    expect(f!.text).toContain('app-2 at 20:16');
    expect(f!.text).toContain('during kill-instance at 20:10, db-failover at 20:15');
  });

  it('recorded replacements decide by whether the process was alive', () => {
    const record = recordedPeakDrop();
    record.healthReplacements = [
      { instanceId: 'app-1', atMs: at('20:16'), processAlive: false },
      { instanceId: 'app-2', atMs: at('20:17'), processAlive: true },
    ];
    expect(findingsOf(record, 'healthy-capacity-replaced')[0]!.numbers.replaced).toBe(1);
  });

  it('a failover longer than the design promises; one within it is not a finding', () => {
    const [f] = findingsOf(recordedPeakDrop(), 'failover-slower-than-design');
    expect(f!.numbers).toEqual({ seconds: 75, promisedSeconds: 60 });
    expect(f!.designElement).toBe('database.failover.allReconnectedSeconds');
    const quick = recordedPeakDrop();
    quick.faults[0]!.timeline.at(-1)!.atMs = at('20:15', 50);
    expect(findingsOf(quick, 'failover-slower-than-design')).toEqual([]);
  });

  it('a failover that never recovered says so', () => {
    const record = recordedPeakDrop();
    record.faults[0]!.timeline.pop();
    const [f] = findingsOf(record, 'failover-slower-than-design');
    expect(f!.text).toContain('never happened');
  });

  it('clients that dropped: how many, from which instance, why, and Socket.IO reasons', () => {
    const record = recordedPeakDrop();
    // The fixture's two drops came from app-1 while it served: a warning, no instance went.
    const [served] = findingsOf(record, 'clients-dropped');
    expect(served).toMatchObject({
      severity: 'warning',
      numbers: { dropped: 2, back: 2, transportClose: 2 },
    });
    expect(served!.text).toContain('2 clients dropped from app-1 at 20:15:00: InService, not draining');

    record.faults.push({
      fault: 'kill-instance',
      detail: 'app-3 (AZ a)',
      atMs: at('20:20', 2),
      timeline: [],
    });
    record.instances.find((i) => i.id === 'app-3')!.processExitedAtMs = at('20:20', 2);
    record.reconnects = Array.from({ length: 500 }, (_, i) => ({
      userId: `u-${i}`,
      disconnectedAtMs: at('20:20', 2 + (i % 3)),
      reason: i < 480 ? 'transport close' : 'ping timeout',
      instanceId: 'app-3',
      ...(i < 498 ? { reconnectedAtMs: at('20:20', 30) } : {}),
    }));
    record.disconnects = disconnectBreakdown(record.reconnects, record);
    const [killed, ...rest] = findingsOf(record, 'clients-dropped');
    expect(rest).toEqual([]);
    expect(killed).toMatchObject({
      severity: 'info',
      designElement: 'autoScalingGroup (an instance lost)',
      numbers: { dropped: 500, back: 498, transportClose: 480, pingTimeout: 20, causeAtMs: at('20:20', 2) },
    });
    expect(killed!.text).toBe(
      '500 clients dropped from app-3 between 20:20:02 and 20:20:04: process exited at 20:20:02, killed by kill-instance. ' +
        'Socket.IO said transport close 480, ping timeout 20; 498 were back before the run ended.',
    );
    record.disconnects = [];
    expect(findingsOf(record, 'clients-dropped')).toEqual([]);
    record.disconnects = undefined;
    expect(evaluateFindings(record, designTopology).notEvaluated.map((n) => n.rule)).toContain(
      'clients-dropped',
    );
  });

  it('admission notices: lost ones warn, rescued ones (by the app or by polling) inform, with the numbers', () => {
    const record = recordedPeakDrop();
    record.admissionNotices = { delivered: 24_985, rescuedByApp: 5, rescuedByPoll: 7, lost: 3 };
    const [lost] = findingsOf(record, 'admission-notices-lost');
    expect(lost!.severity).toBe('warning');
    expect(lost!.text).toContain('3 of 25,000 users who waited with a socket were admitted and never told');
    expect(lost!.numbers).toEqual({
      delivered: 24_985,
      rescuedByApp: 5,
      rescuedByPoll: 7,
      lost: 3,
      waited: 25_000,
    });
    const [rescued] = findingsOf(record, 'admission-notices-rescued');
    expect(rescued!.severity).toBe('info');
    expect(rescued!.text).toContain('12 of 25,000 admission notices never reached their user');
    expect(rescued!.text).toContain("5 told from the queue by the app's rescue, 7 found it by polling");
    // The app's rescue alone is a finding too.
    record.admissionNotices = { delivered: 24_999, rescuedByApp: 1, rescuedByPoll: 0, lost: 0 };
    expect(findingsOf(record, 'admission-notices-rescued')[0]!.numbers.rescuedByApp).toBe(1);
    expect(findingsOf(record, 'admission-notices-lost')).toEqual([]);
  });

  it('admission notices: every one delivered is no finding; none recorded (an engine sent the users) is not evaluated', () => {
    const record = recordedPeakDrop();
    record.admissionNotices = { delivered: 25_000, rescuedByApp: 0, rescuedByPoll: 0, lost: 0 };
    const result = evaluateFindings(record, designTopology);
    expect(result.findings.filter((f) => f.rule.startsWith('admission'))).toEqual([]);
    expect(result.notEvaluated.filter((n) => n.rule.startsWith('admission'))).toEqual([]);
    delete record.admissionNotices;
    expect(
      evaluateFindings(record, designTopology)
        .notEvaluated.filter((n) => n.rule.startsWith('admission'))
        .map((n) => n.rule),
    ).toEqual(['admission-notices-lost', 'admission-notices-rescued']);
  });
});
