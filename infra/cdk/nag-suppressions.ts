/**
 * Accepting a cdk-nag (AwsSolutions) finding: always on one construct, with the reason written
 * where the resource is made. Everything the pack reports and nobody accepted is an error the
 * synth tests fail on (`tiketi-stack.test.ts`, "cdk-nag").
 */
import { Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** The finding id of an AWS managed policy attached to a role (IAM4). */
export function managedPolicyFinding(policyPath: string): `AwsSolutions-${string}` {
  return `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${policyPath}]`;
}

export function acceptFinding(construct: IConstruct, id: `AwsSolutions-${string}`, reason: string): void {
  Validations.of(construct).acknowledge({ id, reason });
}
