/**
 * An app instance's process entry: it loads the app's code first, then reads its instance's
 * environment (one JSON line on stdin, as an EC2 instance's user data) and runs the app's own
 * entry, app/main.ts. The harness starts these while the data tier starts (most of an instance's
 * boot is loading code) and hands each its environment once the endpoints exist.
 */
import { createInterface } from 'node:readline';
import { serveHandedOffWebSockets } from '../alb/websocket-handoff.ts';
import { LagMonitor } from '../metrics/machine-state.ts';
import { tellStallsOnAnswers } from './stall-telling.ts';

await Promise.all([import('pino'), import('../../app/config.ts'), import('../../app/server.ts')]);
const lines = createInterface({ input: process.stdin });
const first = await new Promise<string | undefined>((resolve) => {
  lines.once('line', resolve);
  lines.once('close', () => resolve(undefined));
});
lines.close();
process.stdin.destroy();
if (first === undefined) process.exit(0); // the harness went before giving this instance a role
Object.assign(process.env, JSON.parse(first) as Record<string, string>);
const { server } = await import('../../app/main.ts');
// Its answers tell the stalls that held them up: this machine's, not the design's (stall-telling.ts).
const loop = new LagMonitor();
tellStallsOnAnswers(server.httpServer, loop);
// Started with an IPC channel, it serves the WebSockets the ALB hands it (websocket-handoff.ts).
serveHandedOffWebSockets(server.httpServer, loop);
