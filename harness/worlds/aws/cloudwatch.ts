/**
 * CloudWatch, read: alarm states and their history, the event the alarms watch, and the queue
 * monitor's metrics. Pure adapters per API answer, and the paged calls that use them.
 */
import type {
  DescribeAlarmHistoryOutput,
  DescribeAlarmsOutput,
  GetMetricDataOutput,
  MetricAlarm,
  MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import {
  DescribeAlarmHistoryCommand,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import type { Topology } from '../../../infra/topology.ts';
import {
  ALARM_STATES,
  type AlarmState,
  type AlarmTransition,
  isAlarmState,
  type MetricDataPoint,
} from '../../model/aws.ts';
import { epochMsOf, pages, type SdkClient } from './sdk.ts';

/** "Alarm updated from OK to ALARM": both states, from a history item's summary. */
const SUMMARY_STATES = new RegExp(`from (${ALARM_STATES.join('|')}) to (${ALARM_STATES.join('|')})`);

/**
 * State changes out of DescribeAlarmHistory: the `StateUpdate` items, whose `HistoryData` is a JSON
 * string `{ oldState: { stateValue, stateReason }, newState: { stateValue, stateReason, … } }`.
 * Other item types (ConfigurationUpdate, Action) are left out. An item whose HistoryData does not
 * parse falls back to its summary ("Alarm updated from OK to ALARM"). Oldest first.
 */
export function alarmTransitionsFrom(output: DescribeAlarmHistoryOutput): AlarmTransition[] {
  const transitions: AlarmTransition[] = [];
  for (const item of output.AlarmHistoryItems ?? []) {
    if (item.HistoryItemType !== 'StateUpdate' || !item.AlarmName) continue;
    const atMs = epochMsOf(item.Timestamp);
    if (atMs === undefined) continue;
    let from: AlarmState | undefined;
    let to: AlarmState | undefined;
    let reason = '';
    try {
      const data = JSON.parse(item.HistoryData ?? '') as {
        oldState?: { stateValue?: unknown };
        newState?: { stateValue?: unknown; stateReason?: unknown };
      };
      from = isAlarmState(data.oldState?.stateValue) ? data.oldState.stateValue : undefined;
      to = isAlarmState(data.newState?.stateValue) ? data.newState.stateValue : undefined;
      reason = typeof data.newState?.stateReason === 'string' ? data.newState.stateReason : '';
    } catch {
      // HistoryData is documented as JSON; if it is not, the summary still names both states.
    }
    if (!from || !to) {
      const summary = SUMMARY_STATES.exec(item.HistorySummary ?? '');
      if (!summary) continue;
      from = summary[1] as AlarmState;
      to = summary[2] as AlarmState;
      reason ||= item.HistorySummary ?? '';
    }
    transitions.push({ alarm: item.AlarmName, atMs, from, to, reason });
  }
  return transitions.sort((a, b) => a.atMs - b.atMs || a.alarm.localeCompare(b.alarm));
}

/** Current state of each metric alarm in a DescribeAlarms answer. */
export function alarmStatesFrom(output: DescribeAlarmsOutput): Record<string, AlarmState> {
  const states: Record<string, AlarmState> = {};
  for (const alarm of output.MetricAlarms ?? []) {
    if (alarm.AlarmName && isAlarmState(alarm.StateValue)) states[alarm.AlarmName] = alarm.StateValue;
  }
  return states;
}

/**
 * The event the stack's alarms watch: the `EventId` dimension (`dimensionName`) of its alarms, in
 * the order of `alarmNames`. The stack is deployed with one (`-c watchedEventId=…`, default
 * `default`); undefined when no alarm carries the dimension.
 */
export function watchedEventIdFrom(
  output: DescribeAlarmsOutput,
  dimensionName: string,
  alarmNames: readonly string[] = [],
): string | undefined {
  const alarms = [...(output.MetricAlarms ?? [])].sort(
    (a, b) => rank(alarmNames, a.AlarmName) - rank(alarmNames, b.AlarmName),
  );
  for (const alarm of alarms) {
    const value = alarm.Dimensions?.find((d) => d.Name === dimensionName)?.Value;
    if (value) return value;
  }
  return undefined;
}

function rank(names: readonly string[], name: string | undefined): number {
  const i = name === undefined ? -1 : names.indexOf(name);
  return i === -1 ? names.length : i;
}

/** DescribeAlarms for these metric alarms, paged through. */
export async function describeMetricAlarms(
  cloudWatch: SdkClient,
  alarmNames: readonly string[],
): Promise<MetricAlarm[]> {
  const alarms: MetricAlarm[] = [];
  const request = (page: { NextToken?: string }) =>
    new DescribeAlarmsCommand({ AlarmNames: [...alarmNames], AlarmTypes: ['MetricAlarm'], ...page });
  for await (const page of pages<DescribeAlarmsOutput>(cloudWatch, request))
    alarms.push(...(page.MetricAlarms ?? []));
  return alarms;
}

/** Current state of each of these alarms. */
export async function describeAlarmStates(
  cloudWatch: SdkClient,
  alarmNames: readonly string[],
): Promise<Record<string, AlarmState>> {
  return alarmStatesFrom({ MetricAlarms: await describeMetricAlarms(cloudWatch, alarmNames) });
}

/** State changes of these alarms between two wall times, oldest first (each alarm paged through). */
export async function describeAlarmTransitions(
  cloudWatch: SdkClient,
  alarmNames: readonly string[],
  sinceMs: number,
  untilMs: number,
): Promise<AlarmTransition[]> {
  const transitions: AlarmTransition[] = [];
  // One alarm at a time: the account may hold other alarms, and AlarmName filters server-side.
  for (const AlarmName of alarmNames) {
    const request = (page: { NextToken?: string }) =>
      new DescribeAlarmHistoryCommand({
        AlarmName,
        HistoryItemType: 'StateUpdate',
        StartDate: new Date(sinceMs),
        EndDate: new Date(untilMs),
        ScanBy: 'TimestampAscending',
        MaxRecords: 100,
        ...page,
      });
    for await (const page of pages<DescribeAlarmHistoryOutput>(cloudWatch, request))
      transitions.push(...alarmTransitionsFrom(page));
  }
  return transitions.sort((a, b) => a.atMs - b.atMs || a.alarm.localeCompare(b.alarm));
}

/** Query ids `queueMetricQueries` gives the two series. */
export const QUEUE_SIZE_ID = 'queueSize';
export const ACTIVE_USERS_ID = 'activeUsers';

/** GetMetricData queries for the queue monitor's two series of one event, one-minute periods. */
export function queueMetricQueries(topology: Topology, eventId: string): MetricDataQuery[] {
  const monitor = topology.queueMonitor;
  const query = (id: string, metricName: string): MetricDataQuery => ({
    Id: id,
    MetricStat: {
      Metric: {
        Namespace: monitor.namespace,
        MetricName: metricName,
        Dimensions: [{ Name: monitor.dimensionName, Value: eventId }],
      },
      Period: monitor.scheduleSeconds,
      // One datapoint per schedule: the statistic is the value; Maximum reads best if two land in a period.
      Stat: 'Maximum',
    },
    ReturnData: true,
  });
  return [query(QUEUE_SIZE_ID, monitor.queueSizeMetric), query(ACTIVE_USERS_ID, monitor.activeUsersMetric)];
}

/**
 * The latest datapoint of each requested series in a GetMetricData answer (any ScanBy order), by
 * query id; a series with no datapoint is absent.
 */
export function latestMetricDataPoints(output: GetMetricDataOutput): Record<string, MetricDataPoint> {
  const latest: Record<string, MetricDataPoint> = {};
  for (const result of output.MetricDataResults ?? []) {
    if (!result.Id) continue;
    const times = result.Timestamps ?? [];
    const values = result.Values ?? [];
    for (let i = 0; i < Math.min(times.length, values.length); i++) {
      const atMs = epochMsOf(times[i]);
      const value = values[i];
      if (atMs === undefined || value === undefined) continue;
      const current = latest[result.Id];
      if (!current || atMs > current.atMs) latest[result.Id] = { value, atMs };
    }
  }
  return latest;
}

/** Queue size and active users, latest datapoints of `queueMetricQueries`. */
export function queueMetricFrom(output: GetMetricDataOutput): {
  queueSize?: MetricDataPoint;
  activeUsers?: MetricDataPoint;
} {
  const points = latestMetricDataPoints(output);
  return {
    ...(points[QUEUE_SIZE_ID] ? { queueSize: points[QUEUE_SIZE_ID] } : {}),
    ...(points[ACTIVE_USERS_ID] ? { activeUsers: points[ACTIVE_USERS_ID] } : {}),
  };
}

/** How far back `queueMetricsAt` looks for the latest queue datapoint. */
const METRIC_LOOKBACK_MS = 5 * 60_000;

/** The latest queue size and active users of one event at `atMs` (GetMetricData, paged through). */
export async function queueMetricsAt(
  cloudWatch: SdkClient,
  topology: Topology,
  eventId: string,
  atMs: number,
): Promise<{ queueSize?: MetricDataPoint; activeUsers?: MetricDataPoint }> {
  const queries = queueMetricQueries(topology, eventId);
  const results: NonNullable<GetMetricDataOutput['MetricDataResults']> = [];
  const request = (page: { NextToken?: string }) =>
    new GetMetricDataCommand({
      MetricDataQueries: queries,
      StartTime: new Date(atMs - METRIC_LOOKBACK_MS),
      EndTime: new Date(atMs),
      ScanBy: 'TimestampDescending',
      ...page,
    });
  for await (const page of pages<GetMetricDataOutput>(cloudWatch, request))
    results.push(...(page.MetricDataResults ?? []));
  return queueMetricFrom({ MetricDataResults: results });
}
