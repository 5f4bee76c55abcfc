/** The fault-proxy process (fault-proxy.ts): answers each command from the harness by its id. */
import { sendToParent } from '../parent-channel.ts';
import { FaultProxy } from './fault-proxy.ts';
import type { ProxyCommand } from './protocol.ts';

const proxy = new FaultProxy();
process.on('message', (command: ProxyCommand) => {
  proxy.handle(command).then(
    (reply) => sendToParent(reply),
    (err: unknown) => sendToParent({ id: command.id, ok: false, error: (err as Error).message }),
  );
});
// The harness is gone (even SIGKILLed): so are we.
process.on('disconnect', () => process.exit(0));
sendToParent({ id: 0, ok: true });
