import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NOTICE_GRACE_MS, type NoticeOutcome, NoticeWatch } from './user-journey.ts';

function watch(): { watch: NoticeWatch; outcomes: NoticeOutcome[] } {
  const outcomes: NoticeOutcome[] = [];
  return { watch: new NoticeWatch({ admissionNotice: (o) => outcomes.push(o) }), outcomes };
}

describe('how a waiting user learned of its admission', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('the notice over the socket is delivered; a second one (the log, a reconnect) changes nothing', () => {
    const { watch: w, outcomes } = watch();
    expect(w.waiting).toBe(true);
    w.told('delivered');
    w.told('rescuedByApp');
    w.lost();
    expect(outcomes).toEqual(['delivered']);
    expect(w.waiting).toBe(false);
  });

  it("a notice flagged rescued is the app's rescue", () => {
    const { watch: w, outcomes } = watch();
    w.told('rescuedByApp');
    expect(outcomes).toEqual(['rescuedByApp']);
  });

  it('a poll that only asked first: the notice within the grace still counts as delivered', () => {
    const { watch: w, outcomes } = watch();
    w.polled();
    expect(w.waiting).toBe(false);
    vi.advanceTimersByTime(NOTICE_GRACE_MS - 1);
    w.told('delivered');
    vi.advanceTimersByTime(NOTICE_GRACE_MS);
    expect(outcomes).toEqual(['delivered']);
  });

  it('a poll with no notice within the grace is rescued by the poll; a later notice changes nothing', () => {
    const { watch: w, outcomes } = watch();
    w.polled();
    vi.advanceTimersByTime(NOTICE_GRACE_MS);
    w.told('delivered');
    expect(outcomes).toEqual(['rescuedByPoll']);
  });

  it('the run stopping during the grace: rescued by the poll', () => {
    const { watch: w, outcomes } = watch();
    w.polled();
    w.runStopped();
    vi.advanceTimersByTime(NOTICE_GRACE_MS);
    expect(outcomes).toEqual(['rescuedByPoll']);
  });

  it('admitted and never told is lost, once; a user nothing told and not admitted reports nothing', () => {
    const lost = watch();
    lost.watch.lost();
    lost.watch.lost();
    expect(lost.outcomes).toEqual(['lost']);
    const waiting = watch();
    waiting.watch.runStopped();
    expect(waiting.outcomes).toEqual([]);
  });
});
