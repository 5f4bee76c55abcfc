/**
 * A load worker process: runs the journeys of the users the generator sends it, and reports
 * interval histograms and counters every second. Several run side by side because one process may
 * hold at most 20,000 open files here.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { LatencyRecorder } from '../metrics/latency.ts';
import { LagMonitor } from '../metrics/machine-state.ts';
import { VirtualUserHttp } from './http-client.ts';
import type { FromWorker, ReconnectObservation, ToWorker, WorkerInit, WorkerReport } from './protocol.ts';
import { seededRandom } from './random.ts';
import { Stopper } from './stopper.ts';
import { type JourneyContext, runJourney } from './user-journey.ts';

const REPORT_MS = 1_000;

function send(message: FromWorker): void {
  process.send?.(message);
}

let init: WorkerInit | undefined;
let ctx: JourneyContext | undefined;
const stopper = new Stopper();
const latency = new LatencyRecorder();
const journeys = new Set<Promise<void>>();
const taken = new Set<string>();
const delta = { joined: 0, settled: 0, admitted: 0, seatsHeld: 0, reservations: 0, socketDisconnects: 0 };
let confirmed: string[] = [];
let reconnects: ReconnectObservation[] = [];
let socketsConnected = 0;
let timeScale = 1;
let reportTimer: NodeJS.Timeout | undefined;
let unsettled = 0;
// A saturated worker delays its own requests and receipts: measured, so the report can say so.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const intervalLag = new LagMonitor();

function report(final: boolean): WorkerReport {
  const http = ctx!.http;
  const message: WorkerReport = {
    type: 'report',
    workerIndex: init!.workerIndex,
    final,
    latency: latency.drain(),
    http: { ...http.counters },
    longestGap: http.longestGap,
    ...delta,
    confirmedReservationIds: confirmed,
    socketsConnected,
    usersActive: journeys.size,
    unsettled,
    reconnects,
    maxEventLoopDelayMs: loopDelay.max / 1e6,
    eventLoopLagMs: intervalLag.takeMaxMs(),
  };
  delta.joined =
    delta.settled =
    delta.admitted =
    delta.seatsHeld =
    delta.reservations =
    delta.socketDisconnects =
      0;
  confirmed = [];
  reconnects = [];
  return message;
}

async function stop(): Promise<void> {
  if (reportTimer) clearInterval(reportTimer);
  stopper.stop();
  await Promise.race([Promise.allSettled(journeys), new Promise((r) => setTimeout(r, 5_000))]);
  if (ctx) send(report(true));
  await ctx?.http.close().catch(() => undefined);
  process.disconnect?.();
  process.exit(0);
}

process.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'init': {
      init = message;
      timeScale = message.timeScale;
      ctx = {
        baseUrl: message.baseUrl,
        eventId: message.eventId,
        seatIds: message.seatIds,
        behaviour: message.behaviour,
        http: new VirtualUserHttp(message.baseUrl, latency, { connections: message.httpConnections }),
        latency,
        timeScale: () => timeScale,
        random: seededRandom(message.seed),
        stop: stopper,
        events: {
          joined: () => delta.joined++,
          settled: () => {
            delta.settled++;
            unsettled--;
          },
          admitted: () => delta.admitted++,
          seatHeld: () => delta.seatsHeld++,
          reserved: () => delta.reservations++,
          paymentConfirmed: (id) => confirmed.push(id),
          socketConnected: () => socketsConnected++,
          socketDisconnected: () => {
            socketsConnected--;
            delta.socketDisconnects++;
          },
          reconnect: (o) => reconnects.push(o),
          seatsTaken: (ids) => {
            for (const id of ids) taken.add(id);
          },
          isTaken: (id) => taken.has(id),
        },
      };
      reportTimer = setInterval(() => send(report(false)), REPORT_MS);
      send({ type: 'ready', workerIndex: message.workerIndex });
      return;
    }
    case 'arrive':
      unsettled += message.users.length;
      for (const user of message.users) {
        const journey = runJourney(user, ctx!).catch((err: unknown) =>
          send({ type: 'error', message: (err as Error).message }),
        );
        journeys.add(journey);
        void journey.finally(() => journeys.delete(journey));
      }
      return;
    case 'time-scale':
      timeScale = message.timeScale;
      return;
    case 'stop':
      void stop();
      return;
  }
});

// The generator's process is gone (even SIGKILLed): so are we.
process.on('disconnect', () => process.exit(0));
