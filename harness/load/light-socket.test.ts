import { once } from 'node:events';
import { createServer, type Server as HttpServer } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { createUsersInBulk } from '../../app/auth/bulk-users.ts';
import { createTokenSigner } from '../../app/auth/tokens.ts';
import { createRedis } from '../../app/core/redis.ts';
import { openSales, seedDemoEvent } from '../../app/sales/seed.ts';
import type { StartedTiketiServer } from '../../app/server.ts';
import { type DataTierServers, startDataTierServers } from '../../servers/data-tier.ts';
import { api, nextEvent, testPool } from '../../servers/test-clients.ts';
import { ManualClock } from '../clock/clock.ts';
import { type ConnectError, io, type LightSocket, type LightSocketOptions } from './light-socket.ts';
import { seededRandom } from './random.ts';
import { startTestInstance, TEST_TOKEN_SECRET } from './test-app.ts';

/** Counts an event's occurrences from now on. */
function count(socket: LightSocket, event: string): { n: number } {
  const seen = { n: 0 };
  socket.on(event, () => {
    seen.n++;
  });
  return seen;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `condition` holds, checking every 20 ms. */
async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not ${what} within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** A port that was just free and is closed again: nothing listens there. */
async function closedPort(): Promise<number> {
  const probe = net.createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Fast backoff for tests. */
const FAST: LightSocketOptions = { reconnectionDelay: 50, reconnectionDelayMax: 200 };

const opened: LightSocket[] = [];
function track(socket: LightSocket): LightSocket {
  opened.push(socket);
  return socket;
}
afterEach(() => {
  for (const socket of opened.splice(0)) socket.close();
});

/**
 * A load balancer's routing of WebSocket upgrades in miniature: the `AWSALB` cookie of the request
 * names the target; an unknown one gets a 503. Raw TCP both ways after the request head.
 */
interface CookieRouter {
  url: string;
  targets: Map<string, number>;
  /** The Cookie header of every upgrade, in order. */
  cookies: string[];
  close(): Promise<void>;
}

async function startCookieRouter(): Promise<CookieRouter> {
  const targets = new Map<string, number>();
  const cookies: string[] = [];
  const sockets = new Set<net.Socket>();
  const keep = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  const server = createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req, client: net.Socket, head: Buffer) => {
    keep(client);
    const cookie = req.headers.cookie ?? '';
    cookies.push(cookie);
    const port = targets.get(/AWSALB=([\w-]+)/.exec(cookie)?.[1] ?? '');
    if (port === undefined) {
      client.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    const upstream = net.connect(port, '127.0.0.1');
    keep(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('connect', () => {
      let lines = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        lines += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      upstream.write(`${lines}\r\n`);
      if (head.length > 0) upstream.write(head);
      client.pipe(upstream).pipe(client);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    targets,
    cookies,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('light-socket against the app', () => {
  let tier: DataTierServers;
  let a: StartedTiketiServer;
  let b: StartedTiketiServer;
  let c: StartedTiketiServer;
  let router: CookieRouter;
  let users: { userId: string; token: string }[];

  beforeAll(async () => {
    tier = await startDataTierServers();
    const overrides = { ADMISSION_PER_SECOND: '5', SHOPPING_WINDOW_SECONDS: '120', DRAIN_NOTICE_MS: '0' };
    const start = (id: string) => startTestInstance(tier, { ...overrides, INSTANCE_ID: id });
    [a, b, c] = await Promise.all([start('app-a'), start('app-b'), start('app-c')]);
    router = await startCookieRouter();
    const db = testPool(tier.postgres.url);
    const redis = createRedis({ kind: 'url', url: tier.redis.url }, pino({ level: 'silent' }), 'test');
    try {
      await seedDemoEvent(db, redis, { eventId: 'waiting', seats: 10 });
      await seedDemoEvent(db, redis, { eventId: 'onsale', seats: 10 });
      users = await createUsersInBulk(db, redis, createTokenSigner(TEST_TOKEN_SECRET), {
        count: 6,
        emailPrefix: 'light',
        password: 'rehearsal-pass',
        sessionTtlSeconds: 3_600,
      });
      // Users 0–2 and 4–5 wait in the queue of an event whose sales are not open.
      for (const i of [0, 1, 2, 4, 5]) {
        const joined = await api(a.url, 'POST', '/api/events/waiting/queue', { token: users[i]!.token });
        expect(joined.status).toBe(201);
      }
    } finally {
      redis.disconnect();
      await db.end();
    }
  });
  afterAll(async () => {
    await router?.close();
    await Promise.allSettled([a?.close(), b?.close(), c?.close()]);
    await tier?.stop();
  });

  it('a queued user connects and gets its place in session:state, with no queue:update beside it', async () => {
    const user = users[1]!;
    const socket = track(io(a.url, { auth: { token: user.token, eventId: 'waiting' }, ...FAST }));
    const connected = nextEvent(socket, 'connect');
    const updates: { sentAt: number }[] = [];
    socket.on('queue:update', (u: { sentAt: number }) => updates.push(u));
    const state = nextEvent<{ sentAt: number }>(socket, 'session:state');
    await connected;
    expect(socket.connected).toBe(true);
    const told = await state;
    expect(told).toMatchObject({
      eventId: 'waiting',
      state: 'queued',
      position: 2,
      queueSize: 5,
      heldSeatIds: [],
    });
    // The place came in the state: no queue:update stamped with it (one beside it would be a frame
    // telling nothing new). A position tick may still fall in the connect; it has its own stamp.
    expect(updates.filter((u) => u.sentAt === told.sentAt)).toEqual([]);
  });

  it("a bad token gets connect_error with the app's message, and no reconnection", async () => {
    for (const [auth, reason] of [
      [{ eventId: 'waiting' }, /missing token/],
      [{ token: 'not.a.token', eventId: 'waiting' }, /not a TIKETI access token/],
      [
        { token: createTokenSigner('another-secret-of-16+').sign(users[0]!.userId, 'any-session', 60) },
        /signature is invalid/,
      ],
    ] as const) {
      const socket = track(io(a.url, { auth, ...FAST }));
      const attempts = count(socket, 'reconnect_attempt');
      const error = await nextEvent<ConnectError>(socket, 'connect_error');
      expect(error.message).toMatch(reason);
      expect(error.data).toMatchObject({ code: expect.any(String) });
      // socket.io-client does not retry a refusal either; well past the 50–200 ms backoff:
      await sleep(500);
      expect(attempts.n).toBe(0);
      expect(socket.active).toBe(false);
      expect(socket.connected).toBe(false);
    }
  });

  it('an admitted user receives queue:admitted', async () => {
    const user = users[3]!;
    const socket = track(io(b.url, { auth: { token: user.token, eventId: 'onsale' }, ...FAST }));
    expect(await nextEvent(socket, 'session:state')).toMatchObject({ state: 'none' });
    const admitted = nextEvent(socket, 'queue:admitted');
    expect((await api(a.url, 'POST', '/api/events/onsale/queue', { token: user.token })).status).toBe(201);
    const db = testPool(tier.postgres.url);
    const redis = createRedis({ kind: 'url', url: tier.redis.url }, pino({ level: 'silent' }), 'test');
    try {
      await openSales(db, redis, 'onsale');
    } finally {
      redis.disconnect();
      await db.end();
    }
    // Admitted by whichever instance runs the admitter; pushed through Redis to this one.
    const message = await admitted;
    expect(message).toMatchObject({ eventId: 'onsale', admittedUntil: expect.any(Number) });
    expect(message.admittedUntil).toBeGreaterThan(Date.now());
  });

  it('a draining instance drops the socket: it reconnects elsewhere with the cookie the hook set', async () => {
    const user = users[4]!;
    router.targets.set('app-b', b.port);
    router.targets.set('app-c', c.port);
    const options: LightSocketOptions = {
      auth: { token: user.token, eventId: 'waiting' },
      extraHeaders: { cookie: 'AWSALB=app-c; theme=dark' },
      ...FAST,
    };
    const socket = track(io(router.url, options));
    const before = await nextEvent(socket, 'session:state');
    expect(before).toMatchObject({ state: 'queued', position: 4 });
    expect(router.cookies.at(-1)).toBe('AWSALB=app-c; theme=dark');
    expect(c.realtime.connectionCount).toBe(1);

    // As the journey does: the jar was re-stuck meanwhile, the next attempt carries it.
    const attempts: number[] = [];
    socket.io.on('reconnect_attempt', (attempt) => {
      attempts.push(attempt);
      socket.io.opts.extraHeaders = { cookie: 'AWSALB=app-b; theme=dark' };
    });
    const reasons: string[] = [];
    socket.on('disconnect', (reason) => reasons.push(reason));
    const restored = nextEvent(socket, 'session:state');
    router.targets.delete('app-c'); // the load balancer stops routing to it
    await c.drain();

    expect(await restored).toMatchObject({ state: 'queued', position: 4 });
    expect(reasons).toEqual(['transport close']);
    expect(attempts[0]).toBe(1);
    expect(socket.connected).toBe(true);
    expect(router.cookies.at(-1)).toBe('AWSALB=app-b; theme=dark');
    // The instance that took it over saw the refreshed cookie in the handshake.
    const onB = [...b.realtime.io.of('/').sockets.values()].find(
      (s) => s.handshake.auth.token === user.token,
    );
    expect(onB?.handshake.headers.cookie).toBe('AWSALB=app-b; theme=dark');
  });

  it('a server-side disconnect is final: io server disconnect, no reconnection', async () => {
    const user = users[5]!;
    const socket = track(io(a.url, { auth: { token: user.token, eventId: 'waiting' }, ...FAST }));
    await nextEvent(socket, 'session:state');
    const attempts = count(socket, 'reconnect_attempt');
    const reason = nextEvent(socket, 'disconnect');
    a.realtime.io.local.in(`user:${user.userId}`).disconnectSockets(true);
    expect(await reason).toBe('io server disconnect');
    await sleep(500);
    expect(attempts.n).toBe(0);
    expect(socket.active).toBe(false);
  });

  it('close() leaves: DISCONNECT reaches the server, io client disconnect, no reconnection', async () => {
    const user = users[0]!;
    const socket = track(io(a.url, { auth: { token: user.token, eventId: 'waiting' }, ...FAST }));
    await nextEvent(socket, 'session:state');
    const onServer = [...a.realtime.io.of('/').sockets.values()].find(
      (s) => s.handshake.auth.token === user.token,
    );
    expect(onServer).toBeDefined();
    const serverReason = new Promise<string>((resolve) => onServer!.once('disconnect', resolve));
    const attempts = count(socket, 'reconnect_attempt');
    const reasons: string[] = [];
    socket.on('disconnect', (reason) => reasons.push(reason));
    socket.close();
    expect(reasons).toEqual(['io client disconnect']);
    expect(await serverReason).toBe('client namespace disconnect');
    await sleep(500);
    expect(attempts.n).toBe(0);
    expect(socket.active).toBe(false);
    expect(reasons).toHaveLength(1);
  });
});

describe('light-socket against a plain Socket.IO server', () => {
  let http: HttpServer;
  let server: Server;
  let url: string;
  const pongs = new Map<string, number>();
  let onConnection: (socket: ServerSocket) => void = () => undefined;

  beforeAll(async () => {
    http = createServer();
    server = new Server(http, { pingInterval: 200, pingTimeout: 200, transports: ['websocket'] });
    server.on('connection', (socket) => {
      pongs.set(socket.id, 0);
      socket.conn.on('packet', (packet: { type: string }) => {
        if (packet.type === 'pong') pongs.set(socket.id, (pongs.get(socket.id) ?? 0) + 1);
      });
      socket.on('echo', (payload: unknown, ack?: (reply: unknown) => void) => ack?.({ echoed: payload }));
      onConnection(socket);
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('answers pings: an idle connection stays open well past pingInterval + pingTimeout', async () => {
    let serverSocket: ServerSocket | undefined;
    onConnection = (s) => {
      serverSocket = s;
    };
    const socket = track(io(url, FAST));
    const disconnects = count(socket, 'disconnect');
    await nextEvent(socket, 'connect');
    // Five pongs: a second of heartbeats at 200 + 200 ms, each answered in time.
    await until(() => (pongs.get(serverSocket?.id ?? '') ?? 0) >= 5, 'five pongs');
    expect(socket.connected).toBe(true);
    expect(serverSocket?.connected).toBe(true);
    expect(disconnects.n).toBe(0);
  });

  it('emits with and without acks both ways; emits made before connecting go out on connect', async () => {
    let serverSocket: ServerSocket | undefined;
    const received: unknown[] = [];
    onConnection = (s) => {
      serverSocket = s;
      s.on('note', (...args: unknown[]) => received.push(args));
    };
    const socket = track(io(url, FAST));
    socket.emit('note', 'early', 1); // not connected yet: buffered
    socket.on('ask', (n: number, ack: (reply: number) => void) => ack(n * 2));
    await nextEvent(socket, 'connect');
    expect(await socket.emitWithAck('echo', { a: 1 })).toEqual({ echoed: { a: 1 } });
    const plain = await new Promise((resolve) => socket.emit('echo', 'x', resolve));
    expect(plain).toEqual({ echoed: 'x' });
    expect(await serverSocket!.emitWithAck('ask', 21)).toBe(42);
    await until(() => received.length === 1, 'the early note');
    expect(received).toEqual([['early', 1]]);
    expect(() => socket.emit('disconnect')).toThrow(/reserved/);
  });

  it('tells the headers of the upgrade’s answer (upgrade), before connect', async () => {
    const addHeader = (headers: Record<string, string>) => {
      headers['x-relay-test'] = '42';
    };
    server.engine.on('headers', addHeader);
    try {
      const socket = track(io(url, FAST));
      const order: string[] = [];
      socket.on('upgrade', (headers) => order.push(`upgrade ${headers['x-relay-test']}`));
      socket.on('connect', () => order.push('connect'));
      await nextEvent(socket, 'connect');
      expect(order).toEqual(['upgrade 42', 'connect']);
      expect(() => socket.emit('upgrade')).toThrow(/reserved/);
    } finally {
      server.engine.off('headers', addHeader);
    }
  });

  it('a transport closed by the server is a transport close, and it reconnects', async () => {
    const connections: ServerSocket[] = [];
    onConnection = (s) => {
      connections.push(s);
    };
    const socket = track(io(url, FAST));
    await nextEvent(socket, 'connect');
    const reason = nextEvent(socket, 'disconnect');
    const back = nextEvent(socket, 'connect');
    connections[0]!.conn.close();
    expect(await reason).toBe('transport close');
    await back;
    expect(connections).toHaveLength(2);
  });

  it('a binary packet is a protocol error: the connection is closed with a clear reason', async () => {
    onConnection = (s) => {
      s.emit('blob', Buffer.from([1, 2, 3]));
    };
    const socket = track(io(url, { ...FAST, reconnection: false }));
    const [reason, description] = await new Promise<[string, Error | undefined]>((resolve) =>
      socket.on('disconnect', (r, d) => resolve([r, d])),
    );
    expect(reason).toBe('parse error');
    expect(description?.message).toMatch(/binary/);
    expect(socket.active).toBe(false);
  });
});

describe('light-socket against broken servers', () => {
  /** A raw WebSocket server speaking just enough Engine.IO: the open packet, then whatever `after` does. */
  async function rawServer(
    behaviour: 'silent' | 'open-then-silent',
  ): Promise<{ url: string; connections: () => number; close(): Promise<void> }> {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    let connections = 0;
    wss.on('connection', (ws) => {
      connections++;
      if (behaviour === 'silent') return;
      ws.send('0{"sid":"dead","upgrades":[],"pingInterval":200,"pingTimeout":200,"maxPayload":1000000}');
      ws.on('message', (data) => {
        if (String(data).startsWith('40')) ws.send('40{"sid":"namespace-sid"}');
      });
    });
    return {
      url: `http://127.0.0.1:${(wss.address() as AddressInfo).port}`,
      connections: () => connections,
      close: async () => {
        for (const client of wss.clients) client.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      },
    };
  }

  it('a server that stops pinging: disconnect with ping timeout, then reconnection', async () => {
    const dead = await rawServer('open-then-silent');
    try {
      const socket = track(io(dead.url, FAST));
      await nextEvent(socket, 'connect');
      const reason = nextEvent(socket, 'disconnect');
      const attempt = nextEvent(socket, 'reconnect_attempt');
      expect(await reason).toBe('ping timeout');
      expect(await attempt).toBe(1);
      await nextEvent(socket, 'connect');
      expect(dead.connections()).toBe(2);
    } finally {
      await dead.close();
    }
  });

  it('no open packet within the timeout: connect_error timeout, and it keeps trying', async () => {
    const silent = await rawServer('silent');
    try {
      const socket = track(io(silent.url, { ...FAST, timeout: 200 }));
      const error = await nextEvent<Error>(socket, 'connect_error');
      expect(error.message).toBe('timeout');
      await nextEvent(socket, 'reconnect_attempt');
      expect(socket.active).toBe(true);
    } finally {
      await silent.close();
    }
  });

  it('nothing listening: connect_error on every attempt, with a growing attempt number', async () => {
    const port = await closedPort();
    const socket = track(io(`http://127.0.0.1:${port}`, { reconnectionDelay: 10, reconnectionDelayMax: 40 }));
    const errors = count(socket, 'connect_error');
    const attempts: number[] = [];
    socket.on('reconnect_attempt', (n) => attempts.push(n));
    await until(() => attempts.length >= 3, 'three attempts');
    expect(attempts.slice(0, 3)).toEqual([1, 2, 3]);
    expect(errors.n).toBeGreaterThanOrEqual(3);
    socket.close();
    const after = attempts.length;
    await sleep(200);
    expect(attempts.length).toBe(after);
  });

  it('a backoff on a given clock waits for that clock, and a seeded random draws the same delays', async () => {
    const port = await closedPort();
    /** The delays one socket's backoff asks its clock for, over `n` failed attempts. */
    const delaysOf = async (seed: number, n: number) => {
      const clock = new ManualClock(0);
      const asked: number[] = [];
      const recording = {
        setTimeout: (fn: () => void, ms: number) => {
          asked.push(ms);
          return clock.setTimeout(fn, ms);
        },
      };
      const socket = track(
        io(`http://127.0.0.1:${port}`, {
          clock: recording,
          random: seededRandom(seed),
          reconnectionDelay: 1_000,
        }),
      );
      const attempts: number[] = [];
      socket.on('reconnect_attempt', (a) => attempts.push(a));
      for (let i = 0; i < n; i++) {
        await until(() => asked.length > i, 'a backoff asked of the clock');
        // Wall time passes, the clock does not: no attempt.
        await sleep(30);
        expect(attempts).toHaveLength(i);
        clock.advance(asked[i]!);
        await until(() => attempts.length === i + 1, 'the attempt once the clock passed the delay');
      }
      socket.close();
      return asked;
    };
    const first = await delaysOf(42, 3);
    expect(await delaysOf(42, 3)).toEqual(first);
    expect(first[0]).toBeGreaterThanOrEqual(500);
    expect(first[0]).toBeLessThanOrEqual(1_500);
  });
});
