/**
 * Every fault against real processes: app instances, redis-server with Sentinels, PostgreSQL
 * with a synchronous replica, the ALB and the Auto Scaling group, at 60× on the simulated clock.
 * Time bounds here are simulated (deterministic), never wall-clock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { designTopology } from '../../infra/topology.ts';
import { localBackend } from '../backends/local/local-backend.ts';
import { ScaledClock } from '../clock/clock.ts';
import type { FaultRecord } from '../report/run-record.ts';
import { commandLineOf, descendantsOf, isAlive } from '../run/process-tree.ts';
import { type StartedTopology, startLocalTopology } from '../topology/local-topology.ts';
import { FaultError } from './inject.ts';

const SCALE = 60;
let world: StartedTopology | undefined;

async function startWorld(): Promise<StartedTopology> {
  world = await startLocalTopology({
    topology: designTopology,
    clock: new ScaledClock({ timeScale: SCALE }),
    backend: localBackend,
    eventId: 'drop',
    log: () => {},
    clientPath: true,
    redisPath: true,
  });
  return world;
}

/** The bundler's service, started when a cold cache builds the world's bundles: this process's, not the world's. */
const isBundlerService = (pid: number) => /esbuild.* --service=/.test(commandLineOf(pid));

afterEach(async () => {
  const pids = descendantsOf(process.pid).filter((pid) => !isBundlerService(pid));
  await world?.stop();
  world = undefined;
  // No process of the world outlives it.
  const deadline = Date.now() + 10_000;
  while (pids.some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  expect(pids.filter(isAlive)).toEqual([]);
});

function at(record: FaultRecord, label: RegExp): number {
  const entry = record.timeline.find((e) => label.test(e.label));
  if (!entry) throw new Error(`no "${label}" in the timeline: ${JSON.stringify(record.timeline)}`);
  return entry.atMs;
}

async function settle(
  f: { settled: Promise<void>; record: FaultRecord },
  wallMs = 90_000,
): Promise<FaultRecord> {
  await Promise.race([
    f.settled,
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error(`timeline incomplete: ${JSON.stringify(f.record)}`)), wallMs),
    ),
  ]);
  // A step that threw, or an observation that never came (knock-on notes are information).
  const failed = f.record.timeline.filter((e) => /not within 30 min| failed: /.test(e.label));
  expect(failed, JSON.stringify(f.record.timeline)).toEqual([]);
  expect(f.record.complete).toBe(true);
  return f.record;
}

async function get(url: string): Promise<number> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
  await res?.body?.cancel();
  return res?.status ?? 0;
}

async function sleepSimulated(w: StartedTopology, ms: number) {
  await w.clock.sleep(ms);
}

describe('faults against real processes', () => {
  it('kill-instance, terminate-instance, latency and partition: detected, replaced, reverted', async () => {
    const w = await startWorld();
    const hc = designTopology.loadBalancer.healthCheck;
    // Past the warm instances' grace period: the group may replace what the ALB calls unhealthy.
    await sleepSimulated(w, designTopology.autoScalingGroup.healthCheckGracePeriodSeconds * 1_000);

    const killed = await settle(await w.injectFault({ fault: 'kill-instance', instance: 'app-1' }));
    expect(killed.detail).toBe('app-1 (AZ a)');
    // Two failed checks, one interval apart, before the ALB calls it unhealthy. The first may be
    // one already in flight at the kill, sent before it and failing with the process: CI saw
    // 29.82 s from the kill to the mark, for checks 30 s apart. At 60× a check that waited 100 ms
    // of wall time for a busy core is 6 simulated seconds: half an interval is allowed for it.
    expect(at(killed, /ALB marked/) - killed.atMs).toBeGreaterThanOrEqual(
      (hc.unhealthyThresholdCount - 1.5) * hc.intervalSeconds * 1_000,
    );
    // The record says why: the victim's health changes, then the group's replacement of it.
    const victimHealth = killed.targetHealth?.filter((t) => t.target === 'app-1').map((t) => t.to);
    expect(victimHealth?.slice(0, 2)).toEqual(['unhealthy', 'draining']);
    expect(killed.scalingActivities?.map((a) => a.cause).join(' ')).toMatch(/health check failure of app-1/);
    expect(at(killed, /replacement InService/)).toBeGreaterThan(at(killed, /ASG launched/));
    expect(at(killed, /replacement healthy/)).toBeGreaterThanOrEqual(at(killed, /replacement InService/));
    expect(await get(`${w.clientUrl}/health`)).toBe(200);

    const terminated = await settle(await w.injectFault({ fault: 'terminate-instance', instance: 'app-2' }));
    // Graceful: out of the target group first, then the process ends.
    expect(at(terminated, /app-2 terminated/)).toBeGreaterThanOrEqual(at(terminated, /deregistered/));
    expect(w.asg.instances.get('app-2')?.lifecycle).toBe('Terminated');

    const target = [...w.instances.values()].find(
      (i) => w.asg.instances.get(i.id)?.lifecycle === 'InService',
    )!;
    const slow = await w.injectFault({
      fault: 'latency',
      path: 'app-db',
      latencyMs: 300,
      jitterMs: 0,
      durationSeconds: 120,
    });
    const startedAt = performance.now();
    expect(await get(`${target.url}/health`)).toBe(200);
    // The health check's `SELECT 1` crossed the delayed path both ways.
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(300);
    const slowRecord = await settle(slow);

    // The client's own path, in front of the ALB.
    const lag = await w.injectFault({
      fault: 'latency',
      path: 'client-alb',
      latencyMs: 200,
      jitterMs: 0,
      durationSeconds: 120,
    });
    const sentAt = performance.now();
    expect(await get(`${w.clientUrl}/health`)).toBe(200);
    expect(performance.now() - sentAt).toBeGreaterThanOrEqual(200);
    await settle(lag);
    expect(at(slowRecord, /reverted/) - slowRecord.atMs).toBeGreaterThanOrEqual(120_000);

    // 600 s at 60× is 10 s of wall time: longer than the app's 2 s dependency-check timeout.
    const cut = await w.injectFault({ fault: 'partition', path: 'app-redis', durationSeconds: 600 });
    // Redis unreachable: the instance says so rather than hanging (its check has a timeout).
    expect(await get(`${target.url}/health`)).toBe(503);
    const cutRecord = await settle(cut);
    expect(at(cutRecord, /every instance reaches/)).toBeGreaterThan(at(cutRecord, /reverted/) - 1);
    // The instance itself may have been replaced meanwhile (10 minutes of failed checks); the
    // service behind the ALB answers again once a replacement passes its checks.
    const deadline = Date.now() + 60_000;
    while ((await get(`${w.clientUrl}/health`)) !== 200 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 250));
    expect(await get(`${w.clientUrl}/health`)).toBe(200);

    // A fault that cannot be: a clear error naming what exists.
    await expect(w.injectFault({ fault: 'kill-instance', instance: 'app-99' })).rejects.toThrow(FaultError);
    await expect(w.injectFault({ fault: 'kill-instance', instance: 'app-99' })).rejects.toThrow(
      /no running instance app-99; running: app-/,
    );
  }, 240_000);

  it('redis-failover then db-failover: promoted, every instance back, writes go on', async () => {
    const w = await startWorld();
    const redis = await settle(await w.injectFault({ fault: 'redis-failover' }));
    expect(at(redis, /Sentinel promoted/)).toBeGreaterThanOrEqual(redis.atMs);
    expect(at(redis, /every instance reaches/)).toBeGreaterThanOrEqual(at(redis, /Sentinel promoted/));

    const steps = designTopology.database.failover;
    const db = await settle(await w.injectFault({ fault: 'db-failover' }));
    // The design's timeline, on the simulated clock.
    expect(at(db, /failure detected/) - db.atMs).toBeGreaterThanOrEqual(steps.detectSeconds * 1_000);
    expect(at(db, /replica promoted/) - db.atMs).toBeGreaterThanOrEqual(steps.promoteSeconds * 1_000);
    expect(at(db, /writer endpoint switched/) - db.atMs).toBeGreaterThanOrEqual(
      steps.endpointSwitchSeconds * 1_000,
    );
    expect(at(db, /every instance reaches/)).toBeGreaterThanOrEqual(at(db, /writer endpoint switched/));

    // The promoted writer takes writes through the same endpoint the instances always used.
    // A client retries a request that met a connection the switch closed; the next one goes through.
    let status = 0;
    for (let attempt = 0; attempt < 10 && status !== 202; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 300));
      const res = await fetch(`${w.clientUrl}/api/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          email: 'after-failover@tiketi.gg',
          password: 'long-enough-pass',
          name: 'After',
        }),
      });
      status = res.status;
      await res.body?.cancel();
    }
    expect(status).toBe(202);
    const { rows } = await w.db.query<{ recovery: boolean }>('SELECT pg_is_in_recovery() AS recovery');
    expect(rows[0]?.recovery).toBe(false);
  }, 240_000);

  it('kill-az a: its instances, the Redis primary and the database writer die; AZ b carries on', async () => {
    const w = await startWorld();
    await sleepSimulated(w, designTopology.autoScalingGroup.healthCheckGracePeriodSeconds * 1_000);
    const before = await w.backend.faults!.redisPrimaryAz();
    expect(before).toBe('a');
    expect(w.backend.faults!.dbWriterAz()).toBe('a');

    const az = await settle(await w.injectFault({ fault: 'kill-az', az: 'a' }), 120_000);
    expect(az.detail).toMatch(
      /^AZ a: 1 instance\(s\): app-1; Redis primary redis-primary az-a; database writer aurora-writer az-a/,
    );
    expect(az.timeline.map((e) => e.label)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/Sentinel promoted/),
        expect.stringMatching(/replica promoted/),
        expect.stringMatching(/ASG launched replacement/),
      ]),
    );
    // The replacement went to the AZ that is left.
    const replacement = w.asg.live().find((i) => i.id !== 'app-1' && i.id !== 'app-2');
    expect(replacement?.az).toBe('b');
    expect(await w.backend.faults!.redisPrimaryAz()).toBe('b');
    expect(w.backend.faults!.dbWriterAz()).toBe('b');
    expect(await get(`${w.clientUrl}/api/events`)).toBe(200);
  }, 240_000);
});
