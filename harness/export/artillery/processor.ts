/**
 * The Artillery processor `tiketi-sim export --format artillery` writes beside the script (bundled
 * with its plan): what the YAML flow cannot say — unique sign-ups, the ALB cookie on the Socket.IO
 * upgrade, waiting for admission, picking seats — and tiketi-sim's own metrics per endpoint. This
 * is an entry file of Artillery's worker: the run's start is the one module-level value.
 */
import { randomUUID } from 'node:crypto';
import {
  arrivalAtShare,
  JOINED_LATE_AFTER_MS,
  JOURNEY_ENDPOINTS,
  ENGINE_METRICS as M,
  OUTSIDE_ALL,
  SIGN_UP_ENDPOINT,
} from '../plan.ts';
import { ARTILLERY_PLAN as plan } from './artillery-plan.ts';
import {
  type Done,
  decodeUnknown,
  type Events,
  type HookRequest,
  type HookResponse,
  type UserContext,
} from './artillery-types.ts';

/** When this worker started: the run's start, within a worker's start-up. */
const workerStartedAtMs = Date.now();
/** The scenario's start: after the sign-in lead, or at once (the phases begin with the scenario). */
const scenarioStartedAtMs = workerStartedAtMs + plan.journey.signInLeadMs;
const named = new Set<string>([...JOURNEY_ENDPOINTS, SIGN_UP_ENDPOINT]);
const outsideAll = new Set<string>(OUTSIDE_ALL);

function deadlineMs(): number {
  return scenarioStartedAtMs + plan.journey.runMs;
}

/**
 * When a user who starts signing in now joins the queue: its place in the (evenly spread) sign-in
 * stretch is its place on the arrival curve. Without a lead, now: it arrived.
 */
function arrivalAtMs(now: number): number {
  const { signInLeadMs, arrivals } = plan.journey;
  if (signInLeadMs === 0) return now;
  return scenarioStartedAtMs + arrivalAtShare(arrivals, (now - workerStartedAtMs) / signInLeadMs);
}

/** A buyer's pause before its next step; others go on at once. (A `think` step would round to seconds.) */
function thinkThen(thinking: boolean, done: Done): void {
  const { thinkMinMs, thinkMaxMs } = plan.journey;
  setTimeout(() => done(), thinking ? thinkMinMs + Math.random() * (thinkMaxMs - thinkMinMs) : 0);
}

/** A new user: unique credentials; counters that the `ensure` expressions read exist from the start. */
export function signUp(context: UserContext, events: Events, done: Done): void {
  context.vars.email = `artillery-${randomUUID()}@load.tiketi.gg`;
  context.vars.name = 'Artillery user';
  context.vars.password = 'load-test-password';
  context.vars.eventId = plan.journey.eventId;
  context.vars.heldSeats = [];
  context.vars.arrivalAtMs = arrivalAtMs(Date.now());
  events.emit('counter', M.artilleryErrors, 0);
  events.emit('counter', M.artilleryRequests, 0);
  done();
}

/** tiketi-sim's latency metrics, per endpoint and for the whole journey; 5xx counted as errors. */
export function recordResponse(
  req: HookRequest,
  res: HookResponse,
  _context: UserContext,
  events: Events,
  done: Done,
): void {
  const name = req.name;
  if (name && named.has(name)) {
    const ms = res.timings?.phases?.total ?? res.timings?.phases?.firstByte;
    if (typeof ms === 'number') {
      events.emit('histogram', `${M.artilleryEndpointLatencyPrefix}${name}`, ms);
      if (!outsideAll.has(name)) events.emit('histogram', M.artilleryJourneyLatency, ms);
    }
    events.emit('counter', M.artilleryRequests, 1);
    if (res.statusCode >= 500) events.emit('counter', M.artilleryErrors, 1);
  }
  done();
}

/** A user signed in ahead waits for its place on the arrival curve (late, if its sign-in was slow: it goes on at once). */
export function awaitArrival(context: UserContext, events: Events, done: Done): void {
  const waitMs = Number(context.vars.arrivalAtMs) - Date.now();
  if (plan.journey.signInLeadMs > 0 && waitMs < -JOINED_LATE_AFTER_MS)
    events.emit('counter', M.artilleryJoinedLate, 1);
  setTimeout(() => done(), Math.max(0, waitMs));
}

/** The AWSALB cookie the HTTP steps collected goes on the WebSocket upgrade, as a browser sends it. */
export function socketCookie(context: UserContext, _events: Events, done: Done): void {
  context.vars.albCookie = context._jar?.getCookieStringSync?.(String(context.vars.target ?? '')) ?? '';
  done();
}

/**
 * Waits for `queue:admitted` on the connection the engine opened, or the scenario's end. It asks
 * for the user's state again (`queue:subscribe`, acknowledged), so an admission sent before this
 * listener existed is not missed.
 */
export function waitForAdmission(context: UserContext, events: Events, done: Done): void {
  const socket = context.sockets?.[''];
  if (!socket) {
    done(new Error('no Socket.IO connection: the connect step did not run'));
    return;
  }
  let finished = false;
  const finish = (admitted: boolean) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.off('queue:admitted', onAdmitted);
    socket.off('queue:update', onUpdate);
    if (admitted) events.emit('counter', M.artilleryAdmitted, 1);
    done(admitted ? undefined : new Error('not admitted before the scenario ended'));
  };
  const delivered = (payload: unknown) => {
    const sentAt = decodeUnknown(payload).sentAt;
    if (typeof sentAt === 'number')
      events.emit('histogram', M.artillerySocketDelivery, Math.max(0, Date.now() - sentAt));
  };
  const onAdmitted = (payload: unknown) => {
    delivered(payload);
    finish(true);
  };
  const onUpdate = (payload: unknown) => delivered(payload);
  socket.on('queue:admitted', onAdmitted);
  socket.on('queue:update', onUpdate);
  const timer = setTimeout(() => finish(false), Math.max(0, deadlineMs() - Date.now()));
  socket.emit('queue:subscribe', { eventId: plan.journey.eventId }, (state: unknown) => {
    if (decodeUnknown(state).state === 'admitted') finish(true);
  });
}

/** Whether this admitted user buys; a buyer thinks before looking at the seat map. */
export function decideToBuy(context: UserContext, _events: Events, done: Done): void {
  context.vars.buyer = Math.random() < plan.journey.buyShare;
  thinkThen(context.vars.buyer === true, done);
}

/** A buyer holding seats thinks before its next step. */
export function buyerThinks(context: UserContext, _events: Events, done: Done): void {
  thinkThen(context.vars.buyer === true && (context.vars.heldSeats as string[]).length > 0, done);
}

export function isBuyer(vars: Record<string, unknown>): boolean {
  return vars.buyer === true;
}

/** The seat map answered: the seats still available are the ones to try. */
export function noteSeatMap(
  _req: HookRequest,
  res: HookResponse,
  context: UserContext,
  _events: Events,
  done: Done,
): void {
  const seats = decodeUnknown(parseBody(res.body)).seats;
  context.vars.freeSeats = Array.isArray(seats)
    ? seats.filter((s) => decodeUnknown(s).status === 'available').map((s) => String(decodeUnknown(s).seatId))
    : [];
  done();
}

/**
 * `ifTrue` of each hold attempt: another seat is wanted. It also picks that seat into `seatId`
 * (an `ifTrue` runs before the request's URL is templated): after a 409 the user tries another.
 */
export function wantsSeat(vars: Record<string, unknown>): boolean {
  const free = (vars.freeSeats as string[] | undefined) ?? [];
  const held = vars.heldSeats as string[];
  if (
    vars.buyer !== true ||
    vars.windowEnded === true ||
    held.length >= plan.journey.seatsPerOrder ||
    free.length === 0
  )
    return false;
  vars.seatId = free.splice(Math.floor(Math.random() * free.length), 1)[0];
  return true;
}

export function noteHold(
  _req: HookRequest,
  res: HookResponse,
  context: UserContext,
  events: Events,
  done: Done,
): void {
  if (res.statusCode === 201) (context.vars.heldSeats as string[]).push(String(context.vars.seatId));
  else if (res.statusCode === 403) context.vars.windowEnded = true;
  recordResponse(_req, res, context, events, done);
}

export function holdsSeats(vars: Record<string, unknown>): boolean {
  return (vars.heldSeats as string[]).length > 0;
}

export function reservationBody(req: HookRequest, context: UserContext, _events: Events, done: Done): void {
  req.json = { eventId: plan.journey.eventId, seatIds: context.vars.heldSeats };
  done();
}

export function hasReservation(vars: Record<string, unknown>): boolean {
  return typeof vars.reservationId === 'string';
}

export function notePayment(
  req: HookRequest,
  res: HookResponse,
  context: UserContext,
  events: Events,
  done: Done,
): void {
  if (res.statusCode === 201) events.emit('counter', M.artilleryPaymentsConfirmed, 1);
  recordResponse(req, res, context, events, done);
}

/** Leaves, or stays connected until the scenario ends (behaviour.stayConnectedAfterPurchase). */
export function leave(_context: UserContext, _events: Events, done: Done): void {
  const stayMs = plan.journey.stayConnectedAfterPurchase ? Math.max(0, deadlineMs() - Date.now()) : 0;
  setTimeout(() => done(), stayMs);
}

function parseBody(body: unknown): unknown {
  if (typeof body !== 'string') return body;
  try {
    return JSON.parse(body);
  } catch {
    return undefined; // an ALB error page is HTML
  }
}
