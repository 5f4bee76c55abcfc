/** Messages between the harness and its fault-proxy process. */

export interface ProxyTarget {
  host: string;
  port: number;
}

/** What a route does to the bytes it carries, like Toxiproxy's toxics. */
export interface Toxics {
  /** Every chunk waits this long (± jitter), in order, in both directions. */
  latency?: { latencyMs: number; jitterMs: number };
  /** Nothing passes either way, and new connections wait; held bytes flow once it is lifted. */
  partitioned?: boolean;
}

export type ProxyRequest =
  /** `port`: listen there (chosen ahead, so a client can be told before the route exists). @default a free one */
  | { type: 'add'; name: string; target: ProxyTarget | undefined; port?: number }
  /** New connections go to `target`; open ones are closed, as clients of a failed-over server see. */
  | { type: 'switch'; name: string; target: ProxyTarget | undefined }
  | { type: 'toxics'; name: string; toxics: Toxics }
  | { type: 'stats' };

export type ProxyCommand = ProxyRequest & { id: number };

export interface RouteStats {
  port: number;
  connections: number;
  target: ProxyTarget | undefined;
  toxics: Toxics;
}

export type ProxyReply =
  | { id: number; ok: true; port?: number; stats?: Record<string, RouteStats> }
  | { id: number; ok: false; error: string };
