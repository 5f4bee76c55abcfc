import { describe, expect, it } from 'vitest';
import { CookieJar } from './cookie-jar.ts';

describe('cookie jar', () => {
  it('keeps AWSALB and sends it back, replacing it on re-stick', () => {
    let now = 0;
    const jar = new CookieJar(() => now);
    expect(jar.header()).toBeUndefined();
    jar.store(['AWSALB=abc; Max-Age=86400; Path=/', 'AWSALBCORS=abc; Max-Age=86400; Path=/; SameSite=None']);
    expect(jar.header()).toBe('AWSALB=abc; AWSALBCORS=abc');
    jar.store('AWSALB=def; Max-Age=86400; Path=/');
    expect(jar.get('AWSALB')).toBe('def');
    now = 86_400_000;
    expect(jar.header()).toBeUndefined();
  });

  it('deletes a cookie set with Max-Age=0 and honours Expires', () => {
    const jar = new CookieJar(() => Date.parse('2026-11-24T20:00:00Z'));
    jar.store('a=1; Expires=Wed, 25 Nov 2026 20:00:00 GMT');
    jar.store('b=2');
    expect(jar.header()).toBe('a=1; b=2');
    jar.store('a=; Max-Age=0');
    expect(jar.header()).toBe('b=2');
  });
});
