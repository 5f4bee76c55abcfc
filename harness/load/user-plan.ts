/**
 * What a virtual user will do, decided by the run's seed and the user's place in the arrival
 * order alone: not by which worker runs it or when. Two runs with the same seed make the same
 * users attack, buy the same seats and think as long; the runner computes the same decisions to
 * record them (the sweep's determinism check reads them).
 */
import type { Behaviour } from '../scenario/schema.ts';
import { seededRandom, streamSeed } from './random.ts';

/** The random stream of the user `arrival`-th in the arrival order. */
export function userRandom(runSeed: number, arrival: number): () => number {
  return seededRandom(streamSeed(runSeed, arrival));
}

export interface UserDecisions {
  /** Attacks instead of shopping (`behaviour.hostile`). */
  hostile: boolean;
  /** Holds seats, reserves and pays once admitted. */
  buys: boolean;
}

/** The user's first draws: whether it attacks, then whether it buys. */
export function decideUser(
  random: () => number,
  behaviour: Pick<Behaviour, 'hostile' | 'buyShare'>,
): UserDecisions {
  const hostile = behaviour.hostile !== undefined && random() < behaviour.hostile.share;
  return { hostile, buys: !hostile && random() < behaviour.buyShare };
}

/** Arrival places of the users who will buy, for the run's record. */
export function buyerArrivals(
  runSeed: number,
  users: number,
  behaviour: Pick<Behaviour, 'hostile' | 'buyShare'>,
): number[] {
  const buyers: number[] = [];
  for (let i = 0; i < users; i++) if (decideUser(userRandom(runSeed, i), behaviour).buys) buyers.push(i);
  return buyers;
}
