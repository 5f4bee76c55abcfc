/**
 * What a join costs this machine's CPU at the margin, learnt from the pacer's own seconds: the
 * CPU busy share against the joins answered per wall second, fitted as a line
 * (busy = base + cost × joins) by least squares that forgets old seconds. The line's base is the
 * work that does not grow with the joins (sockets already connected, health checks, the runner).
 * Scaling the answered rate by the CPU (the pacer's probe) counts that base as join cost: a 1:4
 * model planned for 200–260 joins a second before its burst, then answered 330 at 87 % CPU.
 */
export class JoinCostFit {
  private weight = 0;
  private sumX = 0;
  private sumY = 0;
  private sumXX = 0;
  private sumXY = 0;
  private sumYY = 0;

  /** @param keep each second's weight after the next (0.9: the last ten seconds or so count) */
  constructor(private readonly keep = 0.9) {}

  add(joinsPerSecond: number, cpuBusy: number): void {
    const k = this.keep;
    this.weight = this.weight * k + 1;
    this.sumX = this.sumX * k + joinsPerSecond;
    this.sumY = this.sumY * k + cpuBusy;
    this.sumXX = this.sumXX * k + joinsPerSecond * joinsPerSecond;
    this.sumXY = this.sumXY * k + joinsPerSecond * cpuBusy;
    this.sumYY = this.sumYY * k + cpuBusy * cpuBusy;
  }

  /** CPU busy share per join answered a second; undefined while the seconds seen cannot tell. */
  get costPerJoin(): number | undefined {
    if (this.weight < MIN_WEIGHT) return undefined;
    const meanX = this.sumX / this.weight;
    const varianceX = this.sumXX / this.weight - meanX * meanX;
    // Rates that hardly differ cannot separate the base from the joins' cost.
    if (varianceX < (MIN_SPREAD * meanX) ** 2 || varianceX < MIN_SPREAD_JOINS ** 2) return undefined;
    const meanY = this.sumY / this.weight;
    const varianceY = this.sumYY / this.weight - meanY * meanY;
    const covariance = this.sumXY / this.weight - meanX * meanY;
    // A CPU that hardly follows the joins (noise, other work) gives a line that means nothing.
    if (varianceY < MIN_SPREAD_CPU ** 2 || covariance <= 0) return undefined;
    if (covariance * covariance < MIN_R_SQUARED * varianceX * varianceY) return undefined;
    return covariance / varianceX;
  }

  /** Joins a second at which the CPU would be `busy`, from where it is `now`; undefined: unknown. */
  rateAt(busy: number, now: { joinsPerSecond: number; cpuBusy: number }): number | undefined {
    const cost = this.costPerJoin;
    if (cost === undefined) return undefined;
    return Math.max(0, now.joinsPerSecond + (busy - now.cpuBusy) / cost);
  }
}

/** Seconds (in forgetting weight) before the fit says anything. */
const MIN_WEIGHT = 5;
/** The rates seen must spread by at least this share of their mean… */
const MIN_SPREAD = 0.25;
/** …and by this many joins a second. */
const MIN_SPREAD_JOINS = 10;
/** The CPU busy share must spread by this much (a point)… */
const MIN_SPREAD_CPU = 0.01;
/** …and the joins explain at least this share of its variation. */
const MIN_R_SQUARED = 0.5;
