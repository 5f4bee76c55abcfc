/**
 * Password hashing with scrypt (a standard memory-hard KDF), per-user salt, constant-time check.
 * The parameters are stored with each hash, so a hash made with older ones still verifies and is
 * replaced at the next sign-in (`needsRehash`).
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(scryptCallback) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: object,
) => Promise<Buffer>;

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** OWASP's current minimum for scrypt (Password Storage Cheat Sheet): N=2^17, r=8, p=1. */
export const SCRYPT_PARAMS: ScryptParams = { N: 2 ** 17, r: 8, p: 1 };
/** scrypt needs 128·N·r bytes (128 MiB here); Node refuses more than `maxmem` (32 MiB by default). */
const MAX_MEMORY_BYTES = 256 * 1024 * 1024;
const KEY_BYTES = 32;

export async function hashPassword(password: string, params: ScryptParams = SCRYPT_PARAMS): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEY_BYTES, { ...params, maxmem: MAX_MEMORY_BYTES });
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

function parseHash(stored: string): (ScryptParams & { salt: Buffer; key: Buffer }) | undefined {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !key) return undefined;
  return {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    salt: Buffer.from(salt, 'base64url'),
    key: Buffer.from(key, 'base64url'),
  };
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed) return false;
  const actual = await scrypt(password, parsed.salt, parsed.key.length, {
    N: parsed.N,
    r: parsed.r,
    p: parsed.p,
    maxmem: MAX_MEMORY_BYTES,
  });
  return timingSafeEqual(actual, parsed.key);
}

/** Whether a stored hash was made with other parameters than today's: rehash it at sign-in. */
export function needsRehash(stored: string, params: ScryptParams = SCRYPT_PARAMS): boolean {
  const parsed = parseHash(stored);
  return !parsed || parsed.N !== params.N || parsed.r !== params.r || parsed.p !== params.p;
}

/** What the API hashes and checks passwords with; a test injects one that counts. */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, stored: string): Promise<boolean>;
  needsRehash(stored: string): boolean;
}
