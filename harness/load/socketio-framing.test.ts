/**
 * The framing module the k6 export bundles, driven over a real WebSocket (`ws`) against the real
 * app: the same functions, the same packets, what the k6 script does step by step.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createUsersInBulk } from '../../app/auth/bulk-users.ts';
import { createTokenSigner } from '../../app/auth/tokens.ts';
import { createRedis } from '../../app/core/redis.ts';
import { openSales, seedDemoEvent } from '../../app/sales/seed.ts';
import type { StartedTiketiServer } from '../../app/server.ts';
import {
  api,
  type DataTier,
  startDataTier,
  startInstance,
  TEST_SECRET,
  testPool,
} from '../../app/test-support/app-harness.ts';
import {
  connectPacket,
  DISCONNECT_PACKET,
  decodeEnginePacket,
  decodeSocketPacket,
  engineIoUrl,
  eventPacket,
  type SocketPacket,
} from './socketio-framing.ts';

/** A raw WebSocket speaking Socket.IO through the framing module only, recording what it decodes. */
class FramedClient {
  readonly packets: SocketPacket[] = [];
  readonly pongsSent: string[] = [];
  private readonly ws: WebSocket;
  private waiters: (() => void)[] = [];

  constructor(baseUrl: string, auth: Record<string, unknown>) {
    this.ws = new WebSocket(engineIoUrl(baseUrl));
    this.ws.on('message', (data) => {
      const packet = decodeEnginePacket(String(data));
      if (packet.kind === 'open') this.ws.send(connectPacket(auth));
      else if (packet.kind === 'ping') {
        this.pongsSent.push(packet.pong);
        this.ws.send(packet.pong);
      } else if (packet.kind === 'message') this.packets.push(decodeSocketPacket(packet.text));
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  send(text: string): void {
    this.ws.send(text);
  }

  async next(match: (p: SocketPacket) => boolean, what: string, timeoutMs = 15_000): Promise<SocketPacket> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.packets.find(match);
      if (found) return found;
      if (Date.now() > deadline)
        throw new Error(`no ${what} within ${timeoutMs} ms: ${JSON.stringify(this.packets)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(DISCONNECT_PACKET);
    this.ws.close();
  }
}

const isEvent = (name: string) => (p: SocketPacket) => p.kind === 'event' && p.args[0] === name;

describe('socketio-framing against the real app over a real WebSocket', () => {
  let tier: DataTier;
  let app: StartedTiketiServer;
  let users: { userId: string; token: string }[];
  const clients: FramedClient[] = [];

  beforeAll(async () => {
    tier = await startDataTier();
    app = await startInstance(tier, { ADMISSION_PER_SECOND: '50', SHOPPING_WINDOW_SECONDS: '120' });
    const db = testPool(tier.postgres.url);
    const redis = createRedis({ kind: 'url', url: tier.redis.url }, pino({ level: 'silent' }), 'test');
    try {
      await seedDemoEvent(db, redis, { eventId: 'framing', seats: 10 });
      await openSales(db, redis, 'framing');
      users = await createUsersInBulk(db, redis, createTokenSigner(TEST_SECRET), {
        count: 2,
        emailPrefix: 'framing',
        password: 'rehearsal-pass',
        sessionTtlSeconds: 3_600,
      });
    } finally {
      redis.disconnect();
      await db.end();
    }
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await app?.close();
    await tier?.stop();
  });

  it("connects with the token, asks for its state with an ack, and is admitted (the k6 script's steps)", async () => {
    const user = users[0]!;
    expect(
      (await api(app.url, 'POST', '/api/events/framing/queue', { token: user.token })).status,
    ).toBeLessThan(300);
    const client = new FramedClient(app.url, { token: user.token, eventId: 'framing' });
    clients.push(client);
    const connect = await client.next((p) => p.kind === 'connect', 'CONNECT');
    expect(connect).toMatchObject({ kind: 'connect', data: { sid: expect.any(String) } });
    client.send(eventPacket(['queue:subscribe', { eventId: 'framing' }], 7));
    const ack = await client.next((p) => p.kind === 'ack', 'ACK');
    expect(ack).toMatchObject({
      kind: 'ack',
      ackId: 7,
      args: [{ eventId: 'framing', state: expect.any(String) }],
    });
    const admitted = await client.next(isEvent('queue:admitted'), 'queue:admitted');
    expect(admitted).toMatchObject({ kind: 'event', args: ['queue:admitted', { eventId: 'framing' }] });
    const sentAt = (admitted as unknown as { args: [string, { sentAt: number }] }).args[1].sentAt;
    expect(sentAt).toBeLessThanOrEqual(Date.now());
  });

  it("a refused connection is a CONNECT_ERROR with the app's message", async () => {
    const client = new FramedClient(app.url, { token: 'not.a.token', eventId: 'framing' });
    clients.push(client);
    const refused = await client.next((p) => p.kind === 'connect-error', 'CONNECT_ERROR');
    expect(refused).toMatchObject({
      kind: 'connect-error',
      message: expect.stringMatching(/not a TIKETI access token/),
    });
  });
});

describe('socketio-framing packets', () => {
  it('decodes and encodes the protocol as socket.io writes it', () => {
    expect(decodeEnginePacket('0{"sid":"x","pingInterval":25000,"pingTimeout":20000}')).toEqual({
      kind: 'open',
      heartbeatMs: 45_000,
    });
    expect(decodeEnginePacket('0{"sid":"x"}')).toMatchObject({ kind: 'bad-open' });
    expect(decodeEnginePacket('2')).toEqual({ kind: 'ping', pong: '3' });
    expect(decodeEnginePacket('2probe')).toEqual({ kind: 'ping', pong: '3probe' });
    expect(decodeEnginePacket('x')).toMatchObject({ kind: 'unknown' });
    expect(decodeSocketPacket('42["a",1]')).toEqual({ kind: 'event', args: ['a', 1] });
    expect(decodeSocketPacket('4212["a"]')).toEqual({ kind: 'event', args: ['a'], ackId: 12 });
    expect(decodeSocketPacket('43/,3[1]')).toEqual({ kind: 'ack', ackId: 3, args: [1] });
    expect(decodeSocketPacket('42/admin,["a"]')).toEqual({ kind: 'other-namespace' });
    expect(decodeSocketPacket('44{"message":"no","data":{"code":"x"}}')).toEqual({
      kind: 'connect-error',
      message: 'no',
      data: { code: 'x' },
    });
    expect(decodeSocketPacket('45-["a",{"_placeholder":true,"num":0}]')).toEqual({ kind: 'binary' });
    expect(decodeSocketPacket('42[oops')).toEqual({ kind: 'malformed', problem: 'json' });
    expect(decodeSocketPacket('42{"a":1}')).toEqual({ kind: 'malformed', problem: 'shape' });
    expect(eventPacket(['e', { a: 1 }])).toBe('42["e",{"a":1}]');
    expect(eventPacket(['e'], 4)).toBe('424["e"]');
    expect(connectPacket({ token: 't' })).toBe('40{"token":"t"}');
    expect(engineIoUrl('https://tiketi.gg')).toBe('wss://tiketi.gg/socket.io/?EIO=4&transport=websocket');
    expect(engineIoUrl('http://127.0.0.1:8080/')).toBe(
      'ws://127.0.0.1:8080/socket.io/?EIO=4&transport=websocket',
    );
    expect(() => engineIoUrl('http://tiketi.gg/admin')).toThrow(/main namespace/);
    expect(() => engineIoUrl('http://tiketi.gg?x=1')).toThrow(/without a path or query/);
  });
});
