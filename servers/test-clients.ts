/**
 * Small clients for tests of started servers: a pg pool that a stopping server does not upset, a
 * JSON call over HTTP, the next event an emitter (a Socket.IO client, or the load generator's
 * light one) emits.
 */
import pg from 'pg';

/** A pg pool for test assertions; a server stopping under a closing connection is not an error. */
export function testPool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 5 });
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies of many shapes
export interface JsonResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies of many shapes
export async function api<T = any>(
  baseUrl: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; rawBody?: string; contentType?: string } = {},
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined || options.rawBody !== undefined)
    headers['content-type'] = options.contentType ?? 'application/json';
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    body: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

/** What `nextEvent` listens on: socket.io-client's Socket, or the load generator's light client. */
export interface EventEmitting {
  // biome-ignore lint/suspicious/noExplicitAny: tests read payloads of many shapes
  on(event: string, listener: (payload: any) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: tests read payloads of many shapes
  off(event: string, listener: (payload: any) => void): unknown;
}

/** Resolves with the first `event` payload matching `predicate`. */
// biome-ignore lint/suspicious/noExplicitAny: tests read payloads of many shapes
export function nextEvent<T = any>(
  socket: EventEmitting,
  event: string,
  predicate: (payload: T) => boolean = () => true,
  timeoutMs = 15_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, handler);
      reject(new Error(`no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const handler = (payload: T) => {
      if (!predicate(payload)) return;
      clearTimeout(timer);
      socket.off(event, handler);
      resolve(payload);
    };
    socket.on(event, handler);
  });
}
