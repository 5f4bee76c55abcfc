import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { SessionState } from '../../app/realtime/realtime.ts';
import { ScaledClock } from '../clock/clock.ts';
import { LatencyRecorder } from '../metrics/latency.ts';
import { CookieJar } from './cookie-jar.ts';
import { VirtualUserHttp } from './http-client.ts';
import { Stopper } from './stopper.ts';
import { type KnownState, paidAfterAll, stateLost } from './user-journey.ts';

describe('what a reconnect did not restore', () => {
  const readAt = Date.now();
  const state: SessionState = {
    instanceId: 'app-2',
    eventId: 'drop',
    state: 'admitted',
    queueSize: 0,
    admittedUntil: readAt + 60_000,
    heldSeatIds: ['A-1'],
    sentAt: readAt,
  };
  const known = (heldAtB: number): KnownState => ({
    admittedUntil: readAt + 60_000,
    held: new Map([
      ['A-1', readAt + 30_000],
      ['A-2', readAt + 30_000],
    ]),
    heldAt: new Map([
      ['A-1', readAt - 5_000],
      ['A-2', heldAtB],
    ]),
  });

  it('names a hold the user learnt of before the state was read and the state lacks', () => {
    expect(stateLost(known(readAt - 1_000), state)).toMatch(
      /^1 hold\(s\) lost \(A-2, \d+ s left; state admitted\)$/,
    );
  });

  it('does not count a hold answered after the state was read (the HTTP answer and the socket race)', () => {
    expect(stateLost(known(readAt + 10), state)).toBeUndefined();
  });

  it('says when the admission window changed', () => {
    expect(stateLost({ ...known(readAt - 1_000), admittedUntil: readAt + 1 }, state)).toMatch(
      /admission window changed/,
    );
  });
});

describe('a payment whose answer was lost', () => {
  /** An order page that answers `answers` in turn (the last one from then on); its requests counted. */
  async function orderPage(answers: { status: number; body?: unknown }[]) {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const answer = answers.length > 1 ? answers.shift()! : answers[0]!;
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body ?? {}));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const http = new VirtualUserHttp(
      `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      new LatencyRecorder(),
    );
    // 10 simulated s between reloads are 10 wall ms at 1,000×.
    const clock = new ScaledClock({ timeScale: 1_000 });
    const ctx = { http, clock, stop: new Stopper() };
    return {
      seen,
      check: () => paidAfterAll(ctx, { jar: new CookieJar() }, 'r-1'),
      close: async () => {
        clock.dispose();
        await http.close();
        await new Promise<void>((r) => server.close(() => r()));
      },
    };
  }

  it('reloads the order page while it fails (the instance died with the answer), and believes what it shows', async () => {
    const page = await orderPage([
      { status: 502 },
      { status: 502 },
      { status: 200, body: { status: 'confirmed' } },
    ]);
    expect(await page.check()).toBe(true);
    expect(page.seen).toEqual(Array(3).fill('GET /api/reservations/r-1'));
    await page.close();
  });

  it('a reservation still pending was not paid: one look is enough', async () => {
    const page = await orderPage([{ status: 200, body: { status: 'pending' } }]);
    expect(await page.check()).toBe(false);
    expect(page.seen).toHaveLength(1);
    await page.close();
  });

  it('gives up after ten reloads that all fail: not paid, as far as the user knows', async () => {
    const page = await orderPage([{ status: 503 }]);
    expect(await page.check()).toBe(false);
    expect(page.seen).toHaveLength(10);
    await page.close();
  });
});
