/**
 * The hybrid world's bridge from LocalStack's CloudWatch to the emulated Auto Scaling group.
 *
 * LocalStack Community runs alarm actions only to SNS and Lambda, so the `localstack` stack sends
 * every alarm to an SNS topic with an SQS queue subscribed (raw message delivery: the message body
 * is CloudWatch's alarm notification JSON — AlarmName, NewStateValue, NewStateReason,
 * StateChangeTime, OldStateValue, Trigger…). `startAlarmFeed` long-polls that queue, deletes what it
 * has handled and calls `onAlarm` once per notification. `alarmScalingBridge` turns notifications
 * into `executePolicy` calls the way AWS's Auto Scaling actions behave: on entering ALARM and again
 * once a minute while the alarm stays there (SNS notifies only on a change).
 */
import { DeleteMessageCommand, type Message, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { Topology } from '../../../infra/topology.ts';
import type { Clock, Timer } from '../../clock/clock.ts';
import { type AlarmState, isAlarmState } from '../../model/aws.ts';

/** What the feed needs of an SQS client (`SQSClient` fits, and so does a test fake). */
export interface SqsLike {
  send(command: object, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
}

export interface AlarmNotification {
  alarmName: string;
  newState: AlarmState;
  oldState?: AlarmState;
  reason: string;
  /** StateChangeTime, epoch ms (the message's SentTimestamp when the notification has none). */
  atMs: number;
}

/**
 * CloudWatch writes `2025-11-26T10:54:12.617+0000`; LocalStack writes `…Z`. Also accepts epoch
 * milliseconds.
 */
export function parseStateChangeTime(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const normalized = value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  const parsed = Date.parse(normalized);
  return Number.isFinite(parsed) ? parsed : undefined;
}

/**
 * The alarm notification in an SQS message body: raw delivery (the notification itself) or, if the
 * subscription lost raw delivery, SNS's envelope (`{ Type: 'Notification', Message: '<json>' }`).
 * Returns the reason when the body is not one.
 */
export function parseAlarmNotification(
  body: string | undefined,
  sentAtMs?: number,
): { ok: true; notification: AlarmNotification } | { ok: false; reason: string } {
  if (!body) return { ok: false, reason: 'empty message body' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { ok: false, reason: `body is not JSON: ${body.slice(0, 80)}` };
  }
  if (
    typeof parsed === 'object' &&
    parsed !== null &&
    (parsed as { Type?: unknown }).Type === 'Notification' &&
    typeof (parsed as { Message?: unknown }).Message === 'string'
  ) {
    return parseAlarmNotification((parsed as { Message: string }).Message, sentAtMs);
  }
  if (typeof parsed !== 'object' || parsed === null) {
    return { ok: false, reason: 'body is not a JSON object' };
  }
  const n = parsed as Record<string, unknown>;
  if (typeof n.AlarmName !== 'string' || n.AlarmName === '') {
    return { ok: false, reason: 'not a CloudWatch alarm notification: no AlarmName' };
  }
  if (!isAlarmState(n.NewStateValue)) {
    return {
      ok: false,
      reason: `alarm ${n.AlarmName}: NewStateValue ${String(n.NewStateValue)} is not a state`,
    };
  }
  const atMs = parseStateChangeTime(n.StateChangeTime) ?? sentAtMs;
  if (atMs === undefined) {
    return {
      ok: false,
      reason: `alarm ${n.AlarmName}: StateChangeTime ${String(n.StateChangeTime)} is not a time`,
    };
  }
  return {
    ok: true,
    notification: {
      alarmName: n.AlarmName,
      newState: n.NewStateValue,
      ...(isAlarmState(n.OldStateValue) ? { oldState: n.OldStateValue } : {}),
      reason: typeof n.NewStateReason === 'string' ? n.NewStateReason : '',
      atMs,
    },
  };
}

/** The scaling policy the topology's alarm named `alarmName` invokes (undefined: no such alarm). */
export function policyForAlarm(topology: Topology, alarmName: string): string | undefined {
  return topology.alarms.find((alarm) => alarm.name === alarmName)?.scalingPolicy;
}

export interface AlarmFeedOptions {
  sqs: SqsLike;
  queueUrl: string;
  onAlarm: (notification: AlarmNotification) => void | Promise<void>;
  /** @default console.error */
  log?: (line: string) => void;
  /** Long-poll wait, seconds (SQS allows 0–20). @default 20 */
  waitTimeSeconds?: number;
  /** @default 10 (SQS's maximum) */
  maxMessages?: number;
  /** Pause after a failed ReceiveMessage, ms. @default 1000 */
  retryDelayMs?: number;
}

export interface AlarmFeed {
  /** Stops polling (an in-flight long poll is aborted); resolves once the loop has ended. */
  stop(): Promise<void>;
  /** Notifications delivered so far. */
  readonly delivered: number;
}

const SEEN_LIMIT = 1_000;

/**
 * Long-polls the alarm queue until stopped. Each message: parsed, handed to `onAlarm`, deleted.
 * A body that is not an alarm notification is logged and deleted (it would never parse). When
 * `onAlarm` throws, the message is left for SQS to deliver again after its visibility timeout.
 * A failing ReceiveMessage is logged and retried; nothing here throws out of the loop.
 */
export function startAlarmFeed(options: AlarmFeedOptions): AlarmFeed {
  const log = options.log ?? ((line: string) => console.error(line));
  const abort = new AbortController();
  const seen = new Set<string>();
  let delivered = 0;
  let stopped = false;

  const remove = async (message: Message) => {
    if (!message.ReceiptHandle) return;
    try {
      await options.sqs.send(
        new DeleteMessageCommand({ QueueUrl: options.queueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
    } catch (err) {
      log(`alarm feed: could not delete message ${message.MessageId ?? '?'}: ${(err as Error).message}`);
    }
  };

  const handle = async (message: Message) => {
    // SQS standard queues deliver at least once: a message seen before is only deleted again.
    if (message.MessageId && seen.has(message.MessageId)) return remove(message);
    const sent = Number(message.Attributes?.SentTimestamp);
    const parsed = parseAlarmNotification(message.Body, Number.isFinite(sent) ? sent : undefined);
    if (!parsed.ok) {
      log(`alarm feed: skipped message ${message.MessageId ?? '?'}: ${parsed.reason}`);
      return remove(message);
    }
    try {
      await options.onAlarm(parsed.notification);
    } catch (err) {
      log(
        `alarm feed: onAlarm failed for ${parsed.notification.alarmName} (${parsed.notification.newState}), left for redelivery: ${(err as Error).message}`,
      );
      return;
    }
    delivered++;
    if (message.MessageId) {
      seen.add(message.MessageId);
      if (seen.size > SEEN_LIMIT) seen.delete(seen.values().next().value!);
    }
    await remove(message);
  };

  const loop = (async () => {
    while (!stopped) {
      let messages: Message[];
      try {
        const output = (await options.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: options.queueUrl,
            MaxNumberOfMessages: options.maxMessages ?? 10,
            WaitTimeSeconds: options.waitTimeSeconds ?? 20,
            MessageSystemAttributeNames: ['SentTimestamp'],
          }),
          { abortSignal: abort.signal },
        )) as { Messages?: Message[] } | undefined;
        messages = output?.Messages ?? [];
      } catch (err) {
        if (stopped) break;
        log(`alarm feed: ReceiveMessage failed, retrying: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, options.retryDelayMs ?? 1_000));
        continue;
      }
      for (const message of messages) {
        try {
          await handle(message);
        } catch (err) {
          log(`alarm feed: message ${message.MessageId ?? '?'}: ${(err as Error).message}`);
        }
      }
    }
  })();

  return {
    async stop() {
      stopped = true;
      abort.abort();
      await loop;
    },
    get delivered() {
      return delivered;
    },
  };
}

export interface AlarmScalingBridgeOptions {
  topology: Topology;
  /** The emulated group's `executePolicy`. */
  executePolicy: (policyName: string, cause: string) => void;
  /** Re-invokes the policy every minute of this clock while the alarm stays in ALARM. */
  clock: Clock;
  log?: (line: string) => void;
}

/** Re-invocation interval of Auto Scaling alarm actions while in ALARM (AWS: once a minute). */
const REINVOKE_MS = 60_000;

/**
 * `onAlarm` for `startAlarmFeed` that drives the emulated Auto Scaling group: an alarm entering
 * ALARM invokes its policy at once and every minute after until a notification moves it out.
 */
export function alarmScalingBridge(options: AlarmScalingBridgeOptions): {
  onAlarm: (notification: AlarmNotification) => void;
  stop: () => void;
} {
  const timers = new Map<string, Timer>();
  const invoke = (alarmName: string, policy: string) =>
    options.executePolicy(policy, `a monitor alarm ${alarmName} in state ALARM`);
  return {
    onAlarm(notification) {
      const policy = policyForAlarm(options.topology, notification.alarmName);
      if (!policy) {
        options.log?.(`alarm ${notification.alarmName} is not in the topology: no policy to invoke`);
        return;
      }
      timers.get(notification.alarmName)?.cancel();
      timers.delete(notification.alarmName);
      if (notification.newState !== 'ALARM') return;
      invoke(notification.alarmName, policy);
      timers.set(
        notification.alarmName,
        options.clock.setInterval(() => invoke(notification.alarmName, policy), REINVOKE_MS),
      );
    },
    stop() {
      for (const timer of timers.values()) timer.cancel();
      timers.clear();
    },
  };
}
