/**
 * Socket.IO with the Redis adapter: every broadcast from any instance reaches every client on
 * every instance. Each socket authenticates with its token, joins `user:<id>` and the rooms of the
 * events it follows (`event:<id>`), and gets its current state at once — on first connect and on
 * every reconnect, to whichever instance — so a reconnect loses neither place nor seats.
 *
 * Queue positions: each instance asks Redis for the ranks of its own queued users in one batched
 * call per event per update (not one round trip per user) and tells only those whose place moved.
 * Updates come every `queueUpdateSimulatedMs` of the app's time, at most every `queueUpdateMs` of
 * wall time: in production both are 1 s; on a slowed emulator clock the pushes slow down with it.
 *
 * Seat changes go to `event:<id>`, the room of the event's shoppers: a socket joins it once its
 * user is admitted. 25,000 queued users do not need every hold of a seat map they cannot touch
 * yet. Changes are coalesced for the whole fleet: each instance publishes its own changes to the
 * others once per batch, merges what it hears into one buffer, and sends its shoppers one
 * `seats:changed` (each seat's latest status) per batch — not one message per kind per instance
 * (with 6 instances that was 12 frames per shopper per flush, 89 % of all frames). A batch lasts
 * `seatBatchSimulatedMs` of the app's time and at least `SEAT_BATCH_MS` of wall time: 200 ms in
 * production; on a slowed emulator clock the messages slow down with it.
 */
import type { Server as HttpServer } from 'node:http';
import type { Logger } from 'pino';
import { Server, type Socket } from 'socket.io';
import type { Limits } from '../../infra/topology.ts';
import { authenticate, type Session } from '../auth/sessions.ts';
import type { TokenSigner } from '../auth/tokens.ts';
import { ApiError, RetryLaterError, unauthorized } from '../core/errors.ts';
import { keys } from '../core/keys.ts';
import type { RedisClient } from '../core/redis.ts';
import type { TimeScale } from '../core/time-scale.ts';
import { idPattern, schemas } from '../http/validation.ts';
import { type AdmissionBatch, readAdmissionLog } from '../queue/admission.ts';
import type { QueueStatus, WaitingQueue } from '../queue/queue.ts';
import type { SeatHolds } from '../sales/holds.ts';
import { clientAddress } from '../security/client-address.ts';
import type { RateLimits } from '../security/rate-limits.ts';
import { createRedisAdapter } from './redis-adapter.ts';
import { onMessage } from './socket-handlers.ts';

/** What a client learns on (re)connect and on `queue:subscribe`. */
export interface SessionState {
  /**
   * The instance that sent it (its `INSTANCE_ID`, as `X-Instance-Id` on HTTP): the one this
   * connection is on, so a client can say which instance dropped it.
   */
  instanceId: string;
  eventId: string;
  state: QueueStatus['state'];
  position?: number;
  queueSize: number;
  admittedUntil?: number;
  heldSeatIds: string[];
  sentAt: number;
}

interface SocketData {
  session: Session;
  /** Events this socket follows (at most `limits.subscriptionsPerSocket`). */
  following: Set<string>;
}

interface LocalUser {
  sockets: Set<Socket>;
  /** Last position told, per event, to skip unchanged updates. */
  lastPosition: Map<string, number>;
  /**
   * Events this user left the queue of without a notice here, by the update that first saw it:
   * a notice in flight arrives within that update; one still missing at the next was lost.
   */
  leftUnannounced: Map<string, number>;
  /** Admissions this user was told of here, per event (the window's end): each is told once. */
  toldUntil: Map<string, number>;
  /** Which update of every HEARTBEAT_UPDATES resends an unchanged position to this user. */
  heartbeatSlot: number;
}

export interface RealtimeOptions {
  httpServer: HttpServer;
  /** This instance's id, told to every client in `session:state`. */
  instanceId: string;
  /** Publisher and subscriber connections for the adapter (the subscriber is dedicated). */
  pubClient: RedisClient;
  subClient: RedisClient;
  redis: RedisClient;
  signer: TokenSigner;
  queue: WaitingQueue;
  holds: SeatHolds;
  log: Logger;
  /** Wall ms between update checks: the shortest gap between two position updates. */
  queueUpdateMs: number;
  /** App-time ms between position updates. */
  queueUpdateSimulatedMs: number;
  /** App-time ms over which seat changes are gathered into one message, at least SEAT_BATCH_MS of wall time. */
  seatBatchSimulatedMs: number;
  /** Wall ms between Engine.IO pings to each client. */
  pingIntervalMs: number;
  timeScale: TimeScale;
  limits: Limits;
  rateLimits: RateLimits;
  /** Whether an event exists: only those can be followed. */
  eventExists: (eventId: string) => Promise<boolean>;
  /** Origins a browser may open sockets from. */
  corsOrigins: string[];
}

/** `queue:admitted`: `rescued` is set when the notice was lost and the user is told from the queue. */
export interface AdmittedMessage {
  eventId: string;
  admittedUntil: number;
  sentAt: number;
  rescued?: true;
}

/** What became of admission notices on this instance since it started (`/health/details`). */
export interface NoticeCounts {
  /** Users told of their admission by the admitter's notice (its own, or heard over pub/sub). */
  delivered: number;
  /**
   * Users told from the admission log because the pub/sub notice had not reached this instance
   * by the next catch-up (lost with a dropped subscriber, or late behind its backlog).
   */
  recovered: number;
  /** Users told from the queue itself: no notice and no log entry reached them (the defence; expected 0). */
  rescued: number;
  /** Times the adapter's subscriber connection came back after it had been lost (a gap in pub/sub). */
  subscriberReconnects: number;
}

/** How a user learned of an admission here (which count it goes to). */
type NoticeSource = 'notice' | 'log' | 'rescue';
const COUNTED_AS: Record<NoticeSource, keyof NoticeCounts> = {
  notice: 'delivered',
  log: 'recovered',
  rescue: 'rescued',
};
/** Log entries read per call while catching up. */
const LOG_READ_COUNT = 500;
/**
 * How far before its first follower an instance starts reading an event's log: entry ids carry
 * Redis's clock, and a user told meanwhile is not told twice.
 */
const LOG_START_SLACK_MS = 5_000;

const ADMITTED_CHANNEL = 'tiketi:admitted';
const SEATS_CHANNEL = 'tiketi:seats';
/** The shortest wall time over which seat changes are gathered: production's batch. */
const SEAT_BATCH_MS = 200;
export type SeatStatus = 'available' | 'held' | 'sold';

/** One message per flush to the event's shoppers: every seat that changed, by its latest status. */
export interface SeatsChanged {
  eventId: string;
  available: string[];
  held: string[];
  sold: string[];
  sentAt: number;
}

/** Seat changes by event, each seat at its latest status; a sale is final. */
class SeatChanges {
  private readonly byEvent = new Map<string, Map<string, SeatStatus>>();

  add(eventId: string, status: SeatStatus, seatIds: Iterable<string>): void {
    const seats = this.byEvent.get(eventId) ?? new Map<string, SeatStatus>();
    this.byEvent.set(eventId, seats);
    for (const seatId of seatIds) if (seats.get(seatId) !== 'sold') seats.set(seatId, status);
  }

  get size(): number {
    return this.byEvent.size;
  }

  /** Empties the buffer into one message per event. */
  take(sentAt: number): SeatsChanged[] {
    const messages: SeatsChanged[] = [];
    for (const [eventId, seats] of this.byEvent) {
      const message: SeatsChanged = { eventId, available: [], held: [], sold: [], sentAt };
      for (const [seatId, status] of seats) message[status].push(seatId);
      messages.push(message);
    }
    this.byEvent.clear();
    return messages;
  }
}
const EXPIRED_CHANNEL = 'tiketi:expired';
const sessionRoom = (sessionId: string) => `session:${sessionId}`;
/** Resend an unchanged position every this many updates, so a missed update heals. */
const HEARTBEAT_UPDATES = 10;
/** Queued users whose ranks are asked for, and who are told, in one go. */
const POSITION_CHUNK = 250;
/**
 * Share of the time until the next update over which one update's chunks are spread. Sent at
 * once, 20,000 changed positions were a burst that held the instance, the load balancer and the
 * clients for a second every update (API P95 swung between 20 and 700 ms with the updates).
 * Spread over half, a full peak's drain still delivered up to 17,000–19,000 messages in a second;
 * over nine tenths, at most 9,000–12,000, and a half to a seventh as many took over 50 ms. The
 * tenth left lets the next update start on time when the clock speeds up a little meanwhile (one
 * still under way when the next is due delays it to the next tick).
 */
const POSITION_SPREAD = 0.9;

/**
 * When the next position update is due: every `appMs` of app time, checked every `tickMs` of wall
 * time at the speed of the moment. Due at the tick nearest the target, so timer jitter cannot
 * skip a whole tick; the first tick is always due.
 */
export class UpdateCadence {
  private sinceMs = Number.POSITIVE_INFINITY;
  private lastWallMs: number | undefined;

  constructor(
    private readonly tickMs: number,
    private readonly appMs: number,
  ) {}

  due(nowWallMs: number, timeScale: number): boolean {
    if (this.lastWallMs !== undefined) this.sinceMs += (nowWallMs - this.lastWallMs) * timeScale;
    this.lastWallMs = nowWallMs;
    if (this.sinceMs + (this.tickMs * timeScale) / 2 < this.appMs) return false;
    this.sinceMs = 0;
    return true;
  }
}

/** The user was told of an admission to the event whose window has not ended. */
function admittedNow(user: LocalUser, eventId: string): boolean {
  return (user.toldUntil.get(eventId) ?? 0) > Date.now();
}

export class Realtime {
  readonly io: Server;
  private readonly users = new Map<string, LocalUser>();
  /** Local followers per event. */
  private readonly followers = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | undefined;
  private updateCount = 0;
  private nextHeartbeatSlot = 0;
  /** Draining or closing: an update under way stops between chunks. */
  private stopped = false;
  private readonly cadence: UpdateCadence;
  /** Changes made here, for the other instances. */
  private readonly seatsToPublish = new SeatChanges();
  /** Changes made anywhere, for this instance's shoppers. */
  private readonly seatsToDeliver = new SeatChanges();
  private seatFlush: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private readonly noticeCounts: NoticeCounts = {
    delivered: 0,
    recovered: 0,
    rescued: 0,
    subscriberReconnects: 0,
  };
  /** Per event: the admission log is read up to this entry. */
  private readonly logCursor = new Map<string, string>();
  private catchingUp: Promise<void> | undefined;

  constructor(private readonly options: RealtimeOptions) {
    this.cadence = new UpdateCadence(options.queueUpdateMs, options.queueUpdateSimulatedMs);
    const { limits } = options;
    this.io = new Server(options.httpServer, {
      adapter: createRedisAdapter(options.pubClient, options.subClient),
      serveClient: true,
      pingInterval: options.pingIntervalMs,
      pingTimeout: 20_000,
      // engine.io's 1 MB and 45 s were sized for anything; the app's messages are a few bytes.
      maxHttpBufferSize: limits.socketMaxMessageBytes,
      connectTimeout: limits.socketConnectTimeoutMs,
      connectionStateRecovery: undefined,
      cors: { origin: options.corsOrigins, credentials: true },
      // CORS binds only polling; a WebSocket from a browser page of another site is refused here.
      // Clients that are not browsers send no Origin.
      allowRequest: (req, callback) => {
        const { origin } = req.headers;
        callback(null, origin === undefined || options.corsOrigins.includes(origin));
      },
    });
    this.io.use((socket, next) => {
      this.admit(socket).then(
        () => next(),
        (err: unknown) => {
          const known = err instanceof ApiError;
          if (!known) options.log.warn({ err: (err as Error).message }, 'socket handshake failed');
          const refused = new Error(known ? err.message : 'authentication is unavailable; retry') as Error & {
            data?: unknown;
          };
          refused.data = {
            code: known ? err.code : 'unavailable',
            ...(err instanceof RetryLaterError ? { retryAfterSeconds: err.retryAfterSeconds } : {}),
          };
          next(refused);
        },
      );
    });
    // Every `ready` after the first is a reconnect: what was published meanwhile never arrives
    // (Redis also closes a subscriber that falls behind, without an error): catch up at once.
    let subscriberReady = options.subClient.status === 'ready';
    options.subClient.on('ready', () => {
      if (subscriberReady) {
        this.noticeCounts.subscriberReconnects++;
        options.log.warn('adapter subscriber reconnected: catching up on admissions from the log');
        // After this turn: ioredis sends its resubscriptions first.
        setImmediate(() =>
          this.catchUpAll().catch((err: unknown) =>
            options.log.warn(
              { err: (err as Error).message },
              'admission log catch-up failed; next update retries',
            ),
          ),
        );
      }
      subscriberReady = true;
    });
    this.io.on('connection', (socket) => this.onConnection(socket));
    this.io.on(ADMITTED_CHANNEL, (batch: AdmissionBatch & { sentAt: number }) => {
      this.deliverAdmitted(batch);
    });
    this.io.on(EXPIRED_CHANNEL, (eventId: string, userIds: string[]) =>
      this.deliverExpired(eventId, userIds),
    );
    this.io.on(SEATS_CHANNEL, (changes: SeatsChanged[]) => {
      for (const { eventId, available, held, sold } of changes) {
        this.seatsToDeliver.add(eventId, 'available', available);
        this.seatsToDeliver.add(eventId, 'held', held);
        this.seatsToDeliver.add(eventId, 'sold', sold);
      }
      this.scheduleSeatFlush();
    });
  }

  start(): void {
    this.timer = setInterval(() => void this.tickPositions(), this.options.queueUpdateMs);
  }

  /**
   * A handshake: a valid token of a live session, within the user's connect rate and socket
   * count. Refused handshakes count against the address (a token-guessing flood has no account).
   */
  private async admit(socket: Socket): Promise<void> {
    const { signer, redis, rateLimits, limits } = this.options;
    const token = typeof socket.handshake.auth?.token === 'string' ? socket.handshake.auth.token : undefined;
    let session: Session;
    try {
      session = await authenticate(token, signer, redis, (userId) =>
        rateLimits.consume('socketConnectPerUser', userId),
      );
    } catch (err) {
      // Refused for its token or session (401), not for the user's connect rate (429).
      if (err instanceof ApiError && err.status === 401)
        await rateLimits.consume(
          'socketRefusedPerAddress',
          clientAddress(socket.request, limits.trustedProxyHops),
        );
      throw err;
    }
    const open = this.users.get(session.userId)?.sockets.size ?? 0;
    if (open >= limits.socketsPerUserPerInstance)
      throw new ApiError(
        429,
        'too_many_sockets',
        `this account has ${open} live connections here (at most ${limits.socketsPerUserPerInstance}); close one first`,
      );
    (socket.data as SocketData).session = session;
    (socket.data as SocketData).following = new Set();
  }

  /** A socket's session may have expired since its handshake: then the socket goes too. */
  private async requireLiveSession(socket: Socket): Promise<void> {
    const { userId, sessionId } = (socket.data as SocketData).session;
    if ((await this.options.redis.exists(keys.session(userId, sessionId))) === 1) return;
    setImmediate(() => socket.disconnect(true));
    throw unauthorized('session has ended (expired or logged out); log in again');
  }

  /** Logout: the session's sockets, on every instance, are disconnected (through the adapter). */
  revokeSession(sessionId: string): void {
    this.io.in(sessionRoom(sessionId)).disconnectSockets(true);
  }

  get connectionCount(): number {
    return this.io.engine.clientsCount;
  }

  /** Admission notices told, recovered and rescued here, and the subscriber's reconnects, since start. */
  get notices(): Readonly<NoticeCounts> {
    return { ...this.noticeCounts };
  }

  private onConnection(socket: Socket): void {
    const { session, following } = socket.data as SocketData;
    const user = this.users.get(session.userId) ?? {
      sockets: new Set(),
      lastPosition: new Map(),
      leftUnannounced: new Map(),
      toldUntil: new Map(),
      // Round robin: a tenth of the users get their heartbeat at each update, not all at every tenth.
      heartbeatSlot: this.nextHeartbeatSlot++ % HEARTBEAT_UPDATES,
    };
    this.users.set(session.userId, user);
    user.sockets.add(socket);
    void socket.join([`user:${session.userId}`, sessionRoom(session.sessionId)]);
    /**
     * `fromHandshake`: the event named in the handshake, followed right after the handshake's own
     * session check; asking Redis again was one round trip of five per connect (bench/app-cpu.ts).
     * Every `queue:subscribe` checks the session again.
     */
    const follow = async (eventId: string, fromHandshake = false): Promise<SessionState> => {
      if (!fromHandshake) await this.requireLiveSession(socket);
      if (!following.has(eventId)) {
        const limit = this.options.limits.subscriptionsPerSocket;
        if (following.size >= limit)
          throw new ApiError(
            409,
            'subscription_limit',
            `this connection follows ${following.size} events already (at most ${limit})`,
            'eventId',
          );
        if (!(await this.options.eventExists(eventId)))
          throw new ApiError(404, 'not_found', `event ${eventId} not found`, 'eventId');
        if (!socket.connected) throw new ApiError(409, 'disconnected', 'the connection closed');
        following.add(eventId);
        // The log from a little before this instance's first follower of the event (cursor).
        if (!this.logCursor.has(eventId)) this.logCursor.set(eventId, `${Date.now() - LOG_START_SLACK_MS}-0`);
        const followers = this.followers.get(eventId) ?? new Set();
        followers.add(session.userId);
        this.followers.set(eventId, followers);
      }
      return this.sendState(socket, eventId);
    };
    onMessage(
      socket,
      'queue:subscribe',
      schemas.queueSubscribe,
      ({ eventId }) => follow(eventId),
      this.options.log,
    );
    socket.on('disconnect', () => this.forget(socket));
    const eventId: unknown = socket.handshake.auth?.eventId;
    if (eventId === undefined) return;
    if (typeof eventId !== 'string' || !idPattern.test(eventId)) {
      socket.emit('error:event', {
        code: 'invalid_event_id',
        message: 'eventId must be 1–64 of [A-Za-z0-9_-]',
      });
      return;
    }
    follow(eventId, true).catch((err: unknown) => {
      if (err instanceof ApiError) socket.emit('error:event', { code: err.code, message: err.message });
      else this.options.log.warn({ err: (err as Error).message }, 'could not restore state on connect');
    });
  }

  /** A socket went: its user stops following what no other socket of theirs here follows. */
  private forget(socket: Socket): void {
    const { session } = socket.data as SocketData;
    const user = this.users.get(session.userId);
    if (!user) return;
    user.sockets.delete(socket);
    const stillFollowed = new Set<string>();
    for (const other of user.sockets)
      for (const e of (other.data as SocketData).following) stillFollowed.add(e);
    if (user.sockets.size === 0) this.users.delete(session.userId);
    for (const eventId of (socket.data as SocketData).following) {
      if (stillFollowed.has(eventId)) continue;
      const followers = this.followers.get(eventId);
      followers?.delete(session.userId);
      user.lastPosition.delete(eventId);
      user.leftUnannounced.delete(eventId);
      if (followers?.size === 0) this.followers.delete(eventId);
    }
  }

  /** Tells a socket where its user stands in an event: queue place or admission, and held seats. */
  private async sendState(socket: Socket, eventId: string): Promise<SessionState> {
    const { userId } = (socket.data as SocketData).session;
    const [status, heldSeatIds] = await Promise.all([
      this.options.queue.status(eventId, userId),
      this.options.holds.heldBy(eventId, userId),
    ]);
    const sentAt = Date.now();
    const state: SessionState = {
      instanceId: this.options.instanceId,
      eventId,
      state: status.state,
      queueSize: status.queueSize,
      heldSeatIds,
      sentAt,
    };
    if (status.state === 'queued') {
      state.position = status.position;
      const user = this.users.get(userId);
      // A notice that came during the read is newer than it: the next update tells the position.
      if (user && !admittedNow(user, eventId)) user.lastPosition.set(eventId, status.position);
      // The place is in `session:state` below: a `queue:update` beside it was one more frame per
      // connect for the load balancer to relay and the client to read, telling nothing new.
    } else if (status.state === 'admitted') {
      state.admittedUntil = status.admittedUntil;
      // Told now, on (re)connect: not a notice the position updates need to rescue.
      const user = this.users.get(userId);
      user?.lastPosition.delete(eventId);
      user?.leftUnannounced.delete(eventId);
      user?.toldUntil.set(eventId, status.admittedUntil);
      await socket.join(`event:${eventId}`);
      const message: AdmittedMessage = { eventId, admittedUntil: status.admittedUntil, sentAt };
      socket.emit('queue:admitted', message);
    }
    socket.emit('session:state', state);
    return state;
  }

  private tickPositions(): Promise<void> | undefined {
    if (this.ticking || !this.cadence.due(Date.now(), this.options.timeScale.current())) return this.ticking;
    this.ticking = this.updatePositions().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private async updatePositions(): Promise<void> {
    this.updateCount++;
    const heartbeatSlot = this.updateCount % HEARTBEAT_UPDATES;
    const { queueUpdateMs, queueUpdateSimulatedMs, timeScale } = this.options;
    const untilNextMs = Math.max(queueUpdateMs, queueUpdateSimulatedMs / timeScale.current());
    let chunks = 0;
    for (const followers of this.followers.values()) chunks += Math.ceil(followers.size / POSITION_CHUNK);
    const gapMs = chunks > 1 ? (POSITION_SPREAD * untilNextMs) / chunks : 0;
    try {
      // Admissions whose pub/sub notice has not come are told from the log first: only users
      // neither reached are left for the rescue below.
      await this.catchUpAll();
      for (const [eventId, followers] of this.followers) {
        if (followers.size === 0) continue;
        const userIds = [...followers];
        for (let i = 0; i < userIds.length; i += POSITION_CHUNK) {
          // Chunks are spread over part of the time until the next update, so requests and other
          // sockets keep their turn, and each chunk is stamped when it is sent.
          if (i > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
          if (this.stopped) return;
          const chunk = userIds.slice(i, i + POSITION_CHUNK);
          const unresolved: string[] = [];
          const { queueSize, positions } = await this.options.queue.positions(eventId, chunk);
          const sentAt = Date.now();
          chunk.forEach((userId, j) => {
            const position = positions[j] ?? 0;
            const user = this.users.get(userId);
            // Told of its admission (a position read before it is stale): nothing to send.
            if (!user || admittedNow(user, eventId)) return;
            if (position === 0) {
              // Out of the queue, yet never told it was admitted here: its log entry may be newer
              // than this update's catch-up, so it counts as lost only at the next update.
              if (!user.lastPosition.has(eventId)) return;
              const since = user.leftUnannounced.get(eventId);
              if (since === undefined) user.leftUnannounced.set(eventId, this.updateCount);
              else if (since < this.updateCount) unresolved.push(userId);
              return;
            }
            user.leftUnannounced.delete(eventId);
            if (user.heartbeatSlot !== heartbeatSlot && user.lastPosition.get(eventId) === position) return;
            user.lastPosition.set(eventId, position);
            for (const socket of user.sockets)
              socket.emit('queue:update', { eventId, position, queueSize, sentAt });
          });
          if (unresolved.length > 0) await this.resolveLeftQueue(eventId, unresolved);
        }
      }
    } catch (err) {
      this.options.log.warn(
        { err: (err as Error).message },
        'queue position update failed; retrying next tick',
      );
    }
  }

  /**
   * Tells this instance's users of the admissions in the log they have not heard of: the pub/sub
   * notice is fire-and-forget (Redis drops a subscriber that falls behind, with everything queued
   * for it; a reconnect misses what was published meanwhile), the log is not.
   */
  private catchUpAll(): Promise<void> {
    this.catchingUp ??= (async () => {
      for (const eventId of [...this.followers.keys()]) await this.catchUp(eventId);
    })().finally(() => {
      this.catchingUp = undefined;
    });
    return this.catchingUp;
  }

  private async catchUp(eventId: string): Promise<void> {
    let cursor = this.logCursor.get(eventId);
    if (cursor === undefined) return;
    for (;;) {
      const batches = await readAdmissionLog(this.options.redis, eventId, cursor, LOG_READ_COUNT);
      for (const batch of batches) {
        this.deliverAdmitted({ ...batch, sentAt: batch.atMs }, 'log');
        cursor = batch.logId;
      }
      this.logCursor.set(eventId, cursor);
      if (batches.length < LOG_READ_COUNT) return;
    }
  }

  /**
   * The defence behind the log: users who left the queue and were told neither by a notice nor
   * by the log (trimmed, or a bug). The queue itself is the truth: ask it and tell them.
   */
  private async resolveLeftQueue(eventId: string, userIds: string[]): Promise<void> {
    const statuses = await Promise.all(userIds.map((id) => this.options.queue.status(eventId, id)));
    let admitted = 0;
    statuses.forEach((status, i) => {
      const userId = userIds[i]!;
      const user = this.users.get(userId);
      // Told meanwhile: nothing to rescue.
      if (!user?.leftUnannounced.has(eventId)) return;
      if (status.state === 'queued') return;
      user.lastPosition.delete(eventId);
      user.leftUnannounced.delete(eventId);
      if (status.state === 'admitted')
        admitted += this.deliverAdmitted(
          { eventId, userIds: [userId], admittedUntil: status.admittedUntil, sentAt: Date.now() },
          'rescue',
        );
    });
    if (admitted > 0)
      this.options.log.warn(
        { eventId, admitted },
        'admissions this instance heard of neither by notice nor from the log: told the users from the queue',
      );
  }

  /** Called by the admitter (one instance); every instance tells its own admitted users. */
  notifyAdmitted(batch: AdmissionBatch): void {
    const message = { ...batch, sentAt: Date.now() };
    this.io.serverSideEmit(ADMITTED_CHANNEL, message);
    this.deliverAdmitted(message);
  }

  notifyExpired(eventId: string, userIds: string[]): void {
    this.io.serverSideEmit(EXPIRED_CHANNEL, eventId, userIds);
    this.deliverExpired(eventId, userIds);
  }

  /**
   * Tells this instance's users of an admission, once each, whichever way it reached here first.
   * Returns how many were told now.
   */
  private deliverAdmitted(
    batch: AdmissionBatch & { sentAt: number },
    source: NoticeSource = 'notice',
  ): number {
    const { eventId, admittedUntil } = batch;
    const message: AdmittedMessage = {
      eventId,
      admittedUntil,
      sentAt: batch.sentAt,
      ...(source === 'rescue' ? { rescued: true } : {}),
    };
    let told = 0;
    for (const userId of batch.userIds) {
      const user = this.users.get(userId);
      if (!user || user.toldUntil.get(eventId) === admittedUntil) continue;
      user.toldUntil.set(eventId, admittedUntil);
      user.lastPosition.delete(eventId);
      user.leftUnannounced.delete(eventId);
      this.noticeCounts[COUNTED_AS[source]]++;
      told++;
      for (const socket of user.sockets) {
        void socket.join(`event:${eventId}`);
        socket.emit('queue:admitted', message);
      }
    }
    return told;
  }

  private deliverExpired(eventId: string, userIds: string[]): void {
    for (const userId of userIds) {
      const user = this.users.get(userId);
      user?.toldUntil.delete(eventId);
      for (const socket of user?.sockets ?? []) socket.emit('queue:expired', { eventId, sentAt: Date.now() });
    }
  }

  /** Queues a seat change for the event's shoppers, everywhere; sent with the others of the next flush. */
  broadcastSeats(status: SeatStatus, eventId: string, seatIds: string[]): void {
    this.seatsToPublish.add(eventId, status, seatIds);
    this.seatsToDeliver.add(eventId, status, seatIds);
    this.scheduleSeatFlush();
  }

  private scheduleSeatFlush(): void {
    const { seatBatchSimulatedMs, timeScale } = this.options;
    this.seatFlush ??= setTimeout(
      () => this.flushSeats(),
      Math.max(SEAT_BATCH_MS, seatBatchSimulatedMs / timeScale.current()),
    );
  }

  private flushSeats(): void {
    this.seatFlush = undefined;
    const sentAt = Date.now();
    if (this.seatsToPublish.size > 0) this.io.serverSideEmit(SEATS_CHANNEL, this.seatsToPublish.take(sentAt));
    for (const message of this.seatsToDeliver.take(sentAt))
      this.io.local.to(`event:${message.eventId}`).emit('seats:changed', message);
  }

  /**
   * Draining: clients are told, then their connections are closed under them, so they reconnect
   * (through the load balancer, to another instance) as after a network drop.
   */
  drain(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.seatFlush) clearTimeout(this.seatFlush);
    this.flushSeats();
    this.io.local.emit('server:draining', { reconnect: true });
    const engine = this.io.engine as unknown as { clients: Record<string, { close(): void }> };
    for (const client of Object.values(engine.clients)) client.close();
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.seatFlush) clearTimeout(this.seatFlush);
    await this.ticking;
    await this.catchingUp?.catch(() => undefined);
    await new Promise<void>((resolve) => this.io.close(() => resolve()));
  }
}
