/**
 * An app instance's event-loop stalls, told on the answers they held up (PATH_STALL_HEADER). Here
 * the instances, the ALB and the load generator wait for the same two cores: in a quiet full peak
 * an instance's main thread waited for a core about as long as it ran (a median 237 ms of each
 * second against 218 ms running, from /proc/<pid>/schedstat). A stall of that kind belongs to this
 * machine, not to the design, where each instance has cores of its own; the load workers file a
 * sample it held up over the run's stall limit apart (metrics/latency.ts). Harness code: the app
 * itself knows nothing of it.
 */
import type { Server, ServerResponse } from 'node:http';
import onHeaders from 'on-headers';
import { PATH_STALL_HEADER } from '../alb/protocol.ts';
import type { LagMonitor } from '../metrics/machine-state.ts';

/** Each answer of `server` tells the longest stall of `loop` while its request was in the process. */
export function tellStallsOnAnswers(server: Server, loop: Pick<LagMonitor, 'longestWithin'>): void {
  server.prependListener('request', (_request, response: ServerResponse) => {
    const arrivedAtMs = performance.now();
    onHeaders(response, function tellStall(this: ServerResponse) {
      const stallMs = loop.longestWithin(performance.now() - arrivedAtMs);
      if (stallMs > 0) this.setHeader(PATH_STALL_HEADER, stallMs);
    });
  });
}
