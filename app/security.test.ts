/**
 * The defences of issue #17 against real Redis and PostgreSQL, on two instances: rate limits
 * shared by both (429 with Retry-After past the limit, others through), sign-in that does the same
 * KDF work for unknown emails (observed through the hasher), logout that disconnects the
 * session's socket on another instance, and the socket limits.
 */
import { connect as connectTcp } from 'node:net';
import { pino } from 'pino';
import { io as connectSocket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createUsersInBulk } from './auth/bulk-users.ts';
import { gatedHasher, KdfGate } from './auth/kdf-gate.ts';
import { hashPassword, type PasswordHasher } from './auth/passwords.ts';
import { createTokenSigner } from './auth/tokens.ts';
import { RetryLaterError } from './core/errors.ts';
import { keys } from './core/keys.ts';
import { createRedis, type RedisClient } from './core/redis.ts';
import { seedDemoEvent } from './sales/seed.ts';
import { type StartedTiketiServer, startTiketiServer } from './server.ts';
import {
  api,
  connect,
  connected,
  type DataTier,
  nextEvent,
  startDataTier,
  startInstance,
  TEST_SECRET,
  testPool,
} from './test-support/app-harness.ts';

const LIMITS = {
  subscriptionsPerSocket: 2,
  socketsPerUserPerInstance: 2,
  rate: {
    registerPerAddress: { points: 2, windowSeconds: 60 },
    loginPerEmail: { points: 3, windowSeconds: 60 },
    queueJoinPerUser: { points: 3, windowSeconds: 60 },
    socketConnectPerUser: { points: 4, windowSeconds: 60 },
  },
};
const CONTROL_TOKEN = 'control-plane-secret-0123';

/** The real hasher, counting what it is asked to do. */
class CountingHasher implements PasswordHasher {
  verifications = 0;
  hashes = 0;
  private readonly inner = gatedHasher(new KdfGate(2, 64));
  hash(password: string) {
    this.hashes++;
    return this.inner.hash(password);
  }
  verify(password: string, stored: string) {
    this.verifications++;
    return this.inner.verify(password, stored);
  }
  needsRehash(stored: string) {
    return this.inner.needsRehash(stored);
  }
}

describe('rate limits, sign-in, logout and socket limits on two instances', () => {
  let tier: DataTier;
  let a: StartedTiketiServer;
  let b: StartedTiketiServer;
  let redis: RedisClient;
  let db: ReturnType<typeof testPool>;
  let users: { userId: string; sessionId: string; token: string; email: string }[];
  const hasher = new CountingHasher();

  beforeAll(async () => {
    tier = await startDataTier();
    const env = { LIMITS: JSON.stringify(LIMITS), CONTROL_TOKEN };
    a = await startTiketiServer(tier.config({ ...env, INSTANCE_ID: 'app-a' }), {
      log: pino({ level: 'silent' }),
      hasher,
    });
    b = await startInstance(tier, { ...env, INSTANCE_ID: 'app-b' });
    db = testPool(tier.postgres.url);
    redis = createRedis({ kind: 'url', url: tier.redis.url }, pino({ level: 'silent' }), 'test');
    for (const eventId of ['one', 'two', 'three'])
      await seedDemoEvent(db, redis, { eventId, seats: 10, openSales: false });
    users = await createUsersInBulk(db, redis, createTokenSigner(TEST_SECRET), {
      count: 6,
      emailPrefix: 'sec',
      password: 'rehearsal-pass',
      sessionTtlSeconds: 3_600,
    });
  });
  afterAll(async () => {
    redis?.disconnect();
    await db?.end();
    await Promise.allSettled([a?.close(), b?.close()]);
    await tier?.stop();
  });

  it('queue joins: the limit is shared by both instances; 429 with Retry-After; others get through', async () => {
    const [greedy, honest] = [users[0]!, users[1]!];
    const join = (on: StartedTiketiServer, token: string) =>
      api(on.url, 'POST', '/api/events/one/queue', { token });
    expect((await join(a, greedy.token)).status).toBe(201);
    expect((await join(b, greedy.token)).status).toBe(201);
    expect((await join(a, greedy.token)).status).toBe(201);
    const refused = await join(b, greedy.token);
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({
      code: 'rate_limited',
      message: expect.stringMatching(/queue joins/),
    });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect((await join(a, honest.token)).status).toBe(201);
  });

  it('registration: per address, as the load balancer saw it (the right X-Forwarded-For hop)', async () => {
    const register = (n: number, forwardedFor: string) =>
      fetch(`${a.url}/api/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
        body: JSON.stringify({ email: `reg-${n}@example.com`, password: 'long-enough', name: 'R' }),
      });
    // The client may write anything in front; the ALB's own entry (the last) is what counts.
    expect((await register(1, '1.1.1.1, 203.0.113.5')).status).toBe(202);
    expect((await register(2, '2.2.2.2, 203.0.113.5')).status).toBe(202);
    const refused = await register(3, '3.3.3.3, 203.0.113.5');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await register(4, '203.0.113.6')).status).toBe(202);
  });

  it('registration answers the same for a new and a taken email, after the same work', async () => {
    const body = (email: string) => ({ email, password: 'another-long-one', name: 'Twice' });
    const headers = { 'x-forwarded-for': '198.51.100.1' };
    const post = (email: string) =>
      fetch(`${a.url}/api/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body(email)),
      }).then(async (r) => ({
        status: r.status,
        body: await r.json(),
        cache: r.headers.get('cache-control'),
      }));
    const hashesBefore = hasher.hashes;
    const fresh = await post('twice@example.com');
    const taken = await post('twice@example.com');
    expect(taken).toEqual(fresh);
    expect(fresh.status).toBe(202);
    expect(fresh.cache).toBe('no-store');
    expect(hasher.hashes - hashesBefore).toBe(2);
  });

  it('login runs the same KDF work for an unknown email as for a known one', async () => {
    const login = (email: string, password: string) =>
      api(a.url, 'POST', '/api/auth/login', { body: { email, password } });
    const counted = async (email: string, password: string) => {
      const before = hasher.verifications;
      const res = await login(email, password);
      return { res, verifications: hasher.verifications - before };
    };
    const known = await counted(users[2]!.email, 'wrong-password');
    const unknown = await counted('nobody-here@example.com', 'wrong-password');
    expect(known.verifications).toBe(1);
    expect(unknown.verifications).toBe(1);
    expect(unknown.res.status).toBe(known.res.status);
    expect(unknown.res.body).toEqual(known.res.body);
    const right = await counted(users[2]!.email, 'rehearsal-pass');
    expect(right.res.status).toBe(200);
    expect(right.verifications).toBe(1);
  });

  it('login per account: past the limit even the right password waits', async () => {
    const email = users[3]!.email;
    for (let i = 0; i < 3; i++)
      expect(
        (await api(b.url, 'POST', '/api/auth/login', { body: { email, password: 'nope' } })).status,
      ).toBe(401);
    const refused = await api(a.url, 'POST', '/api/auth/login', {
      body: { email, password: 'rehearsal-pass' },
    });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('rate_limited');
  });

  it('a hash made with older scrypt parameters is replaced at sign-in', async () => {
    const old = await hashPassword('old-params-pass', { N: 2 ** 14, r: 8, p: 1 });
    await db.query("INSERT INTO users (email, name, password_hash) VALUES ('old@example.com', 'Old', $1)", [
      old,
    ]);
    const res = await api(b.url, 'POST', '/api/auth/login', {
      body: { email: 'old@example.com', password: 'old-params-pass' },
    });
    expect(res.status).toBe(200);
    const { rows } = await db.query("SELECT password_hash FROM users WHERE email = 'old@example.com'");
    expect(rows[0].password_hash).toMatch(/^scrypt\$131072\$8\$1\$/);
  });

  it('logout on one instance disconnects the session socket on the other; the token stops working', async () => {
    const login = await api(a.url, 'POST', '/api/auth/login', {
      body: { email: users[4]!.email, password: 'rehearsal-pass' },
    });
    const { token } = login.body as { token: string };
    const socket = connect(b.url, { token });
    const other = connect(b.url, { token: users[4]!.token });
    try {
      await Promise.all([connected(socket), connected(other)]);
      const gone = nextEvent<string>(socket, 'disconnect', () => true, 15_000);
      const out = await api(a.url, 'POST', '/api/auth/logout', { token });
      expect(out.status).toBe(200);
      expect(await gone).toBe('io server disconnect');
      expect((await api(b.url, 'GET', '/api/events/one/queue/me', { token })).status).toBe(401);
      // Another session of the same user is not touched.
      expect(other.connected).toBe(true);
    } finally {
      socket.close();
      other.close();
    }
  });

  it('a socket whose session ended meanwhile is refused its next message and disconnected', async () => {
    const login = await api(b.url, 'POST', '/api/auth/login', {
      body: { email: users[1]!.email, password: 'rehearsal-pass' },
    });
    const { token, userId } = login.body as { token: string; userId: string };
    const socket = connect(a.url, { token });
    try {
      await connected(socket);
      const [sessionKey] = await redis
        .keys(`session:${userId}:*`)
        .then((all) => all.filter((k) => k !== keys.session(userId, users[1]!.sessionId)));
      await redis.del(sessionKey!); // as its TTL would
      const gone = new Promise<string>((resolve) => socket.once('disconnect', resolve));
      const reply = await socket.timeout(5_000).emitWithAck('queue:subscribe', { eventId: 'one' });
      expect(reply).toMatchObject({ error: { code: 'unauthorized' } });
      expect(await gone).toBe('io server disconnect');
    } finally {
      socket.close();
    }
  });

  it('sockets: subscriptions per socket, existing events only, sockets per user, connect rate', async () => {
    const user = users[5]!;
    const first = connect(a.url, { token: user.token });
    const second = connect(a.url, { token: user.token });
    try {
      await Promise.all([connected(first), connected(second)]);
      const subscribe = (eventId: string) => first.timeout(5_000).emitWithAck('queue:subscribe', { eventId });
      expect(await subscribe('no-such-event')).toMatchObject({ error: { code: 'not_found' } });
      expect(await subscribe('one')).toMatchObject({ eventId: 'one' });
      expect(await subscribe('two')).toMatchObject({ eventId: 'two' });
      expect(await subscribe('one')).toMatchObject({ eventId: 'one' });
      expect(await subscribe('three')).toMatchObject({ error: { code: 'subscription_limit' } });
      // A third socket of the user on this instance is refused; on the other instance it is not.
      const third = connect(a.url, { token: user.token });
      const refused = await connected(third).then(
        () => undefined,
        (err: Error & { data?: { code: string } }) => err,
      );
      third.close();
      expect(refused?.data?.code).toBe('too_many_sockets');
      const elsewhere = connect(b.url, { token: user.token });
      await connected(elsewhere);
      elsewhere.close();
      // Four handshakes in the window (three admitted, one refused) used the connect budget.
      const over = connect(b.url, { token: user.token });
      const limited = await connected(over).then(
        () => undefined,
        (err: Error & { data?: { code: string; retryAfterSeconds: number } }) => err,
      );
      over.close();
      expect(limited?.data).toMatchObject({ code: 'rate_limited', retryAfterSeconds: expect.any(Number) });
    } finally {
      first.close();
      second.close();
    }
  });

  it('a browser page of another origin cannot open a socket; the configured origin can', async () => {
    const from = (origin: string) =>
      connectSocket(a.url, {
        auth: { token: users[0]!.token },
        transports: ['websocket'],
        forceNew: true,
        reconnection: false,
        extraHeaders: { origin },
      });
    const evil = from('https://evil.example');
    await expect(connected(evil)).rejects.toThrow();
    evil.close();
    // Refused with an answer that says so, not a reset: the refusal writes it and closes the
    // socket in the same turn, so nothing may hold the write back (a corked upgrade socket did).
    expect(await rawUpgrade(a.url, 'https://evil.example')).toMatch(/^HTTP\/1\.1 400 [\s\S]*Forbidden/);
    const site = from('https://tiketi.gg');
    await connected(site);
    site.close();
  });

  it('/health tells the public only its status; details need the control token; security headers', async () => {
    const open = await api(a.url, 'GET', '/health');
    expect(open.status).toBe(200);
    expect(open.body).toEqual({ status: 'ok' });
    expect(open.headers.get('x-content-type-options')).toBe('nosniff');
    expect(open.headers.get('strict-transport-security')).toMatch(/max-age/);
    expect((await api(a.url, 'GET', '/health/details')).status).toBe(404);
    const details = await fetch(`${a.url}/health/details`, { headers: { 'x-control-token': CONTROL_TOKEN } });
    expect(await details.json()).toMatchObject({
      status: 'ok',
      instanceId: 'app-a',
      checks: { redis: 'ok' },
    });
  });
});

describe('KdfGate', () => {
  it('runs at most `concurrency` at once and refuses past the queue with 503 and Retry-After', async () => {
    const gate = new KdfGate(2, 3);
    let running = 0;
    let most = 0;
    const releases: (() => void)[] = [];
    const work = () =>
      gate.run(async () => {
        running++;
        most = Math.max(most, running);
        await new Promise<void>((r) => releases.push(r));
        running--;
      });
    const jobs = Array.from({ length: 5 }, work);
    const refused = await work().catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(RetryLaterError);
    expect(refused).toMatchObject({ status: 503, retryAfterSeconds: 1 });
    for (let done = 0; done < 5; done++) {
      await vi.waitFor(() => expect(releases.length).toBeGreaterThan(0));
      releases.shift()!();
    }
    await Promise.all(jobs);
    expect(most).toBe(2);
  });
});

/** A WebSocket upgrade to Socket.IO from `origin` over a raw socket: everything the server sends until it closes. */
function rawUpgrade(baseUrl: string, origin: string): Promise<string> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connectTcp(Number(port), hostname);
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
    });
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
    socket.write(
      [
        'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1',
        `Host: ${hostname}:${port}`,
        `Origin: ${origin}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version: 13',
        '',
        '',
      ].join('\r\n'),
    );
  });
}
