/**
 * Admission: the head of each event's queue moves into `active:<eventId>` at the configured rate,
 * done by exactly one admitter across all instances. The admitter holds a Redis lease that it
 * renews; when it dies the lease expires and another instance takes over.
 */
import type { Logger } from 'pino';
import { keys } from '../core/keys.ts';
import type { RedisClient } from '../core/redis.ts';
import type { TimeScale } from '../core/time-scale.ts';

// Pops up to ARGV[1] users from the head and admits them until ARGV[3], atomically: nobody is
// lost between the pop and the admit, nobody is admitted twice. The batch goes into the admission
// log in the same step (entries older than ARGV[4] are trimmed): a notice exists for every
// admission, whatever happens to its pub/sub copy or to the admitter after this script.
const ADMIT = `
local n = tonumber(ARGV[1])
if n <= 0 then return {} end
local users = redis.call('ZRANGE', KEYS[1], 0, n - 1)
if #users == 0 then return {} end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, #users - 1)
for _, user in ipairs(users) do
  redis.call('SADD', KEYS[2], user)
  redis.call('ZADD', KEYS[3], ARGV[3], user)
end
local id = redis.call('XADD', KEYS[4], 'MINID', '~', ARGV[4], '*',
  'users', cjson.encode(users), 'until', ARGV[3], 'at', ARGV[2])
return {id, users}
`;

// Windows that ended: out of the active set.
const EXPIRE = `
local users = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 1000)
for _, user in ipairs(users) do
  redis.call('SREM', KEYS[1], user)
  redis.call('ZREM', KEYS[2], user)
end
return users
`;

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export interface AdmissionBatch {
  eventId: string;
  userIds: string[];
  admittedUntil: number;
  /** The batch's entry in the admission log. */
  logId?: string;
}

/** One batch as the admission log holds it. */
export interface LoggedAdmission extends Required<AdmissionBatch> {
  /** When it was admitted (the admitter's epoch ms). */
  atMs: number;
}

/** Admission-log entries after `afterId` (exclusive), oldest first, at most `count`. */
export async function readAdmissionLog(
  redis: RedisClient,
  eventId: string,
  afterId: string,
  count: number,
): Promise<LoggedAdmission[]> {
  const entries = (await redis.xrange(keys.admissions(eventId), `(${afterId}`, '+', 'COUNT', count)) as [
    string,
    string[],
  ][];
  return entries.map(([logId, fields]) => {
    const field = (name: string) => fields[fields.indexOf(name) + 1] ?? '';
    return {
      eventId,
      logId,
      userIds: JSON.parse(field('users')) as string[],
      admittedUntil: Number(field('until')),
      atMs: Number(field('at')),
    };
  });
}

export interface AdmitterOptions {
  redis: RedisClient;
  instanceId: string;
  log: Logger;
  timeScale: TimeScale;
  /** Design: 50 users per (simulated) second. */
  admissionPerSecond: number;
  shoppingWindowSeconds: number;
  leaseMs: number;
  tickMs: number;
  onAdmitted: (batch: AdmissionBatch) => void;
  onExpired: (eventId: string, userIds: string[]) => void;
}

export class Admitter {
  private timer: NodeJS.Timeout | undefined;
  private leaseHeld = false;
  private lastTickMs = 0;
  /** Fractional admissions carried between ticks, per event, so the rate holds at any tick size. */
  private readonly credit = new Map<string, number>();
  private running: Promise<void> | undefined;
  /** Users this instance admitted while holding the lease. */
  admittedCount = 0;

  constructor(private readonly options: AdmitterOptions) {}

  get holdsLease(): boolean {
    return this.leaseHeld;
  }

  start(): void {
    this.lastTickMs = Date.now();
    this.timer = setInterval(() => void this.tick(), this.options.tickMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    if (this.leaseHeld) {
      await this.options.redis
        .eval(RELEASE, 1, keys.admissionLease, this.options.instanceId)
        .catch(() => undefined);
      this.leaseHeld = false;
    }
  }

  /** One admission step; public so tests can drive it. */
  tick(): Promise<void> {
    // A slow Redis must not stack ticks.
    this.running ??= this.step().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async step(): Promise<void> {
    const { redis, instanceId, leaseMs } = this.options;
    try {
      const now = Date.now();
      const elapsedMs = Math.min(now - this.lastTickMs, leaseMs);
      this.lastTickMs = now;
      if (this.leaseHeld) {
        this.leaseHeld = (await redis.eval(RENEW, 1, keys.admissionLease, instanceId, leaseMs)) === 1;
      } else {
        this.leaseHeld = (await redis.set(keys.admissionLease, instanceId, 'PX', leaseMs, 'NX')) === 'OK';
        if (this.leaseHeld) this.options.log.info({ instanceId }, 'took the admission lease');
        this.credit.clear();
        if (!this.leaseHeld) return;
      }
      if (!this.leaseHeld) return;
      await this.admitAll(now, elapsedMs);
    } catch (err) {
      this.options.log.warn({ err: (err as Error).message }, 'admission tick failed; retrying next tick');
    }
  }

  private async admitAll(now: number, elapsedMs: number): Promise<void> {
    const { redis, timeScale, admissionPerSecond, shoppingWindowSeconds } = this.options;
    const scale = timeScale.current();
    const eventIds = await redis.smembers(keys.activeEvents);
    for (const eventId of eventIds) {
      const expired = (await redis.eval(
        EXPIRE,
        2,
        keys.active(eventId),
        keys.activeUntil(eventId),
        now,
      )) as string[];
      if (expired.length > 0) this.options.onExpired(eventId, expired);
      if ((await redis.exists(keys.salesOpen(eventId))) === 0) continue;
      const credit = (this.credit.get(eventId) ?? 0) + (admissionPerSecond * scale * elapsedMs) / 1_000;
      const count = Math.floor(credit);
      const admittedUntil = Math.round(now + (shoppingWindowSeconds * 1_000) / scale);
      // The log keeps a shopping window of batches: an older notice is about an admission that ended.
      const [logId, userIds = []] = (await redis.eval(
        ADMIT,
        4,
        keys.queue(eventId),
        keys.active(eventId),
        keys.activeUntil(eventId),
        keys.admissions(eventId),
        count,
        now,
        admittedUntil,
        now - (admittedUntil - now),
      )) as [string?, string[]?];
      // Credit not used for lack of people is dropped: an empty queue does not bank admissions.
      this.credit.set(eventId, userIds.length < count ? 0 : credit - count);
      if (logId !== undefined && userIds.length > 0) {
        this.admittedCount += userIds.length;
        this.options.onAdmitted({ eventId, userIds, admittedUntil, logId });
      }
    }
  }
}
