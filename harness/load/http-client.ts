/**
 * Virtual users' HTTP: real requests through the ALB over a shared undici pool (the ALB routes
 * each request by its cookie, as AWS's does), each user with its own cookie jar and token.
 * Every call is timed into the endpoint's histogram and classified.
 */
import { Pool } from 'undici';
import { CLIENT_TURN_HEADER, PATH_STALL_HEADER, pathStallOf } from '../alb/protocol.ts';
import type { Endpoint, LatencyRecorder } from '../metrics/latency.ts';
import type { CookieJar } from './cookie-jar.ts';

export interface HttpCounters {
  requests: number;
  /** 5xx and requests with no response. */
  errors: number;
  /** 409: contention the app reports by design (seat taken). */
  conflicts: number;
  /** Other 4xx: a virtual user did something the app refused; worth a look, not a server error. */
  rejected: number;
  /** Responses from the same instance as the caller's previous response (AWSALB stickiness). */
  sameInstance: number;
  /** Responses from another instance than the caller's previous one. */
  instanceSwitches: number;
}

export interface Caller {
  token?: string;
  jar: CookieJar;
  /** The round-robin turn the ALB gives this caller when it has no sticky target (CLIENT_TURN_HEADER). */
  turn?: number;
  /** Instance that answered the caller last (`X-Instance-Id`). */
  lastInstance?: string;
  /** Wall ms of the first failed call since the last success. */
  failingSinceMs?: number;
}

export interface WallSpan {
  fromWallMs: number;
  toWallMs: number;
}

export interface HttpResult<T = unknown> {
  status: number;
  body: T;
  /** Instance that answered (`X-Instance-Id`). */
  instanceId?: string;
}

export class VirtualUserHttp {
  private readonly pool: Pool;
  readonly counters: HttpCounters = {
    requests: 0,
    errors: 0,
    conflicts: 0,
    rejected: 0,
    sameInstance: 0,
    instanceSwitches: 0,
  };
  /** The longest stretch (wall) in which some caller's calls kept failing: first failure to recovery. */
  longestGap: WallSpan | undefined;
  /** Callers in such a stretch now: failed last and still trying. */
  failingCallers = 0;

  constructor(
    baseUrl: string,
    private readonly latency: LatencyRecorder,
    options: { connections?: number; timeoutMs?: number } = {},
  ) {
    this.pool = new Pool(baseUrl, {
      connections: options.connections ?? 64,
      headersTimeout: options.timeoutMs ?? 30_000,
      bodyTimeout: options.timeoutMs ?? 30_000,
      keepAliveTimeout: 30_000,
    });
  }

  async call<T = unknown>(
    endpoint: Endpoint,
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    caller: Caller,
    body?: unknown,
    /**
     * `intendedAtWallMs`: when the open model sends it (the latency counts from then);
     * `heldUpMs`: how late it reached this process (LatencyRecorder.record); the answer adds the
     * stalls of the processes on its way (PATH_STALL_HEADER).
     */
    timing: { intendedAtWallMs?: number; heldUpMs?: number } = {},
  ): Promise<HttpResult<T> | undefined> {
    const headers: Record<string, string> = {};
    const cookie = caller.jar.header();
    if (cookie) headers.cookie = cookie;
    if (caller.token) headers.authorization = `Bearer ${caller.token}`;
    if (caller.turn !== undefined) headers[CLIENT_TURN_HEADER] = String(caller.turn);
    if (body !== undefined) headers['content-type'] = 'application/json';
    // Timed from when it should have gone (the open model's schedule), not from when this busy
    // process got round to sending it.
    const lateMs =
      timing.intendedAtWallMs === undefined ? 0 : Math.max(0, Date.now() - timing.intendedAtWallMs);
    const startedAt = performance.now() - lateMs;
    this.counters.requests++;
    try {
      const res = await this.pool.request({
        path,
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.body.text();
      // Held up on its way by the emulator's own processes too: the app instance's or the ALB
      // worker's stall, which each tells on the answer.
      const stalledOnPathMs = pathStallOf(res.headers[PATH_STALL_HEADER]);
      this.latency.record(
        endpoint,
        performance.now() - startedAt,
        Math.max(timing.heldUpMs ?? 0, stalledOnPathMs),
      );
      caller.jar.store(res.headers['set-cookie']);
      if (res.statusCode >= 500) return this.failed(caller, { status: res.statusCode, body: parse<T>(text) });
      this.succeeded(caller);
      if (res.statusCode === 409) this.counters.conflicts++;
      else if (res.statusCode >= 400) this.counters.rejected++;
      const instance = res.headers['x-instance-id'];
      if (typeof instance === 'string') {
        if (caller.lastInstance !== undefined) {
          if (caller.lastInstance === instance) this.counters.sameInstance++;
          else this.counters.instanceSwitches++;
        }
        caller.lastInstance = instance;
      }
      return {
        status: res.statusCode,
        body: parse<T>(text),
        instanceId: typeof instance === 'string' ? instance : undefined,
      };
    } catch {
      // No response at all (reset, refused, timeout): the user saw an error page.
      this.latency.record(endpoint, performance.now() - startedAt, timing.heldUpMs);
      this.failed(caller, undefined);
      return undefined;
    }
  }

  /**
   * The caller stops trying for now (a think time after its last step): a stretch of failures
   * ends at its last failure. Counted to the next success, a failed hold followed by a three-minute
   * think read as a three-minute outage.
   */
  rest(caller: Caller): void {
    if (caller.failingSinceMs !== undefined) this.failingCallers--;
    caller.failingSinceMs = undefined;
  }

  private succeeded(caller: Caller) {
    if (caller.failingSinceMs === undefined) return;
    this.noteGap(caller.failingSinceMs, Date.now());
    this.failingCallers--;
    caller.failingSinceMs = undefined;
  }

  private failed<T>(caller: Caller, result: HttpResult<T> | undefined): HttpResult<T> | undefined {
    this.counters.errors++;
    // The stretch runs from the first failure to the next success (or this failure, so far).
    const now = Date.now();
    if (caller.failingSinceMs === undefined) {
      caller.failingSinceMs = now;
      this.failingCallers++;
    }
    this.noteGap(caller.failingSinceMs, now);
    return result;
  }

  private noteGap(fromWallMs: number, toWallMs: number) {
    const longest = this.longestGap;
    if (!longest || toWallMs - fromWallMs > longest.toWallMs - longest.fromWallMs)
      this.longestGap = { fromWallMs, toWallMs };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

function parse<T>(text: string): T {
  if (text.length === 0) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    return text as T; // an ALB error page is HTML, not JSON
  }
}
