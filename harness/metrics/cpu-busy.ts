/** This machine's CPU between two calls, from the kernel's per-core counters. */
import { cpus } from 'node:os';

export interface CpuInterval {
  /** Share of all cores busy (0–1). */
  busy: number;
  /** Idle time summed over the cores, ms: what any process could still have had. */
  idleCoreMs: number;
}

export function cpuBusyMeter(): () => CpuInterval | undefined {
  let last = totals();
  return () => {
    const now = totals();
    const total = now.total - last.total;
    const idle = now.idle - last.idle;
    last = now;
    return total > 0
      ? { busy: Math.min(1, Math.max(0, 1 - idle / total)), idleCoreMs: Math.max(0, idle) }
      : undefined;
  };
}

function totals(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const { times } of cpus()) {
    idle += times.idle;
    total += times.user + times.nice + times.sys + times.idle + times.irq;
  }
  return { idle, total };
}
