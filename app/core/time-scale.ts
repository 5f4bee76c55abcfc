/**
 * How much faster than the wall clock the app's design timers run. In production it is 1. The
 * emulator runs the whole world on a simulated clock and tells the app its speed, either fixed at
 * start or through a Redis key it updates when it has to slow down.
 */
import type { AppConfig } from '../config.ts';
import type { RedisClient } from './redis.ts';

export interface TimeScale {
  current(): number;
  stop(): void;
}

const REFRESH_MS = 500;

export function createTimeScale(config: AppConfig['timeScale'], redis: RedisClient): TimeScale {
  if (config.kind === 'fixed') return { current: () => config.value, stop: () => {} };
  let value = 1;
  const refresh = async () => {
    const raw = await redis.get(config.key).catch(() => null);
    const parsed = raw === null ? Number.NaN : Number(raw);
    if (parsed > 0) value = parsed;
  };
  void refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  timer.unref();
  return { current: () => value, stop: () => clearInterval(timer) };
}
