/**
 * The queue monitor's environment, written by the CDK stack and read by the AWS entry point
 * (`index.ts`): one definition of the variable names, so the stack cannot set a name the function
 * does not read. The metric names travel with the function, so a stack synthesized from another
 * topology publishes what its own alarms watch.
 */
import { z } from 'zod';
import type { QueueMetricSettings } from '../../infra/topology.ts';

const flag = z.enum(['true', 'false']).transform((value) => value === 'true');

export const queueMonitorEnvironmentSchema = z.object({
  /** The ElastiCache configuration endpoint (cluster mode) or a plain Redis host. */
  REDIS_HOST: z.string().min(1),
  REDIS_PORT: z.coerce.number().int().positive(),
  REDIS_TLS: flag,
  /** `true`: REDIS_HOST is a cluster configuration endpoint and the client a cluster client. */
  REDIS_CLUSTER: flag,
  /** Secrets Manager secret holding the Redis AUTH token; unset where Redis has no AUTH. */
  REDIS_AUTH_SECRET_ARN: z.string().min(1).optional(),
  METRIC_NAMESPACE: z.string().min(1),
  METRIC_DIMENSION: z.string().min(1),
  QUEUE_SIZE_METRIC: z.string().min(1),
  ACTIVE_USERS_METRIC: z.string().min(1),
});

export type QueueMonitorEnvironmentName = keyof z.input<typeof queueMonitorEnvironmentSchema>;

/** Where the function finds Redis; `port` may be a CloudFormation token, hence a string. */
export interface QueueMonitorRedisTarget {
  host: string;
  port: string;
  tls: boolean;
  clusterMode: boolean;
  authSecretArn?: string;
}

export interface QueueMonitorConfig {
  redis: { host: string; port: number; tls: boolean; cluster: boolean; authSecretArn: string | undefined };
  settings: QueueMetricSettings;
}

/** The function's environment variables (the stack's side). */
export function queueMonitorEnvironment(
  redis: QueueMonitorRedisTarget,
  settings: QueueMetricSettings,
): Partial<Record<QueueMonitorEnvironmentName, string>> {
  return {
    REDIS_HOST: redis.host,
    REDIS_PORT: redis.port,
    REDIS_TLS: String(redis.tls),
    REDIS_CLUSTER: String(redis.clusterMode),
    ...(redis.authSecretArn ? { REDIS_AUTH_SECRET_ARN: redis.authSecretArn } : {}),
    METRIC_NAMESPACE: settings.namespace,
    METRIC_DIMENSION: settings.dimensionName,
    QUEUE_SIZE_METRIC: settings.queueSizeMetric,
    ACTIVE_USERS_METRIC: settings.activeUsersMetric,
  };
}

/** The function's side: every problem at once, each with the variable's name. */
export function parseQueueMonitorEnvironment(env: Record<string, string | undefined>): QueueMonitorConfig {
  const parsed = queueMonitorEnvironmentSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`);
    throw new Error(`queue monitor environment is invalid (the stack sets it):\n  ${problems.join('\n  ')}`);
  }
  const e = parsed.data;
  return {
    redis: {
      host: e.REDIS_HOST,
      port: e.REDIS_PORT,
      tls: e.REDIS_TLS,
      cluster: e.REDIS_CLUSTER,
      authSecretArn: e.REDIS_AUTH_SECRET_ARN,
    },
    settings: {
      namespace: e.METRIC_NAMESPACE,
      dimensionName: e.METRIC_DIMENSION,
      queueSizeMetric: e.QUEUE_SIZE_METRIC,
      activeUsersMetric: e.ACTIVE_USERS_METRIC,
    },
  };
}
