import { failoverRehearsal } from './shared/failover-rehearsal.ts';

/** The ElastiCache primary dies: Sentinel promotes the replica within the design's 10–30 s. */
export default failoverRehearsal({
  name: 'redis-failover',
  description:
    'The Redis primary dies at 19:36: the replica is promoted (design: 10–30 s), queue places, admissions and seat holds survive.',
  faults: [{ at: '19:36', fault: 'redis-failover' }],
  reconnectWithinSeconds: 60,
  maxGapSeconds: 60,
  errorBudget: 0.05,
});
