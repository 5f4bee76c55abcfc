import { afterEach, describe, expect, it } from 'vitest';
import { FaultError, type InjectedFault } from '../faults/inject.ts';
import type { FaultAction } from '../scenario/schema.ts';
import { mountTopologyRoutes } from './control-routes.ts';
import { type ControlServer, replyJson, startControlServer } from './control-server.ts';

let server: ControlServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function call(path: string, init?: RequestInit): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${server!.url}${path}`, init);
  return { status: res.status, body: await res.json() };
}

describe('control server', () => {
  it('adds a route with one mount, answers by path, and lists its routes on a 404', async () => {
    server = await startControlServer();
    server.mount('GET', '/ping', (_req, res) => replyJson(res, 200, { pong: true }));
    server.mount('GET', '/metrics', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('tiketi_queue_size 3\n');
    });
    expect(await call('/ping?verbose=1')).toEqual({ status: 200, body: { pong: true } });
    expect(await (await fetch(`${server.url}/metrics`)).text()).toBe('tiketi_queue_size 3\n');
    expect(await call('/ping', { method: 'POST' })).toEqual({
      status: 404,
      body: { error: { code: 'not_found', message: 'GET /ping, GET /metrics' } },
    });
  });

  it('a handler that throws gets a JSON 500, and the server keeps answering', async () => {
    server = await startControlServer();
    server.mount('GET', '/status', () => {
      throw new Error('not ready');
    });
    server.mount('GET', '/ok', (_req, res) => replyJson(res, 200, {}));
    expect(await call('/status')).toEqual({
      status: 500,
      body: { error: { code: 'control_failed', message: 'not ready' } },
    });
    expect((await call('/ok')).status).toBe(200);
  });
});

describe('topology routes', () => {
  const record = { fault: 'redis-failover', detail: 'primary killed', atMs: 0, timeline: [] };

  async function withTopology(inject: (f: FaultAction) => Promise<InjectedFault>) {
    server = await startControlServer();
    const injected: FaultAction[] = [];
    mountTopologyRoutes(server, {
      status: () => ({ timeScale: 30 }),
      faultRecords: () => [record],
      injectFault: (f) => {
        injected.push(f);
        return inject(f);
      },
    });
    return injected;
  }
  const post = (body: string) =>
    call('/faults', { method: 'POST', body, headers: { 'content-type': 'application/json' } });

  it('GET /status and /faults; POST /faults injects a valid fault (201)', async () => {
    const injected = await withTopology(async () => ({
      record,
      settled: Promise.resolve(),
      stop: async () => {},
    }));
    expect(await call('/status')).toEqual({ status: 200, body: { timeScale: 30 } });
    expect(await call('/faults')).toEqual({ status: 200, body: [record] });
    expect(await post('{"fault":"redis-failover"}')).toEqual({ status: 201, body: record });
    expect(injected).toEqual([{ fault: 'redis-failover' }]);
  });

  it('bad input is a 4xx with the error body, naming the field; an impossible fault is a 409', async () => {
    const injected = await withTopology(async () => {
      throw new FaultError('no instance i-9 to kill');
    });
    expect(await post('not json')).toEqual({
      status: 400,
      body: { error: { code: 'invalid_json', message: 'the body is not JSON' } },
    });
    const wrong = await post('{"fault":"kill-az"}');
    expect(wrong.status).toBe(400);
    expect(wrong.body).toMatchObject({ error: { code: 'invalid_fault', field: 'az' } });
    expect(await post('{"fault":"kill-instance","instance":"i-9"}')).toEqual({
      status: 409,
      body: { error: { code: 'fault_not_possible', message: 'no instance i-9 to kill' } },
    });
    expect(injected).toHaveLength(1);
  });
});
