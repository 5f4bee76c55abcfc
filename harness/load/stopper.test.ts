import { describe, expect, it } from 'vitest';
import { Stopper } from './stopper.ts';

describe('Stopper', () => {
  it('calls each registered listener once at the stop, not the unregistered ones', () => {
    const stopper = new Stopper();
    const calls: string[] = [];
    stopper.onStop(() => calls.push('a'));
    const off = stopper.onStop(() => calls.push('b'));
    off();
    expect(stopper.stopped).toBe(false);
    stopper.stop();
    stopper.stop();
    expect(calls).toEqual(['a']);
    expect(stopper.stopped).toBe(true);
  });

  it('calls a listener registered after the stop at once', () => {
    const stopper = new Stopper();
    stopper.stop();
    let called = 0;
    stopper.onStop(() => called++);
    expect(called).toBe(1);
  });
});
