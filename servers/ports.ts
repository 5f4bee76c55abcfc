import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Where to look for ports for the servers we start: outside the kernel's ephemeral range. A port
 * the OS hands to `listen(0)` callers (proxies, the ALB, outgoing connections) comes from that
 * range, so a port picked here and released for a moment cannot be taken by them before the
 * server binds it.
 */
function candidateRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    // The larger gap outside the ephemeral range: below it (the usual 32768-60999) or above it.
    if (low && low > 12_000) return [10_000, low - 1];
    if (high && high < 63_000) return [high + 1, 65_535];
  } catch {
    // not Linux: fall back to the OS's choice below
  }
  return [0, 0];
}

function probe(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(undefined));
    server.listen({ port, host, exclusive: true }, () => {
      const address = server.address();
      server.close(() => resolve(address && typeof address === 'object' ? address.port : undefined));
    });
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago, outside the ephemeral range where possible. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [low, high] = candidateRange();
  if (high > low) {
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = await probe(low + Math.floor(Math.random() * (high - low + 1)), host);
      if (port) return port;
    }
  }
  const port = await probe(0, host);
  if (!port) throw new Error(`no free TCP port on ${host}`);
  return port;
}
