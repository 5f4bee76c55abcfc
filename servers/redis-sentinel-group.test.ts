import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { startRedisSentinelGroup } from './redis-sentinel-group.ts';

describe('redis sentinel group (ElastiCache stand-in)', () => {
  it('promotes the replica when the primary dies, and Sentinel clients follow', async () => {
    await using group = await startRedisSentinelGroup({
      downAfterMs: 500,
      failoverTimeoutMs: 3_000,
      serverArgs: ['--client-output-buffer-limit', 'pubsub 1000000 500000 7'],
    });
    const [primary, replica] = group.nodes;
    expect(await group.currentPrimary()).toEqual({ host: '127.0.0.1', port: primary!.server.port });
    // The design's settings on both nodes: the replica keeps them once promoted.
    for (const node of [primary!, replica!]) {
      const direct = new Redis(node.server.port, '127.0.0.1', { maxRetriesPerRequest: 0 });
      try {
        const [, value] = (await direct.config('GET', 'client-output-buffer-limit')) as [string, string];
        expect(value).toContain('pubsub 1000000 500000 7');
      } finally {
        direct.disconnect();
      }
    }

    const client = group.client();
    try {
      await client.set('seat:e1:A-1:locked', 'user-1');
      expect(await client.wait(1, 5_000)).toBe(1); // on the replica before the primary dies
      await primary!.server.process.kill();

      const deadline = Date.now() + 30_000;
      while ((await group.currentPrimary()).port !== replica!.server.port) {
        if (Date.now() > deadline) throw new Error('no failover within 30 s');
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(await client.get('seat:e1:A-1:locked')).toBe('user-1');
      await client.set('after-failover', '1');
      expect(await client.get('after-failover')).toBe('1');
    } finally {
      client.disconnect();
    }
  });
});
