/** The `external` backend: servers that already run (staging, LocalStack-backed or real AWS endpoints). */
import type { Backend, HostPort, RedisConnection } from './backend.ts';
import { BackendUnavailableError } from './backend.ts';

export interface ExternalBackendOptions {
  /** `redis://host:port` of a primary. */
  redisUrl?: string;
  /** `host:port,host:port` of Sentinels (with `redisMasterName`). */
  redisSentinels?: string;
  redisMasterName?: string;
  databaseUrl?: string;
  databaseReaderUrl?: string;
}

export function parseHostPorts(list: string, field: string): HostPort[] {
  return list.split(',').map((entry) => {
    const match = /^\s*([^:\s]+):(\d+)\s*$/.exec(entry);
    if (!match)
      throw new BackendUnavailableError(`${field}: "${entry}" is not host:port (e.g. 127.0.0.1:26379)`);
    return { host: match[1]!, port: Number(match[2]) };
  });
}

export function externalBackend(options: ExternalBackendOptions): Backend {
  const problems: string[] = [];
  if (!options.redisUrl && !options.redisSentinels)
    problems.push('--redis-url or --redis-sentinels is required');
  if (options.redisSentinels && !options.redisMasterName)
    problems.push('--redis-master-name is required with --redis-sentinels');
  if (!options.databaseUrl) problems.push('--database-url is required');
  if (problems.length > 0) {
    throw new BackendUnavailableError(
      `--backend external needs the URLs of running servers: ${problems.join('; ')}.`,
    );
  }
  const redis: RedisConnection = options.redisSentinels
    ? {
        kind: 'sentinel',
        sentinels: parseHostPorts(options.redisSentinels, '--redis-sentinels'),
        masterName: options.redisMasterName!,
      }
    : { kind: 'url', url: options.redisUrl! };
  return {
    kind: 'external',
    async start() {
      const stop = async () => {}; // not ours to stop
      return {
        kind: 'external',
        endpoints: {
          redis,
          postgres: {
            writerUrl: options.databaseUrl!,
            readerUrl: options.databaseReaderUrl ?? options.databaseUrl!,
          },
        },
        components: () => [
          { name: 'redis', role: 'external', address: options.redisUrl ?? options.redisSentinels },
          {
            name: 'postgres',
            role: 'external',
            address: options.databaseUrl?.replace(/\/\/[^@]*@/, '//***@'),
          },
        ],
        stop,
        [Symbol.asyncDispose]: stop,
      };
    },
  };
}
