import { failoverRehearsal } from './shared/failover-rehearsal.ts';

/** The Aurora writer dies: the synchronous replica is promoted on the design's timeline. */
export default failoverRehearsal({
  name: 'db-failover',
  description:
    'The database writer dies at 19:36: detection, promotion and the endpoint switch take about a minute; no confirmed payment is lost.',
  faults: [{ at: '19:36', fault: 'db-failover' }],
  reconnectWithinSeconds: 60,
  maxGapSeconds: 90,
  errorBudget: 0.1,
});
