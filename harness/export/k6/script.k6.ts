/**
 * The k6 script `tiketi-sim export --format k6` writes, bundled with its plan and the shared
 * Socket.IO framing into one file. One iteration is one user of the scenario: sign up and in (with
 * a sign-in lead, then wait for its place on the arrival curve), join the queue, hold a Socket.IO
 * connection with its token and the ALB's cookie (k6's VU cookie jar), wait for `queue:admitted`,
 * and — for the buyers' share — hold seats, reserve and pay with the scenario's think times.
 * Type-checked against @types/k6 by the test suite.
 */
import { check } from 'k6';
import exec from 'k6/execution';
import http, { type RefinedResponse } from 'k6/http';
import { Counter, Trend } from 'k6/metrics';
import { clearTimeout, setTimeout } from 'k6/timers';
import { WebSocket } from 'k6/websockets';
import {
  connectPacket,
  DISCONNECT_PACKET,
  decodeEnginePacket,
  decodeSocketPacket,
  engineIoUrl,
  eventPacket,
} from '../../load/socketio-framing.ts';
import {
  arrivalAtShare,
  JOINED_LATE_AFTER_MS,
  type JourneyEndpoint,
  ENGINE_METRICS as M,
  OUTSIDE_ALL,
  SIGN_IN_ENDPOINT,
  SIGN_UP_ENDPOINT,
} from '../plan.ts';
import { k6Options, K6_PLAN as plan } from './k6-plan.ts';

export const options = k6Options;

const socketDelivery = new Trend(M.k6SocketDelivery, true);
const socketConnect = new Trend(M.k6SocketConnect, true);
const admittedCount = new Counter(M.k6Admitted);
const paymentsConfirmed = new Counter(M.k6PaymentsConfirmed);
const joinedLate = new Counter(M.k6JoinedLate);

/** 5xx and no response are failures (`http_req_failed`), as tiketi-sim counts errors; a 409 for a taken seat is not. */
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 499 }));

const target = (__ENV.TARGET ?? plan.target).replace(/\/$/, '');

/** Async requests and timers only: a blocking `sleep` would stall the socket's heartbeat. */
function call(
  endpoint: JourneyEndpoint | typeof SIGN_UP_ENDPOINT | typeof SIGN_IN_ENDPOINT,
  method: 'GET' | 'POST',
  path: string,
  token?: string,
  body?: object,
): Promise<RefinedResponse<'text'>> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  return http.asyncRequest(method, `${target}${path}`, body === undefined ? null : JSON.stringify(body), {
    headers,
    responseType: 'text',
    tags: {
      [M.endpointTag]: endpoint,
      [M.stepTag]: (OUTSIDE_ALL as readonly string[]).includes(endpoint) ? 'outside-all' : 'journey',
      name: endpoint,
    },
  });
}

function json<T>(res: RefinedResponse<'text'>): T | undefined {
  try {
    return JSON.parse(res.body ?? '') as T;
  } catch {
    return undefined; // an ALB error page is HTML
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

function think(): Promise<void> {
  const { thinkMinMs, thinkMaxMs } = plan.journey;
  return pause(thinkMinMs + Math.random() * (thinkMaxMs - thinkMinMs));
}

/** Wall ms epoch of the scenario's start: after the sign-in lead, or before the first arrival. */
function scenarioStartMs(): number {
  const { signInLeadMs, firstArrivalMs } = plan.journey;
  return exec.scenario.startTime + (signInLeadMs > 0 ? signInLeadMs : -firstArrivalMs);
}

/** Wall ms epoch when the scenario ends: no user waits beyond it. */
function deadlineMs(): number {
  return scenarioStartMs() + plan.journey.runMs;
}

/** A user signed in ahead waits for its place on the curve: the iteration's place among all users. */
async function awaitArrival(): Promise<void> {
  if (plan.journey.signInLeadMs === 0) return;
  const share = exec.scenario.iterationInTest / plan.users;
  const waitMs = scenarioStartMs() + arrivalAtShare(plan.journey.arrivals, share) - Date.now();
  if (waitMs < -JOINED_LATE_AFTER_MS) joinedLate.add(1);
  await pause(waitMs);
}

export default async function user(): Promise<void> {
  const email = `k6-${exec.scenario.iterationInTest}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}@load.tiketi.gg`;
  const signUp = await call(SIGN_UP_ENDPOINT, 'POST', '/api/auth/register', undefined, {
    email,
    name: 'k6 user',
    password: 'load-test-password',
  });
  if (!check(signUp, { 'signed up': (r) => r.status === 202 })) return;
  const signIn = await call(SIGN_IN_ENDPOINT, 'POST', '/api/auth/login', undefined, {
    email,
    password: 'load-test-password',
  });
  const token = json<{ token?: string }>(signIn)?.token;
  if (!check(signIn, { 'signed in': (r) => r.status === 200 && token !== undefined }) || !token) return;
  await awaitArrival();
  const eventPath = `/api/events/${plan.journey.eventId}`;
  const join = await call('POST /api/events/:eventId/queue', 'POST', `${eventPath}/queue`, token);
  if (!check(join, { 'joined the queue': (r) => r.status === 200 || r.status === 201 })) return;
  const admitted = plan.journey.socket
    ? await admittedOverSocket(token)
    : await pollUntilAdmitted(token, json<{ state?: string }>(join)?.state === 'admitted');
  if (!check(admitted, { 'admitted before the scenario ended': (a) => a.admitted })) {
    admitted.close();
    return;
  }
  admittedCount.add(1);
  if (Math.random() < plan.journey.buyShare) await buy(token);
  if (plan.journey.stayConnectedAfterPurchase) await pause(deadlineMs() - Date.now());
  admitted.close();
}

interface Admission {
  admitted: boolean;
  close(): void;
}

/** Socket.IO over k6's WebSocket, with the framing module the load generator uses. */
function admittedOverSocket(token: string): Promise<Admission> {
  return new Promise((resolve) => {
    const startedAt = Date.now();
    const ws = new WebSocket(engineIoUrl(target));
    let settled = false;
    const close = () => {
      if (ws.readyState === WebSocket.OPEN) ws.send(DISCONNECT_PACKET);
      ws.close();
    };
    const settle = (admitted: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ admitted, close });
      if (!admitted) close();
    };
    const timer = setTimeout(() => settle(false), Math.max(0, deadlineMs() - Date.now()));
    ws.onmessage = (event) => {
      const packet = decodeEnginePacket(String(event?.data ?? ''));
      if (packet.kind === 'open') ws.send(connectPacket({ token, eventId: plan.journey.eventId }));
      else if (packet.kind === 'ping') ws.send(packet.pong);
      else if (packet.kind === 'message') onSocketPacket(packet.text);
      else if (packet.kind === 'close') settle(false);
    };
    ws.onclose = () => settle(false);
    ws.onerror = () => settle(false);
    const onSocketPacket = (text: string) => {
      const packet = decodeSocketPacket(text);
      if (packet.kind === 'connect') {
        socketConnect.add(Date.now() - startedAt);
        // Asks for the user's state again: an admission sent before the listener existed is not missed.
        ws.send(eventPacket(['queue:subscribe', { eventId: plan.journey.eventId }], 0));
      } else if (packet.kind === 'connect-error' || packet.kind === 'disconnect') settle(false);
      else if (packet.kind === 'ack') {
        const state = (packet.args[0] as { state?: string } | undefined)?.state;
        if (state === 'admitted') settle(true);
      } else if (packet.kind === 'event') {
        const [name, payload] = packet.args as [string, { sentAt?: number } | undefined];
        if (typeof payload?.sentAt === 'number') socketDelivery.add(Math.max(0, Date.now() - payload.sentAt));
        if (name === 'queue:admitted') settle(true);
      }
    };
  });
}

async function pollUntilAdmitted(token: string, already: boolean): Promise<Admission> {
  const path = `/api/events/${plan.journey.eventId}/queue/me`;
  let admitted = already;
  while (!admitted && Date.now() < deadlineMs()) {
    await pause(plan.journey.pollEveryMs);
    const me = await call('GET /api/events/:eventId/queue/me', 'GET', path, token);
    admitted = json<{ state?: string }>(me)?.state === 'admitted';
  }
  return { admitted, close: () => undefined };
}

async function buy(token: string): Promise<void> {
  const eventPath = `/api/events/${plan.journey.eventId}`;
  await think();
  const map = json<{ seats?: { seatId: string; status: string }[] }>(
    await call('GET /api/events/:eventId/seats', 'GET', `${eventPath}/seats`, token),
  );
  const free = (map?.seats ?? []).filter((s) => s.status === 'available').map((s) => s.seatId);
  const held: string[] = [];
  // A few tries per seat: after a 409 the user picks another, as on a real seat map.
  for (
    let attempt = 0;
    attempt < plan.journey.seatsPerOrder * 4 && held.length < plan.journey.seatsPerOrder;
    attempt++
  ) {
    const seatId = free.splice(Math.floor(Math.random() * free.length), 1)[0];
    if (seatId === undefined) break;
    const hold = await call(
      'POST /api/events/:eventId/seats/:seatId/hold',
      'POST',
      `${eventPath}/seats/${encodeURIComponent(seatId)}/hold`,
      token,
    );
    if (hold.status === 201) held.push(seatId);
    else if (hold.status === 403) return; // the admission window ended
  }
  if (held.length === 0) return;
  await think();
  const reservation = await call('POST /api/reservations', 'POST', '/api/reservations', token, {
    eventId: plan.journey.eventId,
    seatIds: held,
  });
  const reservationId = json<{ reservationId?: string }>(reservation)?.reservationId;
  if (!check(reservation, { reserved: (r) => r.status === 201 }) || !reservationId) return;
  await think();
  const payment = await call(
    'POST /api/reservations/:id/payments',
    'POST',
    `/api/reservations/${reservationId}/payments`,
    token,
    { method: 'card' },
  );
  if (check(payment, { 'payment confirmed': (r) => r.status === 201 })) paymentsConfirmed.add(1);
}
