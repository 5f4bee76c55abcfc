/**
 * One virtual user's cookies, as a browser keeps them for one site: what makes `AWSALB`
 * stickiness work. Enough of RFC 6265 for a load balancer's cookies: name=value, Max-Age and
 * Expires (wall time), deletion by Max-Age=0.
 */
export class CookieJar {
  private readonly cookies = new Map<string, { value: string; expiresAtMs: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Takes every `Set-Cookie` header of a response. */
  store(setCookie: string | string[] | undefined): void {
    if (!setCookie) return;
    for (const header of Array.isArray(setCookie) ? setCookie : [setCookie]) {
      const [pair, ...attributes] = header.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (!pair || eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let expiresAtMs = Number.POSITIVE_INFINITY;
      for (const attribute of attributes) {
        const [key, raw = ''] = attribute.split('=');
        const k = key?.trim().toLowerCase();
        if (k === 'max-age') expiresAtMs = this.now() + Number(raw.trim()) * 1_000;
        else if (k === 'expires' && expiresAtMs === Number.POSITIVE_INFINITY)
          expiresAtMs = Date.parse(raw.trim());
      }
      if (expiresAtMs <= this.now()) this.cookies.delete(name);
      else this.cookies.set(name, { value, expiresAtMs });
    }
  }

  /** The `Cookie` request header, or undefined when the jar is empty. */
  header(): string | undefined {
    const now = this.now();
    const parts: string[] = [];
    for (const [name, cookie] of this.cookies) {
      if (cookie.expiresAtMs <= now) this.cookies.delete(name);
      else parts.push(`${name}=${cookie.value}`);
    }
    return parts.length > 0 ? parts.join('; ') : undefined;
  }

  get(name: string): string | undefined {
    return this.cookies.get(name)?.value;
  }
}
