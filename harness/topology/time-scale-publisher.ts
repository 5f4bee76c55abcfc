import type { Redis } from 'ioredis';

/**
 * App instances read the clock's speed from Redis. During a rehearsed Redis failover the write may
 * fail: the harness keeps going and retries every second until the new primary takes the latest
 * speed.
 */
export class TimeScalePublisher {
  private wanted: number;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Pick<Redis, 'set'>,
    private readonly key: string,
    initialTimeScale: number,
    private readonly retryEveryMs = 1_000,
  ) {
    this.wanted = initialTimeScale;
  }

  async publish(timeScale: number): Promise<void> {
    this.wanted = timeScale;
    try {
      await this.redis.set(this.key, String(timeScale));
    } catch {
      this.retry ??= setTimeout(() => {
        this.retry = undefined;
        void this.publish(this.wanted);
      }, this.retryEveryMs);
    }
  }

  stop(): void {
    clearTimeout(this.retry);
  }
}
