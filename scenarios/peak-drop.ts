import { defineScenario } from '../harness/scenario/schema.ts';

/**
 * The design's peak timeline (ARCHITECTURE.md): the waiting room fills from 19:30, 25,000 users
 * are queued at 19:58 when sales open, and the queue drains at the admission rate by 21:00.
 * Expectations follow AWS semantics; where the design's table cannot happen (−1 per 600 s cannot
 * take 9 instances to 2 between 20:35 and 21:00) the report shows the claim beside what happened.
 */
export default defineScenario({
  name: 'peak-drop',
  description:
    "The design's peak: 25,000 queued at 19:58, scale-out +2 then +5, drain and scale-in by 21:00.",
  startAt: '19:30',
  endAt: '21:00',
  // The room filling slowly and the scale-in after the drain run at 120× (the stretches with
  // nothing due faster still); the clock slows by itself wherever this machine cannot keep up,
  // so the speed asked changes only how long the rehearsal takes (docs/performance.md).
  timeScale: 120,
  event: { seats: 5_000, salesOpenAt: '19:58' },
  users: 25_000,
  arrivals: [
    { at: '19:30', joined: 0 },
    { at: '19:50', joined: 3_000 },
    { at: '19:55', joined: 8_000 },
    { at: '19:58', joined: 25_000 },
  ],
  behaviour: { socket: true, buyShare: 0.2, seatsPerOrder: 2, thinkTime: { minSeconds: 5, maxSeconds: 30 } },
  expectations: [
    {
      expect: 'alarm-never',
      alarm: 'tiketi-queue-scale-out',
      state: 'ALARM',
      during: { from: '19:30', to: '19:52' },
    },
    {
      expect: 'alarm-state',
      alarm: 'tiketi-queue-scale-out',
      state: 'ALARM',
      within: { from: '19:53', to: '19:57' },
    },
    {
      expect: 'alarm-state',
      alarm: 'tiketi-queue-scale-out-aggressive',
      state: 'ALARM',
      within: { from: '19:57', to: '20:01' },
    },
    { expect: 'max-instances', max: 10 },
    // The design's table claims 9 at 20:00; AWS semantics cannot (the +2 activity boots for 4
    // minutes and its cooldown follows, so the +5 alarm is refused until then). The report puts
    // the claim beside what happened; the gate asks that the group did scale out.
    { expect: 'instances', at: '20:10', min: 4 },
    // Scale-in only after the queue stays under 1,000 for two 5-minute periods. Before the peak,
    // the alarm may already be in ALARM while the room fills (AWS semantics, no effect at the
    // minimum size); while the queue is large it must not be.
    {
      expect: 'alarm-never',
      alarm: 'tiketi-queue-scale-in',
      state: 'ALARM',
      during: { from: '19:52', to: '20:08' },
    },
    {
      expect: 'alarm-state',
      alarm: 'tiketi-queue-scale-in',
      state: 'ALARM',
      within: { from: '20:08', to: '20:45' },
    },
    { expect: 'latency', endpoint: 'all', percentile: 95, belowMs: 200 },
    { expect: 'socket-delivery', percentile: 95, belowMs: 100 },
    { expect: 'error-rate', below: 0.01 },
    { expect: 'no-seat-sold-twice' },
  ],
});
