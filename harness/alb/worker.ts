/**
 * The ALB proxy worker process (alb-worker.ts): its first message carries the first listening
 * socket, `listen` messages the others; it accepts on all of them once it has them.
 */
import type { Server } from 'node:net';
import { sendToParent } from '../../servers/parent-channel.ts';
import { AlbWorker } from './alb-worker.ts';
import type { ToAlbWorker } from './protocol.ts';

process.once('message', (init: ToAlbWorker, first?: Server) => {
  if (init.type !== 'init' || !first)
    throw new Error('alb worker: the first message must be init, with the listening socket');
  // A handed-off client socket is closed here once sent: its target's process serves it.
  const worker = new AlbWorker(init, (message, handle) => sendToParent(message, handle));
  const listeners = [first];
  const listenWhenAll = () => {
    if (listeners.length === init.listeners) void worker.listen(listeners);
  };
  listenWhenAll();
  process.on('message', (message: ToAlbWorker, listener?: Server) => {
    if (message.type === 'listen') {
      if (!listener) throw new Error('alb worker: a listen message must carry a listening socket');
      listeners.push(listener);
      listenWhenAll();
    } else if (worker.handle(message) === 'stopped') process.exit(0);
  });
});
process.on('disconnect', () => process.exit(0));
