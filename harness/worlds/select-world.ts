/**
 * `--world local|localstack|aws`: checks that the world can work from here (the preflight of
 * `cdk-cli.ts`), finds the deployed stack's outputs and the event its alarms watch, and builds the
 * world. Every problem is an error the CLI turns into exit 2 with what to do.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { RDSClient } from '@aws-sdk/client-rds';
import { SQSClient } from '@aws-sdk/client-sqs';
import { designTopology } from '../../infra/topology.ts';
import type { StartupOutput } from '../../servers/startup-steps.ts';
import type { Backend, BackendChoice } from '../backends/backend.ts';
import { selectBackend } from '../backends/select-backend.ts';
import { type AwsWorldClients, awsWorld } from './aws/aws-world.ts';
import { describeMetricAlarms, type SdkClient, watchedEventIdFrom } from './aws/observe.ts';
import {
  type AwsStackOutputs,
  type CheckOptions,
  checkDeployTarget,
  DEFAULT_STACK_NAMES,
  type DeployTarget,
  DeployUnavailableError,
  LOCALSTACK_ENDPOINT,
  type LocalStackStackOutputs,
  localStackClientConfig,
} from './cdk-cli.ts';
import { localWorld } from './local/local-world.ts';
import type { SqsLike } from './localstack/alarm-feed.ts';
import { hybridWorld, localStackAlarms } from './localstack/hybrid-world.ts';
import { describeStackOutputs } from './stack.ts';
import { type World, type WorldName, WorldSetupError } from './world.ts';

export interface WorldChoice {
  world: WorldName;
  /** The deployed stack: required for aws; for localstack @default 'TiketiLocal' */
  stackName?: string;
  /** Where Redis and PostgreSQL come from (local and localstack worlds). */
  backend: BackendChoice;
  log: (line: string) => void;
  /** The local world's start-up steps and server logs. @default silent */
  startup?: StartupOutput;
}

export interface AwsSdkClients extends AwsWorldClients {
  cloudFormation: SdkClient;
  destroy(): void;
}

export interface LocalStackSdkClients {
  cloudFormation: SdkClient;
  cloudWatch: SdkClient;
  sqs: SqsLike;
  destroy(): void;
}

/** Test seams; the defaults are the real thing. */
export interface SelectWorldDeps {
  /** Preflight settings (environment, home directory, LocalStack's endpoint). */
  check?: CheckOptions;
  awsClients?: () => AwsSdkClients;
  localStackClients?: (endpoint: string) => LocalStackSdkClients;
  selectBackend?: (choice: BackendChoice) => Promise<Backend>;
}

export interface SelectedWorld {
  world: World;
  /** For the run's first line: `local backend`, `aws world, stack Tiketi`… */
  description: string;
}

/** SDK clients for the stack's region, with the default credential chain. */
export function awsSdkClients(region = designTopology.region): AwsSdkClients {
  const config = { region };
  const clients = {
    cloudFormation: new CloudFormationClient(config),
    cloudWatch: new CloudWatchClient(config),
    autoScaling: new AutoScalingClient(config),
    elbv2: new ElasticLoadBalancingV2Client(config),
    rds: new RDSClient(config),
    elastiCache: new ElastiCacheClient(config),
  };
  return {
    ...clients,
    destroy: () => {
      for (const client of Object.values(clients)) client.destroy();
    },
  };
}

/** SDK clients for LocalStack (`localStackClientConfig`: its endpoint, dummy credentials). */
export function localStackSdkClients(endpoint = LOCALSTACK_ENDPOINT): LocalStackSdkClients {
  const config = localStackClientConfig(endpoint);
  const clients = {
    cloudFormation: new CloudFormationClient(config),
    cloudWatch: new CloudWatchClient(config),
    sqs: new SQSClient(config),
  };
  return {
    ...clients,
    destroy: () => {
      for (const client of Object.values(clients)) client.destroy();
    },
  };
}

async function preflight(target: DeployTarget, check: CheckOptions | undefined, log: (line: string) => void) {
  const result = await checkDeployTarget(target, check);
  if (!result.ok) throw new DeployUnavailableError(target, `--world ${target}: ${result.reason}`);
  log(`[world] ${target}: ${result.found}`);
}

/** The event the stack's alarms watch (`-c watchedEventId`, default `default`). */
async function watchedEvent(
  cloudWatch: SdkClient,
  alarmNames: readonly string[],
  target: DeployTarget,
  log: (line: string) => void,
): Promise<string> {
  let eventId: string | undefined;
  try {
    const alarms = await describeMetricAlarms(cloudWatch, alarmNames);
    eventId = watchedEventIdFrom(
      { MetricAlarms: alarms },
      designTopology.queueMonitor.dimensionName,
      alarmNames,
    );
  } catch (err) {
    throw new WorldSetupError(
      `DescribeAlarms on ${target === 'aws' ? 'AWS' : 'LocalStack'} failed (${(err as Error).name}: ${(err as Error).message})${target === 'aws' ? ': the credentials need cloudwatch:DescribeAlarms' : ''}`,
      { cause: err },
    );
  }
  if (eventId) return eventId;
  log(
    `[world] no alarm of ${alarmNames.join(', ')} names an ${designTopology.queueMonitor.dimensionName}: the drop uses event default`,
  );
  return 'default';
}

export async function selectWorld(choice: WorldChoice, deps: SelectWorldDeps = {}): Promise<SelectedWorld> {
  const pickBackend = deps.selectBackend ?? selectBackend;
  switch (choice.world) {
    case 'local': {
      const backend = await pickBackend(choice.backend);
      return {
        world: localWorld({ backend, ...(choice.startup ? { startup: choice.startup } : {}) }),
        description: `${backend.kind} backend`,
      };
    }
    case 'aws': {
      const stackName = choice.stackName;
      if (!stackName)
        throw new WorldSetupError(
          `--world aws needs --stack <name>: the CloudFormation stack to rehearse against (${DEFAULT_STACK_NAMES.aws} when deployed with tiketi-sim deploy --target aws)`,
        );
      await preflight('aws', deps.check, choice.log);
      const clients = deps.awsClients?.() ?? awsSdkClients();
      try {
        const stack = await describeStackOutputs(clients.cloudFormation, stackName, 'aws');
        const outputs = stack.outputs as AwsStackOutputs;
        const eventId = await watchedEvent(clients.cloudWatch, outputs.AlarmNames, 'aws', choice.log);
        return {
          world: awsWorld({ stackName, outputs, eventId, clients, onStop: () => clients.destroy() }),
          description: `aws world, stack ${stackName}, event ${eventId}`,
        };
      } catch (err) {
        clients.destroy();
        throw err;
      }
    }
    case 'localstack': {
      const stackName = choice.stackName ?? DEFAULT_STACK_NAMES.localstack;
      const endpoint = deps.check?.localstackEndpoint ?? LOCALSTACK_ENDPOINT;
      await preflight('localstack', deps.check, choice.log);
      const backend = await pickBackend(choice.backend);
      const clients = deps.localStackClients?.(endpoint) ?? localStackSdkClients(endpoint);
      try {
        const stack = await describeStackOutputs(clients.cloudFormation, stackName, 'localstack');
        const outputs = stack.outputs as LocalStackStackOutputs;
        const eventId = await watchedEvent(clients.cloudWatch, outputs.AlarmNames, 'localstack', choice.log);
        const alarms = localStackAlarms({
          cloudWatch: clients.cloudWatch,
          sqs: clients.sqs,
          queueUrl: outputs.AlarmQueueUrl,
          alarmNames: outputs.AlarmNames,
          log: choice.log,
          onStop: () => clients.destroy(),
        });
        return {
          world: hybridWorld({ backend, eventId, alarms }),
          description: `localstack world (stack ${stackName}, event ${eventId}), ${backend.kind} backend`,
        };
      } catch (err) {
        clients.destroy();
        throw err;
      }
    }
  }
}
