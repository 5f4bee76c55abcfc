import { describe, expect, it } from 'vitest';
import { TimeScalePublisher } from './time-scale-publisher.ts';

describe('TimeScalePublisher', () => {
  it('retries a failed write until Redis takes it, with the latest speed, once at a time', async () => {
    const writes: string[] = [];
    let down = true;
    const redis = {
      set: async (key: string, value: string) => {
        if (down) throw new Error('READONLY: failover in progress');
        writes.push(`${key}=${value}`);
        return 'OK' as const;
      },
    };
    const publisher = new TimeScalePublisher(redis as never, 'k', 30, 20);
    await publisher.publish(20);
    await publisher.publish(12);
    down = false;
    await new Promise((r) => setTimeout(r, 100));
    expect(writes).toEqual(['k=12']);
    await publisher.publish(40);
    expect(writes).toEqual(['k=12', 'k=40']);
    publisher.stop();
  });
});
