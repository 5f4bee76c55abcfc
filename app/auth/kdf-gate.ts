/**
 * A cap on password hashing at once. Each scrypt call takes 128 MiB and a core for a few hundred
 * ms: a burst of sign-ins (or a login flood) would otherwise run dozens at once, exhaust memory and
 * starve every other request. Past the cap calls wait their turn; past the queue, a `503` with
 * `Retry-After`.
 */
import { RetryLaterError } from '../core/errors.ts';
import {
  hashPassword,
  needsRehash,
  type PasswordHasher,
  SCRYPT_PARAMS,
  type ScryptParams,
  verifyPassword,
} from './passwords.ts';

export class KdfGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly queue: number,
  ) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.queue)
        throw new RetryLaterError(503, 'busy', 'too many sign-ins at once; retry in a moment', 1);
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.running++;
    try {
      return await work();
    } finally {
      // The slot passes straight to the next in line, so `running` never drops below the cap
      // while someone waits.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

/** The scrypt hasher behind a gate. */
export function gatedHasher(gate: KdfGate, params: ScryptParams = SCRYPT_PARAMS): PasswordHasher {
  return {
    hash: (password) => gate.run(() => hashPassword(password, params)),
    verify: (password, stored) => gate.run(() => verifyPassword(password, stored)),
    needsRehash: (stored) => needsRehash(stored, params),
  };
}
