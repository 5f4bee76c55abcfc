/**
 * The edge: the frontend and uploads buckets, CloudFront (static build from S3, `/api/*` and the
 * Socket.IO path to the ALB, never cached), and the Route 53 zone with its alias record.
 */
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as route53Targets from 'aws-cdk-lib/aws-route53-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import type { Topology } from '../topology.ts';
import { HTTP_PORT } from './security-groups.ts';

/** Socket.IO's default path; the emulator's edge forwards it to the ALB beside the API path. */
export const SOCKET_IO_PATH_PATTERN = '/socket.io/*';

export interface Buckets {
  frontend: s3.Bucket;
  uploads: s3.Bucket;
}

export function createBuckets(
  scope: Construct,
  options: { topology: Topology; removalPolicy: RemovalPolicy },
): Buckets {
  const edge = options.topology.edge;
  const privateEncrypted = {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    removalPolicy: options.removalPolicy,
  };
  const frontend = new s3.Bucket(scope, 'FrontendBucket', {
    ...privateEncrypted,
    bucketName: edge.frontendBucket,
    // The design versions the React build, so a bad release can be rolled back object by object.
    versioned: true,
    cors: [
      {
        allowedMethods: [s3.HttpMethods.GET, s3.HttpMethods.HEAD],
        allowedOrigins: [edge.corsAllowedOrigin],
      },
    ],
  });
  const uploads = new s3.Bucket(scope, 'UploadsBucket', {
    ...privateEncrypted,
    bucketName: edge.uploadsBucket,
  });
  return { frontend, uploads };
}

export interface DistributionOptions {
  topology: Topology;
  frontendBucket: s3.IBucket;
  loadBalancer: elbv2.ILoadBalancerV2;
  /**
   * An ACM certificate in us-east-1 for the domain. CloudFront only answers for its alias with
   * one; without it the distribution serves its own *.cloudfront.net name.
   */
  certificateArn?: string;
}

export function createDistribution(scope: Construct, options: DistributionOptions): cloudfront.Distribution {
  const edge = options.topology.edge;
  const staticCache = new cloudfront.CachePolicy(scope, 'StaticCachePolicy', {
    comment: 'tiketi frontend build',
    defaultTtl: Duration.seconds(edge.staticDefaultTtlSeconds),
    enableAcceptEncodingGzip: edge.compress,
    enableAcceptEncodingBrotli: edge.compress,
  });
  // The ALB has only an HTTP listener (a certificate needs a name of ours on it); viewers still
  // reach CloudFront over HTTPS only.
  const apiOrigin = new origins.LoadBalancerV2Origin(options.loadBalancer, {
    protocolPolicy: cloudfront.OriginProtocolPolicy.HTTP_ONLY,
    httpPort: HTTP_PORT,
  });
  const apiBehavior: cloudfront.BehaviorOptions = {
    origin: apiOrigin,
    viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
    allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
    cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
    // Cookies carry ALB stickiness (AWSALB) and the session; headers carry the WebSocket upgrade.
    originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER,
    compress: edge.compress,
  };
  const certificate = options.certificateArn
    ? acm.Certificate.fromCertificateArn(scope, 'DistributionCertificate', options.certificateArn)
    : undefined;
  return new cloudfront.Distribution(scope, 'Distribution', {
    comment: `tiketi ${edge.domainName}`,
    defaultRootObject: 'index.html',
    defaultBehavior: {
      origin: origins.S3BucketOrigin.withOriginAccessControl(options.frontendBucket),
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      cachePolicy: staticCache,
      compress: edge.compress,
    },
    additionalBehaviors: {
      [edge.apiPathPattern]: apiBehavior,
      [SOCKET_IO_PATH_PATTERN]: apiBehavior,
    },
    ...(certificate ? { certificate, domainNames: [edge.domainName] } : {}),
  });
}

export interface Dns {
  zone: route53.PublicHostedZone;
  siteRecord: route53.ARecord | undefined;
}

/** The zone is created, never looked up, so synth stays offline. */
export function createDns(
  scope: Construct,
  options: { topology: Topology; distribution?: cloudfront.IDistribution },
): Dns {
  const zone = new route53.PublicHostedZone(scope, 'HostedZone', {
    zoneName: options.topology.edge.domainName,
  });
  const siteRecord = options.distribution
    ? new route53.ARecord(scope, 'SiteAliasRecord', {
        zone,
        target: route53.RecordTarget.fromAlias(new route53Targets.CloudFrontTarget(options.distribution)),
      })
    : undefined;
  return { zone, siteRecord };
}
