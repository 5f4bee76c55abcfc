import { describe, expect, it } from 'vitest';
import {
  type AlarmDefinition,
  designTopology,
  FLEET_DIMENSIONS,
  mergeTopology,
} from '../../infra/topology.ts';
import { ManualClock } from '../clock/clock.ts';
import { Alarm, CloudWatch, MetricStore } from './cloudwatch.ts';
import { Schedule } from './schedule.ts';

const T = (hhmmss: string) => Date.parse(`2026-11-24T${hhmmss}Z`);
// The fleet-wide series the alarms watch (`alarmSeriesOf`), as the queue monitor publishes it.
const dims = [...FLEET_DIMENSIONS];

function put(store: MetricStore, at: string, value: number) {
  return store.putMetricData({
    Namespace: 'Tiketi/Queue',
    MetricData: [{ MetricName: 'QueueSize', Value: value, Dimensions: dims, Timestamp: new Date(T(at)) }],
  });
}

function alarmOf(store: MetricStore, def: Partial<AlarmDefinition>, onAlarm?: () => void) {
  const definition: AlarmDefinition = {
    name: 'test',
    metricName: 'QueueSize',
    statistic: 'Average',
    periodSeconds: 60,
    evaluationPeriods: 1,
    threshold: 5_000,
    comparisonOperator: 'GreaterThanThreshold',
    treatMissingData: 'missing',
    scalingPolicy: 'tiketi-scale-out',
    ...def,
  };
  return new Alarm(definition, { namespace: 'Tiketi/Queue', dimensions: dims }, store, { onAlarm });
}

describe('CloudWatch metrics', () => {
  it('computes each statistic over aligned periods', async () => {
    const store = new MetricStore(new ManualClock(T('19:55:00')));
    for (const [at, v] of [
      ['19:55:05', 10],
      ['19:55:35', 30],
      ['19:56:10', 5],
    ] as const)
      await put(store, at, v);
    const q = {
      namespace: 'Tiketi/Queue',
      metricName: 'QueueSize',
      dimensions: dims,
      startMs: T('19:55:00'),
      endMs: T('19:57:00'),
      periodSeconds: 60,
    };
    expect(store.statistics({ ...q, statistic: 'Average' }).map((d) => d.value)).toEqual([20, 5]);
    expect(store.statistics({ ...q, statistic: 'Sum' }).map((d) => d.value)).toEqual([40, 5]);
    expect(store.statistics({ ...q, statistic: 'Maximum' }).map((d) => d.value)).toEqual([30, 5]);
    expect(store.statistics({ ...q, statistic: 'Minimum' }).map((d) => d.value)).toEqual([10, 5]);
    expect(store.statistics({ ...q, statistic: 'SampleCount' }).map((d) => d.value)).toEqual([2, 1]);
    expect(store.statistics({ ...q, periodSeconds: 120, statistic: 'Average' })).toEqual([
      { startMs: T('19:54:00'), value: 20, sampleCount: 2 },
      { startMs: T('19:56:00'), value: 5, sampleCount: 1 },
    ]);
  });
});

describe('CloudWatch alarms (AWS semantics)', () => {
  it('starts in INSUFFICIENT_DATA, goes OK, then ALARM with an AWS-style reason', async () => {
    const store = new MetricStore(new ManualClock());
    const alarm = alarmOf(store, {});
    expect(alarm.state).toBe('INSUFFICIENT_DATA');
    await put(store, '19:54:00', 3_000);
    alarm.evaluate(T('19:55:00'));
    expect(alarm.state).toBe('OK');
    await put(store, '19:55:00', 8_000);
    alarm.evaluate(T('19:56:00'));
    expect(alarm.state).toBe('ALARM');
    expect(alarm.stateReason).toBe(
      'Threshold Crossed: 1 datapoint [8000.0 (24/11/26 19:55:00)] was greater than the threshold (5000.0).',
    );
    expect(alarm.history.map((h) => `${h.from}->${h.to}`)).toEqual(['INSUFFICIENT_DATA->OK', 'OK->ALARM']);
  });

  it('a value equal to the threshold breaches only the OrEqual operators', async () => {
    const store = new MetricStore(new ManualClock());
    await put(store, '20:00:00', 5_000);
    const strict = alarmOf(store, { comparisonOperator: 'GreaterThanThreshold' });
    const orEqual = alarmOf(store, { comparisonOperator: 'GreaterThanOrEqualToThreshold' });
    const less = alarmOf(store, { comparisonOperator: 'LessThanOrEqualToThreshold' });
    for (const a of [strict, orEqual, less]) a.evaluate(T('20:01:00'));
    expect([strict.state, orEqual.state, less.state]).toEqual(['OK', 'ALARM', 'ALARM']);
  });

  it('M out of N: 3 breaching of 5 alarms, 2 of 5 does not', async () => {
    const store = new MetricStore(new ManualClock());
    const values = [9_000, 1_000, 9_000, 1_000, 9_000];
    for (const [i, v] of values.entries()) await put(store, `20:0${i}:00`, v);
    const three = alarmOf(store, { evaluationPeriods: 5, datapointsToAlarm: 3 });
    three.evaluate(T('20:05:00'));
    expect(three.state).toBe('ALARM');
    const four = alarmOf(store, { evaluationPeriods: 5, datapointsToAlarm: 4 });
    four.evaluate(T('20:05:00'));
    expect(four.state).toBe('OK');
  });

  it('treats missing data as configured', async () => {
    const store = new MetricStore(new ManualClock());
    const states = (['missing', 'breaching', 'notBreaching', 'ignore'] as const).map((treatMissingData) => {
      const a = alarmOf(store, { treatMissingData });
      a.evaluate(T('20:10:00'));
      return a.state;
    });
    expect(states).toEqual(['INSUFFICIENT_DATA', 'ALARM', 'OK', 'INSUFFICIENT_DATA']);
    // ignore keeps the current state through a gap; missing judges on what is present.
    await put(store, '20:10:00', 9_000);
    const ignoring = alarmOf(store, { treatMissingData: 'ignore' });
    ignoring.evaluate(T('20:11:00'));
    ignoring.evaluate(T('20:13:00'));
    expect(ignoring.state).toBe('ALARM');
    const partial = alarmOf(store, { evaluationPeriods: 3, datapointsToAlarm: 1 });
    partial.evaluate(T('20:12:00'));
    expect(partial.state).toBe('ALARM');
  });

  it('keeps invoking an Auto Scaling action once per minute while in ALARM', async () => {
    const clock = new ManualClock(T('19:55:00'));
    const invoked: string[] = [];
    const cw = new CloudWatch({
      topology: designTopology,
      clock,
      eventId: 'drop',
      onScalingAction: (p) => invoked.push(`${new Date(clock.now()).toISOString().slice(11, 16)} ${p}`),
    });
    cw.start();
    for (let minute = 0; minute < 4; minute++) {
      await cw.metrics.putMetricData({
        Namespace: 'Tiketi/Queue',
        MetricData: [{ MetricName: 'QueueSize', Value: 8_000, Dimensions: dims }],
      });
      clock.advance(60_000);
    }
    cw.stop();
    expect(invoked).toEqual([
      '19:56 tiketi-scale-out',
      '19:57 tiketi-scale-out',
      '19:58 tiketi-scale-out',
      '19:59 tiketi-scale-out',
    ]);
    expect(cw.describe().find((a) => a.name === 'tiketi-queue-scale-in')?.state).toBe('INSUFFICIENT_DATA');
  });

  it('the scale-in alarm needs two 5-minute periods under 1,000', async () => {
    const clock = new ManualClock(T('20:00:00'));
    const invoked: string[] = [];
    const cw = new CloudWatch({
      topology: designTopology,
      clock,
      eventId: 'drop',
      onScalingAction: (p) => invoked.push(p),
    });
    cw.start();
    for (let minute = 0; minute < 16; minute++) {
      await cw.metrics.putMetricData({
        Namespace: 'Tiketi/Queue',
        MetricData: [{ MetricName: 'QueueSize', Value: minute < 5 ? 3_000 : 500, Dimensions: dims }],
      });
      clock.advance(60_000);
    }
    const scaleIn = cw.history().filter((h) => h.alarm === 'tiketi-queue-scale-in');
    // 20:00–20:05 is above; 20:05–20:10 and 20:10–20:15 are below: ALARM once 20:15 closes.
    expect(scaleIn.map((h) => [new Date(h.atMs).toISOString().slice(11, 16), h.to])).toEqual([
      ['20:05', 'OK'],
      ['20:15', 'ALARM'],
    ]);
    expect(invoked.filter((p) => p === 'tiketi-scale-in').length).toBeGreaterThanOrEqual(1);
  });

  it('reads its thresholds from the topology', async () => {
    const topology = mergeTopology(designTopology, {
      alarms: designTopology.alarms.map((a) =>
        a.name === 'tiketi-queue-scale-out' ? { ...a, threshold: 100 } : a,
      ),
    });
    const clock = new ManualClock(T('19:30:00'));
    const invoked: string[] = [];
    const cw = new CloudWatch({ topology, clock, eventId: 'drop', onScalingAction: (p) => invoked.push(p) });
    cw.start();
    await cw.metrics.putMetricData({
      Namespace: 'Tiketi/Queue',
      MetricData: [{ MetricName: 'QueueSize', Value: 150, Dimensions: dims }],
    });
    clock.advance(60_000);
    expect(invoked).toEqual(['tiketi-scale-out']);
  });

  it('waits for a monitor still reading before it judges a minute, and files the datapoint where it was due', async () => {
    const topology = mergeTopology(designTopology, {
      alarms: designTopology.alarms.filter((a) => a.name === 'tiketi-queue-scale-out'),
    });
    const clock = new ManualClock(T('19:30:30'));
    let redisBack: () => void = () => {};
    const redisSlow = new Promise<void>((resolve) => (redisBack = resolve));
    let schedule: Schedule | undefined;
    const cw = new CloudWatch({
      topology,
      clock,
      eventId: 'drop',
      onScalingAction: () => {},
      dataSettled: () => schedule!.settled(),
    });
    // The monitor's reads outlast the minute (a busy host at a high time scale).
    schedule = new Schedule(clock, 60, async (dueMs) => {
      await redisSlow;
      await put(cw.metrics, new Date(dueMs).toISOString().slice(11, 19), 8_000);
    });
    schedule.start();
    cw.start();
    await clock.advanceAsync(90_000); // 19:32: the 19:31 datapoint is not in yet
    expect(cw.history()).toEqual([]);
    redisBack();
    await schedule.settled();
    await new Promise((r) => setImmediate(r));
    const minute = (ms: number) => new Date(ms).toISOString().slice(11, 16);
    expect(cw.history().map((h) => [minute(h.atMs), h.to])).toEqual([['19:32', 'ALARM']]);
    schedule.stop();
    cw.stop();
  });

  it('starts no scaling action once stopped, even for a minute it was waiting on', async () => {
    const clock = new ManualClock(T('19:30:30'));
    let dataIn: () => void = () => {};
    const settling = new Promise<void>((resolve) => (dataIn = resolve));
    const invoked: string[] = [];
    const options = { topology: designTopology, clock, eventId: 'drop' };
    const cw = new CloudWatch({
      ...options,
      onScalingAction: (p) => invoked.push(p),
      dataSettled: () => settling,
    });
    await put(cw.metrics, '19:30:40', 8_000);
    cw.start();
    await clock.advanceAsync(90_000);
    cw.stop();
    dataIn();
    await new Promise((r) => setImmediate(r));
    expect(invoked).toEqual([]);
    expect(cw.history()).toEqual([]);
  });
});
