import { describe, expect, it } from 'vitest';
import { LatencyAggregate, LatencyRecorder } from './latency.ts';

describe('latency metrics', () => {
  it('merges worker histograms so percentiles come from all samples, not averaged percentiles', () => {
    const fast = new LatencyRecorder();
    const slow = new LatencyRecorder();
    for (let i = 0; i < 900; i++) fast.record('POST /api/events/:eventId/queue', 10);
    for (let i = 0; i < 100; i++) slow.record('POST /api/events/:eventId/queue', 500);
    const merged = new LatencyAggregate();
    merged.add(fast.drain());
    merged.add(slow.drain());
    const s = merged.summary('POST /api/events/:eventId/queue')!;
    expect(s.count).toBe(1_000);
    // 90 % of samples are 10 ms: p90 is 10 ms, p95 is 500 ms. Averaging the workers' p95s
    // (10 and 500) would have said 255 ms.
    expect(s.p90Ms).toBeCloseTo(10, 0);
    expect(s.p95Ms).toBeGreaterThanOrEqual(499);
    expect(s.p95Ms).toBeLessThanOrEqual(501);
  });

  it('drain() hands over an interval and starts afresh', () => {
    const r = new LatencyRecorder();
    r.record('socket.delivery', 3);
    expect(Object.keys(r.drain())).toEqual(['socket.delivery']);
    expect(r.drain()).toEqual({});
  });

  it('merges every endpoint for the "all" view but leaves Socket.IO timings out', () => {
    const r = new LatencyRecorder();
    r.record('POST /api/auth/login', 20);
    r.record('POST /api/reservations', 40);
    r.record('socket.delivery', 1_000);
    const agg = new LatencyAggregate();
    agg.add(r.drain());
    expect(agg.allEndpoints()?.count).toBe(2);
    expect(agg.allEndpoints()?.maxMs).toBeLessThan(41);
  });
});
