import { describe, expect, it } from 'vitest';
import {
  cookieExpirySecond,
  decodeStickyCookie,
  encodeStickyCookie,
  StickyCookies,
  stickyCookieLines,
  stickyCookieOf,
  verifyStickyCookie,
} from './cookie.ts';

describe('AWSALB cookie', () => {
  it('finds AWSALB among other cookies, not AWSALBCORS or a name that ends in AWSALB', () => {
    expect(stickyCookieOf('a=1; AWSALB=v1; AWSALBCORS=v2')).toBe('v1');
    expect(stickyCookieOf('AWSALBCORS=v2; AWSALB=v1')).toBe('v1');
    expect(stickyCookieOf('AWSALB=v1')).toBe('v1');
    expect(stickyCookieOf('XAWSALB=x; AWSALB=v1')).toBe('v1');
    expect(stickyCookieOf('XAWSALB=x')).toBeUndefined();
    expect(stickyCookieOf(undefined)).toBeUndefined();
  });

  it('reads a long, hostile Cookie header without deep recursion', () => {
    expect(stickyCookieOf('xAWSALB='.repeat(10_000))).toBeUndefined();
  });

  it('names its target until it expires, and only when signed with the secret', () => {
    const value = encodeStickyCookie('s', 'i-1', 1_000);
    expect(verifyStickyCookie('s', value)).toEqual({ targetId: 'i-1', expiresSimMs: 1_000 });
    expect(decodeStickyCookie('s', value, 999)).toBe('i-1');
    expect(decodeStickyCookie('s', value, 1_000)).toBeUndefined();
    expect(decodeStickyCookie('other', value, 0)).toBeUndefined();
    expect(
      verifyStickyCookie(
        's',
        `${encodeStickyCookie('s', 'i-2', 1_000).split('.')[0]}.${value.split('.')[1]}`,
      ),
    ).toBeUndefined();
    expect(verifyStickyCookie('s', 'garbage')).toBeUndefined();
  });
});

describe('stickiness over time', () => {
  it('a cookie made now expires at the whole simulated second stickiness ends', () => {
    expect(cookieExpirySecond(0, 86_400)).toBe(86_400);
    expect(cookieExpirySecond(1_001, 60)).toBe(62);
    expect(cookieExpirySecond(2_000, 60)).toBe(62);
  });

  it('names AWSALB and its CORS twin with the duration, CRLF-terminated', () => {
    expect(stickyCookieLines('v', 60)).toBe(
      'Set-Cookie: AWSALB=v; Max-Age=60; Path=/\r\nSet-Cookie: AWSALBCORS=v; Max-Age=60; Path=/; SameSite=None\r\n',
    );
  });

  it('a worker reads its own cookies until they expire, and not another secret', () => {
    const cookies = new StickyCookies('s', 60);
    const target = { id: 'i-1', cookieLines: '', cookieSecond: Number.NaN };
    const value = /AWSALB=([^;]+);/.exec(cookies.linesFor(target, 0))![1]!;
    expect(cookies.targetOf(value, 59_999)).toBe('i-1');
    expect(cookies.targetOf(value, 60_000)).toBeUndefined();
    expect(new StickyCookies('other', 60).targetOf(value, 0)).toBeUndefined();
  });

  it('makes a target one cookie value per simulated second', () => {
    const cookies = new StickyCookies('s', 60);
    const target = { id: 'i-1', cookieLines: '', cookieSecond: Number.NaN };
    const first = cookies.linesFor(target, 100);
    expect(cookies.linesFor(target, 900)).toBe(first);
    expect(cookies.linesFor(target, 1_100)).not.toBe(first);
  });

  it('keeps a bounded memory of the values it has checked', () => {
    const cookies = new StickyCookies('s', 60, 2);
    const value = encodeStickyCookie('s', 'i-1', 10_000);
    cookies.targetOf('x', 0);
    cookies.targetOf('y', 0);
    expect(cookies.targetOf(value, 0)).toBe('i-1');
  });
});
