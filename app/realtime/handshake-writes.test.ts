import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { Server as SocketServer } from 'socket.io';
import { afterEach, describe, expect, it } from 'vitest';
import { coalesceHandshakeWrites } from './handshake-writes.ts';

const UPGRADE = [
  'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1',
  'Host: 127.0.0.1',
  'Upgrade: websocket',
  'Connection: Upgrade',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Version: 13',
  '',
  '',
].join('\r\n');

/**
 * A Socket.IO server on a free port; counts the writes each upgraded socket hands the kernel
 * (net.Socket's `_write` / `_writev`: one system call each) until `done` says what was written so far is enough.
 */
async function serve(coalesce: boolean) {
  const http: Server = createServer();
  if (coalesce) coalesceHandshakeWrites(http);
  const io = new SocketServer(http, { transports: ['websocket'] });
  /** Each write the kernel got: how many buffers it gathered, and their bytes. */
  const writes: { chunks: number; bytes: string }[] = [];
  // Prepended last, so it runs first: it sees the socket before anything writes to it.
  http.prependListener('upgrade', (_req, socket: Duplex) => {
    const write = socket._write.bind(socket);
    const writev = socket._writev?.bind(socket);
    socket._write = (chunk: Buffer | string, encoding, cb) => {
      writes.push({ chunks: 1, bytes: chunk.toString() });
      write(chunk, encoding, cb);
    };
    if (writev)
      socket._writev = (chunks, cb) => {
        writes.push({ chunks: chunks.length, bytes: chunks.map((c) => String(c.chunk)).join('') });
        writev(chunks, cb);
      };
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return { http, io, writes, port: (http.address() as AddressInfo).port };
}

/** Upgrades over a raw socket and waits until Engine.IO's open packet has come. */
async function upgrade(port: number): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  let received = '';
  await new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (received.includes('"sid"')) resolve();
    });
    socket.on('error', reject);
    socket.write(UPGRADE);
  });
  socket.destroy();
  return received;
}

describe('coalesceHandshakeWrites', () => {
  let server: Awaited<ReturnType<typeof serve>> | undefined;
  afterEach(async () => {
    server?.io.close();
    await new Promise((resolve) => server?.http.close(resolve));
    server = undefined;
  });

  it('sends the 101 and the open packet in one write', async () => {
    server = await serve(true);
    const received = await upgrade(server.port);
    expect(received).toMatch(/^HTTP\/1.1 101 /);
    const handshake = server.writes.filter((w) => w.bytes.includes('101') || w.bytes.includes('"sid"'));
    expect(handshake).toHaveLength(1);
    expect(handshake[0]!.bytes).toMatch(/^HTTP\/1.1 101 [\s\S]*0\{"sid"/);
  });

  it('without it, Socket.IO sends them in two writes', async () => {
    server = await serve(false);
    await upgrade(server.port);
    const handshake = server.writes.filter((w) => w.bytes.includes('101') || w.bytes.includes('"sid"'));
    expect(handshake).toHaveLength(2);
  });
});
