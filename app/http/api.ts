/** The HTTP API (Express 5). Routes and payloads are a contract: the harness and outside checks use them. */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import type { Limits } from '../../infra/topology.ts';
import type { PasswordHasher } from '../auth/passwords.ts';
import { authenticate, bearerToken, closeSession, openSession, type Session } from '../auth/sessions.ts';
import type { TokenSigner } from '../auth/tokens.ts';
import { ApiError, conflict, forbidden, notFound, RetryLaterError } from '../core/errors.ts';
import type { RedisClient } from '../core/redis.ts';
import type { TimeScale } from '../core/time-scale.ts';
import type { Database } from '../db/pool.ts';
import type { WaitingQueue } from '../queue/queue.ts';
import type { Realtime } from '../realtime/realtime.ts';
import type { EventCatalog } from '../sales/events.ts';
import type { SeatHolds } from '../sales/holds.ts';
import { createReservation, getReservation, payReservation } from '../sales/reservations.ts';
import { SeatSnapshots } from '../sales/seat-snapshots.ts';
import { clientAddress } from '../security/client-address.ts';
import { emailKey, type RateLimits } from '../security/rate-limits.ts';
import { parse, schemas } from './validation.ts';

export interface ApiDependencies {
  instanceId: string;
  az: string;
  db: Database;
  redis: RedisClient;
  signer: TokenSigner;
  queue: WaitingQueue;
  holds: SeatHolds;
  catalog: EventCatalog;
  realtime: () => Realtime | undefined;
  timeScale: TimeScale;
  sessionTtlSeconds: number;
  seatHoldSeconds: number;
  maxBody: string;
  log: Logger;
  limits: Limits;
  rateLimits: RateLimits;
  hasher: PasswordHasher;
  /** What `/health/details` asks for in `X-Control-Token`; without one, no details are served. */
  controlToken: string | undefined;
  /** Health of dependencies and whether the instance is draining; `status` alone is public. */
  health: () => Promise<{ healthy: boolean; body: { status: string } & object }>;
  inFlight: { count: number };
  isDraining: () => boolean;
}

const UNIQUE_VIOLATION = '23505';

export function createApi(deps: ApiDependencies): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // req.ip is the client as the ALB saw it: the X-Forwarded-For entry our own proxies added.
  app.set('trust proxy', deps.limits.trustedProxyHops);
  app.use(helmet());

  app.use((_req, res, next) => {
    res.setHeader('X-Instance-Id', deps.instanceId);
    deps.inFlight.count++;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      deps.inFlight.count--;
    };
    res.on('finish', finish);
    res.on('close', finish);
    // While draining, keep-alive connections are closed after their current request.
    if (deps.isDraining()) res.setHeader('Connection', 'close');
    next();
  });

  // The load balancer needs the status code; the details (dependency errors, instance, AZ) are
  // for the control plane, which proves itself with a shared secret.
  app.get('/health', async (_req, res) => {
    const { healthy, body } = await deps.health();
    res.status(healthy ? 200 : 503).json({ status: body.status });
  });
  // Shallow: this process serves and is not draining, whatever its dependencies say. A load
  // balancer that checks it does not take the whole fleet out while a shared dependency fails
  // over (docs/failover.md, the cascade); `/health` stays the deep check the design specifies.
  app.get('/health/live', (_req, res) => {
    const draining = deps.isDraining();
    res.status(draining ? 503 : 200).json({ status: draining ? 'draining' : 'ok' });
  });
  app.get('/health/details', async (req, res) => {
    if (!isControlPlane(deps.controlToken, req.header('x-control-token')))
      throw notFound('no route for GET /health/details');
    const { healthy, body } = await deps.health();
    res.status(healthy ? 200 : 503).json(body);
  });

  app.use(
    express.json({ limit: deps.maxBody, strict: true, type: ['application/json', 'application/*+json'] }),
  );

  /** The caller's session; `alongside` (a rate limit's count) shares its round trip to Redis. */
  const auth = async (req: Request, alongside?: (userId: string) => Promise<void>): Promise<Session> =>
    authenticate(bearerToken(req.header('authorization')), deps.signer, deps.redis, alongside);
  const scaledMs = (seconds: number) => (seconds * 1_000) / deps.timeScale.current();

  const address = (req: Request) => clientAddress(req, deps.limits.trustedProxyHops);
  const noStore = (res: Response) => res.setHeader('Cache-Control', 'no-store');
  const hashOfNobody = lazyHash(deps.hasher);

  // The same answer, after the same work, whether the email is new or taken: registration does
  // not tell who has an account. Sign in next (POST /api/auth/login).
  app.post('/api/auth/register', async (req, res) => {
    const input = parse(schemas.register, req.body);
    await deps.rateLimits.consume('registerPerAddress', address(req));
    const passwordHash = await deps.hasher.hash(input.password);
    try {
      await deps.db.writer.query('INSERT INTO users (email, name, password_hash) VALUES ($1, $2, $3)', [
        input.email,
        input.name,
        passwordHash,
      ]);
    } catch (err) {
      if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
    }
    noStore(res);
    res.status(202).json({
      accepted: true,
      message: 'if this email had no account, it has one now: sign in with POST /api/auth/login',
    });
  });

  app.post('/api/auth/login', async (req, res) => {
    const input = parse(schemas.login, req.body);
    await deps.rateLimits.consume('loginPerAddress', address(req));
    await deps.rateLimits.consume('loginPerEmail', emailKey(input.email));
    const { rows } = await deps.db.writer.query<{ id: string; name: string; password_hash: string }>(
      'SELECT id, name, password_hash FROM users WHERE email = $1',
      [input.email],
    );
    const user = rows[0];
    // An unknown email costs the same KDF work as a known one: timing does not tell them apart.
    const matches = await deps.hasher.verify(input.password, user?.password_hash ?? (await hashOfNobody()));
    if (!user || !matches) throw new ApiError(401, 'invalid_credentials', 'email or password is wrong');
    if (deps.hasher.needsRehash(user.password_hash)) {
      const rehashed = await deps.hasher.hash(input.password);
      await deps.db.writer.query('UPDATE users SET password_hash = $2 WHERE id = $1', [user.id, rehashed]);
    }
    const { token } = await openSession(
      deps.redis,
      deps.signer,
      { userId: user.id, email: input.email, name: user.name },
      deps.sessionTtlSeconds,
    );
    noStore(res);
    res.json({ userId: user.id, token });
  });

  app.post('/api/auth/logout', async (req, res) => {
    const session = await auth(req);
    await closeSession(deps.redis, session);
    deps.realtime()?.revokeSession(session.sessionId);
    noStore(res);
    res.json({ loggedOut: true });
  });

  app.get('/api/events', async (_req, res) => {
    res.json({ events: await deps.catalog.list() });
  });

  app.get('/api/events/:eventId', async (req, res) => {
    const { eventId } = parse(schemas.eventParams, req.params, 'path');
    const event = await deps.catalog.get(eventId);
    if (!event) throw notFound(`event ${eventId}`);
    res.json(event);
  });

  const snapshots = new SeatSnapshots(deps.catalog, deps.holds, deps.limits.seatSnapshotTtlMs);
  app.get('/api/events/:eventId/seats', async (req, res) => {
    const { eventId } = parse(schemas.eventParams, req.params, 'path');
    const body = await snapshots.get(eventId);
    if (!body) throw notFound(`event ${eventId}`);
    res.type('application/json').send(body);
  });

  const requireEvent = async (eventId: string) => {
    if (!(await deps.catalog.exists(eventId))) throw notFound(`event ${eventId}`);
  };
  const requireAdmitted = async (eventId: string, userId: string, what: string) => {
    if (!(await deps.queue.isAdmitted(eventId, userId)))
      throw forbidden(`only admitted users can ${what}: join the queue and wait for your turn`);
  };

  app.post('/api/events/:eventId/queue', async (req, res) => {
    const session = await auth(req, (userId) => deps.rateLimits.consume('queueJoinPerUser', userId));
    const { eventId } = parse(schemas.eventParams, req.params, 'path');
    await requireEvent(eventId);
    const status = await deps.queue.join(eventId, session.userId);
    if (status.state === 'purchased')
      throw conflict(
        'already_purchased',
        'you bought tickets in this drop; one queue place per user per drop',
      );
    if (status.state === 'admitted') {
      res
        .status(200)
        .json({ state: 'admitted', queueSize: status.queueSize, admittedUntil: status.admittedUntil });
      return;
    }
    res
      .status(201)
      .json({ position: (status as { position: number }).position, queueSize: status.queueSize });
  });

  app.get('/api/events/:eventId/queue/me', async (req, res) => {
    const session = await auth(req);
    const { eventId } = parse(schemas.eventParams, req.params, 'path');
    await requireEvent(eventId);
    res.json(await deps.queue.status(eventId, session.userId));
  });

  app.delete('/api/events/:eventId/queue', async (req, res) => {
    const session = await auth(req);
    const { eventId } = parse(schemas.eventParams, req.params, 'path');
    await requireEvent(eventId);
    if (!(await deps.queue.leave(eventId, session.userId)))
      throw notFound(`you are not in the queue of event ${eventId}`);
    res.json({ left: true });
  });

  app.post('/api/events/:eventId/seats/:seatId/hold', async (req, res) => {
    const session = await auth(req, (userId) => deps.rateLimits.consume('holdPerUser', userId));
    const { eventId, seatId } = parse(schemas.seatParams, req.params, 'path');
    const seats = await deps.catalog.seatMap(eventId);
    if (!seats) throw notFound(`event ${eventId}`);
    if (!seats.some((s) => s.seatId === seatId)) throw notFound(`seat ${seatId} in event ${eventId}`);
    await requireAdmitted(eventId, session.userId, 'hold seats');
    const holdMs = scaledMs(deps.seatHoldSeconds);
    const hold = await deps.holds.hold(eventId, seatId, session.userId, holdMs);
    if (hold.result === 'sold') throw conflict('seat_sold', `seat ${seatId} is sold`);
    if (hold.result === 'limit')
      throw conflict(
        'hold_limit',
        `you hold ${deps.limits.holdsPerUserPerEvent} seats of this event already (the most one user may); reserve or release some first`,
      );
    if (hold.result === 'held') throw conflict('seat_held', `seat ${seatId} is held by someone else`);
    deps.realtime()?.broadcastSeats('held', eventId, [seatId]);
    res.status(201).json({ eventId, seatId, heldUntil: Date.now() + hold.remainingMs });
  });

  app.delete('/api/events/:eventId/seats/:seatId/hold', async (req, res) => {
    const session = await auth(req);
    const { eventId, seatId } = parse(schemas.seatParams, req.params, 'path');
    const result = await deps.holds.release(eventId, seatId, session.userId);
    if (result === 'not_held') throw notFound(`seat ${seatId} is not held`);
    if (result === 'not_yours')
      throw forbidden(`seat ${seatId} is held by someone else; you can release only your own holds`);
    deps.realtime()?.broadcastSeats('available', eventId, [seatId]);
    res.json({ eventId, seatId, released: true });
  });

  app.post('/api/reservations', async (req, res) => {
    const session = await auth(req, (userId) => deps.rateLimits.consume('reservePerUser', userId));
    const input = parse(schemas.reservation, req.body);
    await requireEvent(input.eventId);
    await requireAdmitted(input.eventId, session.userId, 'reserve seats');
    const holders = await deps.holds.holders(input.eventId, input.seatIds);
    const notHeld = input.seatIds.filter((_, i) => holders[i] !== session.userId);
    if (notHeld.length > 0) {
      throw new ApiError(
        409,
        'seat_not_held',
        `hold these seats first (or your hold expired): ${notHeld.join(', ')}`,
        'seatIds',
      );
    }
    const reservation = await createReservation(
      deps.db.writer,
      {
        userId: session.userId,
        eventId: input.eventId,
        seatIds: input.seatIds,
        expiresAt: new Date(Date.now() + scaledMs(deps.seatHoldSeconds)),
      },
      deps.limits,
    );
    res.status(201).json({
      reservationId: reservation.reservationId,
      status: reservation.status,
      expiresAt: reservation.expiresAt,
      amountKrw: reservation.amountKrw,
    });
  });

  app.get('/api/reservations/:id', async (req, res) => {
    const session = await auth(req);
    const { id } = parse(schemas.reservationParams, req.params, 'path');
    res.json(await getReservation(deps.db.writer, id, session.userId));
  });

  app.post('/api/reservations/:id/payments', async (req, res) => {
    const session = await auth(req, (userId) => deps.rateLimits.consume('payPerUser', userId));
    const { id } = parse(schemas.reservationParams, req.params, 'path');
    const input = parse(schemas.payment, req.body);
    const owned = await getReservation(deps.db.writer, id, session.userId);
    await requireAdmitted(owned.eventId, session.userId, 'pay');
    const { payment, reservation } = await payReservation(deps.db.writer, {
      reservationId: id,
      userId: session.userId,
      method: input.method,
    });
    // The sale is committed; what follows is bookkeeping that may be retried by the next holder.
    await deps.holds.markSold(reservation.eventId, session.userId, reservation.seatIds);
    await deps.queue.finishShopping(reservation.eventId, session.userId);
    deps.realtime()?.broadcastSeats('sold', reservation.eventId, reservation.seatIds);
    res.status(201).json({
      ...payment,
      reservation: {
        reservationId: reservation.reservationId,
        status: reservation.status,
        seatIds: reservation.seatIds,
      },
    });
  });

  app.use((req, _res, next) =>
    next(new ApiError(404, 'not_found', `no route for ${req.method} ${req.path}`)),
  );

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const body = (status: number, code: string, message: string, field?: string) =>
      res.status(status).json({ error: field ? { code, message, field } : { code, message } });
    if (err instanceof RetryLaterError) res.setHeader('Retry-After', String(err.retryAfterSeconds));
    if (err instanceof ApiError) return body(err.status, err.code, err.message, err.field);
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed')
      return body(400, 'invalid_json', 'the request body is not valid JSON');
    if (e.type === 'entity.too.large')
      return body(413, 'payload_too_large', `the request body is larger than ${deps.maxBody}`);
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500)
      return body(e.status, 'bad_request', e.message ?? 'bad request');
    deps.log.error({ err, method: req.method, path: req.path }, 'request failed');
    return body(503, 'unavailable', 'the service could not complete this request; retry shortly');
  });

  return app;
}

function isControlPlane(expected: string | undefined, given: string | undefined): boolean {
  if (!expected || !given) return false;
  const [a, b] = [Buffer.from(expected), Buffer.from(given)];
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A hash of a random password, made once on first use: what an unknown email is checked against. */
function lazyHash(hasher: PasswordHasher): () => Promise<string> {
  let hash: Promise<string> | undefined;
  return () => {
    hash ??= hasher.hash(randomBytes(18).toString('base64url'));
    return hash;
  };
}
