/**
 * The fault proxy: named TCP routes (app → database writer, app → Redis primary, client → ALB…)
 * whose target can switch (Aurora's cluster endpoint following a promotion) and whose bytes can
 * be delayed or held (a partition), then released without loss — Toxiproxy's model. Toxiproxy
 * itself is a Go server with no Debian package, so this process stands in for it. It runs apart
 * from the harness so a busy runner never slows the database path; its entry is proxy-process.ts.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { ProxyCommand, ProxyReply, ProxyTarget, RouteStats, Toxics } from './protocol.ts';

/** Carries one direction of a connection, applying the route's toxics chunk by chunk, in order. */
class Pipe {
  private readonly queue: { chunk: Buffer; dueAt: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastDueAt = 0;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly toxics: () => Toxics,
  ) {
    from.on('data', (chunk: Buffer) => this.push(chunk));
    from.on('end', () => this.whenDrained(() => to.end()));
  }

  private endWaiters: (() => void)[] = [];

  private whenDrained(fn: () => void) {
    if (this.queue.length === 0) fn();
    else this.endWaiters.push(fn);
  }

  private push(chunk: Buffer) {
    const { latency } = this.toxics();
    let delay = 0;
    if (latency) {
      const jitter = latency.jitterMs > 0 ? (Math.random() * 2 - 1) * latency.jitterMs : 0;
      delay = Math.max(0, latency.latencyMs + jitter);
    }
    // Order is kept: a chunk never overtakes the one before it.
    const dueAt = Math.max(this.lastDueAt, Date.now() + delay);
    this.lastDueAt = dueAt;
    this.queue.push({ chunk, dueAt });
    this.flush();
  }

  /** Sends what is due; holds everything while partitioned. */
  flush() {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.toxics().partitioned) {
      this.from.pause(); // the sender's window fills, as across a partition
      return;
    }
    this.from.resume();
    const now = Date.now();
    while (this.queue.length > 0 && this.queue[0]!.dueAt <= now) {
      const { chunk } = this.queue.shift()!;
      if (!this.to.destroyed) this.to.write(chunk);
    }
    if (this.queue.length > 0) this.timer = setTimeout(() => this.flush(), this.queue[0]!.dueAt - now);
    else for (const fn of this.endWaiters.splice(0)) fn();
  }

  dispose() {
    if (this.timer) clearTimeout(this.timer);
  }
}

interface Connection {
  client: Socket;
  upstream?: Socket;
  pipes: Pipe[];
  close(): void;
}

class Route {
  readonly connections = new Set<Connection>();
  toxics: Toxics = {};
  /** Connections accepted during a partition wait here for it to lift. */
  private readonly waiting = new Set<Connection>();

  constructor(
    readonly server: Server,
    public target: ProxyTarget | undefined,
  ) {
    server.on('connection', (client) => this.accept(client));
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  private accept(client: Socket) {
    if (!this.target) {
      client.destroy();
      return;
    }
    client.setNoDelay(true);
    const connection: Connection = {
      client,
      pipes: [],
      close: () => {
        this.connections.delete(connection);
        this.waiting.delete(connection);
        for (const p of connection.pipes) p.dispose();
        client.destroy();
        connection.upstream?.destroy();
      },
    };
    this.connections.add(connection);
    client.on('error', connection.close).on('close', connection.close);
    if (this.toxics.partitioned) {
      client.pause();
      this.waiting.add(connection);
      return;
    }
    this.open(connection);
  }

  private open(connection: Connection) {
    const target = this.target;
    if (!target) return connection.close();
    const upstream = connect({ host: target.host, port: target.port });
    upstream.setNoDelay(true);
    connection.upstream = upstream;
    upstream.on('error', connection.close).on('close', connection.close);
    connection.pipes = [
      new Pipe(connection.client, upstream, () => this.toxics),
      new Pipe(upstream, connection.client, () => this.toxics),
    ];
    connection.client.resume();
  }

  setToxics(toxics: Toxics) {
    this.toxics = toxics;
    for (const c of this.connections) for (const p of c.pipes) p.flush();
    if (!toxics.partitioned) {
      for (const c of [...this.waiting]) {
        this.waiting.delete(c);
        this.open(c);
      }
    }
  }

  switchTo(target: ProxyTarget | undefined) {
    this.target = target;
    for (const c of [...this.connections]) c.close();
  }

  stats(): RouteStats {
    return { port: this.port, connections: this.connections.size, target: this.target, toxics: this.toxics };
  }
}

/** The proxy's routes by name, driven by commands from the harness (proxy-host.ts). */
export class FaultProxy {
  private readonly routes = new Map<string, Route>();

  private route(name: string): Route {
    const r = this.routes.get(name);
    if (!r) throw new Error(`no route named ${name}`);
    return r;
  }

  async handle(command: ProxyCommand): Promise<ProxyReply> {
    switch (command.type) {
      case 'add': {
        if (this.routes.has(command.name)) throw new Error(`route ${command.name} exists`);
        const server = createServer();
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ port: command.port ?? 0, host: '127.0.0.1' }, () => resolve());
        });
        const r = new Route(server, command.target);
        this.routes.set(command.name, r);
        return { id: command.id, ok: true, port: r.port };
      }
      case 'switch':
        this.route(command.name).switchTo(command.target);
        return { id: command.id, ok: true };
      case 'toxics':
        this.route(command.name).setToxics(command.toxics);
        return { id: command.id, ok: true };
      case 'stats':
        return {
          id: command.id,
          ok: true,
          stats: Object.fromEntries([...this.routes].map(([name, r]) => [name, r.stats()])),
        };
    }
  }
}
