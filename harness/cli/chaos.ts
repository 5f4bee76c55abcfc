/**
 * `tiketi-sim chaos <fault> …`: inject a failure into a running topology (`tiketi-sim up`) and
 * follow its timeline — the same faults scenarios schedule, validated by the same schema.
 */
import type { FaultRecord } from '../report/run-record.ts';
import { type FaultAction, faultActionSchema } from '../scenario/schema.ts';
import { readStateFile } from './up-state.ts';
import { UsageError } from './usage-error.ts';

export interface ChaosOptions {
  controlUrl?: string;
  path?: string;
  latencyMs?: number;
  jitterMs?: number;
  durationSeconds?: number;
  /** Wall seconds to follow the timeline; 0 = print the injection only. */
  followSeconds: number;
  json: boolean;
}

/** Builds the fault from the command line; the schema names any field that is wrong. */
export function chaosFault(fault: string, target: string | undefined, options: ChaosOptions): FaultAction {
  const raw: Record<string, unknown> = { fault };
  if (fault === 'kill-instance' || fault === 'terminate-instance') raw.instance = target ?? 'random';
  else if (fault === 'kill-az') raw.az = target;
  else if (fault === 'latency' || fault === 'partition') {
    raw.path = options.path ?? target;
    raw.durationSeconds = options.durationSeconds;
    if (fault === 'latency') {
      raw.latencyMs = options.latencyMs;
      raw.jitterMs = options.jitterMs ?? 0;
    }
  } else if (target !== undefined) {
    throw new UsageError(`${fault} takes no argument (got ${target})`);
  }
  const parsed = faultActionSchema.safeParse(raw);
  if (!parsed.success) {
    const flags: Record<string, string> = {
      az: '<a|b>',
      path: '--path client-alb|app-redis|app-db',
      latencyMs: '--ms <n>',
      durationSeconds: '--duration <seconds>',
      fault:
        'one of kill-instance, terminate-instance, kill-az, redis-failover, db-failover, latency, partition',
    };
    const problems = parsed.error.issues.map((i) => {
      const key = String(i.path[0] ?? 'fault');
      return `${key}: ${i.message}${flags[key] ? ` (give ${flags[key]})` : ''}`;
    });
    throw new UsageError(`chaos ${fault}: ${problems.join('; ')}`);
  }
  return parsed.data;
}

function controlUrlOf(options: ChaosOptions): string {
  const url = options.controlUrl ?? readStateFile()?.controlUrl;
  if (!url)
    throw new UsageError(
      'no running topology found from this folder: start one with `tiketi-sim up`, or pass --control-url',
    );
  return url;
}

function line(record: FaultRecord, entry: { label: string; atMs: number }): string {
  const after = ((entry.atMs - record.atMs) / 1_000).toFixed(0).padStart(5);
  return `${new Date(entry.atMs).toISOString().slice(11, 19)}  +${after}s  ${entry.label}`;
}

export async function chaos(fault: FaultAction, options: ChaosOptions, signal: AbortSignal): Promise<number> {
  const url = controlUrlOf(options);
  let res: Response;
  try {
    res = await fetch(`${url}/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(fault),
    });
  } catch (err) {
    throw new UsageError(
      `the topology at ${url} does not answer (${(err as Error).message}); is \`tiketi-sim up\` still running?`,
    );
  }
  const body = (await res.json()) as FaultRecord | { error: { message: string } };
  if ('error' in body) throw new UsageError(`chaos ${fault.fault}: ${body.error.message}`);
  const index = ((await (await fetch(`${url}/faults`)).json()) as FaultRecord[]).length - 1;
  if (!options.json) {
    console.log(`${fault.fault}: ${body.detail}`);
    for (const e of body.timeline) console.log(line(body, e));
  }
  let last = body;
  let shown = body.timeline.length;
  const deadline = Date.now() + options.followSeconds * 1_000;
  while (Date.now() < deadline && !signal.aborted && !last.complete) {
    await new Promise((r) => setTimeout(r, 500));
    const all = (await (await fetch(`${url}/faults`).catch(() => undefined))?.json()) as
      | FaultRecord[]
      | undefined;
    if (!all?.[index]) break;
    last = all[index];
    if (!options.json) for (const e of last.timeline.slice(shown)) console.log(line(last, e));
    shown = last.timeline.length;
  }
  if (options.json) console.log(JSON.stringify(last));
  else if (!last.complete && options.followSeconds > 0)
    console.log('(still in progress: `tiketi-sim status` shows the rest)');
  return 0;
}
