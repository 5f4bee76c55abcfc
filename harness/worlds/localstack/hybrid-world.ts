/**
 * The hybrid world: the local topology (instances, ALB, Auto Scaling group, Redis, PostgreSQL) with
 * its metrics and alarms in LocalStack. The queue monitor publishes through `metric-sink.ts`;
 * LocalStack evaluates the deployed alarms on the wall clock and notifies the alarm topic; the
 * alarm feed (`alarm-feed.ts`) reads the subscribed queue and `alarmScalingBridge` executes the
 * emulated group's policies. The emulated CloudWatch stays idle. The clock runs at 1×.
 *
 * The report's alarm states come from LocalStack (`DescribeAlarms` each sample); its transitions
 * are the notifications the feed delivered during the run.
 */
import type { AlarmState, AlarmTransition } from '../../model/aws.ts';
import { describeAlarmStates, type SdkClient } from '../aws/observe.ts';
import { type ExternalAlarms, emulatedWorld, type LocalWorldOptions } from '../local/local-world.ts';
import type { World } from '../world.ts';
import {
  type AlarmFeed,
  type AlarmNotification,
  alarmScalingBridge,
  type SqsLike,
  startAlarmFeed,
} from './alarm-feed.ts';
import { cloudWatchMetricSink } from './metric-sink.ts';

/** Notifications older than the run's start by more than this are left over from before: not acted on. */
const STALE_MS = 60_000;

export interface LocalStackAlarmsOptions {
  /** LocalStack's CloudWatch (`localStackClientConfig()`). */
  cloudWatch: SdkClient;
  /** LocalStack's SQS. */
  sqs: SqsLike;
  /** The stack's `AlarmQueueUrl`. */
  queueUrl: string;
  /** The stack's `AlarmNames`. */
  alarmNames: readonly string[];
  log: (line: string) => void;
  /** Wall clock. @default Date.now */
  now?: () => number;
  /** Long-poll wait of the feed, seconds. @default 20 */
  waitTimeSeconds?: number;
  /** Called once stopped (closes the clients). */
  onStop?: () => void;
}

/** Alarms in LocalStack driving the local group: the hybrid world's `ExternalAlarms`. */
export function localStackAlarms(options: LocalStackAlarmsOptions): ExternalAlarms {
  const now = options.now ?? Date.now;
  const names = new Set(options.alarmNames);
  const transitions: AlarmNotification[] = [];
  const current = new Map<string, AlarmState>();
  let feed: AlarmFeed | undefined;
  let bridge: ReturnType<typeof alarmScalingBridge> | undefined;
  let last: Record<string, AlarmState> = {};
  let stateErrors = 0;

  const states = async () => {
    try {
      last = await describeAlarmStates(options.cloudWatch, options.alarmNames);
    } catch (err) {
      if (stateErrors++ < 5)
        options.log(
          `[world] DescribeAlarms on LocalStack failed, the sample repeats the last states: ${(err as Error).message}`,
        );
    }
    return { ...last };
  };

  return {
    sink: cloudWatchMetricSink(options.cloudWatch),
    // LocalStack evaluates alarms over the last wall-clock periods: datapoints carry wall time.
    now: () => new Date(now()),
    async start({ group, clock, topology }) {
      const startedAtMs = now();
      for (const [name, state] of Object.entries(await states())) current.set(name, state);
      options.log(
        `[world] localstack: alarms ${[...current].map(([name, state]) => `${name} ${state}`).join(', ') || 'none found'}`,
      );
      bridge = alarmScalingBridge({
        topology,
        executePolicy: (policy, cause) => group.executePolicy(policy, cause),
        clock,
        log: options.log,
      });
      const act = bridge.onAlarm;
      feed = startAlarmFeed({
        sqs: options.sqs,
        queueUrl: options.queueUrl,
        log: options.log,
        ...(options.waitTimeSeconds !== undefined ? { waitTimeSeconds: options.waitTimeSeconds } : {}),
        onAlarm: (n) => {
          if (!names.has(n.alarmName)) return;
          if (n.atMs < startedAtMs - STALE_MS) {
            options.log(
              `[world] skipped a notification from before the run: ${n.alarmName} → ${n.newState} at ${new Date(n.atMs).toISOString()}`,
            );
            return;
          }
          transitions.push({ ...n, oldState: n.oldState ?? current.get(n.alarmName) ?? 'INSUFFICIENT_DATA' });
          current.set(n.alarmName, n.newState);
          act(n);
        },
      });
    },
    states,
    async history(toSim): Promise<AlarmTransition[]> {
      return transitions
        .map((n) => ({
          alarm: n.alarmName,
          atMs: toSim(n.atMs),
          from: n.oldState ?? 'INSUFFICIENT_DATA',
          to: n.newState,
          reason: n.reason,
        }))
        .sort((a, b) => a.atMs - b.atMs || a.alarm.localeCompare(b.alarm));
    },
    async stop() {
      bridge?.stop();
      await feed?.stop();
      options.onStop?.();
    },
  };
}

export interface HybridWorldOptions extends Omit<LocalWorldOptions, 'externalAlarms'> {
  alarms: ExternalAlarms;
  /** The eventId the LocalStack alarms watch. */
  eventId: string;
}

/** Design changes LocalStack's alarms do not follow: they are deployed. */
const DEPLOYED_KEYS = ['alarms', 'queueMonitor'];

/** The hybrid world: emulated compute and data, LocalStack's alarms, the wall clock. */
export function hybridWorld(options: HybridWorldOptions): World {
  const inner = emulatedWorld('localstack', { ...options, externalAlarms: options.alarms }, 1);
  return {
    ...inner,
    start(setup) {
      const deployed = Object.keys(setup.scenario.topology ?? {}).filter((k) => DEPLOYED_KEYS.includes(k));
      if (deployed.length > 0)
        setup.log(
          `[world] the scenario changes ${deployed.join(', ')}: the emulator follows, LocalStack's deployed alarms do not (deploy again to change them)`,
        );
      return inner.start(setup);
    },
  };
}
