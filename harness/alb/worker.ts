/**
 * An ALB proxy worker. Several share one listening socket (handed over by the control process);
 * each routes HTTP requests and WebSocket upgrades to healthy targets with AWSALB stickiness.
 * Several, because one process may hold 20,000 open files here and a proxied WebSocket holds two.
 */
import { randomBytes } from 'node:crypto';
import {
  Agent,
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import { connect, type Socket } from 'node:net';
import { decodeStickyCookie, encodeStickyCookie, stickyCookieOf } from './cookie.ts';
import type { ClockAnchor, FromAlbWorker, RoutableTarget, ToAlbWorker } from './protocol.ts';

const REPORT_MS = 500;
const BODY_502 =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n';
const BODY_503 =
  '<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n';

interface TargetRuntime {
  target: RoutableTarget;
  agent: Agent;
  /** Client-side sockets of requests in flight and WebSockets, to close at the end of draining. */
  open: Set<Socket>;
  count: number;
}

let settings: Extract<ToAlbWorker, { type: 'init' }> | undefined;
let anchor: ClockAnchor = { simMs: Date.now(), wallMs: Date.now(), timeScale: 1 };
const runtimes = new Map<string, TargetRuntime>();
let healthy: TargetRuntime[] = [];
let rr = 0;
let requests = 0;
let errors502 = 0;
let errors503 = 0;
let server: Server | undefined;

function simNow(): number {
  return anchor.simMs + (Date.now() - anchor.wallMs) * anchor.timeScale;
}

function send(message: FromAlbWorker): void {
  process.send?.(message);
}

function applyTargets(targets: RoutableTarget[]): void {
  const seen = new Set<string>();
  for (const t of targets) {
    seen.add(t.id);
    const existing = runtimes.get(t.id);
    if (existing) existing.target = t;
    else
      runtimes.set(t.id, {
        target: t,
        agent: new Agent({ keepAlive: true, maxSockets: 512, keepAliveMsecs: 10_000 }),
        open: new Set(),
        count: 0,
      });
  }
  for (const [id, rt] of runtimes) {
    if (!seen.has(id)) {
      closeTarget(id);
      rt.agent.destroy();
      runtimes.delete(id);
    }
  }
  healthy = [...runtimes.values()].filter((r) => r.target.state === 'healthy');
  // AWS fails open: when every registered target is unhealthy, it routes to all of them.
  if (healthy.length === 0) healthy = [...runtimes.values()].filter((r) => r.target.state === 'unhealthy');
}

function closeTarget(id: string): void {
  const rt = runtimes.get(id);
  if (!rt) return;
  for (const socket of rt.open) socket.destroy();
  rt.open.clear();
  rt.agent.destroy();
  rt.agent = new Agent({ keepAlive: true, maxSockets: 512 });
}

/**
 * The sticky target if it can take new traffic, else the next healthy one (and a new cookie).
 * "Healthy" means routable: the healthy targets, or every unhealthy one when none is healthy.
 */
function route(cookieHeader: string | undefined): { rt: TargetRuntime; setCookie: boolean } | undefined {
  const sticky = stickyCookieOf(cookieHeader);
  if (sticky && settings) {
    const id = decodeStickyCookie(settings.cookieSecret, sticky, simNow());
    const rt = id ? runtimes.get(id) : undefined;
    if (rt && healthy.includes(rt)) return { rt, setCookie: false };
  }
  if (healthy.length === 0) return undefined;
  const rt = healthy[rr++ % healthy.length]!;
  return { rt, setCookie: true };
}

function stickyHeaders(rt: TargetRuntime): string[] {
  const s = settings!;
  const value = encodeStickyCookie(s.cookieSecret, rt.target.id, simNow() + s.stickinessSeconds * 1_000);
  // ALB sets both; the CORS twin carries SameSite=None (Secure is left out: this is plain HTTP).
  return [
    `AWSALB=${value}; Max-Age=${s.stickinessSeconds}; Path=/`,
    `AWSALBCORS=${value}; Max-Age=${s.stickinessSeconds}; Path=/; SameSite=None`,
  ];
}

function traceId(): string {
  return `Root=1-${Math.floor(Date.now() / 1_000).toString(16)}-${randomBytes(12).toString('hex')}`;
}

function forwardedHeaders(req: IncomingMessage): Record<string, string> {
  const remote = req.socket.remoteAddress ?? '';
  const prior = req.headers['x-forwarded-for'];
  return {
    'x-forwarded-for': prior ? `${prior}, ${remote}` : remote,
    'x-forwarded-proto': 'http',
    'x-forwarded-port': String(req.socket.localPort ?? ''),
    'x-amzn-trace-id': traceId(),
  };
}

function errorPage(res: ServerResponse, status: 502 | 503): void {
  if (status === 502) errors502++;
  else errors503++;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = status === 502 ? BODY_502 : BODY_503;
  res.writeHead(status, {
    server: 'awselb/2.0',
    'content-type': 'text/html',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function handleRequest(req: IncomingMessage, res: ServerResponse): void {
  requests++;
  const routed = route(req.headers.cookie);
  if (!routed) {
    errorPage(res, 503);
    return;
  }
  const { rt, setCookie } = routed;
  rt.count++;
  rt.open.add(req.socket);
  let finished = false;
  const done = () => {
    if (finished) return;
    finished = true;
    rt.count--;
    rt.open.delete(req.socket);
  };
  const upstream = request(
    {
      host: rt.target.host,
      port: rt.target.port,
      method: req.method,
      path: req.url,
      headers: { ...req.headers, ...forwardedHeaders(req) },
      agent: rt.agent,
    },
    (upRes) => {
      const headers = upRes.headers;
      if (setCookie) {
        const existing = headers['set-cookie'] ?? [];
        headers['set-cookie'] = [...existing, ...stickyHeaders(rt)];
      }
      res.writeHead(upRes.statusCode ?? 502, headers);
      upRes.pipe(res);
      upRes.on('error', () => res.destroy());
    },
  );
  upstream.on('error', () => errorPage(res, 502));
  res.on('close', () => {
    done();
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}

function handleUpgrade(req: IncomingMessage, client: Socket, head: Buffer): void {
  requests++;
  const routed = route(req.headers.cookie);
  if (!routed) {
    errors503++;
    client.end(
      `HTTP/1.1 503 Service Temporarily Unavailable\r\nServer: awselb/2.0\r\nContent-Type: text/html\r\nContent-Length: ${Buffer.byteLength(BODY_503)}\r\n\r\n${BODY_503}`,
    );
    return;
  }
  const { rt, setCookie } = routed;
  rt.count++;
  rt.open.add(client);
  let closed = false;
  const upstream = connect({ host: rt.target.host, port: rt.target.port }, () => {
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2)
      lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    for (const [k, v] of Object.entries(forwardedHeaders(req))) lines.push(`${k}: ${v}`);
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) upstream.write(head);
    if (setCookie) {
      // Stickiness on the 101 response: add our Set-Cookie lines to the target's headers.
      let buffered = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        upstream.off('data', onData);
        const cookies = stickyHeaders(rt)
          .map((c) => `Set-Cookie: ${c}`)
          .join('\r\n');
        client.write(
          Buffer.concat([buffered.subarray(0, end), Buffer.from(`\r\n${cookies}`), buffered.subarray(end)]),
        );
        upstream.pipe(client);
      };
      upstream.on('data', onData);
    } else upstream.pipe(client);
    client.pipe(upstream);
  });
  const close = () => {
    if (closed) return;
    closed = true;
    rt.count--;
    rt.open.delete(client);
    client.destroy();
    upstream.destroy();
  };
  upstream.on('error', () => {
    if (!client.writableEnded && upstream.bytesRead === 0) {
      errors502++;
      client.end(
        `HTTP/1.1 502 Bad Gateway\r\nServer: awselb/2.0\r\nContent-Length: ${Buffer.byteLength(BODY_502)}\r\n\r\n${BODY_502}`,
      );
    }
    close();
  });
  upstream.on('close', close);
  client.on('error', close).on('close', close);
}

function report(): void {
  const perTarget: Record<string, number> = {};
  for (const [id, rt] of runtimes) perTarget[id] = rt.count;
  send({
    type: 'connections',
    workerIndex: settings?.workerIndex ?? -1,
    perTarget,
    requests,
    errors502,
    errors503,
  });
}

process.on('message', (message: ToAlbWorker, handle?: unknown) => {
  switch (message.type) {
    case 'init': {
      settings = message;
      anchor = message.anchor;
      server = createServer(handleRequest);
      server.on('upgrade', handleUpgrade);
      server.keepAliveTimeout = message.idleTimeoutMs;
      server.headersTimeout = message.idleTimeoutMs + 1_000;
      server.on('clientError', (_err, socket) => socket.destroy());
      // The control process hands over its listening socket; every worker accepts on it.
      server.listen(handle as import('node:net').Server, () =>
        send({ type: 'ready', workerIndex: message.workerIndex }),
      );
      setInterval(report, REPORT_MS).unref();
      return;
    }
    case 'targets':
      anchor = message.anchor;
      applyTargets(message.targets);
      return;
    case 'close-target':
      closeTarget(message.id);
      return;
    case 'stop':
      server?.close();
      for (const id of runtimes.keys()) closeTarget(id);
      process.exit(0);
  }
});

process.on('disconnect', () => process.exit(0));
