import * as hdr from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { LatencyAggregate, LatencyRecorder, summarize } from './latency.ts';

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

  it('files each sample clear of the process’s stalls or through one, as its watch tells', () => {
    // A stall ended 50 ms ago: samples that took longer than that went through it.
    const r = new LatencyRecorder({ stallMs: 50, stalledWithin: (durationMs) => durationMs > 50 });
    r.record('POST /api/events/:eventId/queue', 10); // started after the stall
    r.record('POST /api/events/:eventId/queue', 400); // in flight through it
    r.record('socket.delivery', 5);
    r.record('socket.delivery', 90);
    const clear = LatencyAggregate.fromSnapshot(r.drain());
    const stalled = LatencyAggregate.fromSnapshot(r.drainThroughStall());
    expect(clear.summary('POST /api/events/:eventId/queue')?.count).toBe(1);
    expect(clear.summary('POST /api/events/:eventId/queue')?.maxMs).toBeLessThan(11);
    expect(clear.summary('socket.delivery')?.count).toBe(1);
    expect(stalled.summary('POST /api/events/:eventId/queue')?.count).toBe(1);
    expect(stalled.summary('POST /api/events/:eventId/queue')?.maxMs).toBeGreaterThan(399);
    expect(stalled.summary('socket.delivery')?.count).toBe(1);
    // Without a watch every sample is clear.
    const plain = new LatencyRecorder();
    plain.record('socket.connect', 90, 80);
    plain.record('socket.delivery', 90);
    expect(Object.keys(plain.drain())).toEqual(['socket.connect', 'socket.delivery']);
    expect(plain.drainThroughStall()).toEqual({});
  });

  it('files a sample the runner held up over the stall limit through a stall, whatever this process did', () => {
    // This process never stalled; the runner handed the work over late.
    const r = new LatencyRecorder({ stallMs: 50, stalledWithin: () => false });
    r.record('socket.connect', 70, 49); // held up, but under the limit
    r.record('socket.connect', 120, 51); // held up over it
    r.record('POST /api/events/:eventId/queue', 95, 60); // an arrival handed over late
    r.record('POST /api/events/:eventId/queue', 30);
    const clear = LatencyAggregate.fromSnapshot(r.drain());
    const stalled = LatencyAggregate.fromSnapshot(r.drainThroughStall());
    expect(clear.summary('socket.connect')?.count).toBe(1);
    expect(clear.summary('socket.connect')?.maxMs).toBeLessThan(71);
    expect(stalled.summary('socket.connect')?.count).toBe(1);
    expect(stalled.summary('socket.connect')?.maxMs).toBeGreaterThan(119);
    expect(clear.summary('POST /api/events/:eventId/queue')?.count).toBe(1);
    expect(stalled.summary('POST /api/events/:eventId/queue')?.count).toBe(1);
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

  it("gives the library's mean, bucket by bucket, from 1 µs to minutes", () => {
    const h = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 300_000_000,
      numberOfSignificantValueDigits: 3,
    });
    // Bucket 0 (below 2,048 µs), the middle buckets and the last ones, with uneven counts.
    for (let i = 0; i < 5_000; i++) h.recordValueWithCount(Math.round(1.0042 ** i), 1 + (i % 7));
    const ms = (us: number) => Math.round(us / 10) / 100;
    expect(summarize(h).meanMs).toBe(ms(h.mean));
    expect(summarize(h).meanMs).toBeGreaterThan(1_000);
  });

  it('means what was recorded', () => {
    const r = new LatencyRecorder();
    for (let i = 0; i < 900; i++) r.record('POST /api/reservations', 10);
    for (let i = 0; i < 100; i++) r.record('POST /api/reservations', 500);
    const agg = new LatencyAggregate();
    agg.add(r.drain());
    expect(agg.summary('POST /api/reservations')?.meanMs).toBeCloseTo(59, 0);
  });

  it('reads the same "all" view every time, and counts requests without merging', () => {
    const r = new LatencyRecorder();
    for (let i = 0; i < 90; i++) r.record('POST /api/reservations', 10);
    for (let i = 0; i < 10; i++) r.record('POST /api/auth/login', 300);
    r.record('socket.delivery', 1_000);
    const snapshot = r.drain();
    const agg = LatencyAggregate.fromSnapshot(snapshot);
    const first = agg.allEndpoints();
    expect(first?.count).toBe(100);
    expect(first?.p95Ms).toBeCloseTo(300, 0);
    expect(agg.allEndpoints()).toEqual(first);
    expect(agg.endpointCount()).toBe(100);
    // Decoded once and merged, as merging the snapshot itself.
    const merged = new LatencyAggregate();
    merged.addAggregate(agg);
    const direct = new LatencyAggregate();
    direct.add(snapshot);
    expect(merged.summaries()).toEqual(direct.summaries());
    expect(new LatencyAggregate().allEndpoints()).toBeUndefined();
  });
});
