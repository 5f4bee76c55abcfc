/** This machine's CPU between two calls, from the kernel's per-core counters. */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

export interface CpuInterval {
  /** Share of all cores busy (0–1). */
  busy: number;
  /** Idle time summed over the cores, ms: what any process could still have had. */
  idleCoreMs: number;
  /**
   * Share of the cores' time the hypervisor gave to other guests (steal, 0–1), where the kernel
   * counts it (Linux). Left out of `busy`: this machine's processes neither ran nor waited idle.
   */
  stolen?: number;
}

export function cpuBusyMeter(readStat: () => string | undefined = procStat): () => CpuInterval | undefined {
  let last = totals();
  let lastSteal = stealTotals(readStat());
  return () => {
    const now = totals();
    const total = now.total - last.total;
    const idle = now.idle - last.idle;
    last = now;
    const steal = stealTotals(readStat());
    const stolen = stolenShare(lastSteal, steal);
    lastSteal = steal;
    return total > 0
      ? {
          busy: Math.min(1, Math.max(0, 1 - idle / total)),
          idleCoreMs: Math.max(0, idle),
          ...(stolen === undefined ? {} : { stolen }),
        }
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

interface StealTotals {
  steal: number;
  /** Every column of the kernel's `cpu` line up to steal: the cores' whole time. */
  all: number;
}

function procStat(): string | undefined {
  try {
    return readFileSync('/proc/stat', 'utf8');
  } catch {
    return undefined;
  }
}

/** The summed `cpu` line of /proc/stat: user nice system idle iowait irq softirq steal … */
function stealTotals(stat: string | undefined): StealTotals | undefined {
  const fields = stat?.slice(0, stat.indexOf('\n')).trim().split(/\s+/);
  if (fields?.[0] !== 'cpu' || fields.length < 9) return undefined;
  const ticks = fields.slice(1, 9).map(Number);
  if (ticks.some((t) => !Number.isFinite(t))) return undefined;
  return { steal: ticks[7]!, all: ticks.reduce((a, b) => a + b, 0) };
}

function stolenShare(from: StealTotals | undefined, to: StealTotals | undefined): number | undefined {
  if (!from || !to || to.all <= from.all) return undefined;
  return Math.min(1, Math.max(0, (to.steal - from.steal) / (to.all - from.all)));
}
