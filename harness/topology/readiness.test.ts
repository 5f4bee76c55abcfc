import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { TargetDescription } from '../alb/alb.ts';
import { NotReadyError, READY_PROBE_PATH, waitUntilServing } from './readiness.ts';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** An edge stand-in answering `statuses` in turn (the last one repeats), counting probes. */
async function edge(statuses: number[]): Promise<{ url: string; probes: string[] }> {
  const probes: string[] = [];
  const server = createServer((req, res) => {
    probes.push(req.url ?? '');
    res.writeHead(statuses[Math.min(probes.length - 1, statuses.length - 1)]!).end();
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, probes };
}

const target = (id: string, state: TargetDescription['state'], reason?: string): TargetDescription => ({
  id,
  az: 'a',
  url: 'http://127.0.0.1:1',
  state,
  connections: 0,
  ...(reason ? { reason } : {}),
});

describe('waitUntilServing', () => {
  it('probes the edge only once every expected target is healthy, and waits for a 200', async () => {
    const e = await edge([503, 200]);
    let targets = [target('app-1', 'healthy'), target('app-2', 'initial')];
    setTimeout(() => (targets = [target('app-1', 'healthy'), target('app-2', 'healthy')]), 200);
    await waitUntilServing({ targets: () => targets, expectedTargets: 2, edgeUrl: e.url, timeoutMs: 5_000 });
    expect(e.probes).toEqual([READY_PROBE_PATH, READY_PROBE_PATH]);
  });

  it('names what was not ready at the deadline: missing and unhealthy targets, the edge answer', async () => {
    const e = await edge([503]);
    const probe = {
      targets: () => [target('app-1', 'initial', 'Elb.RegistrationInProgress')],
      expectedTargets: 2,
      edgeUrl: e.url,
      timeoutMs: 300,
    };
    const err = await waitUntilServing(probe).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(NotReadyError);
    expect((err as Error).message).toContain('1 of 2 targets registered');
    expect((err as Error).message).toContain('target app-1 is initial (Elb.RegistrationInProgress)');
    expect((err as Error).message).toContain('not tried');
    expect(e.probes).toEqual([]);

    const healthy = { ...probe, targets: () => [target('app-1', 'healthy')], expectedTargets: 1 };
    await expect(waitUntilServing(healthy)).rejects.toThrow(/answered|: 503/);
  });
});
