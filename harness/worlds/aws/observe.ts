/**
 * Observing a deployed stack through AWS APIs, in the harness's own record types, so a rehearsal
 * against AWS reports like one against the emulator: one module per service (CloudWatch, Auto
 * Scaling, ELBv2), each a pure adapter per API answer (tested on recorded-shape fixtures) plus the
 * paged calls, and `AwsObserver`, which calls them with injected SDK clients.
 */
export type {
  MetricDataPoint as MetricPoint,
  ObservedLifecycleState as InstanceLifecycle,
  ObservedTargetHealthState as TargetState,
} from '../../model/aws.ts';
export * from './auto-scaling.ts';
export * from './cloudwatch.ts';
export * from './elbv2.ts';
export * from './observer.ts';
export * from './sdk.ts';
