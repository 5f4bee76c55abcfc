/**
 * The topology's control endpoint (`tiketi-sim status`, `tiketi-sim chaos`): a route table on a
 * loopback HTTP server. Adding a route is one `mount()`; a handler gets the raw request and
 * response, so it may answer JSON (`replyJson`), text, or keep the response open (a stream).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface ControlServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Answers `method path` (the path without its query string); a second mount of it replaces the first. */
  mount(method: HttpMethod, path: string, handler: RouteHandler): void;
  stop(): Promise<void>;
}

/** The project's error body: `{ error: { code, message, field? } }`. */
export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

export function replyJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

export function replyError(res: ServerResponse, status: number, error: ErrorBody['error']): void {
  replyJson(res, status, { error } satisfies ErrorBody);
}

/** The request's body, parsed as JSON; `ok: false` when it is not JSON. */
export async function readJson(req: IncomingMessage): Promise<{ ok: true; body: unknown } | { ok: false }> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return { ok: true, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch {
    return { ok: false };
  }
}

class RouteTable {
  private readonly routes = new Map<string, RouteHandler>();

  mount(method: HttpMethod, path: string, handler: RouteHandler): void {
    this.routes.set(`${method} ${path}`, handler);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://control').pathname;
    const handler = this.routes.get(`${req.method} ${path}`);
    if (!handler)
      return replyError(res, 404, { code: 'not_found', message: [...this.routes.keys()].join(', ') });
    try {
      await handler(req, res);
    } catch (err) {
      if (!res.headersSent) replyError(res, 500, { code: 'control_failed', message: (err as Error).message });
      else res.destroy(err as Error);
    }
  }
}

export async function startControlServer(): Promise<ControlServer> {
  const routes = new RouteTable();
  const server: Server = createServer((req, res) => void routes.handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    mount: (method, path, handler) => routes.mount(method, path, handler),
    stop() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
