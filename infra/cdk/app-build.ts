/**
 * The app as instances run it, built once on the build machine: `app/main.ts` bundled by esbuild
 * into one ES module with every production dependency it imports inlined (no `node_modules`, no
 * registry at boot, no dev dependency on a server), the SQL migrations beside it. By default it
 * becomes a CDK asset that `cdk deploy` uploads; a build already in S3 can be passed instead.
 */
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Arn, ArnFormat, AssetHashType, DockerImage, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3Assets from 'aws-cdk-lib/aws-s3-assets';
import type { Construct } from 'constructs';
import { buildSync } from 'esbuild';
import { APP_BUILD, APP_ENTRY, APP_SOURCE_DIR, MIGRATIONS_DIR } from './repository.ts';

/** A zip of an app build (as `buildAppBundle` writes it) already in S3. */
export interface AppArtifact {
  bucketName: string;
  objectKey: string;
}

export interface AppBuild extends AppArtifact {
  grantRead(grantee: iam.IGrantable): void;
}

/** Optional native add-ons the libraries load only when installed; the bundle runs without them. */
const OPTIONAL_NATIVE = ['pg-native', 'bufferutil', 'utf-8-validate'];

/**
 * Writes the build into `outDir`: `main.mjs` and `migrations/` (the migrator reads them beside
 * itself). `require` is provided for the CommonJS libraries inlined into the ES module.
 */
export function buildAppBundle(outDir: string): void {
  buildSync({
    entryPoints: [APP_ENTRY],
    outfile: join(outDir, APP_BUILD.entryFile),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: OPTIONAL_NATIVE,
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    logLevel: 'error',
  });
  cpSync(MIGRATIONS_DIR, join(outDir, APP_BUILD.migrationsDir), { recursive: true });
  writeFileSync(join(outDir, 'BUILD'), 'tiketi app: node main.mjs (bundled by infra/cdk/app-build.ts)\n');
}

export function resolveAppBuild(scope: Construct, artifact: AppArtifact | undefined): AppBuild {
  if (artifact) return uploadedBuild(scope, artifact);
  const asset = new s3Assets.Asset(scope, 'AppBuild', {
    path: APP_SOURCE_DIR,
    // The bundle's own bytes name the asset: a change anywhere it imports makes a new build.
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Never used: the local bundling below always succeeds or throws (no Docker here).
      image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:20'),
      local: {
        tryBundle(outputDir) {
          buildAppBundle(outputDir);
          return true;
        },
      },
    },
  });
  return {
    bucketName: asset.s3BucketName,
    objectKey: asset.s3ObjectKey,
    grantRead: (grantee) => asset.grantRead(grantee),
  };
}

function uploadedBuild(scope: Construct, artifact: AppArtifact): AppBuild {
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
