/**
 * One virtual user, as a browser would act: join the queue over HTTP (getting its AWSALB cookie),
 * hold a Socket.IO connection with that cookie, wait for admission, and — for the share that buys —
 * hold seats, reserve and pay, with think times on the simulated clock. Reconnects are watched:
 * after a drop the user must be back, with its place, admission and holds.
 */

import type { SessionState } from '../../app/realtime/realtime.ts';
import { CLIENT_TURN_HEADER, PATH_STALL_HEADER, pathStallOf, RELAY_DELAY_HEADER } from '../alb/protocol.ts';
import type { Clock } from '../clock/clock.ts';
import type { LatencyRecorder } from '../metrics/latency.ts';
import type { Behaviour } from '../scenario/schema.ts';
import { CookieJar } from './cookie-jar.ts';
import { runHostile } from './hostile-journey.ts';
import type { Caller, VirtualUserHttp } from './http-client.ts';
import { io, type LightSocket as Socket } from './light-socket.ts';
import type { ReconnectObservation, VirtualUserCredentials } from './protocol.ts';
import { seededRandom } from './random.ts';
import type { Stopper } from './stopper.ts';
import { decideUser } from './user-plan.ts';

export interface JourneyContext {
  baseUrl: string;
  eventId: string;
  seatIds: string[];
  behaviour: Behaviour;
  http: VirtualUserHttp;
  latency: LatencyRecorder;
  /** The run's simulated clock, followed as its speed changes (think times, retries). */
  clock: Pick<Clock, 'setTimeout'>;
  /** Simulated seconds per wall second, now. */
  timeScale: () => number;
  random: () => number;
  /** Tells the worker what happened, for its counters. */
  events: JourneyEvents;
  /** Stopped when the run stops. */
  stop: Stopper;
}

/**
 * How a user who waited in the queue with a socket learned of its admission: the socket notice
 * (`delivered`), the app's rescue (a `queue:admitted` flagged `rescued`), its own poll of
 * `GET …/queue/me` with no notice within NOTICE_GRACE_MS (`rescuedByPoll`), or not at all: still
 * waiting when the run stopped although the app had admitted it (`lost`).
 */
export type NoticeOutcome = 'delivered' | 'rescuedByApp' | 'rescuedByPoll' | 'lost';

/**
 * Wall ms a socket notice may come after a poll found the admission and still count as
 * delivered: the poll only happened to ask first.
 */
export const NOTICE_GRACE_MS = 2_000;

export interface JourneyEvents {
  joined(): void;
  /** Once per user: the join is answered (or failed) and, with a socket, it connected or was refused. */
  settled(): void;
  admitted(): void;
  /** Once per user who waited with a socket (see NoticeOutcome). */
  admissionNotice(outcome: NoticeOutcome): void;
  seatHeld(): void;
  reserved(): void;
  paymentConfirmed(reservationId: string): void;
  socketConnected(): void;
  socketDisconnected(): void;
  /** The user's socket dropped and it must come back; `reconnect` ends the stretch. */
  wentAway(): void;
  /** Once per stretch away: back (with what it found), or still away when the run stopped. */
  reconnect(observation: ReconnectObservation): void;
  /** Seats this worker learned are taken (409 or broadcasts), to pick better next time. */
  seatsTaken(seatIds: string[]): void;
  isTaken(seatId: string): boolean;
  /** The first seat of `seatIds` not known to be taken, if any. */
  firstUntaken(seatIds: readonly string[]): string | undefined;
}

/**
 * Sleeps `simSeconds` on the run's clock, or less if the run stops. On the clock, not in wall time
 * at the speed of the moment: a think time that spans a speed change (the pacer decides every
 * second) would otherwise end at another simulated moment in each run, and with it the request.
 */
function sleepSimulated(ctx: Pick<JourneyContext, 'clock' | 'stop'>, simSeconds: number): Promise<void> {
  return new Promise((resolve) => {
    if (ctx.stop.stopped) return resolve();
    const off = ctx.stop.onStop(() => {
      timer.cancel();
      resolve();
    });
    const timer = ctx.clock.setTimeout(() => {
      off();
      resolve();
    }, simSeconds * 1_000);
  });
}

/** Sleeps `wallMs`, or less if the run stops. */
function sleepWall(ctx: JourneyContext, wallMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (ctx.stop.stopped) return resolve();
    const off = ctx.stop.onStop(() => {
      clearTimeout(timer);
      resolve();
    });
    const timer = setTimeout(() => {
      off();
      resolve();
    }, wallMs);
  });
}

/** A think time: the user is not trying meanwhile (`VirtualUserHttp.rest`). */
function think(ctx: JourneyContext, caller: Caller): Promise<void> {
  ctx.http.rest(caller);
  const { minSeconds, maxSeconds } = ctx.behaviour.thinkTime;
  return sleepSimulated(ctx, minSeconds + ctx.random() * (maxSeconds - minSeconds));
}

/**
 * Waits until a user's join is due (the runner sends users a little ahead of their time); a user
 * already due starts in the same turn, without yielding.
 */
function untilDue(ctx: JourneyContext, dueAtWallMs: number | undefined): Promise<void> | undefined {
  const waitMs = dueAtWallMs === undefined ? 0 : dueAtWallMs - Date.now();
  return waitMs > 0 ? sleepWall(ctx, waitMs) : undefined;
}

/**
 * How long after its time a user reached this process (the runner handing it over late, or this
 * process reading it late): its join is held up that much before it can leave.
 */
function arrivedLateMs(dueAtWallMs: number | undefined): number {
  return dueAtWallMs === undefined ? 0 : Math.max(0, Date.now() - dueAtWallMs);
}

export async function runJourney(user: VirtualUserCredentials, ctx: JourneyContext): Promise<void> {
  const { hostile } = ctx.behaviour;
  const decisions = decideUser(ctx.random, ctx.behaviour);
  if (hostile && decisions.hostile) return runHostile(user, ctx, hostile);
  // Streams of their own for draws whose count depends on others (a seat taken: draw again) or
  // on the fault (reconnect attempts): the user's think times then stay the same in every run.
  const streams: UserStreams = {
    seats: seededRandom(Math.floor(ctx.random() * 2 ** 32)),
    backoff: seededRandom(Math.floor(ctx.random() * 2 ** 32)),
  };
  // Its place in the arrival order is its turn at the ALB: the same users stick to the same
  // instances in every run of a seed (CLIENT_TURN_HEADER).
  const caller: Caller = {
    token: user.token,
    jar: new CookieJar(),
    ...(user.arrival === undefined ? {} : { turn: user.arrival }),
  };
  try {
    await journey(user, ctx, caller, decisions.buys, streams);
  } finally {
    // A user whose last request failed and who leaves is not trying any more: not recovering
    // (a reservation refused during the outage otherwise held the clock at 10× to the end).
    ctx.http.rest(caller);
  }
}

/** A shopper's journey, from its join to its purchase (or leaving). */
async function journey(
  user: VirtualUserCredentials,
  ctx: JourneyContext,
  caller: Caller,
  buys: boolean,
  streams: UserStreams,
): Promise<void> {
  const path = `/api/events/${ctx.eventId}`;
  const heldUpMs = arrivedLateMs(user.dueAtWallMs);
  const due = untilDue(ctx, user.dueAtWallMs);
  if (due) await due;
  if (ctx.stop.stopped) return ctx.events.settled();
  const join = await ctx.http.call<{ position?: number; state?: string }>(
    'POST /api/events/:eventId/queue',
    'POST',
    `${path}/queue`,
    caller,
    undefined,
    { intendedAtWallMs: user.dueAtWallMs, heldUpMs },
  );
  if (!join || join.status >= 400) {
    ctx.events.settled();
    return;
  }
  ctx.events.joined();
  let settled = false;
  const settle = () => {
    if (settled) return;
    settled = true;
    ctx.events.settled();
  };
  if (!ctx.behaviour.socket) settle();

  // What the user knows of itself, to check a reconnect restored it.
  const known: KnownState = { held: new Map(), heldAt: new Map() };
  let socket: Socket | undefined;
  let resolveAdmitted!: () => void;
  const admitted = new Promise<void>((resolve) => {
    resolveAdmitted = resolve;
  });
  const waited = join.body.state !== 'admitted';
  if (!waited) resolveAdmitted();
  else known.position = join.body.position;
  // Only a user who waits with a socket expects the notice.
  const notice = waited && ctx.behaviour.socket ? new NoticeWatch(ctx.events) : undefined;

  if (ctx.behaviour.socket) {
    const headersNow = () => {
      const cookie = caller.jar.header();
      return {
        ...(cookie ? { cookie } : {}),
        ...(caller.turn === undefined ? {} : { [CLIENT_TURN_HEADER]: String(caller.turn) }),
      };
    };
    socket = io(ctx.baseUrl, {
      auth: { token: user.token, eventId: ctx.eventId },
      transports: ['websocket'],
      extraHeaders: headersNow(),
      forceNew: true,
      reconnection: true,
      // A browser's backoff (socket.io's 1–5 s) on the simulated clock, with its own seeded
      // draws: the same delays in every run of a seed, whatever speeds they span. In wall time at
      // the speed it was drawn, a delay drawn at 10× just before the clock went back to 60× lasted
      // six times as long in simulated time (reconnects 45–85 s after a kill instead of 45–52 s).
      reconnectionDelay: RECONNECT_DELAY_SIM_MS,
      reconnectionDelayMax: RECONNECT_DELAY_MAX_SIM_MS,
      clock: ctx.clock,
      random: streams.backoff,
    });
    /** The instance the current connection is on, once its `session:state` said so. */
    let instanceId: string | undefined;
    /** Away since a drop, until a `session:state` shows the user back. */
    let away: ReconnectObservation | undefined;
    socket.io.on('reconnect_attempt', () => {
      // The jar may have been re-stuck by the load balancer meanwhile.
      if (socket) socket.io.opts.extraHeaders = headersNow();
    });
    const connectStartedAt = performance.now();
    /**
     * How long the emulator held the last upgrade up: the control process's relay
     * (RELAY_DELAY_HEADER) or the instance's stall (PATH_STALL_HEADER), whichever was longer, ms.
     */
    let heldUpMs = 0;
    socket.on('upgrade', (headers) => {
      heldUpMs = Math.max(Number(headers[RELAY_DELAY_HEADER]) || 0, pathStallOf(headers[PATH_STALL_HEADER]));
    });
    socket.on('connect', () => {
      instanceId = undefined;
      if (!settled) ctx.latency.record('socket.connect', performance.now() - connectStartedAt, heldUpMs);
      settle();
      ctx.events.socketConnected();
    });
    socket.on('connect_error', () => settle());
    socket.on('disconnect', (reason) => {
      ctx.events.socketDisconnected();
      // Closing it ourselves is leaving, not a drop the user must come back from; a drop while
      // coming back is part of the first.
      if (ctx.stop.stopped || reason === 'io client disconnect' || away) return;
      away = { userId: user.userId, disconnectedAtWallMs: Date.now(), reason };
      if (instanceId !== undefined) away.instanceId = instanceId;
      ctx.events.wentAway();
    });
    socket.on('session:state', (state: SessionState) => {
      instanceId = state.instanceId;
      if (away) {
        const lost = stateLost(known, state);
        ctx.events.reconnect({
          ...away,
          reconnectedAtWallMs: Date.now(),
          stateKept: lost === undefined,
          ...(lost === undefined ? {} : { stateLost: lost }),
        });
        away = undefined;
      }
      // A (re)connect tells the place here, not in a queue:update.
      if (state.state === 'queued') known.position = state.position;
    });
    socket.on('queue:update', (u: { position: number; sentAt: number }) => {
      ctx.latency.record('socket.delivery', Math.max(0, Date.now() - u.sentAt));
      known.position = u.position;
    });
    socket.on('queue:admitted', (a: { admittedUntil: number; sentAt: number; rescued?: boolean }) => {
      ctx.latency.record('socket.delivery', Math.max(0, Date.now() - a.sentAt));
      known.admittedUntil = a.admittedUntil;
      known.position = undefined;
      notice?.told(a.rescued === true ? 'rescuedByApp' : 'delivered');
      resolveAdmitted();
    });
    socket.on('seats:changed', (s: { held: string[]; sold: string[]; sentAt: number }) => {
      ctx.latency.record('socket.delivery', Math.max(0, Date.now() - s.sentAt));
      ctx.events.seatsTaken([...s.held, ...s.sold]);
    });
    ctx.stop.onStop(() => {
      notice?.runStopped();
      // Still away when the run ends: reported as not back (the expectation decides if that is late).
      if (away) ctx.events.reconnect(away);
      socket?.close();
    });
  }
  // Without a socket, polling is how a user learns of admission; with one, only if asked for.
  if (!ctx.behaviour.socket || ctx.behaviour.pollQueueEverySeconds > 0)
    void pollUntilAdmitted(ctx, caller, path, admitted, () => {
      notice?.polled();
      resolveAdmitted();
    });

  let offStop: () => void = () => undefined;
  await Promise.race([
    admitted,
    new Promise<void>((r) => {
      offStop = ctx.stop.onStop(r);
    }),
  ]);
  offStop();
  if (ctx.stop.stopped) {
    // Waited to the end with a socket: was it admitted without being told?
    if (notice?.waiting) await lastLook(ctx, caller, path, notice);
    return;
  }
  ctx.events.admitted();

  if (buys) await buy(ctx, caller, known, streams.seats);
  if (!ctx.behaviour.stayConnectedAfterPurchase) socket?.close();
}

/** Which way one waiting user learned of its admission; reports it once. */
export class NoticeWatch {
  private outcome: NoticeOutcome | undefined;
  private graceTimer: NodeJS.Timeout | undefined;

  constructor(private readonly events: Pick<JourneyEvents, 'admissionNotice'>) {}

  /** Nothing has told the user yet. */
  get waiting(): boolean {
    return this.outcome === undefined && this.graceTimer === undefined;
  }

  /** A `queue:admitted` came (counts as delivered even shortly after a poll found it). */
  told(how: 'delivered' | 'rescuedByApp'): void {
    if (this.outcome !== undefined) return;
    clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    this.report(how);
  }

  /** The user's own poll found the admission: rescued by it unless the notice follows within the grace. */
  polled(): void {
    if (this.outcome !== undefined || this.graceTimer) return;
    this.graceTimer = setTimeout(() => {
      this.graceTimer = undefined;
      this.report('rescuedByPoll');
    }, NOTICE_GRACE_MS);
  }

  /** The run stops during a grace: the notice had not come. */
  runStopped(): void {
    if (!this.graceTimer) return;
    clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    this.report('rescuedByPoll');
  }

  lost(): void {
    if (this.outcome === undefined) this.report('lost');
  }

  private report(outcome: NoticeOutcome): void {
    this.outcome = outcome;
    this.events.admissionNotice(outcome);
  }
}

/** The run stopped while the user still waited: one look at its state says whether a notice was lost. */
async function lastLook(
  ctx: JourneyContext,
  caller: Caller,
  path: string,
  notice: NoticeWatch,
): Promise<void> {
  const me = await ctx.http.call<{ state: string }>(
    'GET /api/events/:eventId/queue/me',
    'GET',
    `${path}/queue/me`,
    caller,
  );
  if (me?.body?.state === 'admitted') notice.lost();
}

/** socket.io's reconnect backoff, simulated ms: no wall floor (a floor made every reconnect verdict follow the clock's speed). */
const RECONNECT_DELAY_SIM_MS = 1_000;
const RECONNECT_DELAY_MAX_SIM_MS = 5_000;

/** What the user knows of itself, to check a reconnect restored it. */
export interface KnownState {
  position?: number;
  admittedUntil?: number;
  /** Seats it holds, with when each hold ends (wall ms, as the app answered). */
  held: Map<string, number>;
  /** When the user learnt of each hold (wall ms): a state read before then cannot show it. */
  heldAt: Map<string, number>;
  /** A payment for the held seats is on its way, its outcome not yet known. */
  paying?: boolean;
}

/** What of the user's state the reconnect did not restore, in words; undefined when all of it was. */
export function stateLost(known: KnownState, state: SessionState): string | undefined {
  // Admission may have come meanwhile; a place may only have improved.
  if (known.admittedUntil !== undefined) {
    if (state.state === 'admitted' && state.admittedUntil !== known.admittedUntil)
      return `admission window changed (until ${known.admittedUntil}, now ${state.admittedUntil})`;
    if (state.state === 'queued') return `admitted, now queued at ${state.position}`;
  } else if (
    known.position !== undefined &&
    state.state === 'queued' &&
    (state.position ?? Number.POSITIVE_INFINITY) > known.position
  ) {
    return `queue place worse (was ${known.position}, now ${state.position})`;
  }
  if (state.state === 'none' && known.admittedUntil === undefined && known.position !== undefined)
    return `queued at ${known.position}, now not in the queue`;
  // A hold that ran out meanwhile is gone by design, not lost; one being paid for may be sold.
  if (known.paying) return undefined;
  const now = Date.now();
  // A hold answered after the server read the state (the HTTP answer and the socket's state
  // race) is not in it, and not lost either.
  const knownBefore = (seat: string) => (known.heldAt.get(seat) ?? 0) < state.sentAt;
  const lost = [...known.held].filter(
    ([seat, until]) =>
      until > now && knownBefore(seat) && !state.heldSeatIds.includes(seat) && state.state !== 'none',
  );
  if (lost.length > 0)
    return `${lost.length} hold(s) lost (${lost.map(([seat, until]) => `${seat}, ${Math.round((until - now) / 1_000)} s left`).join('; ')}; state ${state.state})`;
  return undefined;
}

async function pollUntilAdmitted(
  ctx: JourneyContext,
  caller: Caller,
  path: string,
  done: Promise<void>,
  admitted: () => void,
): Promise<void> {
  const every = ctx.behaviour.pollQueueEverySeconds || 10;
  let over = false;
  void done.then(() => {
    over = true;
  });
  while (!ctx.stop.stopped && !over) {
    const me = await ctx.http.call<{ state: string }>(
      'GET /api/events/:eventId/queue/me',
      'GET',
      `${path}/queue/me`,
      caller,
    );
    if (me?.body?.state === 'admitted') return admitted();
    await sleepSimulated(ctx, every);
  }
}

/** A user's draws apart from its think times (see runJourney). */
interface UserStreams {
  seats: () => number;
  backoff: () => number;
}

async function buy(
  ctx: JourneyContext,
  caller: Caller,
  known: KnownState,
  seatRandom: () => number,
): Promise<void> {
  const held = known.held;
  const path = `/api/events/${ctx.eventId}`;
  await think(ctx, caller);
  const wanted = ctx.behaviour.seatsPerOrder;
  // A few tries per seat: after a 409 the user picks another, as on a real seat map.
  for (let attempt = 0; attempt < wanted * 4 && held.size < wanted && !ctx.stop.stopped; attempt++) {
    const seatId = pickSeat(ctx, seatRandom);
    if (!seatId) break;
    const res = await ctx.http.call<{ heldUntil?: number }>(
      'POST /api/events/:eventId/seats/:seatId/hold',
      'POST',
      `${path}/seats/${encodeURIComponent(seatId)}/hold`,
      caller,
    );
    if (res?.status === 201) {
      held.set(seatId, res.body?.heldUntil ?? Number.POSITIVE_INFINITY);
      known.heldAt.set(seatId, Date.now());
      ctx.events.seatHeld();
    } else if (res?.status === 409) ctx.events.seatsTaken([seatId]);
    else if (res && res.status === 403) return; // the window ended
  }
  if (held.size === 0 || ctx.stop.stopped) return;
  await think(ctx, caller);
  const reservation = await ctx.http.call<{ reservationId: string }>(
    'POST /api/reservations',
    'POST',
    '/api/reservations',
    caller,
    {
      eventId: ctx.eventId,
      seatIds: [...held.keys()],
    },
  );
  if (reservation?.status !== 201) return;
  ctx.events.reserved();
  await think(ctx, caller);
  const id = reservation.body.reservationId;
  // From the moment the payment goes until its outcome is known, the seats may be sold under the
  // user at any time: a reconnect meanwhile cannot expect them held.
  known.paying = true;
  try {
    const payment = await ctx.http.call(
      'POST /api/reservations/:id/payments',
      'POST',
      `/api/reservations/${id}/payments`,
      caller,
      { method: 'card' },
    );
    const outcomeLost = payment === undefined || payment.status >= 500;
    if (payment?.status === 201 || (outcomeLost && (await paidAfterAll(ctx, caller, id)))) {
      ctx.events.paymentConfirmed(id);
      held.clear();
    }
  } finally {
    known.paying = false;
  }
}

/**
 * Whether a payment whose answer was lost (the instance died after the commit, a 5xx on the way
 * back) went through: a buyer's order page asks. Without asking, the user believed it still held
 * seats that were sold to it, and a reconnect counted them as lost state.
 */
export async function paidAfterAll(
  ctx: Pick<JourneyContext, 'http' | 'clock' | 'stop'>,
  caller: Caller,
  reservationId: string,
): Promise<boolean> {
  // The page may fail too (still stuck to the dead instance until the ALB sees it): reload a
  // few times, a refresh every few seconds, as a buyer would.
  for (let attempt = 0; attempt < ORDER_PAGE_ATTEMPTS && !ctx.stop.stopped; attempt++) {
    if (attempt > 0) await sleepSimulated(ctx, ORDER_PAGE_RETRY_SECONDS);
    const res = await ctx.http.call<{ status?: string }>(
      'GET /api/reservations/:id',
      'GET',
      `/api/reservations/${encodeURIComponent(reservationId)}`,
      caller,
    );
    if (res && res.status < 500) return res.status === 200 && res.body?.status === 'confirmed';
  }
  return false;
}
/** Covers the ALB's two failed health checks (up to a minute) with room to spare. */
const ORDER_PAGE_ATTEMPTS = 10;
const ORDER_PAGE_RETRY_SECONDS = 10;

function pickSeat(ctx: JourneyContext, random: () => number): string | undefined {
  for (let i = 0; i < 20; i++) {
    const seat = ctx.seatIds[Math.floor(random() * ctx.seatIds.length)];
    if (seat && !ctx.events.isTaken(seat)) return seat;
  }
  return ctx.events.firstUntaken(ctx.seatIds);
}
