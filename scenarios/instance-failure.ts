import { failoverRehearsal } from './shared/failover-rehearsal.ts';

/** One instance crashes under load: the ALB notices, the ASG replaces it, users move over. */
export default failoverRehearsal({
  name: 'instance-failure',
  description:
    'An instance is SIGKILLed at 19:36 under load: ALB health checks notice, the ASG replaces it, users reconnect with their state.',
  faults: [{ at: '19:36', fault: 'kill-instance', instance: 'random' }],
  // Two failed health checks 30 s apart before the ALB stops routing there, then a reconnect.
  reconnectWithinSeconds: 90,
  maxGapSeconds: 90,
  // Requests stuck to the dead instance fail until the ALB stops routing there.
  errorBudget: 0.1,
});
