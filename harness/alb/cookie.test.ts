import { describe, expect, it } from 'vitest';
import { decodeStickyCookie, encodeStickyCookie, stickyCookieOf, verifyStickyCookie } from './cookie.ts';

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
