/**
 * Latency metrics: HDR histograms, declared once, recorded in workers, shipped as compressed
 * snapshots and merged in the runner. Percentiles always come from merged histograms, never from
 * averaging percentiles.
 */
import * as hdr from 'hdr-histogram-js';

/** Every HTTP route a virtual user calls, as the app declares it. A typo is a compile error. */
export const ENDPOINTS = [
  'POST /api/auth/login',
  'GET /api/events/:eventId',
  'GET /api/events/:eventId/seats',
  'POST /api/events/:eventId/queue',
  'GET /api/events/:eventId/queue/me',
  'DELETE /api/events/:eventId/queue',
  'POST /api/events/:eventId/seats/:seatId/hold',
  'DELETE /api/events/:eventId/seats/:seatId/hold',
  'POST /api/reservations',
  'POST /api/reservations/:id/payments',
  'GET /api/reservations/:id',
] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

/** Socket.IO timings: connect handshake, and server emit → client receipt of each event. */
export const SOCKET_METRICS = ['socket.connect', 'socket.delivery'] as const;
export type SocketMetric = (typeof SOCKET_METRICS)[number];

export type LatencyMetric = Endpoint | SocketMetric;

/** Recorded in microseconds: 1 µs to 5 minutes at 3 significant digits. */
const HISTOGRAM = {
  lowestDiscernibleValue: 1,
  highestTrackableValue: 300_000_000,
  numberOfSignificantValueDigits: 3,
} as const;

/**
 * 32-bit counters, not 'packed': measured here, decoding and merging a snapshot costs 0.8 ms
 * against 15.6 ms packed, and a percentile 0.15 ms against 7 ms — the runner merges every
 * worker's snapshot every second, so packed counters cost it a tenth of a core at peak.
 */
const BUCKETS = 32;

function newHistogram(): hdr.Histogram {
  return hdr.build({ ...HISTOGRAM, bitBucketSize: BUCKETS, useWebAssembly: false });
}

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

/**
 * The mean the library computes (each bucket at its median value), in one pass over the counts.
 * The library's `mean` walks its recorded-values iterator, which allocates per bucket: measured
 * here, 7 ms for a histogram of a few thousand distinct buckets against 0.03 ms for a percentile
 * — the live page summarizes every metric each second, so that getter held the runner's event
 * loop 50–150 ms a second, long enough to judge the machine short of headroom.
 */
function meanUs(histogram: hdr.Histogram): number {
  if (!(histogram instanceof hdr.JsHistogram)) return histogram.mean;
  if (histogram.totalCount === 0) return 0;
  const { countsArrayLength, subBucketHalfCount: half, unitMagnitude } = histogram;
  let total = 0;
  for (let i = 0; i < countsArrayLength; i++) {
    const count = histogram.getCountAtIndex(i);
    if (count === 0) continue;
    // valueFromIndex(i), and the median of its range: the range is one unit of its bucket.
    let bucket = Math.floor(i / half) - 1;
    let subBucket = (i % half) + half;
    if (bucket < 0) {
      subBucket -= half;
      bucket = 0;
    }
    const unit = 2 ** (bucket + unitMagnitude);
    total += (subBucket * unit + Math.floor(unit / 2)) * count;
  }
  return total / histogram.totalCount;
}

export function summarize(histogram: hdr.Histogram): LatencySummary {
  const ms = (us: number) => Math.round(us / 10) / 100;
  return {
    count: histogram.totalCount,
    p50Ms: ms(histogram.getValueAtPercentile(50)),
    p90Ms: ms(histogram.getValueAtPercentile(90)),
    p95Ms: ms(histogram.getValueAtPercentile(95)),
    p99Ms: ms(histogram.getValueAtPercentile(99)),
    maxMs: ms(histogram.maxValue),
    meanMs: ms(meanUs(histogram)),
  };
}

/** A snapshot that crosses process boundaries: metric → compressed base64 histogram. */
export type LatencySnapshot = Partial<Record<LatencyMetric, string>>;

/**
 * Tells whether the process that measures stalled while a sample was in flight: its own event loop
 * held longer than the run allows (`LagMonitor.stalledWithin`). Such a sample carries the stall.
 */
export interface StallWatch {
  /** The limit: a stall or a hold-up longer than this, ms, is one. */
  readonly stallMs: number;
  /** A stall over the limit within the last `durationMs` (a sample that took that long, ending now). */
  stalledWithin(durationMs: number): boolean;
}

/**
 * Latency samples of one process, interval by interval. With a `StallWatch`, each sample is filed
 * as it is taken: clear of the process's own stalls, or through one (kept apart, so a verdict can
 * leave out exactly those samples rather than every sample of a stalled second). A sample that the
 * emulator's other processes held up over the same limit on its way (`heldUpMs`: an arrival the
 * runner handed over late, a WebSocket it relayed late, an answer an app instance or an ALB worker
 * stalled: PATH_STALL_HEADER) is filed through a stall too.
 */
export class LatencyRecorder {
  private readonly clear = new Map<LatencyMetric, hdr.Histogram>();
  private readonly throughStall = new Map<LatencyMetric, hdr.Histogram>();

  constructor(private readonly stalls?: StallWatch) {}

  record(metric: LatencyMetric, durationMs: number, heldUpMs = 0): void {
    const stalls = this.stalls;
    const stalled = stalls !== undefined && (heldUpMs > stalls.stallMs || stalls.stalledWithin(durationMs));
    const histograms = stalled ? this.throughStall : this.clear;
    let h = histograms.get(metric);
    if (!h) {
      h = newHistogram();
      histograms.set(metric, h);
    }
    h.recordValue(Math.min(HISTOGRAM.highestTrackableValue, Math.max(1, Math.round(durationMs * 1_000))));
  }

  /**
   * Exports what was recorded since the last call and starts afresh (interval histograms): the
   * samples clear of a stall (every sample, without a `StallWatch`).
   */
  drain(): LatencySnapshot {
    return drainInto(this.clear);
  }

  /** Like `drain`, the samples taken through a stall of this process. */
  drainThroughStall(): LatencySnapshot {
    return drainInto(this.throughStall);
  }
}

function drainInto(histograms: Map<LatencyMetric, hdr.Histogram>): LatencySnapshot {
  const out: LatencySnapshot = {};
  for (const [metric, h] of histograms) {
    if (h.totalCount > 0) out[metric] = hdr.encodeIntoCompressedBase64(h);
    h.reset();
  }
  return out;
}

function isEndpoint(metric: LatencyMetric): metric is Endpoint {
  return (ENDPOINTS as readonly string[]).includes(metric);
}

export interface CumulativeCounts {
  /** Observations at or below each bound, in the order of the bounds. */
  atOrBelow: number[];
  count: number;
  sumMs: number;
}

/**
 * Merges snapshots from many workers and intervals. Each histogram holds 20,480 counters (80 KB
 * outside the JS heap) and the runner merges every worker's report every second into three
 * aggregates: a report is decoded once (`fromSnapshot`) and merged from there, and the "all
 * endpoints" view merges into one kept histogram rather than a new one per call.
 */
export class LatencyAggregate {
  private readonly histograms = new Map<LatencyMetric, hdr.Histogram>();
  /** Where `allEndpoints()` merges: kept, reset before each use. */
  private mergeScratch: hdr.Histogram | undefined;

  /** A worker's snapshot, decoded once. */
  static fromSnapshot(snapshot: LatencySnapshot): LatencyAggregate {
    const out = new LatencyAggregate();
    for (const [metric, encoded] of Object.entries(snapshot) as [LatencyMetric, string][])
      out.histograms.set(metric, hdr.decodeFromCompressedBase64(encoded, BUCKETS, false));
    return out;
  }

  add(snapshot: LatencySnapshot): void {
    for (const [metric, encoded] of Object.entries(snapshot) as [LatencyMetric, string][]) {
      const decoded = hdr.decodeFromCompressedBase64(encoded, BUCKETS, false);
      let h = this.histograms.get(metric);
      if (!h) {
        h = newHistogram();
        this.histograms.set(metric, h);
      }
      h.add(decoded);
      decoded.destroy();
    }
  }

  addAggregate(other: LatencyAggregate): void {
    for (const [metric, h] of other.histograms) {
      let mine = this.histograms.get(metric);
      if (!mine) {
        mine = newHistogram();
        this.histograms.set(metric, mine);
      }
      mine.add(h);
    }
  }

  metrics(): LatencyMetric[] {
    return [...this.histograms.keys()];
  }

  /** These samples but those of `metrics`: a view sharing this aggregate's histograms (read it, do not add to it). */
  without(metrics: ReadonlySet<LatencyMetric>): LatencyAggregate {
    const out = new LatencyAggregate();
    for (const [metric, h] of this.histograms) if (!metrics.has(metric)) out.histograms.set(metric, h);
    return out;
  }

  summary(metric: LatencyMetric): LatencySummary | undefined {
    const h = this.histograms.get(metric);
    return h && h.totalCount > 0 ? summarize(h) : undefined;
  }

  /** Every HTTP endpoint merged together. */
  allEndpoints(): LatencySummary | undefined {
    if (this.endpointCount() === 0) return undefined;
    this.mergeScratch ??= newHistogram();
    const merged = this.mergeScratch;
    merged.reset();
    for (const [metric, h] of this.histograms) if (isEndpoint(metric)) merged.add(h);
    return summarize(merged);
  }

  /** How many samples of `metric` were recorded. */
  count(metric: LatencyMetric): number {
    return this.histograms.get(metric)?.totalCount ?? 0;
  }

  /** How many HTTP requests were recorded (`allEndpoints().count`, without merging). */
  endpointCount(): number {
    let count = 0;
    for (const [metric, h] of this.histograms) if (isEndpoint(metric)) count += h.totalCount;
    return count;
  }

  /**
   * A Prometheus-style histogram of `metric`: how many observations were at or below each bound
   * (ms, ascending), the count and the sum. Read from the merged HDR histogram, so its buckets
   * agree with the percentiles.
   */
  cumulativeCounts(metric: LatencyMetric, boundsMs: readonly number[]): CumulativeCounts | undefined {
    const h = this.histograms.get(metric);
    if (!(h instanceof hdr.JsHistogram) || h.totalCount === 0) return undefined;
    const atOrBelow = boundsMs.map(() => 0);
    const it = h.recordedValuesIterator;
    it.reset();
    while (it.hasNext()) {
      const v = it.next();
      const ms = h.lowestEquivalentValue(v.valueIteratedTo) / 1_000;
      boundsMs.forEach((bound, i) => {
        if (ms <= bound) atOrBelow[i]! += v.countAtValueIteratedTo;
      });
    }
    return { atOrBelow, count: h.totalCount, sumMs: (meanUs(h) * h.totalCount) / 1_000 };
  }

  summaries(): Partial<Record<LatencyMetric, LatencySummary>> {
    const out: Partial<Record<LatencyMetric, LatencySummary>> = {};
    for (const metric of this.histograms.keys()) {
      const s = this.summary(metric);
      if (s) out[metric] = s;
    }
    return out;
  }
}
