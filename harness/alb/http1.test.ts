import { describe, expect, it } from 'vitest';
import {
  BodyFramer,
  headEnd,
  isWebSocketUpgrade,
  leadingBlankLines,
  MAX_HEAD_BYTES,
  ParseError,
  parseRequestHead,
  parseResponseHead,
  responseHasNoBody,
} from './http1.ts';
import { forwardedHead } from './responses.ts';

const b = (s: string) => Buffer.from(s, 'latin1');

function request(text: string) {
  const buf = b(text);
  const end = headEnd(buf, 0);
  if (end < 0) throw new Error('incomplete');
  return parseRequestHead(buf, 0, end);
}

function response(text: string) {
  const buf = b(text);
  return parseResponseHead(buf, 0, headEnd(buf, 0));
}

/** Feeds `pieces` one by one; returns the end offset reported in the last piece and what was body. */
function frame(framer: BodyFramer, pieces: Buffer[]): { end: number; body: string; piece: number } {
  let body = '';
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i]!;
    const end = framer.feed(piece, 0);
    body += piece.toString('latin1', 0, end < 0 ? piece.length : end);
    if (end >= 0) return { end, body, piece: i };
  }
  return { end: -1, body, piece: pieces.length - 1 };
}

function splitEvery(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

describe('headEnd', () => {
  it('finds the end of a head, and says when more is needed', () => {
    expect(headEnd(b('GET / HTTP/1.1\r\nHost: a\r\n'), 0)).toBe(-1);
    expect(headEnd(b('GET / HTTP/1.1\r\nHost: a\r\n\r\n'), 0)).toBe(27);
    expect(headEnd(b('GET / HTTP/1.1\r\nHost: a\r\n\r\nbody'), 0)).toBe(27);
  });

  it('resumes a search across a CRLFCRLF split over packets', () => {
    const full = b('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    for (let cut = 1; cut < full.length; cut++) {
      const first = full.subarray(0, cut);
      const searched = headEnd(first, 0) < 0 ? first.length : 0;
      expect(headEnd(full, 0, searched)).toBe(full.length);
    }
  });

  it('finds pipelined heads one after another', () => {
    const buf = b('GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3');
    const first = headEnd(buf, 0);
    expect(parseRequestHead(buf, 0, first).target).toBe('/1');
    const second = headEnd(buf, first);
    expect(parseRequestHead(buf, first, second).target).toBe('/2');
    expect(headEnd(buf, second)).toBe(-1);
  });

  it('rejects a head over the limit, complete or not, and bare-LF line ends', () => {
    const long = `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'x'.repeat(MAX_HEAD_BYTES)}`;
    expect(() => headEnd(b(long), 0)).toThrow(ParseError);
    expect(() => headEnd(b(`${long}\r\n\r\n`), 0)).toThrow(ParseError);
    expect(() => headEnd(b('GET / HTTP/1.1\nHost: a\n\n'), 0)).toThrow(ParseError);
  });

  it('counts blank lines before a request line', () => {
    expect(leadingBlankLines(b('\r\n\r\nGET'), 0)).toBe(4);
    expect(leadingBlankLines(b('GET'), 0)).toBe(0);
    expect(leadingBlankLines(b('\r'), 0)).toBe(0);
  });
});

describe('parseRequestHead', () => {
  it('reads what the proxy needs and keeps the lines as sent', () => {
    const h = request(
      'POST /api/x?y=1 HTTP/1.1\r\nHost: a\r\nCookie: a=1\r\nContent-Length: 12\r\nX-Forwarded-For: 10.0.0.1\r\n' +
        'cookie: AWSALB=v\r\nx-forwarded-for:10.0.0.2 \r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n',
    );
    expect(h).toMatchObject({
      method: 'POST',
      target: '/api/x?y=1',
      minor: 1,
      contentLength: 12,
      chunked: false,
      cookie: 'a=1; AWSALB=v',
      forwardedFor: '10.0.0.1, 10.0.0.2',
      connectionKeepAlive: true,
      connectionUpgrade: true,
      connectionClose: false,
      upgrade: 'websocket',
    });
    expect(h.names).toContain('x-forwarded-for');
    expect(h.lines[0]).toBe('Host: a');
  });

  it('reads chunked requests, HTTP/1.0 without Host, and Connection: close', () => {
    expect(request('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n')).toMatchObject({
      chunked: true,
      contentLength: -1,
    });
    expect(request('GET / HTTP/1.0\r\n\r\n')).toMatchObject({ minor: 0, connectionKeepAlive: false });
    expect(request('GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n').connectionClose).toBe(true);
    expect(
      request('GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n').contentLength,
    ).toBe(3);
  });

  it.each([
    ['no Host on HTTP/1.1', 'GET / HTTP/1.1\r\nX: y\r\n\r\n'],
    ['two Hosts', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'],
    ['HTTP/2.0 in the request line', 'GET / HTTP/2.0\r\nHost: a\r\n\r\n'],
    ['a space in the target', 'GET /a b HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['lower-case version', 'GET / http/1.1\r\nHost: a\r\n\r\n'],
    ['garbage', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n'],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n  2\r\n\r\n'],
    ['a space before the colon', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n'],
    ['no colon', 'GET / HTTP/1.1\r\nHost: a\r\nnonsense\r\n\r\n'],
    ['a control character in a value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n'],
    ['a bare CR in a value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n'],
    ['a bare LF in a value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n'],
    [
      'Content-Length and Transfer-Encoding',
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n',
    ],
    [
      'two different Content-Lengths',
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n',
    ],
    ['a signed Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n'],
    ['a Content-Length list', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n'],
    ['a huge Content-Length', `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${'9'.repeat(20)}\r\n\r\n`],
    [
      'Transfer-Encoding not ending in chunked',
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n',
    ],
    ['a header line over 16 KB', `GET / HTTP/1.1\r\nHost: a\r\nX: ${'x'.repeat(17_000)}\r\n\r\n`],
  ])('rejects %s', (_what, text) => {
    expect(() => request(text)).toThrow(ParseError);
  });
});

describe('isWebSocketUpgrade', () => {
  it.each([
    ['websocket', 'Connection: Upgrade\r\nUpgrade: websocket', true],
    ['WebSocket among other tokens', 'Connection: keep-alive, upgrade\r\nUpgrade: foo, WebSocket', true],
    [
      'h2c',
      'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA',
      false,
    ],
    ['TLS', 'Connection: Upgrade\r\nUpgrade: TLS/1.2', false],
    ['websocket without Connection: Upgrade', 'Upgrade: websocket', false],
    ['a name that only contains websocket', 'Connection: Upgrade\r\nUpgrade: websocketx', false],
  ])('%s', (_what, lines, expected) => {
    expect(isWebSocketUpgrade(request(`GET /health HTTP/1.1\r\nHost: a\r\n${lines}\r\n\r\n`))).toBe(expected);
  });

  it('a request that is not a WebSocket upgrade reaches the target without its upgrade headers', () => {
    const h = request(
      'GET /health HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n' +
        'HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nAccept: */*\r\n\r\n',
    );
    const sent = forwardedHead(h, { remote: '10.0.0.9', localPort: '80' }, isWebSocketUpgrade(h), 'Root=t');
    expect(sent.split('\r\n').slice(0, 3)).toEqual(['GET /health HTTP/1.1', 'Host: a', 'Accept: */*']);
    expect(sent).not.toMatch(/^(connection|upgrade|http2-settings):/im);
  });
});

describe('parseResponseHead', () => {
  it('reads status, framing, Connection and the Keep-Alive hint', () => {
    expect(
      response(
        'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n',
      ),
    ).toMatchObject({ status: 200, minor: 1, contentLength: 2, keepAliveTimeout: 5, connectionClose: false });
    expect(response('HTTP/1.1 200 \r\nTransfer-Encoding: chunked\r\n\r\n')).toMatchObject({
      status: 200,
      chunked: true,
      keepAliveTimeout: -1,
    });
    expect(response('HTTP/1.0 204\r\nConnection: close\r\n\r\n')).toMatchObject({
      status: 204,
      minor: 0,
      connectionClose: true,
    });
  });

  it('rejects a broken status line', () => {
    expect(() => response('HTTP/1.1 20 OK\r\n\r\n')).toThrow(ParseError);
    expect(() => response('HTTP/1.1 200OK\r\n\r\n')).toThrow(ParseError);
    expect(() => response('ICY 200 OK\r\n\r\n')).toThrow(ParseError);
    expect(() => response('HTTP/1.1 200 O\x01K\r\n\r\n')).toThrow(ParseError);
  });

  it('knows which responses carry no body', () => {
    expect(responseHasNoBody('HEAD', 200)).toBe(true);
    expect(responseHasNoBody('GET', 204)).toBe(true);
    expect(responseHasNoBody('GET', 304)).toBe(true);
    expect(responseHasNoBody('GET', 100)).toBe(true);
    expect(responseHasNoBody('GET', 200)).toBe(false);
  });
});

describe('BodyFramer', () => {
  it('frames by Content-Length across packets and stops at the next message', () => {
    const f = BodyFramer.length(10);
    expect(f.feed(b('0123'))).toBe(-1);
    expect(f.feed(b('45678'))).toBe(-1);
    expect(f.feed(b('9GET / HTTP/1.1'))).toBe(1);
    expect(f.done).toBe(true);
    expect(BodyFramer.length(0).done).toBe(true);
    expect(BodyFramer.length(3).feed(b('xxabcdef'), 2)).toBe(5);
  });

  it('never ends a body that ends with the connection', () => {
    const f = BodyFramer.untilClose();
    expect(f.feed(b('anything\r\n\r\n0\r\n\r\n'))).toBe(-1);
    expect(f.done).toBe(false);
  });

  const chunked = b(
    '5;name=value\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0 ; last\r\nX-Trailer: 1\r\nY: 2\r\n\r\n',
  );

  it('frames a chunked body split at every possible point, extensions and trailers included', () => {
    for (let size = 1; size <= chunked.length; size++) {
      const f = BodyFramer.chunked();
      const { end, body } = frame(f, splitEvery(chunked, size));
      expect(f.done).toBe(true);
      expect(body).toBe(chunked.toString('latin1'));
      expect(end).toBe(((chunked.length - 1) % size) + 1);
    }
  });

  it('stops a chunked body where a pipelined request begins', () => {
    const next = 'GET /next HTTP/1.1\r\nHost: a\r\n\r\n';
    const buf = Buffer.concat([b('3\r\nabc\r\n0\r\n\r\n'), b(next)]);
    const f = BodyFramer.chunked();
    const end = f.feed(buf);
    expect(end).toBe(13);
    expect(buf.toString('latin1', end)).toBe(next);
  });

  it('handles a large chunk without walking it byte by byte', () => {
    const data = Buffer.alloc(1_000_000, 'x');
    const buf = Buffer.concat([b(`${data.length.toString(16)}\r\n`), data, b('\r\n0\r\n\r\n')]);
    const f = BodyFramer.chunked();
    expect(frame(f, splitEvery(buf, 65_536)).body.length).toBe(buf.length);
    expect(f.done).toBe(true);
  });

  it.each([
    ['a missing size', '\r\nabc\r\n0\r\n\r\n'],
    ['a size that is not hex', 'g\r\nabc\r\n0\r\n\r\n'],
    ['a size too large', 'fffffffffffffff\r\n'],
    ['a bare LF after the size', '3\nabc\r\n0\r\n\r\n'],
    ['data longer than its size', '3\r\nabcd\r\n0\r\n\r\n'],
    ['a bare LF after the data', '3\r\nabc\n0\r\n\r\n'],
    ['a control character in an extension', '3;a=\x01\r\nabc\r\n0\r\n\r\n'],
    ['a bare LF in a trailer', '0\r\nX: a\nb\r\n\r\n'],
    ['a last chunk without its blank line', '0\r\n\rX'],
  ])('rejects %s', (_what, text) => {
    const f = BodyFramer.chunked();
    expect(() => {
      // Byte by byte too: a state machine that only fails on whole packets is not enough.
      for (const piece of splitEvery(b(text), 1)) if (f.feed(piece) >= 0) return;
    }).toThrow(ParseError);
  });
});
