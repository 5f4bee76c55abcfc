/** Elastic Load Balancing v2, read: the target group's health, in the report's shapes. */
import type { DescribeTargetHealthOutput } from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { countTargetHealth, isTargetHealthState, type ObservedTargetHealthState } from '../../model/aws.ts';
import type { Sample } from '../../report/run-record.ts';
import { call, type SdkClient } from './sdk.ts';

export interface TargetHealthRecord {
  id: string;
  port?: number;
  state: ObservedTargetHealthState;
  reason?: string;
  description?: string;
}

/** ELB's target states → the harness's; `unhealthy.draining` is a target being drained. */
function targetStateOf(state: string | undefined): ObservedTargetHealthState {
  switch (state) {
    case 'unhealthy.draining':
      return 'draining';
    default:
      return isTargetHealthState(state) ? state : 'unavailable';
  }
}

/** Every target of a DescribeTargetHealth answer, and the Sample's counts. */
export function targetHealthFrom(output: DescribeTargetHealthOutput): {
  targets: TargetHealthRecord[];
  counts: Sample['targets'];
} {
  const targets: TargetHealthRecord[] = [];
  for (const description of output.TargetHealthDescriptions ?? []) {
    const id = description.Target?.Id;
    if (!id) continue;
    const health = description.TargetHealth;
    targets.push({
      id,
      ...(description.Target?.Port !== undefined ? { port: description.Target.Port } : {}),
      state: targetStateOf(health?.State),
      ...(health?.Reason ? { reason: health.Reason } : {}),
      ...(health?.Description ? { description: health.Description } : {}),
    });
  }
  targets.sort((a, b) => a.id.localeCompare(b.id));
  return { targets, counts: countTargetHealth(targets) };
}

/** Every target of a target group (DescribeTargetHealth does not page: one answer holds them all). */
export async function describeTargetHealth(
  elbv2: SdkClient,
  targetGroupArn: string,
): Promise<ReturnType<typeof targetHealthFrom>> {
  const output = await call<DescribeTargetHealthOutput>(
    elbv2,
    new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }),
  );
  return targetHealthFrom(output);
}
