/**
 * The harness's handle on its fault-proxy process (proxy-process.ts): named TCP routes whose
 * target can switch and whose traffic can be delayed or partitioned.
 */
import { fileURLToPath } from 'node:url';
import { forkWorker } from '../fork-worker.ts';
import type { ProxyCommand, ProxyReply, ProxyRequest, ProxyTarget, RouteStats, Toxics } from './protocol.ts';

const ENTRY = fileURLToPath(new URL('./proxy-process.ts', import.meta.url));

export type { ProxyTarget, Toxics } from './protocol.ts';

/** One route: a stable address in front of a server that may change or misbehave. */
export interface ProxyRoute {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly target: ProxyTarget | undefined;
  /** New connections go to `target`; open ones are closed. `undefined` refuses connections. */
  switchTo(target: ProxyTarget | undefined): Promise<void>;
  /** Replaces the route's toxics; `{}` restores a clean path, releasing whatever was held. */
  setToxics(toxics: Toxics): Promise<void>;
  connectionCount(): Promise<number>;
}

export interface ProxyHost extends AsyncDisposable {
  readonly pid: number;
  /** A new route; `options.port` is where it listens (@default a free port the proxy picks). */
  route(name: string, target: ProxyTarget | undefined, options?: { port?: number }): Promise<ProxyRoute>;
  routes(): ReadonlyMap<string, ProxyRoute>;
  stats(): Promise<Record<string, RouteStats>>;
  stop(): Promise<void>;
}

export async function startProxyHost(): Promise<ProxyHost> {
  const pending = new Map<number, (reply: ProxyReply) => void>();
  let nextId = 1;
  const child = await forkWorker<ProxyCommand, ProxyReply>({
    name: 'fault-proxy',
    entry: ENTRY,
    isReady: (reply) => reply.id === 0,
    onMessage: (reply) => {
      pending.get(reply.id)?.(reply);
      pending.delete(reply.id);
    },
  });
  void child.exited.then(() => {
    for (const [id, settle] of pending) settle({ id, ok: false, error: 'the fault proxy exited' });
    pending.clear();
  });

  const call = (request: ProxyRequest): Promise<ProxyReply & { ok: true }> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      if (!child.send({ ...request, id })) return reject(new Error('the fault proxy is not running'));
      pending.set(id, (reply) => (reply.ok ? resolve(reply) : reject(new Error(reply.error))));
    });

  const routes = new Map<string, ProxyRoute>();
  const stop = () => child.stop(3_000);
  return {
    pid: child.pid,
    async route(name, initial, options = {}) {
      const { port } = await call({ type: 'add', name, target: initial, ...options });
      let target = initial;
      const route: ProxyRoute = {
        name,
        host: '127.0.0.1',
        port: port!,
        get target() {
          return target;
        },
        async switchTo(next) {
          target = next;
          await call({ type: 'switch', name, target: next });
        },
        async setToxics(toxics) {
          await call({ type: 'toxics', name, toxics });
        },
        async connectionCount() {
          return (await call({ type: 'stats' })).stats?.[name]?.connections ?? 0;
        },
      };
      routes.set(name, route);
      return route;
    },
    routes: () => routes,
    async stats() {
      return (await call({ type: 'stats' })).stats ?? {};
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
