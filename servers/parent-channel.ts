/**
 * A forked process's messages to the harness that started it (fork-worker.ts). `process.send`
 * without a callback reports a closed channel as an `error` event on `process`: unheard, that
 * ends the process with a stack trace in the run's output, at the moment the harness goes first
 * or is SIGKILLed. A message to a harness that is gone has no reader: it is dropped, and a socket
 * it carried is destroyed here rather than left open with no process to serve it.
 */
import type { Socket } from 'node:net';

/** Sends `message` (and `socket`) to the parent; false when the channel is closed, or backed up (`process.send`'s own false). */
export function sendToParent(message: unknown, socket?: Socket): boolean {
  if (!process.send || !process.connected) {
    socket?.destroy();
    return false;
  }
  return process.send(message, socket, undefined, (err: Error | null) => {
    if (err) socket?.destroy();
  });
}
