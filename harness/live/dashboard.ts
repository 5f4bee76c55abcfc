/**
 * The live dashboard: the report's page, following the run over server-sent events. A small
 * object the control server mounts (`routes`), and the runner feeds (`publish` every second,
 * `finish` with the report's frame). It keeps only the latest frame: a browser that connects
 * late gets it at once, one that falls behind skips frames, never queues them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Topology } from '../../infra/topology.ts';
import { PageAssets, type ReportFrame, renderPage } from '../report/html.ts';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface LiveDashboardOptions {
  topology: Topology;
  /** Shown until the first frame arrives. */
  initialFrame: ReportFrame;
  /** Where the page is served. @default '/dashboard' */
  basePath?: string;
  /** Sent as an SSE comment so idle proxies keep the stream open. @default 15000 */
  keepAliveMs?: number;
}

export interface LiveDashboard {
  /** Path → handler, for the control server to mount: the page and its event stream. */
  readonly routes: Record<string, RouteHandler>;
  readonly pagePath: string;
  /** Sends the run so far to every open page. */
  publish(frame: ReportFrame): void;
  /** Sends the last frame (the report's), then ends every stream: pages stop listening. */
  finish(frame: ReportFrame): void;
  /** Ends every stream without a last frame (Ctrl-C, the server stopping). */
  close(): void;
}

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
};

export function createLiveDashboard(options: LiveDashboardOptions): LiveDashboard {
  const pagePath = options.basePath ?? '/dashboard';
  const eventsPath = `${pagePath}/events`;
  const assets = new PageAssets();
  const streams = new Set<ServerResponse>();
  let latest = options.initialFrame;
  let finished = false;
  const send = (res: ServerResponse, event: string, data: unknown) =>
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const keepAlive = setInterval(() => {
    for (const res of streams) res.write(': keep-alive\n\n');
  }, options.keepAliveMs ?? 15_000);
  keepAlive.unref();

  const endAll = () => {
    for (const res of streams) res.end();
    streams.clear();
    clearInterval(keepAlive);
  };

  const page: RouteHandler = (req, res) => {
    if (req.method !== 'GET') return methodNotAllowed(res);
    const html = renderPage(latest, options.topology, {
      assets,
      eventsPath: finished ? undefined : eventsPath,
    });
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html);
  };
  const events: RouteHandler = (req, res) => {
    if (req.method !== 'GET') return methodNotAllowed(res);
    res.writeHead(200, SSE_HEADERS);
    send(res, 'frame', latest);
    if (finished) {
      send(res, 'end', {});
      res.end();
      return;
    }
    streams.add(res);
    req.on('close', () => streams.delete(res));
  };

  return {
    routes: { [pagePath]: page, [eventsPath]: events },
    pagePath,
    publish(frame) {
      if (finished) return;
      latest = frame;
      for (const res of streams) send(res, 'frame', frame);
    },
    finish(frame) {
      if (finished) return;
      latest = frame;
      finished = true;
      for (const res of streams) {
        send(res, 'frame', frame);
        send(res, 'end', {});
      }
      endAll();
    },
    close() {
      finished = true;
      endAll();
    },
  };
}

function methodNotAllowed(res: ServerResponse): void {
  res
    .writeHead(405, { 'content-type': 'application/json', allow: 'GET' })
    .end(JSON.stringify({ error: { code: 'method_not_allowed', message: 'use GET' } }));
}
