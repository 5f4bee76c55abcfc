/**
 * What an exported script does, derived from the scenario and nothing else: the journey of its
 * `behaviour` and the latency and error expectations the engine turns into its own pass/fail.
 * Plain JSON: it is embedded as is in the k6 script and the Artillery processor, which read it
 * with these types (no second source of truth for a number).
 */
import type { Endpoint } from '../metrics/latency.ts';

/**
 * Users sign up with the app's own API (see docs/load-engines.md for why): as they arrive, or all
 * of them ahead of the drop (`signInLeadMs`).
 */
export const SIGN_UP_ENDPOINT = 'POST /api/auth/register';
/**
 * Then sign in: registration answers the same for a new and a taken email and returns no token
 * (it must not reveal which accounts exist), so the token comes from a login.
 */
export const SIGN_IN_ENDPOINT = 'POST /api/auth/login' satisfies Endpoint;

/** The endpoints the exported journey calls, as tiketi-sim names them (its latency metrics). */
export const JOURNEY_ENDPOINTS = [
  'POST /api/events/:eventId/queue',
  'GET /api/events/:eventId/queue/me',
  'GET /api/events/:eventId/seats',
  'POST /api/events/:eventId/seats/:seatId/hold',
  'POST /api/reservations',
  'POST /api/reservations/:id/payments',
] as const satisfies readonly Endpoint[];
export type JourneyEndpoint = (typeof JOURNEY_ENDPOINTS)[number];

export interface JourneyPlan {
  eventId: string;
  /** Hold a Socket.IO connection (false: poll `GET queue/me`). */
  socket: boolean;
  /** Poll period without a socket, wall ms. */
  pollEveryMs: number;
  buyShare: number;
  seatsPerOrder: number;
  thinkMinMs: number;
  thinkMaxMs: number;
  /** Wall ms from the scenario's start to its end: no user waits for admission beyond it. */
  runMs: number;
  /** Wall ms from the scenario's start to its first arrival (where the engine's clock starts). */
  firstArrivalMs: number;
  /** Stay connected after buying until the scenario ends, or leave. */
  stayConnectedAfterPurchase: boolean;
  /**
   * Wall ms before the scenario's start over which every user signs up and in, evenly spread;
   * each then waits for its own place on the arrival curve to join the queue. 0: each signs up
   * and in as it arrives (two password hashes at its arrival).
   */
  signInLeadMs: number;
  /** The arrival curve, cumulative: where a user signed in ahead joins. */
  arrivals: ArrivalPoint[];
}

/** Past its place on the curve by more than this, a user signed in ahead counts as joining late. */
export const JOINED_LATE_AFTER_MS = 1_000;

/** A point of the cumulative arrival curve: by `atMs` (wall, from the scenario's start), `share` of the users have arrived. */
export interface ArrivalPoint {
  atMs: number;
  share: number;
}

/**
 * When the user at `share` (0–1) of all arrivals arrives, in wall ms from the scenario's start:
 * linear between points, as the engines' phases and stages are. A user signed in ahead takes
 * its share from its place in the sign-in stretch, so the joins follow the scenario's curve.
 */
export function arrivalAtShare(points: readonly ArrivalPoint[], share: number): number {
  const q = Math.min(Math.max(share, 0), 1);
  const next = points.findIndex((p) => p.share >= q);
  // (No Array.prototype.at: the k6 script is type-checked against ES2019.)
  if (next === -1) return points[points.length - 1]?.atMs ?? 0;
  if (next === 0) return points[0]!.atMs;
  const a = points[next - 1]!;
  const b = points[next]!;
  return a.atMs + ((q - a.share) / (b.share - a.share)) * (b.atMs - a.atMs);
}

/**
 * What `all` covers: the calls tiketi-sim's own users make. Its users are created ahead and know the
 * seat ids, so the sign-up and the seat-map read are measured under their own names only.
 */
export const OUTSIDE_ALL = [SIGN_UP_ENDPOINT, SIGN_IN_ENDPOINT, 'GET /api/events/:eventId/seats'] as const;

export interface LatencyThreshold {
  /** `all`: the journey requests tiketi-sim's own users make (OUTSIDE_ALL excluded). */
  endpoint: JourneyEndpoint | 'all';
  percentile: 50 | 90 | 95 | 99;
  belowMs: number;
}

export interface ThresholdPlan {
  latency: LatencyThreshold[];
  socketDelivery: { percentile: 50 | 90 | 95 | 99; belowMs: number }[];
  /** Share of the script's requests (sign-up included) that failed: 5xx or no response, as tiketi-sim counts errors. */
  errorRateBelow?: number;
}

export interface ExportPlan {
  scenario: string;
  users: number;
  journey: JourneyPlan;
  thresholds: ThresholdPlan;
}

/** The k6 metric and tag names and the Artillery metric names of the exported scripts, declared once. */
export const ENGINE_METRICS = {
  /** k6 tag on every request: the tiketi-sim endpoint name. */
  endpointTag: 'endpoint',
  /** k6 tag: `journey` on what `all` covers, `outside-all` on the rest (OUTSIDE_ALL). */
  stepTag: 'step',
  k6SocketDelivery: 'socket_delivery',
  k6SocketConnect: 'socket_connect',
  k6Admitted: 'users_admitted',
  k6PaymentsConfirmed: 'payments_confirmed',
  artilleryJourneyLatency: 'tiketi.journey.response_time',
  artilleryEndpointLatencyPrefix: 'tiketi.endpoint.response_time.',
  artilleryRequests: 'tiketi.journey.requests',
  artilleryErrors: 'tiketi.journey.errors',
  artillerySocketDelivery: 'tiketi.socket.delivery',
  artilleryAdmitted: 'tiketi.users.admitted',
  artilleryPaymentsConfirmed: 'tiketi.payments.confirmed',
  /** Users signed in ahead whose sign-in ended after their place on the curve (they joined late). */
  artilleryJoinedLate: 'tiketi.users.joined_late',
  k6JoinedLate: 'users_joined_late',
} as const;
