/**
 * A small, strict HTTP/1.1 message-head parser and body framer for the ALB worker's proxy path.
 *
 * Hand-written on purpose: measured in `bench/alb.ts`, node:http (server + client) reached 0.33×
 * HAProxy's requests/s, `http-proxy` 0.29× and undici as the upstream client 0.49×, short of the
 * 0.6× goal, with every request parsed into objects twice. The worker only needs the request
 * head (routing, stickiness, forwarding headers) and enough of the response head to add
 * Set-Cookie lines and find where the body ends; bodies are forwarded as the bytes they arrived
 * in, chunked framing included.
 *
 * Strict: CRLF line ends only, no obs-fold, token header names, no control characters in values,
 * one Content-Length (or several equal ones), not both Content-Length and Transfer-Encoding in a
 * request, a Host header on HTTP/1.1 requests. Anything else is a {@link ParseError}.
 */

import { CLIENT_TURN_HEADER } from './protocol.ts';

/** The whole head, request line included. ALB: 64 KB in all. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** One line (request line or header). ALB: 16 KB each. */
export const MAX_LINE_BYTES = 16 * 1024;

export const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const LFLF = Buffer.from('\n\n', 'latin1');

export class ParseError extends Error {}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([!-~\x80-\xff]+) HTTP\/1\.([01])$/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: |$)/;
const WEBSOCKET = /(?:^|,)[ \t]*websocket[ \t]*(?:,|$)/i;

/** Whether `s` holds a character a field value (or reason phrase) may not: a CTL other than HTAB, or DEL. */
function hasControl(s: string, from = 0): boolean {
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 32 && c !== 9) || c === 127) return true;
  }
  return false;
}

interface Head {
  /** HTTP/1.x minor version. */
  minor: 0 | 1;
  /** The start line as received. */
  startLine: string;
  /** Lower-case header names, parallel to `lines`. */
  names: string[];
  /** Header lines as received (`Name: value`). */
  lines: string[];
  /** -1 when absent. */
  contentLength: number;
  /** Transfer-Encoding is present. */
  transferEncoding: boolean;
  /** ... and its last coding is chunked. */
  chunked: boolean;
  connectionClose: boolean;
  connectionKeepAlive: boolean;
  connectionUpgrade: boolean;
}

export interface RequestHead extends Head {
  method: string;
  target: string;
  upgrade: string | undefined;
  /** Every Cookie header, joined with `; `. */
  cookie: string | undefined;
  /** Every X-Forwarded-For header, joined with `, `. */
  forwardedFor: string | undefined;
  /** The client's round-robin turn (CLIENT_TURN_HEADER), when it sent a whole number. */
  turn: number | undefined;
}

export interface ResponseHead extends Head {
  status: number;
  /** From `Keep-Alive: timeout=N`, seconds; -1 when absent. */
  keepAliveTimeout: number;
}

/**
 * Where a head that starts at `start` ends: the offset just past its blank line, or -1 when more
 * bytes are needed. Throws when it cannot be a valid head within the limits. `from` is where to
 * resume the search (the length already searched), so a head arriving byte by byte stays linear.
 */
export function headEnd(buf: Buffer, start: number, from = start): number {
  const at = buf.indexOf(CRLFCRLF, Math.max(start, from - 3));
  if (at >= 0) {
    if (at + 4 - start > MAX_HEAD_BYTES) throw new ParseError('head too large');
    return at + 4;
  }
  if (buf.length - start > MAX_HEAD_BYTES) throw new ParseError('head too large');
  if (buf.indexOf(LFLF, Math.max(start, from - 1)) >= 0) throw new ParseError('bare LF');
  return -1;
}

/** Blank lines a client may send before a request line (RFC 9112 §2.2): how many bytes of them. */
export function leadingBlankLines(buf: Buffer, start: number): number {
  let i = start;
  while (i + 1 < buf.length && buf[i] === 13 && buf[i + 1] === 10) i += 2;
  return i - start;
}

function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

function parseLines(text: string, head: Head, onHeader: (name: string, value: string) => void): void {
  const lines = text.split('\r\n');
  if (lines[0]!.length > MAX_LINE_BYTES) throw new ParseError('start line too long');
  head.startLine = lines[0]!;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.length > MAX_LINE_BYTES) throw new ParseError('header line too long');
    const colon = line.indexOf(':');
    if (colon <= 0) throw new ParseError('header line without a name');
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) throw new ParseError('bad header name');
    const value = trimOws(line.slice(colon + 1));
    if (hasControl(value)) throw new ParseError('bad header value');
    const lower = name.toLowerCase();
    head.names.push(lower);
    head.lines.push(line);
    switch (lower) {
      case 'content-length': {
        if (!/^\d{1,15}$/.test(value)) throw new ParseError('bad content-length');
        const n = Number(value);
        if (head.contentLength >= 0 && head.contentLength !== n) throw new ParseError('two content-lengths');
        head.contentLength = n;
        break;
      }
      case 'transfer-encoding': {
        head.transferEncoding = true;
        const codings = value.toLowerCase().split(',');
        head.chunked = trimOws(codings[codings.length - 1]!) === 'chunked';
        break;
      }
      case 'connection':
        for (const token of value.toLowerCase().split(',')) {
          const t = trimOws(token);
          if (t === 'close') head.connectionClose = true;
          else if (t === 'keep-alive') head.connectionKeepAlive = true;
          else if (t === 'upgrade') head.connectionUpgrade = true;
        }
        break;
      default:
        onHeader(lower, value);
    }
  }
}

function emptyHead(): Head {
  return {
    minor: 1,
    startLine: '',
    names: [],
    lines: [],
    contentLength: -1,
    transferEncoding: false,
    chunked: false,
    connectionClose: false,
    connectionKeepAlive: false,
    connectionUpgrade: false,
  };
}

/** Parses the request head in `buf[start, end)`, `end` being {@link headEnd}'s answer. */
export function parseRequestHead(buf: Buffer, start: number, end: number): RequestHead {
  const head = emptyHead() as RequestHead;
  head.upgrade = undefined;
  head.cookie = undefined;
  head.forwardedFor = undefined;
  head.turn = undefined;
  let hosts = 0;
  parseLines(buf.toString('latin1', start, end - 4), head, (name, value) => {
    if (name === 'host') hosts++;
    else if (name === 'cookie') head.cookie = head.cookie === undefined ? value : `${head.cookie}; ${value}`;
    else if (name === 'x-forwarded-for')
      head.forwardedFor = head.forwardedFor === undefined ? value : `${head.forwardedFor}, ${value}`;
    else if (name === 'upgrade') head.upgrade = value;
    else if (name === CLIENT_TURN_HEADER && /^\d{1,9}$/.test(value)) head.turn = Number(value);
  });
  const m = REQUEST_LINE.exec(head.startLine);
  if (!m) throw new ParseError('bad request line');
  head.method = m[1]!;
  head.target = m[2]!;
  head.minor = m[3] === '1' ? 1 : 0;
  if (hosts > 1 || (hosts === 0 && head.minor === 1)) throw new ParseError('Host header missing or repeated');
  if (head.transferEncoding) {
    if (head.contentLength >= 0) throw new ParseError('both Content-Length and Transfer-Encoding');
    if (!head.chunked) throw new ParseError('request Transfer-Encoding not ending in chunked');
  }
  return head;
}

/**
 * Whether the request asks to become a WebSocket, the one upgrade ALB tunnels. Any other
 * (`h2c`, `TLS/1.2`, ...) is answered as a plain request, its upgrade headers dropped.
 */
export function isWebSocketUpgrade(head: RequestHead): boolean {
  return head.connectionUpgrade && head.upgrade !== undefined && WEBSOCKET.test(head.upgrade);
}

/** Parses the response head in `buf[start, end)`, `end` being {@link headEnd}'s answer. */
export function parseResponseHead(buf: Buffer, start: number, end: number): ResponseHead {
  const head = emptyHead() as ResponseHead;
  head.keepAliveTimeout = -1;
  parseLines(buf.toString('latin1', start, end - 4), head, (name, value) => {
    if (name === 'keep-alive') {
      const m = /(?:^|[,;\s])timeout=(\d+)/i.exec(value);
      if (m) head.keepAliveTimeout = Number(m[1]);
    }
  });
  const m = STATUS_LINE.exec(head.startLine);
  if (!m || hasControl(head.startLine, 12)) throw new ParseError('bad status line');
  head.minor = m[1] === '1' ? 1 : 0;
  head.status = Number(m[2]);
  return head;
}

/** Whether a response to `method` with this status carries no body, whatever its headers say. */
export function responseHasNoBody(method: string, status: number): boolean {
  return method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
}

/** Chunked-framing states. */
const Chunk = {
  Size: 0,
  SizeOws: 1,
  Ext: 2,
  SizeLf: 3,
  Data: 4,
  DataCr: 5,
  DataLf: 6,
  TrailerStart: 7,
  TrailerLine: 8,
  TrailerLf: 9,
  EndLf: 10,
} as const;

/**
 * Finds where a message body ends, without copying it: by Content-Length, by chunked framing
 * (strict: hex sizes, CRLF line ends, trailers bounded by {@link MAX_HEAD_BYTES}), or at the
 * close of the connection.
 */
export class BodyFramer {
  done = false;
  private remaining = 0;
  private state: number = Chunk.Size;
  private sizeDigits = 0;
  private trailerBytes = 0;

  private constructor(
    readonly kind: 'length' | 'chunked' | 'close',
    length: number,
  ) {
    this.remaining = length;
    if (kind === 'length' && length === 0) this.done = true;
  }

  static length(n: number): BodyFramer {
    return new BodyFramer('length', n);
  }

  static chunked(): BodyFramer {
    return new BodyFramer('chunked', 0);
  }

  /** A response body that ends when the connection does. */
  static untilClose(): BodyFramer {
    return new BodyFramer('close', 0);
  }

  /**
   * Takes the body bytes of `buf` from `start` on. Returns the offset just past the end of the
   * body when it ends inside `buf` (then `done` is true), or -1 when all of it was body and more
   * is to come. Throws {@link ParseError} on broken chunked framing.
   */
  feed(buf: Buffer, start = 0): number {
    if (this.done) return start;
    if (this.kind === 'close') return -1;
    if (this.kind === 'length') {
      const available = buf.length - start;
      if (available < this.remaining) {
        this.remaining -= available;
        return -1;
      }
      const end = start + this.remaining;
      this.remaining = 0;
      this.done = true;
      return end;
    }
    return this.feedChunked(buf, start);
  }

  private feedChunked(buf: Buffer, start: number): number {
    let i = start;
    const n = buf.length;
    while (i < n) {
      const c = buf[i]!;
      switch (this.state) {
        case Chunk.Size:
          this.sizeByte(c);
          i++;
          break;
        case Chunk.SizeOws:
          this.sizeOwsByte(c);
          i++;
          break;
        case Chunk.Ext:
          i = this.extension(buf, i);
          break;
        case Chunk.SizeLf:
          if (c !== 10) throw new ParseError('chunk size line without LF');
          i++;
          this.sizeDigits = 0;
          this.trailerBytes = 0;
          this.state = this.remaining === 0 ? Chunk.TrailerStart : Chunk.Data;
          break;
        case Chunk.Data: {
          const take = Math.min(this.remaining, n - i);
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) this.state = Chunk.DataCr;
          break;
        }
        case Chunk.DataCr:
          if (c !== 13) throw new ParseError('chunk data not followed by CRLF');
          this.state = Chunk.DataLf;
          i++;
          break;
        case Chunk.DataLf:
          if (c !== 10) throw new ParseError('chunk data not followed by CRLF');
          this.state = Chunk.Size;
          i++;
          break;
        case Chunk.TrailerStart:
          if (c === 13) {
            this.state = Chunk.EndLf;
            i++;
          } else this.state = Chunk.TrailerLine;
          break;
        case Chunk.TrailerLine:
          i = this.trailerLine(buf, i);
          break;
        case Chunk.TrailerLf:
          if (c !== 10) throw new ParseError('trailer without LF');
          this.state = Chunk.TrailerStart;
          i++;
          break;
        case Chunk.EndLf:
          if (c !== 10) throw new ParseError('last chunk without CRLF');
          this.done = true;
          return i + 1;
      }
    }
    return -1;
  }

  /** A byte of the chunk-size line before any whitespace, extension or CR. */
  private sizeByte(c: number): void {
    const digit = hexValue(c);
    if (digit >= 0) {
      if (++this.sizeDigits > 13) throw new ParseError('chunk size too large');
      this.remaining = this.remaining * 16 + digit;
    } else if (this.sizeDigits === 0) throw new ParseError('chunk size missing');
    else if (c === 13) this.state = Chunk.SizeLf;
    else if (c === 59 /* ; */) this.state = Chunk.Ext;
    else if (c === 32 || c === 9) this.state = Chunk.SizeOws;
    else throw new ParseError('bad chunk size');
  }

  /** Whitespace after the chunk size. */
  private sizeOwsByte(c: number): void {
    if (c === 32 || c === 9) return;
    if (c === 59) this.state = Chunk.Ext;
    else if (c === 13) this.state = Chunk.SizeLf;
    else throw new ParseError('bad chunk size line');
  }

  /** Skips a chunk extension up to its CR; returns where to go on. */
  private extension(buf: Buffer, i: number): number {
    const cr = buf.indexOf(13, i);
    const stop = cr < 0 ? buf.length : cr;
    for (let j = i; j < stop; j++) {
      const e = buf[j]!;
      if ((e < 32 && e !== 9) || e === 127) throw new ParseError('bad chunk extension');
    }
    this.trailerBytes += stop - i;
    if (this.trailerBytes > MAX_LINE_BYTES) throw new ParseError('chunk extension too long');
    if (cr < 0) return stop;
    this.state = Chunk.SizeLf;
    return stop + 1;
  }

  /** Skips a trailer line up to its CR; returns where to go on. */
  private trailerLine(buf: Buffer, i: number): number {
    const cr = buf.indexOf(13, i);
    const stop = cr < 0 ? buf.length : cr;
    for (let j = i; j < stop; j++) if (buf[j] === 10 || buf[j] === 0) throw new ParseError('bad trailer');
    this.trailerBytes += stop - i + 2;
    if (this.trailerBytes > MAX_HEAD_BYTES) throw new ParseError('trailers too large');
    if (cr < 0) return stop;
    this.state = Chunk.TrailerLf;
    return stop + 1;
  }
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}
