import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUsersInBulk } from './auth/bulk-users.ts';
import { createTokenSigner } from './auth/tokens.ts';
import { createRedis } from './core/redis.ts';
import { seedDemoEvent } from './sales/seed.ts';
import {
  connect,
  connected,
  type DataTier,
  startDataTier,
  TEST_SECRET,
  testPool,
} from './test-support/app-harness.ts';
import { startAppProcess } from './test-support/app-process.ts';

/** Messages a signed-in attacker can send; each once crashed or could crash the instance. */
const MALFORMED: { name: string; args: unknown[] }[] = [
  { name: 'a string where the ack goes', args: [{ eventId: 'demo' }, 'x'] },
  { name: 'a number where the ack goes', args: [{ eventId: 'demo' }, 42] },
  { name: 'no payload', args: [] },
  { name: 'a null payload', args: [null] },
  { name: 'a string payload', args: ['demo'] },
  { name: 'an array payload', args: [['demo']] },
  { name: 'a numeric event id', args: [{ eventId: 7 }] },
  { name: 'an event id with a Redis key separator', args: [{ eventId: 'demo}:x{' }] },
  { name: 'an overlong event id', args: [{ eventId: 'e'.repeat(1_000) }] },
  { name: 'an unknown field', args: [{ eventId: 'demo', admin: true }] },
  { name: 'a prototype-polluting payload', args: [JSON.parse('{"__proto__": {"x": 1}, "eventId": "demo"}')] },
  { name: 'three arguments', args: [{ eventId: 'demo' }, { eventId: 'demo' }, 'x'] },
];

describe('hostile Socket.IO messages against a real instance process', () => {
  let tier: DataTier;
  let app: Awaited<ReturnType<typeof startAppProcess>>;
  let token: string;

  beforeAll(async () => {
    tier = await startDataTier();
    // The instance migrates the schema as it starts; the event and the user come after.
    app = await startAppProcess(tier.env({ INSTANCE_ID: 'app-hostile' }));
    const db = testPool(tier.postgres.url);
    const redis = createRedis({ kind: 'url', url: tier.redis.url }, pino({ level: 'silent' }), 'test');
    await seedDemoEvent(db, redis, { eventId: 'demo', seats: 10 });
    const [user] = await createUsersInBulk(db, redis, createTokenSigner(TEST_SECRET), {
      count: 1,
      emailPrefix: 'hostile',
      password: 'rehearsal-pass',
      sessionTtlSeconds: 3_600,
    });
    token = user!.token;
    redis.disconnect();
    await db.end();
  });
  afterAll(async () => {
    await app?.process.stop();
    await tier?.stop();
  });

  it.each(MALFORMED)('$name: the instance stays up and answers a validation error', async ({ args }) => {
    const socket = connect(app.url, { token });
    try {
      await connected(socket);
      // Fire and forget, as an attacker would; then the same socket asks a well-formed question.
      socket.emit('queue:subscribe', ...args);
      const reply = await socket.timeout(5_000).emitWithAck('queue:subscribe', ...args);
      expect(reply).toMatchObject({
        error: { code: expect.stringMatching(/^(validation_failed|invalid_message)$/) },
      });
      const state = await socket.timeout(5_000).emitWithAck('queue:subscribe', { eventId: 'demo' });
      expect(state).toMatchObject({ eventId: 'demo', state: 'none' });
    } finally {
      socket.disconnect();
    }
    expect(app.process.running).toBe(true);
    const health = await fetch(`${app.url}/health`);
    expect(health.status).toBe(200);
  });

  it('a message over the size limit closes that connection only; the instance stays up', async () => {
    const socket = connect(app.url, { token });
    try {
      await connected(socket);
      const closed = new Promise<string>((resolve) => socket.once('disconnect', resolve));
      socket.emit('queue:subscribe', { eventId: 'e'.repeat(10_000) });
      expect(await closed).toBe('transport close');
    } finally {
      socket.disconnect();
    }
    expect(app.process.running).toBe(true);
    expect((await fetch(`${app.url}/health`)).status).toBe(200);
  });
});
