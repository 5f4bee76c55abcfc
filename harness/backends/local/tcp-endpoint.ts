/**
 * A stable TCP endpoint in front of a server that may change, the way Aurora's cluster endpoint is
 * a DNS name that follows the writer. `switchTo()` points new connections at another server and
 * closes the existing ones, as clients of a failed-over writer see their connections break.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpTarget {
  host: string;
  port: number;
}

export interface TcpEndpoint extends AsyncDisposable {
  readonly host: string;
  readonly port: number;
  readonly target: TcpTarget | undefined;
  /** Open client connections. */
  readonly connectionCount: number;
  /** New connections go to `target`; existing ones are closed. `undefined` refuses every connection. */
  switchTo(target: TcpTarget | undefined): void;
  close(): Promise<void>;
}

export async function startTcpEndpoint(options: {
  target: TcpTarget | undefined;
  port?: number;
  host?: string;
}): Promise<TcpEndpoint> {
  let target = options.target;
  const pairs = new Set<{ client: Socket; upstream: Socket }>();

  const server: Server = createServer((client) => {
    if (!target) {
      client.destroy();
      return;
    }
    const upstream = connect({ host: target.host, port: target.port });
    const pair = { client, upstream };
    pairs.add(pair);
    const close = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.pipe(upstream);
    upstream.pipe(client);
  });

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: options.port ?? 0, host }, () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('tcp endpoint has no port');

  const close = async () => {
    for (const { client, upstream } of pairs) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    host,
    port: address.port,
    get target() {
      return target;
    },
    get connectionCount() {
      return pairs.size;
    },
    switchTo(next) {
      target = next;
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
