/**
 * A deployed stack's outputs, read from CloudFormation (`DescribeStacks`) in AWS or LocalStack,
 * so a rehearsal can target any deployment of the CDK app, not only one made from this folder.
 */
import { DescribeStacksCommand, type DescribeStacksOutput } from '@aws-sdk/client-cloudformation';
import type { SdkClient } from './aws/observe.ts';
import { type DeployTarget, parseStackOutputs, type StackOutputs, StackOutputsError } from './cdk-cli.ts';
import { WorldSetupError } from './world.ts';

/** Stack states whose outputs describe what runs (an update in progress still serves the old ones). */
const USABLE =
  /^(CREATE_COMPLETE|UPDATE_COMPLETE|UPDATE_ROLLBACK_COMPLETE|UPDATE_IN_PROGRESS|UPDATE_COMPLETE_CLEANUP_IN_PROGRESS|IMPORT_COMPLETE)$/;

function deployHint(target: DeployTarget, stackName: string): string {
  return `tiketi-sim deploy --target ${target} --stack ${stackName}`;
}

/** The outputs of `stackName` in a DescribeStacks answer, typed for `target`. */
export function stackOutputsFrom(
  output: DescribeStacksOutput,
  stackName: string,
  target: DeployTarget,
): StackOutputs {
  const where = target === 'aws' ? 'AWS' : 'LocalStack';
  const stack = (output.Stacks ?? []).find((s) => s.StackName === stackName) ?? output.Stacks?.[0];
  if (!stack) {
    throw new WorldSetupError(
      `stack ${stackName} does not exist in ${where}: deploy it first (${deployHint(target, stackName)}) or pass the name it was deployed under with --stack`,
    );
  }
  const status = stack.StackStatus ?? 'UNKNOWN';
  if (!USABLE.test(status)) {
    throw new WorldSetupError(
      `stack ${stackName} in ${where} is ${status}${stack.StackStatusReason ? ` (${stack.StackStatusReason})` : ''}: it has no running deployment to rehearse against. ${status.includes('IN_PROGRESS') ? 'Wait for it to finish' : `Deploy it again (${deployHint(target, stackName)})`}.`,
    );
  }
  const raw: Record<string, string> = {};
  for (const o of stack.Outputs ?? [])
    if (o.OutputKey && o.OutputValue !== undefined) raw[o.OutputKey] = o.OutputValue;
  let outputs: StackOutputs;
  try {
    outputs = parseStackOutputs(raw, stackName, `DescribeStacks in ${where}`);
  } catch (err) {
    if (err instanceof StackOutputsError) throw new WorldSetupError(err.message, { cause: err });
    throw err;
  }
  if (outputs.target !== target) {
    throw new WorldSetupError(
      `stack ${stackName} in ${where} is ${outputs.target === 'aws' ? 'an' : 'a'} ${outputs.target} stack (${outputs.target === 'localstack' ? 'it has AlarmTopicArn' : 'it has no AlarmTopicArn'}): use --world ${outputs.target}, or name the ${target} stack with --stack`,
    );
  }
  return outputs;
}

/** AWS errors meaning the credentials were refused, with what to do. */
const CREDENTIAL_ERRORS: Record<string, string> = {
  ExpiredToken: 'the session has expired',
  ExpiredTokenException: 'the session has expired',
  InvalidClientTokenId: 'the access key is not known to AWS',
  UnrecognizedClientException: 'the access key is not known to AWS',
  SignatureDoesNotMatch: 'the secret key does not match the access key',
  AccessDenied: 'the credentials may not call cloudformation:DescribeStacks',
  AccessDeniedException: 'the credentials may not call cloudformation:DescribeStacks',
  CredentialsProviderError: 'no credentials could be loaded',
};

/** DescribeStacks for one stack; every failure becomes a `WorldSetupError` that says what to do. */
export async function describeStackOutputs(
  cloudFormation: SdkClient,
  stackName: string,
  target: DeployTarget,
): Promise<StackOutputs> {
  let output: DescribeStacksOutput;
  try {
    output = (await cloudFormation.send(
      new DescribeStacksCommand({ StackName: stackName }),
    )) as DescribeStacksOutput;
  } catch (err) {
    const e = err as Error & { name?: string; Code?: string };
    const code = e.name ?? e.Code ?? 'Error';
    if (/does not exist/.test(e.message ?? '')) return stackOutputsFrom({ Stacks: [] }, stackName, target);
    const credentials = CREDENTIAL_ERRORS[code];
    if (credentials && target === 'aws') {
      throw new WorldSetupError(
        `AWS refused DescribeStacks for ${stackName}: ${credentials} (${code}: ${e.message}). Refresh the credentials (aws sso login, or new keys in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) and run again.`,
        { cause: err },
      );
    }
    throw new WorldSetupError(
      `DescribeStacks ${stackName} in ${target === 'aws' ? 'AWS' : 'LocalStack'} failed: ${code}: ${e.message}`,
      { cause: err },
    );
  }
  return stackOutputsFrom(output, stackName, target);
}
