/**
 * An attacker among the virtual users (issue #17): a signed-in account that tries, in turn, what a
 * bot or a scalper does during a drop — malformed Socket.IO frames, a flood of subscriptions, a
 * password-guessing run, holding more seats than allowed (and holding its own again to keep them),
 * and opening many reservations. It takes a queue place like everyone, and never buys. What the app
 * answers is counted like any user's (4xx as rejected or conflicts, 5xx as errors); what it must
 * not do — exit, sell a seat twice, let one user keep more than the limit — the expectations check.
 */
import type { HostileBehaviour } from '../scenario/schema.ts';
import { CookieJar } from './cookie-jar.ts';
import type { Caller } from './http-client.ts';
import { io, type LightSocket } from './light-socket.ts';
import type { VirtualUserCredentials } from './protocol.ts';
import type { JourneyContext } from './user-journey.ts';

/** Frames a client should never send; each must get an error reply, none may hurt the instance. */
const MALFORMED_ARGS: unknown[][] = [
  [{ eventId: 'x' }, 'not-a-function'],
  [],
  [null],
  [{ eventId: 7 }],
  [{ eventId: 'x}:y{' }],
  [{ eventId: 'x', admin: true }],
];

export async function runHostile(
  user: VirtualUserCredentials,
  ctx: JourneyContext,
  hostile: HostileBehaviour,
): Promise<void> {
  const caller: Caller = { token: user.token, jar: new CookieJar() };
  const join = await ctx.http.call(
    'POST /api/events/:eventId/queue',
    'POST',
    `/api/events/${ctx.eventId}/queue`,
    caller,
  );
  if (join && join.status < 400) ctx.events.joined();
  ctx.events.settled();
  const held: string[] = [];
  const socket = io(ctx.baseUrl, {
    auth: { token: user.token, eventId: ctx.eventId },
    transports: ['websocket'],
    reconnection: false,
  });
  try {
    for (const attack of hostile.attacks) {
      if (ctx.stop.stopped) return;
      await ATTACKS[attack]({ ctx, caller, socket, held, attempts: hostile.attemptsPerAttack });
    }
  } finally {
    socket.close();
  }
}

interface Attack {
  ctx: JourneyContext;
  caller: Caller;
  socket: LightSocket;
  /** Seats this attacker was granted a hold on. */
  held: string[];
  attempts: number;
}

const ATTACKS: Record<HostileBehaviour['attacks'][number], (a: Attack) => Promise<void>> = {
  'malformed-frames': async ({ socket, attempts }) => {
    for (let i = 0; i < attempts; i++)
      socket.emit('queue:subscribe', ...MALFORMED_ARGS[i % MALFORMED_ARGS.length]!);
    await pause(200);
  },
  'flood-subscriptions': async ({ socket, ctx, attempts }) => {
    for (let i = 0; i < attempts; i++)
      socket.emit('queue:subscribe', { eventId: i % 2 === 0 ? ctx.eventId : `no-such-event-${i}` });
    await pause(200);
  },
  'hammer-login': async ({ ctx, attempts }) => {
    // Someone else's account, guessed at: refused, then rate limited before any KDF work.
    const guesser: Caller = { jar: new CookieJar() };
    for (let i = 0; i < attempts && !ctx.stop.stopped; i++)
      await ctx.http.call('POST /api/auth/login', 'POST', '/api/auth/login', guesser, {
        email: 'victim@rehearsal.tiketi.gg',
        password: `guess-${i}`,
      });
  },
  're-hold': async ({ ctx, caller, held, attempts }) => {
    if (!(await admitted(ctx, caller))) return;
    const seats = ctx.seatIds.filter((s) => !ctx.events.isTaken(s));
    for (let i = 0; i < attempts && !ctx.stop.stopped; i++) {
      // Distinct seats past the hold limit, then the first ones again (a re-hold must not renew).
      const seatId = seats[i % Math.max(1, Math.ceil(attempts / 2))];
      if (!seatId) return;
      const res = await ctx.http.call(
        'POST /api/events/:eventId/seats/:seatId/hold',
        'POST',
        `/api/events/${ctx.eventId}/seats/${encodeURIComponent(seatId)}/hold`,
        caller,
      );
      if (res?.status === 201 && !held.includes(seatId)) held.push(seatId);
    }
  },
  'many-reservations': async ({ ctx, caller, held, attempts }) => {
    for (let i = 0; i < attempts && !ctx.stop.stopped && held.length > 0; i++) {
      await ctx.http.call('POST /api/reservations', 'POST', '/api/reservations', caller, {
        eventId: ctx.eventId,
        seatIds: [held[i % held.length]],
      });
    }
  },
};

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits (polling, as a bot would) until admitted; false if the run ends first. */
async function admitted(ctx: JourneyContext, caller: Caller): Promise<boolean> {
  while (!ctx.stop.stopped) {
    const me = await ctx.http.call<{ state?: string }>(
      'GET /api/events/:eventId/queue/me',
      'GET',
      `/api/events/${ctx.eventId}/queue/me`,
      caller,
    );
    if (me?.body?.state === 'admitted') return true;
    if (me?.body?.state === 'none') return false;
    await pause(Math.max(100, 5_000 / ctx.timeScale()));
  }
  return false;
}
