/**
 * CloudFront + S3 stand-in. The default behaviour serves a static build folder (the S3 origin)
 * with the design's default TTL and compression, cached at the edge; `/api/*` and the Socket.IO
 * path go to the ALB uncached, WebSocket upgrades included.
 *
 * Not emulated: redirect-to-https (everything is plain HTTP on loopback) and edge locations.
 */
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { connect, type Socket } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, gzipSync, constants as zlib } from 'node:zlib';
import type { Topology } from '../../infra/topology.ts';
import type { Clock } from '../clock/clock.ts';

export const DEFAULT_SITE_DIR = fileURLToPath(new URL('./site', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};
const COMPRESSIBLE = /^(text\/|application\/json|image\/svg)/;
/** CloudFront compresses objects between 1,000 and 10,000,000 bytes. */
const COMPRESS_MIN_BYTES = 1_000;
const COMPRESS_MAX_BYTES = 10_000_000;

interface CachedObject {
  body: Buffer;
  gzip?: Buffer;
  br?: Buffer;
  contentType: string;
  etag: string;
  storedAtMs: number;
}

export interface EdgeOptions {
  topology: Topology;
  clock: Clock;
  /** The ALB's base URL, e.g. `http://127.0.0.1:8080`. */
  originUrl: string;
  /** Static build folder (the frontend bucket). @default the bundled waiting-room page */
  siteDir?: string;
  port?: number;
}

export interface StartedEdge extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  /** Edge cache hits and misses of the default behaviour. */
  stats(): { hits: number; misses: number; forwarded: number };
  stop(): Promise<void>;
}

function isForwarded(path: string, apiPattern: string): boolean {
  // `/api/*` in CloudFront's path-pattern syntax; Socket.IO's path rides on the same behaviour.
  const prefix = apiPattern.endsWith('*') ? apiPattern.slice(0, -1) : apiPattern;
  return path.startsWith(prefix) || path.startsWith('/socket.io/');
}

function cloudFrontHeaders(hit: boolean): Record<string, string> {
  return {
    'x-cache': hit ? 'Hit from cloudfront' : 'Miss from cloudfront',
    via: '1.1 local.cloudfront.net (CloudFront)',
    'x-amz-cf-pop': 'ICN-LOCAL',
    'x-amz-cf-id': randomBytes(12).toString('base64url'),
  };
}

export async function startEdge(options: EdgeOptions): Promise<StartedEdge> {
  const { topology, clock } = options;
  const siteDir = resolve(options.siteDir ?? DEFAULT_SITE_DIR);
  const origin = new URL(options.originUrl);
  const ttlMs = topology.edge.staticDefaultTtlSeconds * 1_000;
  const cache = new Map<string, CachedObject>();
  const stats = { hits: 0, misses: 0, forwarded: 0 };
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });

  async function loadObject(path: string): Promise<CachedObject | undefined> {
    const relative = normalize(path === '/' ? '/index.html' : decodeURIComponent(path));
    const file = join(siteDir, relative);
    if (!file.startsWith(siteDir + sep)) return undefined; // no escaping the bucket
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) return undefined;
    const body = await readFile(file);
    const contentType = CONTENT_TYPES[extname(file)] ?? 'application/octet-stream';
    const object: CachedObject = {
      body,
      contentType,
      etag: `"${info.size.toString(16)}-${info.mtimeMs.toString(16)}"`,
      storedAtMs: clock.now(),
    };
    if (
      topology.edge.compress &&
      COMPRESSIBLE.test(contentType) &&
      body.length >= COMPRESS_MIN_BYTES &&
      body.length <= COMPRESS_MAX_BYTES
    ) {
      object.gzip = gzipSync(body);
      object.br = brotliCompressSync(body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 5 } });
    }
    return object;
  }

  async function serveStatic(req: IncomingMessage, res: ServerResponse, path: string) {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res
        .writeHead(403, { 'content-type': 'text/plain', ...cloudFrontHeaders(false) })
        .end(
          'This distribution is not configured to allow the HTTP request method that was used for this request.',
        );
      return;
    }
    let object = cache.get(path);
    const hit = object !== undefined && clock.now() - object.storedAtMs < ttlMs;
    if (!hit) {
      object = await loadObject(path);
      if (object) cache.set(path, object);
    }
    hit ? stats.hits++ : stats.misses++;
    if (!object) {
      res.writeHead(404, { 'content-type': 'application/xml', ...cloudFrontHeaders(false) });
      res.end(
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>',
      );
      return;
    }
    const ageSeconds = Math.floor((clock.now() - object.storedAtMs) / 1_000);
    const headers: Record<string, string | number> = {
      'content-type': object.contentType,
      'cache-control': `public, max-age=${topology.edge.staticDefaultTtlSeconds}`,
      etag: object.etag,
      age: ageSeconds,
      vary: 'Accept-Encoding',
      ...cloudFrontHeaders(hit),
    };
    if (req.headers['if-none-match'] === object.etag) {
      res.writeHead(304, headers).end();
      return;
    }
    const accepts = String(req.headers['accept-encoding'] ?? '');
    let body = object.body;
    if (object.br && /\bbr\b/.test(accepts)) {
      body = object.br;
      headers['content-encoding'] = 'br';
    } else if (object.gzip && /\bgzip\b/.test(accepts)) {
      body = object.gzip;
      headers['content-encoding'] = 'gzip';
    }
    headers['content-length'] = body.length;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  function forward(req: IncomingMessage, res: ServerResponse) {
    stats.forwarded++;
    const upstream = httpRequest(
      {
        host: origin.hostname,
        port: origin.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: origin.host, 'x-forwarded-proto': 'http' },
        agent,
      },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, { ...upstreamRes.headers, ...cloudFrontHeaders(false) });
        upstreamRes.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/html', ...cloudFrontHeaders(false) });
        res.end(
          "<html><body><h1>502 ERROR</h1><p>The request could not be satisfied. CloudFront wasn't able to connect to the origin.</p></body></html>",
        );
      } else res.destroy();
    });
    req.pipe(upstream);
  }

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (isForwarded(path, topology.edge.apiPathPattern)) return forward(req, res);
    serveStatic(req, res, path).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('edge error');
    });
  });

  // WebSocket upgrades ride through to the ALB as raw bytes.
  server.on('upgrade', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (!isForwarded(path, topology.edge.apiPathPattern)) return client.destroy();
    stats.forwarded++;
    const upstream = connect({ host: origin.hostname, port: Number(origin.port) }, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    upstream.on('error', close).on('close', close);
    client.on('error', close).on('close', close);
  });

  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen({ port: options.port ?? 0, host: '127.0.0.1' }, () => resolvePromise());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('edge has no port');
  const stop = async () => {
    agent.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    stats: () => ({ ...stats }),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
