import { createServer, request, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { AlbWorker } from './alb-worker.ts';
import { type FromAlbWorker, PATH_STALL_HEADER, type RoutableTarget, type TargetState } from './protocol.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A target answering its own id. */
async function target(id: string): Promise<RoutableTarget> {
  const server: Server = createServer((_req, res) => res.end(id));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  return { id, host: '127.0.0.1', port: (server.address() as { port: number }).port, state: 'healthy' };
}

/** A target that holds its event loop `ms` before answering: in this test, the worker's loop too. */
async function stallingTarget(id: string, ms: number): Promise<RoutableTarget> {
  const t = await target(id);
  const server: Server = createServer((_req, res) => {
    const until = performance.now() + ms;
    while (performance.now() < until) Math.sqrt(Math.random());
    res.end(id);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  return { ...t, port: (server.address() as { port: number }).port };
}

/** An ALB worker in this process, listening on a free port. */
async function worker(): Promise<{ worker: AlbWorker; sent: FromAlbWorker[] }> {
  const sent: FromAlbWorker[] = [];
  const anchor = { simMs: 0, wallMs: Date.now(), timeScale: 1 };
  const w = new AlbWorker(
    {
      type: 'init',
      workerIndex: 3,
      stickinessSeconds: 60,
      cookieSecret: 'secret',
      idleTimeoutMs: 5_000,
      anchor,
      listeners: 1,
    },
    (m) => sent.push(m),
  );
  await w.listen({ port: 0, host: '127.0.0.1' });
  cleanups.push(() => w.stop());
  return { worker: w, sent };
}

function get(
  port: number,
  cookie?: string,
): Promise<{ status: number; body: string; cookie?: string; stallMs?: string }> {
  return new Promise((resolve, reject) => {
    const req = request({
      port,
      host: '127.0.0.1',
      path: '/',
      agent: false,
      headers: cookie ? { cookie } : {},
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          body,
          cookie: res.headers['set-cookie']?.[0]?.split(';')[0],
          stallMs: res.headers[PATH_STALL_HEADER] as string | undefined,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

const table = (targets: RoutableTarget[], ...states: TargetState[]) =>
  targets.map((t, i) => ({ ...t, state: states[i] ?? t.state }));

describe('an ALB worker in-process', () => {
  it('says ready, routes round robin, sticks a client to its target with AWSALB', async () => {
    const { worker: w, sent } = await worker();
    expect(sent).toEqual([{ type: 'ready', workerIndex: 3 }]);
    const targets = [await target('a'), await target('b')];
    w.handle({ type: 'targets', targets, anchor: { simMs: 0, wallMs: Date.now(), timeScale: 1 } });
    const first = await get(w.port);
    const second = await get(w.port);
    expect([first.body, second.body].sort()).toEqual(['a', 'b']);
    expect(first.cookie).toMatch(/^AWSALB=/);
    for (let i = 0; i < 4; i++) {
      const again = await get(w.port, first.cookie);
      expect(again.body).toBe(first.body);
      expect(again.cookie).toBeUndefined();
    }
  });

  it('moves a sticky client off a draining target, and answers 503 with nothing routable', async () => {
    const { worker: w } = await worker();
    const targets = [await target('a'), await target('b')];
    const anchor = { simMs: 0, wallMs: Date.now(), timeScale: 1 };
    w.handle({ type: 'targets', targets, anchor });
    const stuck = await get(w.port);
    const drainingFirst =
      stuck.body === 'a' ? table(targets, 'draining') : table(targets, 'healthy', 'draining');
    w.handle({ type: 'targets', targets: drainingFirst, anchor });
    const moved = await get(w.port, stuck.cookie);
    expect(moved.body).not.toBe(stuck.body);
    expect(moved.cookie).toMatch(/^AWSALB=/);
    w.handle({ type: 'targets', targets: table(targets, 'draining', 'initial'), anchor });
    expect((await get(w.port)).status).toBe(503);
  });

  it('tells on an answer how long its own event loop stalled while the request was in it', async () => {
    const { worker: w } = await worker();
    const anchor = { simMs: 0, wallMs: Date.now(), timeScale: 1 };
    w.handle({ type: 'targets', targets: [await stallingTarget('slow', 150)], anchor });
    const held = await get(w.port);
    expect(held.body).toBe('slow');
    expect(Number(held.stallMs)).toBeGreaterThanOrEqual(130);
    await new Promise((r) => setTimeout(r, 100));
    w.handle({ type: 'targets', targets: [await target('quick')], anchor });
    // Not that stall (a busy machine's own hiccup of 10 ms or more may still be told).
    expect(Number((await get(w.port)).stallMs ?? 0)).toBeLessThan(130);
  });

  it('reports its counters to the control process', async () => {
    const { worker: w, sent } = await worker();
    w.handle({
      type: 'targets',
      targets: [await target('a')],
      anchor: { simMs: 0, wallMs: Date.now(), timeScale: 1 },
    });
    await get(w.port);
    w.handle({ type: 'targets', targets: [], anchor: { simMs: 0, wallMs: Date.now(), timeScale: 1 } });
    await get(w.port);
    w.report();
    expect(sent.at(-1)).toEqual({
      type: 'connections',
      workerIndex: 3,
      perTarget: {},
      requests: 2,
      errors502: 0,
      errors503: 1,
    });
  });

  it('reports its connections as soon as the targets change: a draining target with none is done', async () => {
    const { worker: w, sent } = await worker();
    const a = await target('a');
    const anchor = { simMs: 0, wallMs: Date.now(), timeScale: 1 };
    w.handle({ type: 'targets', targets: [a], anchor });
    await get(w.port);
    sent.length = 0;
    w.handle({ type: 'targets', targets: [{ ...a, state: 'draining' }], anchor });
    // Synchronously: the control process ends the deregistration on it, not half a second later.
    expect(sent).toHaveLength(1);
    const report = sent[0] as Extract<FromAlbWorker, { type: 'connections' }>;
    expect(report).toMatchObject({ type: 'connections', workerIndex: 3 });
    expect(report.perTarget.a ?? 0).toBe(0);
  });
});
