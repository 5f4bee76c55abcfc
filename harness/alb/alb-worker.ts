/**
 * An ALB proxy worker. Several share one listening socket (handed over by the control process);
 * each routes HTTP requests and WebSocket upgrades to healthy targets with AWSALB stickiness.
 * Several, because one process may hold 20,000 open files here and a proxied WebSocket holds two.
 * The process entry is worker.ts; a test builds this class in-process.
 *
 * The HTTP path is a hand-written HTTP/1.1 proxy on raw sockets (`http1.ts` parses heads and
 * frames bodies), because the library route was measured short of the goal (0.6× HAProxy's
 * requests/s in `bench/alb.ts`): node:http server + client 0.33×, `http-proxy` 0.29×, this
 * front end with undici as the upstream client 0.49×. Per client connection one request is in
 * flight at a time (pipelined requests wait their turn); upstream connections are kept alive in a
 * pool per target; bodies pass through as received, chunked framing included.
 */

import { createServer, type ListenOptions, type Server, type Socket } from 'node:net';
import { simAt } from '../clock/timeline.ts';
import { LagMonitor } from '../metrics/machine-state.ts';
import { ClientConnection } from './client-connection.ts';
import { StickyCookies, stickyCookieOf } from './cookie.ts';
import type { RequestHead } from './http1.ts';
import { type ClockAnchor, type FromAlbWorker, pathStallLine, type ToAlbWorker } from './protocol.ts';
import type { ProxyContext, ProxyStats } from './proxy-context.ts';
import {
  type ClientAddress,
  errorResponse,
  forwardedHead,
  keepAliveLinesFor,
  TraceIds,
} from './responses.ts';
import type { TargetChoice } from './routing.ts';
import { type TargetRuntime, TargetTable } from './target-table.ts';
import { UpstreamPool } from './upstream-pool.ts';
import type { HandedOffWebSocket } from './websocket-handoff.ts';

const REPORT_MS = 500;
const SWEEP_MS = 1_000;

export type AlbWorkerInit = Extract<ToAlbWorker, { type: 'init' }>;

export class AlbWorker implements ProxyContext {
  readonly stats: ProxyStats = { requests: 0, errors502: 0, errors503: 0 };
  readonly pool = new UpstreamPool();
  readonly targets = new TargetTable();
  readonly idleTimeoutMs: number;
  readonly keepAliveLines: string;
  private readonly cookies: StickyCookies;
  private readonly traceIds = new TraceIds();
  private anchor: ClockAnchor;
  private readonly servers: Server[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  /** This worker's event loop: its stalls go on the answers they held up (PATH_STALL_HEADER). */
  private readonly loop = new LagMonitor();

  constructor(
    private readonly init: AlbWorkerInit,
    /** Where reports go (the control process), with a handle when one travels (a client socket). */
    private readonly send: (message: FromAlbWorker, handle?: Socket) => void,
  ) {
    this.anchor = init.anchor;
    this.idleTimeoutMs = init.idleTimeoutMs;
    this.keepAliveLines = keepAliveLinesFor(init.idleTimeoutMs);
    this.cookies = new StickyCookies(init.cookieSecret, init.stickinessSeconds);
  }

  /**
   * Accepts on `on`: the control process's listening sockets (one per node address of the ALB), or
   * (in a test) an address. Says `ready` once listening on all, then reports connections every
   * REPORT_MS.
   */
  async listen(on: Server | ListenOptions | readonly (Server | ListenOptions)[]): Promise<void> {
    const listeners = Array.isArray(on) ? on : [on as Server | ListenOptions];
    await Promise.all(listeners.map((listener) => this.accept(listener)));
    this.timers.push(
      setInterval(() => this.report(), REPORT_MS).unref(),
      setInterval(() => this.pool.sweep(this.targets.runtimes()), SWEEP_MS).unref(),
    );
    this.send({ type: 'ready', workerIndex: this.init.workerIndex });
  }

  private accept(on: Server | ListenOptions): Promise<void> {
    // allowHalfOpen: a client may end its side after a request and still read the response.
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      void new ClientConnection(this, socket);
    });
    server.on('error', () => {}); // e.g. EMFILE on accept: that connection is lost, not the worker
    this.servers.push(server);
    return new Promise((resolve) => server.listen(on, () => resolve()));
  }

  /** The port it accepts on (a test listening on port 0 reads it here). */
  get port(): number {
    return (this.servers[0]?.address() as { port: number } | null)?.port ?? 0;
  }

  /** A message from the control process; `'stopped'` once the worker has closed everything. */
  handle(message: ToAlbWorker): 'stopped' | undefined {
    switch (message.type) {
      case 'init':
      case 'listen':
        return undefined; // the start messages, given to the constructor and to listen()
      case 'targets':
        this.anchor = message.anchor;
        this.targets.apply(message.targets);
        // At once, not at the next report: a draining target with nothing open is done now.
        this.report();
        return undefined;
      case 'close-target':
        this.targets.close(message.id);
        return undefined;
      case 'stop':
        this.stop();
        return 'stopped';
    }
  }

  stop(): void {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    this.loop.stop();
    for (const server of this.servers) server.close();
    this.targets.closeAll();
  }

  /** Simulated time now, from the anchor the control process last sent (cookie expiry). */
  private simNow(): number {
    return simAt(this.anchor, Date.now());
  }

  route(cookieHeader: string | undefined, turn?: number): TargetChoice<TargetRuntime> | undefined {
    const sticky = stickyCookieOf(cookieHeader);
    return this.targets.route(sticky ? this.cookies.targetOf(sticky, this.simNow()) : undefined, turn);
  }

  stickyLines(rt: TargetRuntime): string {
    return this.cookies.linesFor(rt, this.simNow());
  }

  forwardedHead(head: RequestHead, client: ClientAddress, upgrade: boolean): string {
    return forwardedHead(head, client, upgrade, this.traceIds.next());
  }

  errorResponse(status: 400 | 502 | 503, close: boolean): string {
    return errorResponse(status, close, this.keepAliveLines);
  }

  stallLine(sinceMs: number): string {
    return pathStallLine(this.loop.longestWithin(performance.now() - sinceMs));
  }

  handOff(target: TargetRuntime, upgrade: HandedOffWebSocket, socket: Socket): void {
    this.send(
      { type: 'websocket', targetId: target.target.id, sentAtWallMs: Date.now(), ...upgrade },
      socket,
    );
  }

  report(): void {
    this.send({
      type: 'connections',
      workerIndex: this.init.workerIndex,
      perTarget: this.targets.connectionsPerTarget(),
      ...this.stats,
    });
  }
}
