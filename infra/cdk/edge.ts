/**
 * The edge: the frontend and uploads buckets (and the access-log bucket), CloudFront (static build
 * from S3; `/api/*` and the Socket.IO path to the ALB over HTTPS with the secret origin header,
 * never cached), the Route 53 zone with the site's alias and the origin's name, and the origin's
 * certificate.
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
import { ORIGIN_VERIFY_HEADER } from './compute.ts';
import { acceptFinding } from './nag-suppressions.ts';

/** Socket.IO's default path; the emulator's edge forwards it to the ALB beside the API path. */
export const SOCKET_IO_PATH_PATTERN = '/socket.io/*';

export interface Buckets {
  frontend: s3.Bucket;
  uploads: s3.Bucket;
  /** S3 server access logs, ALB access logs and CloudFront standard logs. */
  accessLogs: s3.Bucket;
}

/** Names are CloudFormation's: bucket names are global, and two stacks must coexist. */
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
  const accessLogs = new s3.Bucket(scope, 'AccessLogsBucket', {
    ...privateEncrypted,
    // CloudFront standard logging writes with an ACL.
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
  });
  const frontend = new s3.Bucket(scope, 'FrontendBucket', {
    ...privateEncrypted,
    // The design versions the React build, so a bad release can be rolled back object by object.
    versioned: true,
    serverAccessLogsBucket: accessLogs,
    serverAccessLogsPrefix: 's3/frontend/',
    cors: [
      {
        allowedMethods: [s3.HttpMethods.GET, s3.HttpMethods.HEAD],
        allowedOrigins: [edge.corsAllowedOrigin],
      },
    ],
  });
  const uploads = new s3.Bucket(scope, 'UploadsBucket', {
    ...privateEncrypted,
    serverAccessLogsBucket: accessLogs,
    serverAccessLogsPrefix: 's3/uploads/',
  });
  return { frontend, uploads, accessLogs };
}

/** `origin.tiketi.gg`: the name CloudFront reaches the ALB by, and its certificate's. */
export function originDomainName(topology: Topology): string {
  return `${topology.edge.originSubdomain}.${topology.edge.domainName}`;
}

/**
 * The ALB's certificate: DNS-validated in the stack's hosted zone (the zone's name servers must be
 * set at the registrar first, or validation waits), or an existing one for the origin name.
 */
export function originCertificate(
  scope: Construct,
  options: { topology: Topology; zone: route53.IHostedZone; certificateArn?: string },
): acm.ICertificate {
  if (options.certificateArn) {
    return acm.Certificate.fromCertificateArn(scope, 'OriginCertificate', options.certificateArn);
  }
  return new acm.Certificate(scope, 'OriginCertificate', {
    domainName: originDomainName(options.topology),
    validation: acm.CertificateValidation.fromDns(options.zone),
  });
}

export interface DistributionOptions {
  topology: Topology;
  frontendBucket: s3.IBucket;
  logBucket: s3.IBucket;
  /** The secret value of the origin header (a dynamic reference, resolved at deploy). */
  originVerifyValue: string;
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
  // HTTPS to the origin name the ALB's certificate is issued for; the header proves the request
  // came through this distribution.
  const apiOrigin = new origins.HttpOrigin(originDomainName(options.topology), {
    protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
    originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
    customHeaders: { [ORIGIN_VERIFY_HEADER]: options.originVerifyValue },
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
  const distribution = new cloudfront.Distribution(scope, 'Distribution', {
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
    enableLogging: true,
    logBucket: options.logBucket,
    logFilePrefix: 'cloudfront/',
    minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
    ...(certificate ? { certificate, domainNames: [edge.domainName] } : {}),
  });
  acceptFinding(
    distribution,
    'AwsSolutions-CFR1',
    'Tickets are sold to buyers wherever they are: no geo restriction.',
  );
  acceptFinding(
    distribution,
    'AwsSolutions-CFR2',
    'No WAF in the design (cost); the app limits request rates itself and the ALB answers only CloudFront.',
  );
  if (!certificate) {
    acceptFinding(
      distribution,
      'AwsSolutions-CFR4',
      "Without certificateArn the distribution serves CloudFront's default *.cloudfront.net certificate, whose TLS policy CloudFront fixes; with one, TLSv1.2_2021 applies.",
    );
  }
  return distribution;
}

/** The zone is created, never looked up, so synth stays offline. */
export function createHostedZone(scope: Construct, topology: Topology): route53.PublicHostedZone {
  return new route53.PublicHostedZone(scope, 'HostedZone', { zoneName: topology.edge.domainName });
}

/** The site's alias to CloudFront, and the origin name's alias to the ALB. */
export function createRecords(
  scope: Construct,
  options: {
    topology: Topology;
    zone: route53.IHostedZone;
    distribution: cloudfront.IDistribution;
    loadBalancer: elbv2.ILoadBalancerV2;
  },
): void {
  new route53.ARecord(scope, 'SiteAliasRecord', {
    zone: options.zone,
    target: route53.RecordTarget.fromAlias(new route53Targets.CloudFrontTarget(options.distribution)),
  });
  new route53.ARecord(scope, 'OriginAliasRecord', {
    zone: options.zone,
    recordName: options.topology.edge.originSubdomain,
    target: route53.RecordTarget.fromAlias(new route53Targets.LoadBalancerTarget(options.loadBalancer)),
  });
}
