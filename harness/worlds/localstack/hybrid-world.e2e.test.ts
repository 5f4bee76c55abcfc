/**
 * A short rehearsal in the hybrid world against a real LocalStack on 127.0.0.1:4566: the local
 * topology with the `TiketiLocal` stack's alarms. Mid-run the scale-out alarm is set to ALARM in
 * LocalStack; its notification must reach the emulated group through SNS → SQS → the alarm feed,
 * and the report's alarm history must come from LocalStack.
 *
 * Skipped (and says so) when no LocalStack answers: `docker compose -f docker-compose.localstack.yml
 * up -d` starts one. Deploys TiketiLocal first when it is not there (`tiketi-sim deploy --target
 * localstack`). Takes about 8 minutes: the hybrid world runs at 1×, with a 3-minute warm-up.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, ListMetricsCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { describe, expect, it } from 'vitest';
import { designTopology } from '../../../infra/topology.ts';
import { runScenario } from '../../run/run-scenario.ts';
import { scenarioSchema } from '../../scenario/schema.ts';
import { DEFAULT_STACK_NAMES, deployStack, localStackClientConfig } from '../cdk-cli.ts';
import { selectWorld } from '../select-world.ts';
import { probeLocalStack } from './probe-for-tests.ts';

const { localstackUp, suffix } = await probeLocalStack();

const STACK = DEFAULT_STACK_NAMES.localstack;
const SCALE_OUT = 'tiketi-queue-scale-out';

async function ensureStack(): Promise<void> {
  const cloudFormation = new CloudFormationClient(localStackClientConfig());
  try {
    await cloudFormation.send(new DescribeStacksCommand({ StackName: STACK }));
  } catch {
    console.log(
      `${STACK} is not deployed in LocalStack: deploying it (tiketi-sim deploy --target localstack)`,
    );
    await deployStack({ target: 'localstack', outputsFile: '.tiketi-sim/stack-outputs.json' });
  } finally {
    cloudFormation.destroy();
  }
}

describe(`the hybrid world against LocalStack${suffix}`, () => {
  it.skipIf(!localstackUp)(
    `a short rehearsal: LocalStack's alarm drives the emulated group, and the report shows it${suffix}`,
    async () => {
      await ensureStack();
      const lines: string[] = [];
      const log = (line: string) => lines.push(line);
      const { world } = await selectWorld({ world: 'localstack', backend: 'auto', log });
      const cloudWatch = new CloudWatchClient(localStackClientConfig());
      const scenario = scenarioSchema.parse({
        name: 'hybrid-short',
        description: 'three minutes of a small drop in the hybrid world',
        startAt: '19:30',
        endAt: '19:33',
        timeScale: 30,
        event: { seats: 100 },
        users: 40,
        arrivals: [
          { at: '19:30', joined: 0 },
          { at: '19:31', joined: 40 },
        ],
        behaviour: {
          socket: true,
          buyShare: 0.5,
          seatsPerOrder: 1,
          thinkTime: { minSeconds: 2, maxSeconds: 5 },
        },
        expectations: [
          { expect: 'alarm-state', alarm: SCALE_OUT, state: 'ALARM', within: { from: '19:30', to: '19:33' } },
          { expect: 'no-seat-sold-twice' },
          { expect: 'no-confirmed-reservation-lost' },
        ],
      });
      let forced = false;
      try {
        const result = await runScenario({
          scenario,
          world,
          signal: new AbortController().signal,
          log,
          // The first sample is a minute into the drop: force the alarm then, in LocalStack.
          progress: () => {
            if (forced) return;
            forced = true;
            void cloudWatch.send(
              new SetAlarmStateCommand({
                AlarmName: SCALE_OUT,
                StateValue: 'ALARM',
                StateReason: 'tiketi-sim hybrid e2e',
              }),
            );
          },
        });
        const { record, verdicts } = result;
        expect(lines).toContain(
          "[runner] the localstack world runs on the wall clock (1×), not the scenario's 30×: 19:30–19:33 takes 3 minutes",
        );
        expect(record.timeScaleRequested).toBe(1);
        // Alarm states in every sample are LocalStack's, by the stack's alarm names.
        expect(record.samples.length).toBeGreaterThanOrEqual(2);
        for (const s of record.samples)
          expect(Object.keys(s.alarms).sort()).toEqual(designTopology.alarms.map((a) => a.name).sort());
        // The notification came back through SNS → SQS → the feed, and drove the emulated group.
        expect(record.alarmHistory).toContainEqual(
          expect.objectContaining({ alarm: SCALE_OUT, to: 'ALARM', reason: 'tiketi-sim hybrid e2e' }),
        );
        expect(record.scalingActivities.map((a) => a.cause)).toContainEqual(
          expect.stringContaining(`a monitor alarm ${SCALE_OUT} in state ALARM`),
        );
        // The queue monitor published to LocalStack's CloudWatch.
        const metrics = await cloudWatch.send(
          new ListMetricsCommand({
            Namespace: designTopology.queueMonitor.namespace,
            MetricName: designTopology.queueMonitor.queueSizeMetric,
          }),
        );
        expect((metrics.Metrics ?? []).length).toBeGreaterThan(0);
        // The emulator's database is local: integrity is checked, and holds.
        expect(record.integrity.seatsSoldTwice).toBe(0);
        expect(record.integrity.confirmedReservationsLost).toBe(0);
        expect(verdicts.filter((v) => !v.passed)).toEqual([]);
      } finally {
        cloudWatch.destroy();
      }
    },
    15 * 60_000,
  );
});
