/**
 * The ALB stand-in's control side: the target group (registration, health checks with the
 * design's interval and thresholds, draining with the deregistration delay) on the simulated
 * clock, and a pool of proxy worker processes that share its listening sockets, one per node
 * address (NODE_ADDRESSES).
 *
 * Like AWS, it fails open: when every registered target is unhealthy it routes to all of them;
 * with no registered target at all it answers 503. Difference from AWS, on purpose: health-check
 * timeouts are wall time (a busy machine must not fail checks because the clock runs fast).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Topology } from '../../infra/topology.ts';
import { type ForkedWorker, forkWorker } from '../../servers/fork-worker.ts';
import type { LogSink, ProcessChannel } from '../../servers/process.ts';
import type { Clock, Timer } from '../clock/clock.ts';
import type { TargetHealthTransition } from '../model/aws.ts';
import type { ClockAnchor, FromAlbWorker, RoutableTarget, TargetState, ToAlbWorker } from './protocol.ts';
import { errorResponse } from './responses.ts';
import { WebSocketDoor } from './websocket-handoff.ts';

const WORKER_ENTRY = fileURLToPath(new URL('./worker.ts', import.meta.url));

/**
 * The addresses it accepts on, one port: as an ALB's DNS name resolves to the addresses of its
 * nodes (one per AZ at least) and clients spread over them. On one address, a 25,000-user peak
 * met a cliff of the machine, not of the design: past ~14,000 connections from one address to one
 * address and port, Linux's search for a free ephemeral port walks the used ones, and a connect
 * took 500–800 µs of system CPU instead of 10–30 (bench/connect-cliff.ts; kernel 6.18).
 */
export const NODE_ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'] as const;
/** Ports tried when another process holds the first one chosen on one of the other addresses. */
const LISTEN_ATTEMPTS = 5;

export interface TargetDescription {
  id: string;
  az: string;
  url: string;
  state: TargetState;
  reason?: string;
  connections: number;
}

interface Target {
  id: string;
  az: string;
  host: string;
  port: number;
  state: TargetState;
  reason?: string;
  okStreak: number;
  failStreak: number;
  timer?: Timer;
  /** Deregistering: `unreported` are the workers whose counts may predate it (their last report). */
  draining?: { done: () => void; timer: Timer; unreported: Set<number> };
  /** Where its WebSockets' client sockets go when its process takes them (websocket-handoff.ts). */
  door?: WebSocketDoor;
}

export interface AlbOptions {
  topology: Topology;
  clock: Clock;
  /** Proxy processes. @default 2 */
  workers?: number;
  port?: number;
  /** Simulated→wall speed, for cookie expiry in workers. @default 1 */
  timeScale?: () => number;
  /**
   * When a target's regular checks fall, as a share of the interval in [0, 1) from its
   * registration: each target's own phase. @default one interval after registration, for every
   * target
   */
  healthCheckPhase?: (targetId: string) => number;
  /** Wall ms a health check may take. @default the design's health-check timeout (5 s) */
  healthCheckTimeoutMs?: number;
  /** Receives the workers' prefixed output lines. @default the harness's own stdout and stderr */
  log?: LogSink;
}

export class StartedAlb implements AsyncDisposable {
  private readonly targets = new Map<string, Target>();
  private readonly workers: ForkedWorker<ToAlbWorker>[] = [];
  private readonly connections = new Map<number, Record<string, number>>();
  private readonly workerStats = new Map<
    number,
    { requests: number; errors502: number; errors503: number }
  >();
  /** WebSockets answered 502 here: their target's process was gone when the socket reached it. */
  private handOffErrors502 = 0;
  private listeners: Server[] = [];
  /** The node addresses it accepts on: NODE_ADDRESSES this machine has. */
  private hosts: string[] = [];
  /** Every health change of every target, in order: what a fault's timeline reads, never polled. */
  readonly healthHistory: TargetHealthTransition[] = [];
  readonly cookieSecret = randomBytes(16).toString('hex');
  port = 0;

  constructor(private readonly options: AlbOptions) {}

  /** The first node's URL: what one client that resolved the name once uses. */
  get url(): string {
    return this.urls[0]!;
  }

  /** One URL per node address it accepts on, the same port. */
  get urls(): string[] {
    return this.hosts.map((host) => `http://${host}:${this.port}`);
  }

  async start(): Promise<this> {
    await this.listen();
    const count = this.options.workers ?? 2;
    const started = await Promise.allSettled(Array.from({ length: count }, (_, i) => this.startWorker(i)));
    for (const s of started) if (s.status === 'fulfilled') this.workers.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await this.closeListeners();
      await this.stop();
      throw failed.reason;
    }
    // The workers hold copies of the listening sockets now; this process must not accept on them
    // (a connection it accepted would wait forever), so its own copies go.
    await this.closeListeners();
    return this;
  }

  /** One port on every node address: the first free on 127.0.0.1, again while another holds it elsewhere. */
  private async listen(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.listenOnNodes();
        return;
      } catch (err) {
        await this.closeListeners();
        const taken = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
        if (!taken || this.options.port !== undefined || attempt === LISTEN_ATTEMPTS) throw err;
      }
    }
  }

  private async listenOnNodes(): Promise<void> {
    this.port = this.options.port ?? 0;
    this.hosts = [];
    for (const host of NODE_ADDRESSES) {
      const listener = createServer();
      try {
        await new Promise<void>((resolve, reject) => {
          listener.once('error', reject);
          listener.listen({ port: this.port, host, backlog: 4_096 }, () => resolve());
        });
      } catch (err) {
        // A machine without the address (macOS has only 127.0.0.1 on its loopback): fewer nodes.
        if ((err as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL' && this.hosts.length > 0) continue;
        throw err;
      }
      this.listeners.push(listener);
      this.hosts.push(host);
      this.port = (listener.address() as { port: number }).port;
    }
  }

  private async closeListeners(): Promise<void> {
    const listeners = this.listeners.splice(0);
    await Promise.all(
      listeners.map(
        (l) => new Promise<void>((resolve) => (l.listening ? l.close(() => resolve()) : resolve())),
      ),
    );
  }

  private async startWorker(index: number): Promise<ForkedWorker<ToAlbWorker>> {
    const lb = this.options.topology.loadBalancer;
    const worker = await forkWorker<ToAlbWorker, FromAlbWorker>({
      name: `alb-worker-${index}`,
      entry: WORKER_ENTRY,
      ...(this.options.log ? { log: this.options.log } : {}),
      isReady: (message) => message.type === 'ready',
      onMessage: (message, handle) => {
        if (message.type === 'connections') this.absorb(message);
        else if (message.type === 'websocket') this.handOff(message, handle as Socket | undefined);
      },
      init: [
        {
          message: {
            type: 'init',
            workerIndex: index,
            stickinessSeconds: lb.stickiness.durationSeconds,
            cookieSecret: this.cookieSecret,
            idleTimeoutMs: lb.idleTimeoutSeconds * 1_000,
            anchor: this.anchor(),
            listeners: this.listeners.length,
          },
          handle: this.listeners[0]!,
        },
        ...this.listeners.slice(1).map((handle) => ({ message: { type: 'listen' as const }, handle })),
      ],
    });
    worker.send({ type: 'targets', targets: this.routable(), anchor: this.anchor() });
    return worker;
  }

  private absorb(message: Extract<FromAlbWorker, { type: 'connections' }>): void {
    this.connections.set(message.workerIndex, message.perTarget);
    this.workerStats.set(message.workerIndex, {
      requests: message.requests,
      errors502: message.errors502,
      errors503: message.errors503,
    });
    this.checkDrained(message.workerIndex);
  }

  /** A WebSocket a worker routed to a target that takes it: on to the target's process, or 502. */
  private handOff(message: Extract<FromAlbWorker, { type: 'websocket' }>, socket: Socket | undefined): void {
    if (!socket) return; // closed by the client while on its way
    // Its client may reset it while it is here (a read or the 502's write fails ECONNRESET): the
    // socket is the client's to lose, not the control process's, which an unheard error would end.
    socket.on('error', () => socket.destroy());
    const door = this.targets.get(message.targetId)?.door;
    const relayDelayMs = Math.max(0, Date.now() - message.sentAtWallMs);
    if (door?.accept({ head: message.head, stickyLines: message.stickyLines, relayDelayMs }, socket)) return;
    this.handOffErrors502++;
    socket.end(errorResponse(502, true, ''));
  }

  private anchor(): ClockAnchor {
    return {
      simMs: this.options.clock.now(),
      wallMs: Date.now(),
      timeScale: this.options.timeScale?.() ?? 1,
    };
  }

  private routable(): RoutableTarget[] {
    return [...this.targets.values()].map((t) => ({
      id: t.id,
      host: t.host,
      port: t.port,
      state: t.state,
      ...(t.door ? { takesWebSockets: true } : {}),
    }));
  }

  /** Tells every worker the current table (and clock speed). */
  publish(): void {
    const message: ToAlbWorker = { type: 'targets', targets: this.routable(), anchor: this.anchor() };
    for (const w of this.workers) w.send(message);
  }

  private setState(t: Target, state: TargetState, reason?: string): void {
    const previous = t.state;
    if (previous === state && t.reason === reason) return;
    t.state = state;
    t.reason = reason;
    this.publish();
    if (previous !== state) this.recordTransition(t, previous);
  }

  private recordTransition(t: Target, from: TargetState): void {
    this.healthHistory.push({
      target: t.id,
      az: t.az,
      atMs: this.options.clock.now(),
      from,
      to: t.state,
      ...(t.reason ? { reason: t.reason } : {}),
    });
  }

  /**
   * Registers a target in `initial`. A `warm` target stands for an instance that was serving before
   * the simulation began: its first `healthyThresholdCount` checks run at once, back to back,
   * instead of one per interval on the clock, so it is healthy as soon as it really answers them.
   * A target whose process has an IPC channel (`webSockets`) takes its WebSockets' client sockets
   * itself (websocket-handoff.ts); others get them through a tunnel.
   */
  registerTarget(
    target: { id: string; url: string; az: string; webSockets?: ProcessChannel },
    options: { warm?: boolean } = {},
  ): void {
    const u = new URL(target.url);
    const t: Target = {
      id: target.id,
      az: target.az,
      host: u.hostname,
      port: Number(u.port),
      state: 'initial',
      reason: 'Elb.RegistrationInProgress',
      okStreak: 0,
      failStreak: 0,
    };
    if (target.webSockets) t.door = new WebSocketDoor(target.webSockets, () => this.checkDrained());
    this.targets.set(t.id, t);
    this.publish();
    this.recordTransition(t, 'unused');
    const hc = this.options.topology.loadBalancer.healthCheck;
    const intervalMs = hc.intervalSeconds * 1_000;
    const phase = this.options.healthCheckPhase?.(t.id) ?? 1;
    t.timer = this.options.clock.setInterval(() => void this.check(t), intervalMs, phase * intervalMs);
    if (options.warm) void this.checkBackToBack(t, hc.healthyThresholdCount);
  }

  private async checkBackToBack(t: Target, count: number): Promise<void> {
    for (let i = 0; i < count && t.state === 'initial'; i++) await this.check(t);
  }

  private async check(t: Target): Promise<void> {
    if (t.state === 'draining' || t.state === 'unused') return;
    const hc = this.options.topology.loadBalancer.healthCheck;
    let ok = false;
    try {
      const res = await fetch(`http://${t.host}:${t.port}${hc.path}`, {
        signal: AbortSignal.timeout(
          this.options.healthCheckTimeoutMs ??
            this.options.topology.loadBalancer.healthCheck.timeoutSeconds * 1_000,
        ),
      });
      await res.body?.cancel();
      ok = hc.successCodes.split(',').includes(String(res.status));
    } catch {
      ok = false; // refused, reset or timed out: a failed check
    }
    // The target may have been deregistered while the check was in flight.
    if ((t.state as TargetState) === 'draining' || (t.state as TargetState) === 'unused') return;
    if (ok) {
      t.okStreak++;
      t.failStreak = 0;
      if (t.state !== 'healthy' && t.okStreak >= hc.healthyThresholdCount) this.setState(t, 'healthy');
    } else {
      t.failStreak++;
      t.okStreak = 0;
      if (t.state === 'healthy' && t.failStreak >= hc.unhealthyThresholdCount)
        this.setState(t, 'unhealthy', 'Target.FailedHealthChecks');
      if (t.state === 'initial' && t.failStreak >= hc.unhealthyThresholdCount)
        this.setState(t, 'unhealthy', 'Target.FailedHealthChecks');
    }
  }

  /** Draining: no new traffic; existing connections kept for the delay (or until none remain). */
  deregisterTarget(id: string): Promise<void> {
    const t = this.targets.get(id);
    if (!t || t.state === 'unused') return Promise.resolve();
    if (t.draining) return new Promise((resolve) => setImmediate(resolve));
    t.timer?.cancel();
    return new Promise<void>((resolve) => {
      const finish = () => {
        if (!t.draining) return;
        t.draining.timer.cancel();
        t.draining = undefined;
        for (const w of this.workers) w.send({ type: 'close-target', id });
        t.door?.closeAll();
        this.targets.delete(id);
        this.setState(t, 'unused');
        resolve();
      };
      t.draining = {
        done: finish,
        timer: this.options.clock.setTimeout(
          finish,
          this.options.topology.loadBalancer.deregistrationDelaySeconds * 1_000,
        ),
        unreported: new Set(this.workers.map((_, i) => i)),
      };
      // Each worker reports its connections as soon as it learns of the draining (alb-worker.ts).
      this.setState(t, 'draining', 'Target.DeregistrationInProgress');
    });
  }

  /**
   * Ends a deregistration once no connection to its target remains — at once if none did, as AWS
   * does, once every worker has counted after it began (an older count could miss a request
   * routed just before). Waiting for the workers' next periodic report instead cost half a wall
   * second, two simulated minutes per scale-in at 240×: a 1:4 model lost the full peak's last one.
   */
  private checkDrained(workerIndex?: number): void {
    for (const t of this.targets.values()) {
      if (!t.draining) continue;
      if (workerIndex !== undefined) t.draining.unreported.delete(workerIndex);
      if (t.draining.unreported.size === 0 && this.connectionsOf(t.id) === 0) t.draining.done();
    }
  }

  private connectionsOf(id: string): number {
    let n = this.targets.get(id)?.door?.open ?? 0;
    for (const per of this.connections.values()) n += per[id] ?? 0;
    return n;
  }

  private describeTarget(t: Target): TargetDescription {
    return {
      id: t.id,
      az: t.az,
      url: `http://${t.host}:${t.port}`,
      state: t.state,
      reason: t.reason,
      connections: this.connectionsOf(t.id),
    };
  }

  health(id: string): TargetState {
    return this.targets.get(id)?.state ?? 'unused';
  }

  targetHealth(): TargetDescription[] {
    return [...this.targets.values()].map((t) => this.describeTarget(t));
  }

  connectionsPerTarget(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const t of this.targets.keys()) out[t] = this.connectionsOf(t);
    return out;
  }

  stats(): { requests: number; errors502: number; errors503: number } {
    const out = { requests: 0, errors502: this.handOffErrors502, errors503: 0 };
    for (const s of this.workerStats.values()) {
      out.requests += s.requests;
      out.errors502 += s.errors502;
      out.errors503 += s.errors503;
    }
    return out;
  }

  async stop(): Promise<void> {
    for (const t of this.targets.values()) {
      t.timer?.cancel();
      t.draining?.timer.cancel();
    }
    await Promise.all(this.workers.map((w) => w.stop(5_000, () => w.send({ type: 'stop' }))));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

export function startAlb(options: AlbOptions): Promise<StartedAlb> {
  return new StartedAlb(options).start();
}
