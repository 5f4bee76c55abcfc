/**
 * Preparing a drop on a deployed stack over the app's public HTTP API, the only way in: Redis and
 * Aurora sit in private subnets. What the local world does directly against them has these
 * stand-ins here:
 *
 * | local world | deployed stack |
 * | --- | --- |
 * | seed the event (`seedDemoEvent`) | none: the event must exist (`app/seed.ts` run once on an instance); `GET /api/events/:id` finds it |
 * | the seat map | `GET /api/events/:id/seats`, seats still available |
 * | users in bulk (`createUsersInBulk`) | `POST /api/auth/register` then `login` per user, shortly before each one arrives |
 * | open sales at `salesOpenAt` | none: sales must already be open (`app/seed.ts --open`) |
 * | the integrity check (SQL) | none: not evaluable |
 *
 * Users are registered in arrival order, each no earlier than half a session lifetime before it
 * arrives: the app's sessions last `sessionTtlSeconds` (an hour in the design) from registration,
 * and at 1× a drop can outlast that.
 */
import { keys } from '../../../app/core/keys.ts';
import type { VirtualUserCredentials } from '../../load/protocol.ts';
import type { UserSupply } from '../world.ts';
import { WorldSetupError } from '../world.ts';

export type Fetch = typeof fetch;

export interface DeployedEvent {
  id: string;
  name: string;
  salesOpenAt: string | null;
  seatCount: number;
}

/** How to create the event on a deployed stack, where only an instance reaches the database. */
export function seedCommand(eventId: string, seats: number): string {
  return [
    'aws ssm start-session --target <an instance id of the group>, then:',
    `sudo -u tiketi bash -c 'cd /opt/tiketi && set -a && . /etc/tiketi/instance.env && set +a && db=$(aws secretsmanager get-secret-value --region "$AWS_REGION" --secret-id "$DB_SECRET_ARN" --query SecretString --output text) && DATABASE_URL="postgres://$(jq -r .username <<<"$db"):$(jq -r ".password|@uri" <<<"$db")@$DB_WRITER_HOST:$DB_PORT/$DB_NAME" node-20 --import tsx app/seed.ts --event-id ${eventId} --seats ${seats} --open'`,
  ].join(' ');
}

async function getJson(
  fetchImpl: Fetch,
  url: string,
  timeoutMs: number,
): Promise<{ status: number; body: unknown }> {
  let res: Response;
  try {
    res = await fetchImpl(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new WorldSetupError(
      `the stack's endpoint does not answer ${url} (${cause}): check that the stack's instances are InService and the ALB's security group lets this machine in`,
      { cause: err },
    );
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body };
}

/** `GET /api/events/:id`: the event must exist, and its sales must be open. */
export async function findDeployedEvent(
  baseUrl: string,
  eventId: string,
  seats: number,
  fetchImpl: Fetch = fetch,
): Promise<DeployedEvent> {
  const { status, body } = await getJson(fetchImpl, `${baseUrl}/api/events/${eventId}`, 10_000);
  if (status === 404) {
    throw new WorldSetupError(
      `event ${eventId} (the one the stack's alarms watch) does not exist on the stack, and the app has no HTTP route that creates events. Seed it once from an instance: ${seedCommand(eventId, seats)}`,
    );
  }
  if (status !== 200 || typeof body !== 'object' || body === null) {
    throw new WorldSetupError(
      `GET ${baseUrl}/api/events/${eventId} answered ${status}: ${JSON.stringify(body).slice(0, 200)}`,
    );
  }
  const event = body as DeployedEvent;
  if (!event.salesOpenAt) {
    throw new WorldSetupError(
      `sales of event ${eventId} are not open, and the app has no HTTP route that opens them: nobody would be admitted. Open them from an instance (the same command with --open on a new --event-id, or UPDATE events SET sales_open_at = now() and SET ${keys.salesOpen(eventId)} 1 in Redis): ${seedCommand(eventId, seats)}`,
    );
  }
  return event;
}

/** `GET /api/events/:id/seats`: every seat id, and those still available (earlier runs sold some). */
export async function deployedSeats(
  baseUrl: string,
  eventId: string,
  fetchImpl: Fetch = fetch,
): Promise<{ all: string[]; available: string[] }> {
  const { status, body } = await getJson(fetchImpl, `${baseUrl}/api/events/${eventId}/seats`, 30_000);
  const seats = (body as { seats?: { seatId: string; status: string }[] } | undefined)?.seats;
  if (status !== 200 || !Array.isArray(seats)) {
    throw new WorldSetupError(
      `GET ${baseUrl}/api/events/${eventId}/seats answered ${status}: ${JSON.stringify(body).slice(0, 200)}`,
    );
  }
  return {
    all: seats.map((s) => s.seatId),
    available: seats.filter((s) => s.status === 'available').map((s) => s.seatId),
  };
}

export interface RegistrarOptions {
  baseUrl: string;
  /** Each user's arrival, simulated epoch ms, in order. */
  arrivalsSimMs: readonly number[];
  /** The run's simulated clock. */
  now: () => number;
  /** A user is registered no earlier than this long before it arrives. */
  leadMs: number;
  /** Distinguishes this run's users: `fan-<tag>-<n>@rehearsal.tiketi.gg`. */
  runTag: string;
  log: (line: string) => void;
  /** Registrations in flight at once. @default 16 */
  concurrency?: number;
  /** Attempts per user before it is given up. @default 3 */
  attempts?: number;
  fetch?: Fetch;
  /** Pause between retries, ms. @default 500 */
  retryDelayMs?: number;
  /** How often the background loop looks for users now due, wall ms. @default 1000 */
  pumpEveryMs?: number;
}

export const REHEARSAL_PASSWORD = 'rehearsal-only-password';

/**
 * Registers the drop's users through `POST /api/auth/register`, in arrival order and paced by it.
 * `ready` counts users from the first one that are registered (or given up: those never arrive).
 */
export class UserRegistrar implements UserSupply {
  /** undefined: not yet; null: given up. */
  private readonly users: (VirtualUserCredentials | null | undefined)[];
  private contiguous = 0;
  private next = 0;
  private inFlight = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private waiters: { count: number; resolve: () => void }[] = [];
  private behindLogged = false;
  /** Users given up after every attempt failed. */
  failed = 0;
  lastError = '';
  private readonly fetchImpl: Fetch;

  constructor(private readonly options: RegistrarOptions) {
    this.users = new Array(options.arrivalsSimMs.length);
    this.fetchImpl = options.fetch ?? fetch;
  }

  get ready(): number {
    return this.contiguous;
  }

  get registered(): number {
    return this.users.filter((u) => u).length;
  }

  take(from: number, to: number): VirtualUserCredentials[] {
    const out: VirtualUserCredentials[] = [];
    for (let i = from; i < to; i++) {
      const user = this.users[i];
      if (user) out.push(user);
    }
    return out;
  }

  /** How many users are due by now (their arrival within the lead). */
  dueCount(): number {
    const horizon = this.options.now() + this.options.leadMs;
    let due = this.next;
    while (due < this.options.arrivalsSimMs.length && this.options.arrivalsSimMs[due]! <= horizon) due++;
    return due;
  }

  /** Registers every user due now and resolves once they are ready (registered or given up). */
  async registerDue(): Promise<number> {
    const due = this.dueCount();
    this.pump();
    await new Promise<void>((resolve) => {
      if (this.contiguous >= due) return resolve();
      this.waiters.push({ count: due, resolve });
    });
    return due;
  }

  /** Keeps registering users as their arrival comes within the lead, until `stop()`. */
  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => this.pump(), this.options.pumpEveryMs ?? 1_000);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  private pump(): void {
    if (this.stopped) return;
    const due = this.dueCount();
    const concurrency = this.options.concurrency ?? 16;
    while (this.inFlight < concurrency && this.next < due) {
      const index = this.next++;
      this.inFlight++;
      void this.register(index).then((user) => {
        this.inFlight--;
        this.users[index] = user;
        if (!user) this.failed++;
        while (this.contiguous < this.users.length && this.users[this.contiguous] !== undefined)
          this.contiguous++;
        for (const w of this.waiters.filter((w) => this.contiguous >= w.count)) w.resolve();
        this.waiters = this.waiters.filter((w) => this.contiguous < w.count);
        this.pump();
      });
    }
    const firstPending = this.options.arrivalsSimMs[this.contiguous];
    if (!this.behindLogged && firstPending !== undefined && firstPending < this.options.now() - 5_000) {
      this.behindLogged = true;
      this.options.log(
        `[world] registering users is behind the arrival curve (user ${this.contiguous + 1} was due ${Math.round((this.options.now() - firstPending) / 1_000)} s ago): users arrive once registered, later than the scenario asks`,
      );
    }
  }

  private async register(index: number): Promise<VirtualUserCredentials | null> {
    const n = index + 1;
    const email = `fan-${this.options.runTag}-${n}@rehearsal.tiketi.gg`;
    const attempts = this.options.attempts ?? 3;
    for (let attempt = 1; attempt <= attempts && !this.stopped; attempt++) {
      try {
        // Registration answers the same whether the email is new (#17): the token comes from login.
        const registered = await this.post('/api/auth/register', {
          email,
          password: REHEARSAL_PASSWORD,
          name: `Rehearsal user ${n}`,
        });
        const res =
          registered.status === 202
            ? await this.post('/api/auth/login', { email, password: REHEARSAL_PASSWORD })
            : registered;
        const body = res.body;
        if (res.status === 200 && body.userId && body.token)
          return { userId: body.userId, token: body.token };
        this.lastError = `${res.path} answered ${res.status}${body.error?.message ? `: ${body.error.message}` : ''}`;
        // A 4xx will not change on a retry.
        if (res.status >= 400 && res.status < 500) break;
      } catch (err) {
        this.lastError = `registering ${email} failed: ${(err as Error).message}`;
      }
      if (attempt < attempts)
        await new Promise((r) => setTimeout(r, (this.options.retryDelayMs ?? 500) * attempt));
    }
    return null;
  }

  private async post(
    path: string,
    payload: object,
  ): Promise<{
    path: string;
    status: number;
    body: { userId?: string; token?: string; error?: { message?: string } };
  }> {
    const res = await this.fetchImpl(`${this.options.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(30_000),
    });
    return { path: `POST ${path}`, status: res.status, body: (await res.json().catch(() => ({}))) as never };
  }
}
