import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../ports.ts';
import { type ProxyHost, startProxyHost } from './proxy-host.ts';

/** A TCP server that answers every chunk with `<tag>:<chunk>`. */
async function echoServer(tag: string): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.on('data', (d) => s.write(`${tag}:${d}`)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as { port: number }).port };
}

async function open(port: number): Promise<{ socket: Socket; received: () => string }> {
  const socket = connect({ port, host: '127.0.0.1' });
  let data = '';
  socket.on('data', (d) => (data += d));
  await once(socket, 'connect');
  return { socket, received: () => data };
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('fault proxy (a real process between real sockets)', () => {
  let host: ProxyHost;
  let a: Awaited<ReturnType<typeof echoServer>>;
  let b: Awaited<ReturnType<typeof echoServer>>;
  beforeAll(async () => {
    [host, a, b] = await Promise.all([startProxyHost(), echoServer('a'), echoServer('b')]);
  });
  afterAll(async () => {
    await host?.stop();
    a?.server.close();
    b?.server.close();
  });

  it('carries bytes both ways and counts its connections', async () => {
    const route = await host.route('plain', { host: '127.0.0.1', port: a.port });
    const c = await open(route.port);
    c.socket.write('hello');
    await until(() => c.received() === 'a:hello');
    expect(await route.connectionCount()).toBe(1);
    c.socket.destroy();
  });

  it('delays every chunk by at least the latency, keeping order under jitter', async () => {
    const route = await host.route('slow', { host: '127.0.0.1', port: a.port });
    await route.setToxics({ latency: { latencyMs: 150, jitterMs: 100 } });
    const c = await open(route.port);
    const sentAt = Date.now();
    for (let i = 0; i < 20; i++) c.socket.write(`${i},`);
    const expected = Array.from({ length: 20 }, (_, i) => `${i},`).join('');
    // The echo may answer in several chunks; strip the tags and compare the stream.
    await until(() => c.received().replaceAll('a:', '') === expected);
    // Each way waits at least latency − jitter: 2 × 50 ms for the round trip.
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(100);
    await route.setToxics({});
    c.socket.destroy();
  });

  it('holds traffic during a partition and delivers all of it, in order, once lifted', async () => {
    const route = await host.route('cut', { host: '127.0.0.1', port: a.port });
    const c = await open(route.port);
    c.socket.write('before');
    await until(() => c.received() === 'a:before');
    await route.setToxics({ partitioned: true });
    c.socket.write('during-1');
    c.socket.write('during-2');
    // A new connection waits too: it is accepted but reaches nothing.
    const late = await open(route.port);
    late.socket.write('late');
    await new Promise((r) => setTimeout(r, 300));
    expect(c.received()).toBe('a:before');
    expect(late.received()).toBe('');
    await route.setToxics({});
    await until(() => c.received().replaceAll('a:', '') === 'beforeduring-1during-2');
    await until(() => late.received() === 'a:late');
    c.socket.destroy();
    late.socket.destroy();
  });

  it('switches its target like a failed-over endpoint: open connections close, new ones reach the new server', async () => {
    const route = await host.route('writer', { host: '127.0.0.1', port: a.port });
    const old = await open(route.port);
    old.socket.write('x');
    await until(() => old.received() === 'a:x');
    const closed = once(old.socket, 'close');
    await route.switchTo({ host: '127.0.0.1', port: b.port });
    await closed;
    const fresh = await open(route.port);
    fresh.socket.write('y');
    await until(() => fresh.received() === 'b:y');
    fresh.socket.destroy();
    await route.switchTo(undefined);
    const refused = connect({ port: route.port, host: '127.0.0.1' });
    refused.on('error', () => {});
    await once(refused, 'close');
  });

  it('listens on a port chosen ahead, so a client can be told of the route before it exists', async () => {
    const port = await freePort();
    const route = await host.route('ahead', { host: '127.0.0.1', port: a.port }, { port });
    expect(route.port).toBe(port);
    const c = await open(port);
    c.socket.write('early');
    await until(() => c.received() === 'a:early');
    c.socket.destroy();
  });

  it('refuses a second route with the same name with a clear error', async () => {
    await host.route('twice', undefined);
    await expect(host.route('twice', undefined)).rejects.toThrow(/route twice exists/);
  });
});
