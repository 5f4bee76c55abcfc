/**
 * Findings: what a run found, in words, with the numbers that show it and the design element it
 * concerns. Each rule reads the recorded run (RunRecord) and the topology it ran; a rule whose
 * data the record lacks says so (`notEvaluated`) instead of staying silent.
 */
import type { Topology } from '../../infra/topology.ts';
import {
  type AlarmStateName,
  DATA_TIER_BACK,
  type DisconnectCause,
  type DisconnectGroup,
  type RunRecord,
  type Sample,
} from './run-record.ts';

export const FINDING_RULES = [
  'scale-out-without-sockets',
  'policy-refused-in-alarm',
  'design-timeline-contradicted',
  'healthy-capacity-replaced',
  'failover-slower-than-design',
  'admission-notices-lost',
  'admission-notices-rescued',
  'clients-dropped',
] as const;
export type FindingRule = (typeof FINDING_RULES)[number];

export interface Finding {
  rule: FindingRule;
  /** `warning`: the design does not do what it says; `info`: worth knowing, not wrong. */
  severity: 'warning' | 'info';
  /** The design element concerned, as a path into the topology (`scalingPolicies[tiketi-scale-out]`). */
  designElement: string;
  /** One or two sentences a person reads. */
  text: string;
  /** Simulated time the finding is about. */
  atMs: number;
  /** The figures the sentence quotes, named with their units. */
  numbers: Record<string, number>;
}

export interface FindingsResult {
  findings: Finding[];
  /** Rules that could not look: what the record lacks. */
  notEvaluated: { rule: FindingRule; missing: string }[];
}

/** What the rules read: a finished run, or the run so far (the live page). */
export type FindingsInput = Pick<
  RunRecord,
  'startMs' | 'endMs' | 'samples' | 'alarmHistory' | 'scalingActivities' | 'instances' | 'faults'
> &
  Partial<Pick<RunRecord, 'policyRefusals' | 'healthReplacements' | 'admissionNotices' | 'disconnects'>>;

type RuleResult = Finding[] | { missing: string };
type Rule = (record: FindingsInput, topology: Topology) => RuleResult;

const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
const n = (v: number) => v.toLocaleString('en');
/** New instances holding less than this part of a fair share of sockets "received none to speak of". */
const FAIR_SHARE_FLOOR = 0.1;

/** The state of an alarm at `atMs`, from its recorded transitions. */
export function alarmStateAt(
  record: Pick<RunRecord, 'alarmHistory'>,
  alarm: string,
  atMs: number,
): AlarmStateName {
  let state: AlarmStateName = 'INSUFFICIENT_DATA';
  for (const t of record.alarmHistory) if (t.alarm === alarm && t.atMs <= atMs) state = t.to;
  return state;
}

/** The sample that covers `atMs`: the latest one at or before it, within a minute. */
function sampleAt(samples: Sample[], atMs: number): Sample | undefined {
  return samples.filter((s) => s.atMs <= atMs + 30_000 && s.atMs > atMs - 90_000).at(-1);
}

const capacityOf = (s: Sample) => s.desiredCapacity ?? s.instances.inService + s.instances.pending;

/** Instances launched during the run, grouped by the minute their scale-out launched them. */
function scaleOutGroups(record: FindingsInput) {
  const launched = record.instances.filter((i) => i.launchedAtMs > record.startMs && i.inServiceAtMs);
  const groups: (typeof launched)[] = [];
  for (const i of [...launched].sort((a, b) => a.launchedAtMs - b.launchedAtMs)) {
    const last = groups.at(-1);
    if (last && i.launchedAtMs - last[0]!.launchedAtMs < 60_000) last.push(i);
    else groups.push([i]);
  }
  return groups;
}

const scaleOutWithoutSockets: Rule = (record) => {
  const bySockets = record.samples.some((s) => s.socketsPerInstance);
  if (!bySockets && record.samples.every((s) => Object.keys(s.connectionsPerInstance).length === 0))
    return { missing: 'Sample.socketsPerInstance (or connectionsPerInstance)' };
  const what = bySockets ? 'Socket.IO connections' : 'open connections (HTTP + WebSocket)';
  const perInstance = (s: Sample) => (bySockets ? (s.socketsPerInstance ?? {}) : s.connectionsPerInstance);
  return scaleOutGroups(record).flatMap((group) => {
    const ids = group.map((i) => i.id);
    const inServiceMs = Math.max(...group.map((i) => i.inServiceAtMs!));
    const leftMs = Math.min(...group.map((i) => i.terminatingAtMs ?? Number.POSITIVE_INFINITY));
    const window = record.samples.filter((s) => s.atMs >= inServiceMs && s.atMs < leftMs);
    const total = (s: Sample) => Object.values(perInstance(s)).reduce((a, b) => a + b, 0);
    const peak = window.reduce<Sample | undefined>((b, s) => (!b || total(s) > total(b) ? s : b), undefined);
    if (!peak || total(peak) === 0) return [];
    const counts = perInstance(peak);
    const received = ids.reduce((sum, id) => sum + (counts[id] ?? 0), 0);
    const holders = Object.keys(counts).length;
    const fairShare = Math.round((total(peak) * ids.length) / Math.max(1, holders));
    if (received >= fairShare * FAIR_SHARE_FLOOR) return [];
    return [
      {
        rule: 'scale-out-without-sockets',
        severity: 'warning',
        designElement: 'loadBalancer.stickiness + scalingPolicies',
        atMs: peak.atMs,
        text:
          `The scale-out launched at ${hhmm(group[0]!.launchedAtMs)} added ${ids.join(', ')} (InService ${hhmm(inServiceMs)}); ` +
          `at ${hhmm(peak.atMs)} they held ${n(received)} of ${n(total(peak))} ${what} (a fair share: ${n(fairShare)}). ` +
          'Sticky WebSockets stay on the instance they first reached: new instances relieve only new connections.',
        numbers: { newInstances: ids.length, received, total: total(peak), fairShare },
      },
    ];
  });
};

const policyRefusedInAlarm: Rule = (record, topology) => {
  if (!record.policyRefusals) return { missing: 'RunRecord.policyRefusals (AutoScalingGroup.refusals)' };
  return topology.scalingPolicies.flatMap((policy) => {
    const alarms = topology.alarms.filter((a) => a.scalingPolicy === policy.name);
    const refused = record.policyRefusals!.filter(
      (r) =>
        r.policy === policy.name &&
        !r.reason.startsWith('desired capacity') &&
        alarms.some((a) => alarmStateAt(record, a.name, r.atMs) === 'ALARM'),
    );
    if (refused.length === 0) return [];
    const first = refused[0]!;
    const last = refused.at(-1)!;
    const alarm = alarms.find((a) => alarmStateAt(record, a.name, first.atMs) === 'ALARM')!;
    const queue = Math.max(
      ...record.samples
        .filter((s) => s.atMs >= first.atMs && s.atMs <= last.atMs + 60_000)
        .map((s) => s.queueSize),
      0,
    );
    return [
      {
        rule: 'policy-refused-in-alarm',
        severity: 'warning',
        designElement: `scalingPolicies[${policy.name}]`,
        atMs: first.atMs,
        text:
          `${policy.name} (${policy.scalingAdjustment > 0 ? '+' : ''}${policy.scalingAdjustment}) was refused ${refused.length} time${refused.length > 1 ? 's' : ''} ` +
          `from ${hhmm(first.atMs)} to ${hhmm(last.atMs)} while ${alarm.name} was in ALARM (queue up to ${n(queue)}, threshold ${n(alarm.threshold)}): ` +
          `${first.reason}. Simple scaling's cooldown is group-wide and starts when the previous activity completes.`,
        numbers: {
          refusals: refused.length,
          firstMs: first.atMs,
          lastMs: last.atMs,
          cooldownSeconds: policy.cooldownSeconds,
          queueSize: queue,
          threshold: alarm.threshold,
        },
      },
    ];
  });
};

/** Minimum seconds AWS semantics need to move capacity by `delta` with the design's policies. */
function minimumSecondsFor(topology: Topology, delta: number): number {
  const policies = topology.scalingPolicies.filter(
    (p) => Math.sign(p.scalingAdjustment) === Math.sign(delta),
  );
  if (policies.length === 0) return Number.POSITIVE_INFINITY;
  const step = Math.max(...policies.map((p) => Math.abs(p.scalingAdjustment)));
  const cooldown = Math.min(...policies.map((p) => p.cooldownSeconds));
  return (Math.ceil(Math.abs(delta) / step) - 1) * cooldown;
}

const designTimelineContradicted: Rule = (record, topology) => {
  const day = record.startMs - (record.startMs % 86_400_000);
  const rows = topology.designTimeline.map((row) => {
    const [h, m] = row.at.split(':').map(Number) as [number, number];
    return { ...row, atMs: day + (h * 60 + m) * 60_000 };
  });
  return rows.flatMap((row, i) => {
    const seen =
      row.atMs >= record.startMs && row.atMs <= record.endMs ? sampleAt(record.samples, row.atMs) : undefined;
    if (!seen || capacityOf(seen) === row.instances) return [];
    const observed = capacityOf(seen);
    const prev = rows[i - 1];
    const sinceMs = prev?.atMs ?? record.startMs;
    const why = explain(record, topology, { row, prev, observed, sinceMs });
    if (!why) return [];
    return [
      {
        rule: 'design-timeline-contradicted',
        severity: 'warning',
        designElement: `designTimeline[${row.at}]`,
        atMs: row.atMs,
        text: `The design's timeline says ${row.instances} instances at ${row.at} (${row.action}); under AWS semantics this run had ${observed}: ${why}.`,
        numbers: {
          designInstances: row.instances,
          observedInstances: observed,
          designQueue: row.queue,
          observedQueue: seen.queueSize,
        },
      },
    ];
  });
};

/** Why AWS semantics keep capacity from the design's row, or undefined when the load differed. */
function explain(
  record: FindingsInput,
  topology: Topology,
  c: {
    row: { at: string; instances: number; atMs: number };
    prev?: { at: string; instances: number };
    observed: number;
    sinceMs: number;
  },
): string | undefined {
  const reasons: string[] = [];
  if (c.prev && c.prev.instances !== c.row.instances) {
    const needSeconds = minimumSecondsFor(topology, c.row.instances - c.prev.instances);
    const haveSeconds = (c.row.atMs - c.sinceMs) / 1_000;
    if (needSeconds > haveSeconds)
      reasons.push(
        `going from ${c.prev.instances} (${c.prev.at}) to ${c.row.instances} takes at least ${Math.round(needSeconds / 60)} min of cooldowns, the table allows ${Math.round(haveSeconds / 60)}`,
      );
  }
  const wantOut = c.row.instances > c.observed;
  const refused = (record.policyRefusals ?? []).filter((r) => {
    const p = topology.scalingPolicies.find((x) => x.name === r.policy);
    return p && p.scalingAdjustment > 0 === wantOut && r.atMs > c.sinceMs && r.atMs <= c.row.atMs;
  });
  if (refused.length > 0)
    reasons.push(`${refused.length} policy invocation(s) refused (${refused[0]!.reason})`);
  const alarmed = topology.alarms.filter((a) => {
    const p = topology.scalingPolicies.find((x) => x.name === a.scalingPolicy);
    return p && p.scalingAdjustment > 0 === wantOut && alarmStateAt(record, a.name, c.row.atMs) === 'ALARM';
  });
  if (reasons.length === 0 && alarmed.length === 0) return undefined;
  if (alarmed.length > 0)
    reasons.push(
      `${alarmed.map((a) => a.name).join(' and ')} in ALARM, each launch waits its boot time and then the cooldown`,
    );
  return reasons.join('; ');
}

const HEALTH_CAUSE = /ELB system health check failure of (\S+?)\.?$/;

/** Health-check replacements: recorded ones, else derived from the activities' causes. */
function replacements(record: FindingsInput): { instanceId: string; atMs: number; processAlive?: boolean }[] {
  if (record.healthReplacements) return record.healthReplacements;
  return record.scalingActivities.flatMap((a) => {
    const m = HEALTH_CAUSE.exec(a.cause);
    return m ? [{ instanceId: m[1]!, atMs: a.startMs }] : [];
  });
}

const healthyCapacityReplaced: Rule = (record, topology) => {
  const az = (id: string) => record.instances.find((i) => i.id === id)?.az;
  const hit = (id: string) =>
    record.faults.some(
      (f) =>
        f.detail.split(/[\s(),]/).includes(id) ||
        (f.fault === 'kill-az' && f.detail.startsWith(`AZ ${az(id)}:`)),
    );
  const replaced = replacements(record).filter((r) => r.processAlive ?? !hit(r.instanceId));
  if (replaced.length === 0) return [];
  const during = record.faults
    .filter((f) => f.atMs <= replaced[0]!.atMs)
    .sort((a, b) => a.atMs - b.atMs)
    .map((f) => `${f.fault} at ${hhmm(f.atMs)}`);
  const hc = topology.loadBalancer.healthCheck;
  return [
    {
      rule: 'healthy-capacity-replaced',
      severity: 'warning',
      designElement: 'loadBalancer.healthCheck + autoScalingGroup.healthCheckType',
      atMs: replaced[0]!.atMs,
      text:
        `The ELB health check replaced ${replaced.length} instance${replaced.length > 1 ? 's' : ''} that no fault had hit (${replaced.map((r) => `${r.instanceId} at ${hhmm(r.atMs)}`).join(', ')})` +
        `${during.length ? ` during ${during.join(', ')}` : ''}: ${hc.path} failed ${hc.unhealthyThresholdCount} checks ${hc.intervalSeconds} s apart, ` +
        'so a slow or dependent check reads as a dead instance and the group terminates working capacity.',
      numbers: {
        replaced: replaced.length,
        intervalSeconds: hc.intervalSeconds,
        unhealthyThreshold: hc.unhealthyThresholdCount,
      },
    },
  ];
};

/** What the design promises for each kind of failover: the timeline label and the seconds. */
function promises(topology: Topology): Record<string, { label: string; seconds: number; element: string }> {
  return {
    'db-failover': {
      label: DATA_TIER_BACK,
      seconds: topology.database.failover.allReconnectedSeconds,
      element: 'database.failover.allReconnectedSeconds',
    },
    'redis-failover': {
      label: 'Sentinel promoted the replica',
      seconds: topology.redis.failoverSecondsMax,
      element: 'redis.failoverSecondsMax',
    },
  };
}

const failoverSlowerThanDesign: Rule = (record, topology) =>
  record.faults.flatMap((f) => {
    const promise = promises(topology)[f.fault];
    if (!promise) return [];
    const step = f.timeline.find((t) => t.label.startsWith(promise.label));
    const never = !step || step.label.includes('not within');
    const seconds = step
      ? Math.round((step.atMs - f.atMs) / 1_000)
      : Math.round((record.endMs - f.atMs) / 1_000);
    if (!never && seconds <= promise.seconds) return [];
    return [
      {
        rule: 'failover-slower-than-design',
        severity: 'warning',
        designElement: promise.element,
        atMs: f.atMs,
        text: never
          ? `${f.fault} at ${hhmm(f.atMs)} (${f.detail}): "${promise.label}" never happened in ${seconds} s; the design promises ${promise.seconds} s.`
          : `${f.fault} at ${hhmm(f.atMs)} (${f.detail}): "${promise.label}" took ${seconds} s; the design promises ${promise.seconds} s.`,
        numbers: { seconds, promisedSeconds: promise.seconds },
      },
    ];
  });

/**
 * Lost or rescued admission notices (expected 0 of each): every user who waited with a socket
 * should learn of its admission from the notice (pub/sub, or the admission log behind it).
 */
const admissionNotices =
  (which: 'lost' | 'rescued'): Rule =>
  (record) => {
    const notices = record.admissionNotices;
    if (!notices)
      return {
        missing:
          "RunRecord.admissionNotices (delivered, rescuedByApp, rescuedByPoll, lost): counted by tiketi-sim's own virtual users",
      };
    const waited = notices.delivered + notices.rescuedByApp + notices.rescuedByPoll + notices.lost;
    const rescued = notices.rescuedByApp + notices.rescuedByPoll;
    const count = which === 'lost' ? notices.lost : rescued;
    if (count === 0) return [];
    return [
      {
        rule: which === 'lost' ? 'admission-notices-lost' : 'admission-notices-rescued',
        severity: which === 'lost' ? 'warning' : 'info',
        designElement: 'queue.admissionPerSecond (Socket.IO admission notice)',
        atMs: record.endMs,
        text:
          which === 'lost'
            ? `${n(count)} of ${n(waited)} users who waited with a socket were admitted and never told (still waiting when the run stopped).`
            : `${n(count)} of ${n(waited)} admission notices never reached their user: ${n(notices.rescuedByApp)} told from the queue by the app's rescue, ${n(notices.rescuedByPoll)} found it by polling. Expected 0: the notice goes over pub/sub and the admission log.`,
        numbers: { ...notices, waited },
      },
    ];
  };

/** The part of the design each cause of a drop concerns. */
const DROP_ELEMENT: Record<DisconnectCause, string> = {
  'process-exited': 'autoScalingGroup (an instance lost)',
  drained: 'loadBalancer.deregistrationDelaySeconds',
  'in-service': 'instance (Socket.IO server, Redis adapter)',
  'instance-unknown': 'instance (Socket.IO server)',
};

/** `transport close` → `transportClose`: a reason as a key of `numbers`. */
const camel = (reason: string) => reason.replace(/ (\w)/g, (_, c: string) => c.toUpperCase());
const hhmmss = (ms: number) => new Date(ms).toISOString().slice(11, 19);

/**
 * Clients that dropped, one finding per instance and cause: how many, when, what the harness knew
 * of the instance, and Socket.IO's reasons. A drop from an instance still in service is a warning:
 * no instance went, yet its clients did.
 */
const clientsDropped: Rule = (record) => {
  if (!record.disconnects)
    return { missing: "RunRecord.disconnects (the load generator's clients: an engine's are not watched)" };
  const byCause = new Map<string, DisconnectGroup[]>();
  for (const g of record.disconnects) {
    const key = [g.instanceId, g.cause, g.causeAtMs].join('|');
    byCause.set(key, [...(byCause.get(key) ?? []), g]);
  }
  return [...byCause.values()].map((groups) => {
    const { instanceId, cause, causeAtMs, causeDetail } = groups[0]!;
    const dropped = groups.reduce((sum, g) => sum + g.count, 0);
    const back = groups.reduce((sum, g) => sum + g.back, 0);
    const firstMs = Math.min(...groups.map((g) => g.firstAtMs));
    const lastMs = Math.max(...groups.map((g) => g.lastAtMs));
    const reasons = [...groups].sort((a, b) => b.count - a.count);
    const from = instanceId ? `from ${instanceId}` : 'from an instance they had not learned';
    const span =
      firstMs === lastMs ? `at ${hhmmss(firstMs)}` : `between ${hhmmss(firstMs)} and ${hhmmss(lastMs)}`;
    return {
      rule: 'clients-dropped',
      severity: cause === 'in-service' ? 'warning' : 'info',
      designElement: DROP_ELEMENT[cause],
      atMs: firstMs,
      text:
        `${n(dropped)} client${dropped > 1 ? 's' : ''} dropped ${from} ${span}: ${causeDetail}. ` +
        `Socket.IO said ${reasons.map((g) => `${g.reason} ${n(g.count)}`).join(', ')}; ` +
        `${n(back)} ${back === 1 ? 'was' : 'were'} back before the run ended.`,
      numbers: {
        dropped,
        back,
        firstMs,
        lastMs,
        ...(causeAtMs === undefined ? {} : { causeAtMs }),
        ...Object.fromEntries(reasons.map((g) => [camel(g.reason), g.count])),
      },
    } satisfies Finding;
  });
};

const RULES: Record<FindingRule, Rule> = {
  'scale-out-without-sockets': scaleOutWithoutSockets,
  'policy-refused-in-alarm': policyRefusedInAlarm,
  'design-timeline-contradicted': designTimelineContradicted,
  'healthy-capacity-replaced': healthyCapacityReplaced,
  'failover-slower-than-design': failoverSlowerThanDesign,
  'admission-notices-lost': admissionNotices('lost'),
  'admission-notices-rescued': admissionNotices('rescued'),
  'clients-dropped': clientsDropped,
};

/** Runs every rule; findings in time order. */
export function evaluateFindings(record: FindingsInput, topology: Topology): FindingsResult {
  const out: FindingsResult = { findings: [], notEvaluated: [] };
  for (const rule of FINDING_RULES) {
    const result = RULES[rule](record, topology);
    if (Array.isArray(result)) out.findings.push(...result);
    else out.notEvaluated.push({ rule, missing: result.missing });
  }
  out.findings.sort((a, b) => a.atMs - b.atMs);
  return out;
}
