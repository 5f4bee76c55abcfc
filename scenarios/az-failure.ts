import { failoverRehearsal } from './shared/failover-rehearsal.ts';

/** AZ a goes dark: its instance, the Redis primary and the database writer with it. */
export default failoverRehearsal({
  name: 'az-failure',
  description:
    'AZ a is lost at 19:36 — its instance, the Redis primary and the Aurora writer: the service goes on from AZ b with no confirmed sale lost.',
  faults: [{ at: '19:36', fault: 'kill-az', az: 'a' }],
  // The slowest of the three recoveries: Aurora's failover, about a minute, then the reconnect.
  reconnectWithinSeconds: 120,
  maxGapSeconds: 120,
  errorBudget: 0.1,
});
