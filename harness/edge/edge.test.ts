import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { Server as SocketServer } from 'socket.io';
import { io as connectClient } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { designTopology } from '../../infra/topology.ts';
import { ManualClock } from '../clock/clock.ts';
import { type StartedEdge, startEdge } from './edge.ts';

describe('edge (CloudFront + S3 stand-in)', () => {
  const clock = new ManualClock(Date.UTC(2026, 10, 24, 19, 30));
  const originHits: string[] = [];
  const origin = createServer((req, res) => {
    originHits.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url }));
  });
  const sockets = new SocketServer(origin);
  sockets.on('connection', (socket) => socket.emit('hello', { from: 'origin' }));
  let edge: StartedEdge;

  beforeAll(async () => {
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', () => r()));
    const port = (origin.address() as { port: number }).port;
    edge = await startEdge({ topology: designTopology, clock, originUrl: `http://127.0.0.1:${port}` });
  });
  afterAll(async () => {
    await edge.stop();
    sockets.close();
  });

  it('serves the static build with the design TTL, compressed, and caches it until the TTL ends', async () => {
    const first = await fetch(`${edge.url}/static/waiting-room.js`, {
      headers: { 'accept-encoding': 'gzip' },
    });
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe(
      `public, max-age=${designTopology.edge.staticDefaultTtlSeconds}`,
    );
    expect(first.headers.get('x-cache')).toBe('Miss from cloudfront');
    expect(first.headers.get('content-encoding')).toBe('gzip');
    expect(await first.text()).toContain('queue:update'); // fetch decodes gzip for us

    const second = await fetch(`${edge.url}/static/waiting-room.js`);
    expect(second.headers.get('x-cache')).toBe('Hit from cloudfront');

    clock.advance(designTopology.edge.staticDefaultTtlSeconds * 1_000);
    const expired = await fetch(`${edge.url}/static/waiting-room.js`);
    expect(expired.headers.get('x-cache')).toBe('Miss from cloudfront');
    expect(edge.stats()).toMatchObject({ hits: 1, misses: 2 });
  });

  it('compresses with gzip on request, raw bytes intact', async () => {
    const { request } = await import('node:http');
    const body = await new Promise<Buffer>((resolve) => {
      request(`${edge.url}/static/waiting-room.js`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks)));
      }).end();
    });
    expect(gunzipSync(body).toString()).toContain('io({ auth');
  });

  it('serves index.html at / and 404s unknown keys and paths outside the bucket', async () => {
    expect(await (await fetch(`${edge.url}/`)).text()).toContain('waiting room');
    expect((await fetch(`${edge.url}/nope.js`)).status).toBe(404);
    expect((await fetch(`${edge.url}/static/..%2F..%2Fedge.ts`)).status).toBe(404);
  });

  it('forwards /api/* to the ALB uncached, every time', async () => {
    originHits.length = 0;
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${edge.url}/api/events?i=${i}`, { method: 'GET' });
      expect(res.headers.get('x-cache')).toBe('Miss from cloudfront');
      expect(await res.json()).toEqual({ path: `/api/events?i=${i}` });
    }
    const post = await fetch(`${edge.url}/api/events/e1/queue`, { method: 'POST' });
    expect(post.status).toBe(200);
    expect(originHits).toEqual([
      'GET /api/events?i=0',
      'GET /api/events?i=1',
      'GET /api/events?i=2',
      'POST /api/events/e1/queue',
    ]);
  });

  it('carries Socket.IO over a WebSocket to the origin', async () => {
    const client = connectClient(edge.url, { transports: ['websocket'], reconnection: false });
    try {
      const hello = await new Promise<unknown>((resolve, reject) => {
        client.once('hello', resolve);
        client.once('connect_error', reject);
      });
      expect(hello).toEqual({ from: 'origin' });
    } finally {
      client.close();
    }
  });
});
