/**
 * Where instances get the app from: a build uploaded beforehand, or, by default, this repository
 * itself packaged as a CDK asset that `cdk deploy` uploads.
 */
import { Arn, ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3Assets from 'aws-cdk-lib/aws-s3-assets';
import type { Construct } from 'constructs';
import { APP_BUILD_EXCLUDES, REPOSITORY_ROOT } from './repository.ts';

/** A zip of the repository (without node_modules) already in S3. */
export interface AppArtifact {
  bucketName: string;
  objectKey: string;
}

export interface AppBuild extends AppArtifact {
  grantRead(grantee: iam.IGrantable): void;
}

export function resolveAppBuild(scope: Construct, artifact: AppArtifact | undefined): AppBuild {
  if (artifact) {
    return {
      ...artifact,
      grantRead: (grantee) => {
        iam.Grant.addToPrincipal({
          grantee,
          actions: ['s3:GetObject'],
          resourceArns: [
            Arn.format(
              {
                service: 's3',
                region: '',
                account: '',
                resource: artifact.bucketName,
                resourceName: artifact.objectKey,
                arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
              },
              Stack.of(scope),
            ),
          ],
        });
      },
    };
  }
  const asset = new s3Assets.Asset(scope, 'AppSource', {
    path: REPOSITORY_ROOT,
    exclude: APP_BUILD_EXCLUDES,
  });
  return {
    bucketName: asset.s3BucketName,
    objectKey: asset.s3ObjectKey,
    grantRead: (grantee) => asset.grantRead(grantee),
  };
}
