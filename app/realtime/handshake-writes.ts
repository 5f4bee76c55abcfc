import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * The 101 and Engine.IO's open packet leave in one write. `ws` writes the 101 and engine.io its
 * open packet in the same turn, each in a write of its own otherwise: one more segment on every
 * connect for the load balancer to relay and the client to read. Corked until the turn ends; a
 * handshake that takes longer (a refusal, a slow verification) goes out as before.
 */
export function coalesceHandshakeWrites(httpServer: Server): void {
  httpServer.prependListener('upgrade', (_request: IncomingMessage, socket: Duplex) => {
    socket.cork();
    setImmediate(() => socket.uncork());
  });
}
