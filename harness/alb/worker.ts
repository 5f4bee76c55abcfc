/** The ALB proxy worker process (alb-worker.ts): its first message carries the listening socket. */
import type { Server } from 'node:net';
import { AlbWorker } from './alb-worker.ts';
import type { ToAlbWorker } from './protocol.ts';

process.once('message', (init: ToAlbWorker, listener?: Server) => {
  if (init.type !== 'init' || !listener)
    throw new Error('alb worker: the first message must be init, with the listening socket');
  const worker = new AlbWorker(init, (message) => process.send?.(message));
  void worker.listen(listener);
  process.on('message', (message: ToAlbWorker) => {
    if (worker.handle(message) === 'stopped') process.exit(0);
  });
});
process.on('disconnect', () => process.exit(0));
