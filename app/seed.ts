/**
 * The seed command: creates a demo event for rehearsals (and applies migrations first).
 *
 *   DATABASE_URL=… REDIS_URL=… node --import tsx app/seed.ts [--event-id demo] [--seats 5000] [--open]
 *
 * Redis may also be given as REDIS_SENTINELS + REDIS_MASTER_NAME or REDIS_CLUSTER_NODES, as for the app.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { pino } from 'pino';
import { ConfigError, loadConfig } from './config.ts';
import { createRedis } from './core/redis.ts';
import { migrate } from './db/migrate.ts';
import { seedDemoEvent } from './sales/seed.ts';

const { values } = parseArgs({
  options: {
    'event-id': { type: 'string', default: 'demo' },
    seats: { type: 'string', default: '5000' },
    open: { type: 'boolean', default: false },
  },
});
const seats = Number(values.seats);
if (!Number.isInteger(seats) || seats < 1 || seats > 100_000) {
  console.error(`--seats must be a whole number from 1 to 100000 (got ${values.seats})`);
  process.exit(2);
}
let config: ReturnType<typeof loadConfig>;
try {
  // The token secret is not needed to seed; a placeholder keeps the shared validation.
  config = loadConfig({ TOKEN_SECRET: 'seed-does-not-sign-tokens', ...process.env });
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(2);
}
const log = pino({ level: 'warn' });
const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 2 });
const redis = createRedis(config.redis, log, 'seed');
try {
  await migrate(pool);
  const { eventId, seatIds } = await seedDemoEvent(pool, redis, {
    eventId: values['event-id']!,
    seats,
    openSales: values.open,
  });
  console.log(JSON.stringify({ eventId, seats: seatIds.length, salesOpen: values.open }));
} catch (err) {
  if ((err as { code?: string }).code === '23505') {
    console.error(`an event with id ${values['event-id']} exists already; pass another --event-id`);
    process.exitCode = 2;
  } else throw err;
} finally {
  await pool.end();
  await redis.quit();
}
