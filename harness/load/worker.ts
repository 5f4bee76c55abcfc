/** The load worker process (load-worker.ts): built from its first message, `init`. */
import { sendToParent } from '../../servers/parent-channel.ts';
import { LoadWorker } from './load-worker.ts';
import type { ToWorker } from './protocol.ts';

process.once('message', (init: ToWorker) => {
  if (init.type !== 'init') throw new Error(`load worker: the first message must be init, got ${init.type}`);
  const worker = new LoadWorker(init, (message) => sendToParent(message));
  const exit = () => {
    process.disconnect?.(); // the final report goes out before the channel closes
    process.exit(0);
  };
  process.on('message', (message: ToWorker) => void worker.handle(message)?.then(exit));
  worker.start();
});
// The generator's process is gone (even SIGKILLed): so are we.
process.on('disconnect', () => process.exit(0));
