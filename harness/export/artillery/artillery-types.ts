/** The slice of Artillery's processor API the exported processor uses (Artillery ships no types for it). */

export type Done = (err?: Error) => void;

export interface Events {
  emit(kind: 'counter' | 'histogram', name: string, value: number): void;
}

/** Socket.IO client socket the engine keeps per namespace (`''` is the main one). */
export interface EngineSocket {
  on(event: string, listener: (payload: unknown) => void): void;
  off(event: string, listener: (payload: unknown) => void): void;
  emit(event: string, payload: unknown, ack: (reply: unknown) => void): void;
}

export interface UserContext {
  vars: Record<string, unknown>;
  sockets?: Record<string, EngineSocket>;
  _jar?: { getCookieStringSync?(url: string): string };
}

export interface HookRequest {
  name?: string;
  url?: string;
  json?: unknown;
}

export interface HookResponse {
  statusCode: number;
  body?: unknown;
  timings?: { phases?: { total?: number; firstByte?: number } };
}

/** Reads fields of a payload of unknown shape without trusting it. */
export function decodeUnknown(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}
