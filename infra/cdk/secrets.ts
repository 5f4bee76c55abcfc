/**
 * Secrets the stack generates: the key that signs access tokens (`TOKEN_SECRET`) and the value of
 * the header by which the ALB knows a request came through CloudFront.
 */
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { acceptFinding } from './nag-suppressions.ts';

// Far above app/config.ts's minimum of 16; letters and digits only, so it needs no quoting anywhere.
const TOKEN_SECRET_LENGTH = 64;
// An ALB header condition value holds at most 128 characters.
const ORIGIN_VERIFY_LENGTH = 48;

export function createAppSecret(scope: Construct): secretsmanager.Secret {
  const secret = new secretsmanager.Secret(scope, 'AppSecret', {
    description: 'tiketi token signing secret (TOKEN_SECRET)',
    generateSecretString: { passwordLength: TOKEN_SECRET_LENGTH, excludePunctuation: true },
  });
  acceptFinding(
    secret,
    'AwsSolutions-SMG4',
    'The app verifies tokens with one key read at start: rotating it would sign every user out mid-drop. Rotate by hand between drops (docs/infra.md).',
  );
  return secret;
}

export function createOriginVerifySecret(scope: Construct): secretsmanager.Secret {
  const secret = new secretsmanager.Secret(scope, 'OriginVerifySecret', {
    description: 'tiketi: value of the header CloudFront adds and the ALB requires',
    generateSecretString: { passwordLength: ORIGIN_VERIFY_LENGTH, excludePunctuation: true },
  });
  acceptFinding(
    secret,
    'AwsSolutions-SMG4',
    'CloudFormation copies the value into the distribution and the listener rule at deploy; a rotation outside a deploy would make the ALB refuse CloudFront. A redeploy after a manual rotation changes both.',
  );
  return secret;
}
