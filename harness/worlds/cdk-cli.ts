/**
 * Deploying the CDK app (`infra/cdk`, `cdk.json` at the repository root) to a world the harness can
 * observe: real AWS (`aws`) or a LocalStack on this machine (`localstack`).
 *
 * The local CDK CLI (`npx cdk`, the `aws-cdk` in package.json) runs as a child process with the
 * terminal's stdio; `--app` comes from `cdk.json`. For LocalStack the environment points every AWS
 * SDK call of the CLI at `http://127.0.0.1:4566` (`AWS_ENDPOINT_URL`, and the S3 virtual-host name
 * LocalStack answers for, `AWS_ENDPOINT_URL_S3`), with LocalStack's account `000000000000` and
 * dummy credentials when none are set.
 *
 * Before anything runs, `checkDeployTarget` says why a target cannot work from here (no
 * credentials, no LocalStack) in words that say what to do about it.
 */
import { type SpawnOptions, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import {
  type AwsStackOutputs,
  awsStackOutputsSchema,
  DEFAULT_STACK_NAMES,
  type DeployTarget,
  type LocalStackStackOutputs,
  localStackStackOutputsSchema,
  targetOfOutputs,
} from '../../infra/cdk/stack-outputs.ts';
import { designTopology } from '../../infra/topology.ts';

// The outputs contract lives with the stack that writes it; the harness reads it from here.
export {
  type AwsStackOutputs,
  awsStackOutputsSchema,
  DEFAULT_STACK_NAMES,
  type DeployTarget,
  type LocalStackStackOutputs,
  localStackStackOutputsSchema,
};

/** LocalStack's edge endpoint (one port for every service). */
export const LOCALSTACK_ENDPOINT = 'http://127.0.0.1:4566';
/** S3 through the virtual-host name LocalStack answers for, as CDK's asset upload needs. */
export const LOCALSTACK_S3_ENDPOINT = 'http://s3.localhost.localstack.cloud:4566';
/** The account id LocalStack reports for every caller. */
export const LOCALSTACK_ACCOUNT = '000000000000';
/** The compose file that starts a LocalStack fit for the `localstack` target. */
export const LOCALSTACK_COMPOSE_COMMAND = 'docker compose -f docker-compose.localstack.yml up -d';
/** LocalStack's CloudWatch speaks the AWS SDK v3's JSON protocol from 4.9.0 on. */
const LOCALSTACK_MIN_VERSION: [number, number] = [4, 9];
/** Services the `localstack` stack and the hybrid world use. */
export const LOCALSTACK_SERVICES = [
  'cloudformation',
  's3',
  'lambda',
  'events',
  'cloudwatch',
  'logs',
  'sns',
  'sqs',
  'route53',
  'secretsmanager',
  'iam',
  'sts',
  'ec2',
  'ssm',
] as const;

const REPO_ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));

/** A target cannot be deployed to or observed from here; the message says what to do. */
export class DeployUnavailableError extends Error {
  constructor(
    readonly target: DeployTarget,
    reason: string,
  ) {
    super(reason);
    this.name = 'DeployUnavailableError';
  }
}

export type DeployCheck = { ok: true; found: string } | { ok: false; reason: string };

export interface CheckOptions {
  /** Environment to judge. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Home directory holding `.aws/`. @default `env.HOME`, else os.homedir() */
  homeDir?: string;
  /** LocalStack's endpoint. @default http://127.0.0.1:4566 */
  localstackEndpoint?: string;
  /** How long the LocalStack health check may take. @default 2000 */
  timeoutMs?: number;
}

// ---------------------------------------------------------------------------------------------
// Preflight
// ---------------------------------------------------------------------------------------------

/** Whether `target` can work from this machine, and if not, why and what to do. Never throws. */
export async function checkDeployTarget(
  target: DeployTarget,
  options: CheckOptions = {},
): Promise<DeployCheck> {
  return target === 'aws' ? checkAwsCredentials(options) : checkLocalStack(options);
}

/** Like `checkDeployTarget`, but throws `DeployUnavailableError` with the reason. */
export async function assertDeployTarget(target: DeployTarget, options: CheckOptions = {}): Promise<string> {
  const check = await checkDeployTarget(target, options);
  if (!check.ok) throw new DeployUnavailableError(target, check.reason);
  return check.found;
}

const NO_AWS_CREDENTIALS_FIX =
  'Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or configure a profile (`aws configure` / `aws configure sso`) and set AWS_PROFILE; the account must be bootstrapped once: `npx cdk bootstrap aws://<account>/' +
  `${designTopology.region}\`.`;

/** Section names of an INI file (`[default]`, `[profile x]`), with `profile ` removed. */
function iniSections(file: string): Map<string, string[]> | undefined {
  if (!existsSync(file)) return undefined;
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const raw of readFileSync(file, 'utf8').split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[\s*(?:profile\s+)?([^\]]+?)\s*\]$/.exec(line);
    if (header) {
      current = [];
      sections.set(header[1]!, current);
      continue;
    }
    const key = /^([A-Za-z0-9_]+)\s*=/.exec(line)?.[1];
    if (key && current) current.push(key.toLowerCase());
  }
  return sections;
}

/** Keys of a profile that give (or lead to) credentials. */
const CREDENTIAL_KEYS = new Set([
  'aws_access_key_id',
  'credential_process',
  'role_arn',
  'source_profile',
  'credential_source',
  'sso_session',
  'sso_start_url',
  'login_session',
  'web_identity_token_file',
]);

function checkAwsCredentials(options: CheckOptions): DeployCheck {
  const env = options.env ?? process.env;
  const home = options.homeDir ?? env.HOME ?? homedir();
  if (env.AWS_ENDPOINT_URL) {
    return {
      ok: false,
      reason: `AWS_ENDPOINT_URL is set (${env.AWS_ENDPOINT_URL}): the CDK CLI would deploy there, not to AWS. Unset it (and AWS_ENDPOINT_URL_S3) for --target aws.`,
    };
  }
  if (env.AWS_ACCESS_KEY_ID) {
    if (env.AWS_ACCESS_KEY_ID === 'test') {
      return {
        ok: false,
        reason:
          "AWS_ACCESS_KEY_ID is 'test', LocalStack's dummy key, which AWS rejects. Unset it or use real credentials for --target aws.",
      };
    }
    if (!env.AWS_SECRET_ACCESS_KEY) {
      return {
        ok: false,
        reason:
          'AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: set both (and AWS_SESSION_TOKEN for temporary keys).',
      };
    }
    return { ok: true, found: 'credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (not verified)' };
  }
  if (env.AWS_WEB_IDENTITY_TOKEN_FILE && env.AWS_ROLE_ARN) {
    return { ok: true, found: `web identity for ${env.AWS_ROLE_ARN} (not verified)` };
  }
  if (env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || env.AWS_CONTAINER_CREDENTIALS_FULL_URI) {
    return { ok: true, found: 'container credentials (AWS_CONTAINER_CREDENTIALS_*, not verified)' };
  }
  const credentialsFile = env.AWS_SHARED_CREDENTIALS_FILE ?? join(home, '.aws', 'credentials');
  const configFile = env.AWS_CONFIG_FILE ?? join(home, '.aws', 'config');
  const files = [credentialsFile, configFile]
    .map((file) => ({ file, sections: iniSections(file) }))
    .filter((f): f is { file: string; sections: Map<string, string[]> } => f.sections !== undefined);
  const profile = env.AWS_PROFILE ?? env.AWS_DEFAULT_PROFILE ?? 'default';
  const holding = files.filter((f) =>
    (f.sections.get(profile) ?? []).some((key) => CREDENTIAL_KEYS.has(key)),
  );
  if (holding.length > 0) {
    return {
      ok: true,
      found: `profile ${profile} in ${holding.map((f) => f.file).join(' and ')} (not verified: STS is not called)`,
    };
  }
  if (env.AWS_PROFILE || env.AWS_DEFAULT_PROFILE) {
    const known = [...new Set(files.flatMap((f) => [...f.sections.keys()]))];
    return {
      ok: false,
      reason: `AWS_PROFILE=${profile} names a profile with no credentials in ${credentialsFile} or ${configFile} (profiles there: ${known.join(', ') || 'none'}). Run \`aws configure --profile ${profile}\` or \`aws configure sso --profile ${profile}\`.`,
    };
  }
  if (files.length > 0) {
    const known = [...new Set(files.flatMap((f) => [...f.sections.keys()]))];
    return {
      ok: false,
      reason: `no default AWS profile: ${files.map((f) => f.file).join(' and ')} ${files.length > 1 ? 'have' : 'has'} ${known.length > 0 ? `only ${known.join(', ')}` : 'no profile'}. Set AWS_PROFILE to one of them, or ${NO_AWS_CREDENTIALS_FIX}`,
    };
  }
  return {
    ok: false,
    reason: `no AWS credentials found: AWS_ACCESS_KEY_ID and AWS_PROFILE are unset and there is no ${credentialsFile} or ${configFile}. ${NO_AWS_CREDENTIALS_FIX}`,
  };
}

const healthSchema = z.object({
  services: z.record(z.string(), z.string()).default({}),
  version: z.string().optional(),
  edition: z.string().optional(),
});

function versionAtLeast(version: string, [major, minor]: [number, number]): boolean {
  const match = /^(\d+)\.(\d+)/.exec(version);
  if (!match) return true; // an unknown format (a dev build): let the deploy say more
  const [ma, mi] = [Number(match[1]), Number(match[2])];
  return ma > major || (ma === major && mi >= minor);
}

async function checkLocalStack(options: CheckOptions): Promise<DeployCheck> {
  const endpoint = options.localstackEndpoint ?? LOCALSTACK_ENDPOINT;
  const url = `${endpoint}/_localstack/health`;
  const start = `Start it with \`${LOCALSTACK_COMPOSE_COMMAND}\` (current LocalStack images need LOCALSTACK_AUTH_TOKEN in the environment: a free Hobby account at https://app.localstack.cloud gives one under Settings → Auth Tokens), then check \`curl ${url}\`.`;
  let body: unknown;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 2_000) });
    if (!res.ok) {
      return { ok: false, reason: `LocalStack at ${endpoint} answered ${res.status} to ${url}. ${start}` };
    }
    body = await res.json();
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    return { ok: false, reason: `no LocalStack answers at ${url} (${cause}). ${start}` };
  }
  const health = healthSchema.safeParse(body);
  if (!health.success) {
    return { ok: false, reason: `${url} did not answer with LocalStack's health document. ${start}` };
  }
  const { services, version, edition } = health.data;
  if (version && !versionAtLeast(version, LOCALSTACK_MIN_VERSION)) {
    return {
      ok: false,
      reason: `LocalStack ${version} is too old: its CloudWatch does not speak the JSON protocol of the AWS SDK v3 this project uses (added in LocalStack 4.9). Use the image pinned in docker-compose.localstack.yml.`,
    };
  }
  const missing = LOCALSTACK_SERVICES.filter((s) => !(s in services) || services[s] === 'disabled');
  if (missing.length > 0) {
    return {
      ok: false,
      reason: `LocalStack at ${endpoint} lacks ${missing.join(', ')} (SERVICES limits them). Restart it with docker-compose.localstack.yml, which enables ${LOCALSTACK_SERVICES.join(',')}.`,
    };
  }
  const failed = LOCALSTACK_SERVICES.filter((s) => services[s] === 'error');
  if (failed.length > 0) {
    return {
      ok: false,
      reason: `LocalStack reports ${failed.join(', ')} in error: see \`docker compose -f docker-compose.localstack.yml logs\`.`,
    };
  }
  return {
    ok: true,
    found: `LocalStack ${version ?? '(version unknown)'}${edition ? ` ${edition}` : ''} at ${endpoint}`,
  };
}

// ---------------------------------------------------------------------------------------------
// Environment and arguments
// ---------------------------------------------------------------------------------------------

/**
 * The environment the CDK CLI (or an SDK client) needs for `target`: for LocalStack its endpoint,
 * the topology's region, LocalStack's account and dummy credentials unless some are set.
 */
export function deployEnv(
  target: DeployTarget,
  base: NodeJS.ProcessEnv = process.env,
  endpoint = LOCALSTACK_ENDPOINT,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  env.CDK_DISABLE_CLI_TELEMETRY ??= 'true';
  if (target === 'aws') return env;
  env.AWS_ENDPOINT_URL = endpoint;
  env.AWS_ENDPOINT_URL_S3 = endpoint === LOCALSTACK_ENDPOINT ? LOCALSTACK_S3_ENDPOINT : endpoint;
  env.AWS_REGION = designTopology.region;
  env.AWS_DEFAULT_REGION = designTopology.region;
  env.CDK_DEFAULT_ACCOUNT = LOCALSTACK_ACCOUNT;
  env.CDK_DEFAULT_REGION = designTopology.region;
  if (!env.AWS_ACCESS_KEY_ID) {
    env.AWS_ACCESS_KEY_ID = 'test';
    env.AWS_SECRET_ACCESS_KEY = 'test';
    // A profile would win over nothing but lose to the keys; keep the two from disagreeing.
    delete env.AWS_PROFILE;
  }
  return env;
}

/** SDK client settings for LocalStack (endpoint, region, dummy credentials). */
export function localStackClientConfig(endpoint = LOCALSTACK_ENDPOINT) {
  return {
    endpoint,
    region: designTopology.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  };
}

export interface DeployOptions {
  target: DeployTarget;
  /** @default 'Tiketi' for aws, 'TiketiLocal' for localstack */
  stackName?: string;
  /** Where the CDK CLI writes the stack outputs (JSON). */
  outputsFile: string;
  /** Extra `-c key=value` context (e.g. localRedisHost, certificateArn). */
  context?: Record<string, string>;
  /**
   * LocalStack: run `cdk bootstrap` first (idempotent; a bootstrapped LocalStack reports no
   * changes). AWS is never bootstrapped from here: that is a decision for the account's owner.
   * @default true
   */
  bootstrap?: boolean;
  /** LocalStack's endpoint. @default http://127.0.0.1:4566 */
  localstackEndpoint?: string;
}

export interface DestroyOptions {
  target: DeployTarget;
  stackName?: string;
  localstackEndpoint?: string;
}

function contextArgs(
  target: DeployTarget,
  stackName: string | undefined,
  extra: Record<string, string> = {},
) {
  const context: Record<string, string> = { target, ...extra };
  if (stackName) context.stackName = stackName;
  return Object.entries(context).flatMap(([key, value]) => ['-c', `${key}=${value}`]);
}

/** `npx` arguments of `cdk deploy` for these options. */
export function deployArgs(options: DeployOptions): string[] {
  const stack = options.stackName ?? DEFAULT_STACK_NAMES[options.target];
  return [
    'cdk',
    'deploy',
    stack,
    '--require-approval',
    'never',
    ...contextArgs(options.target, options.stackName, options.context),
    '--outputs-file',
    options.outputsFile,
  ];
}

/** `npx` arguments of `cdk destroy` for these options. */
export function destroyArgs(options: DestroyOptions): string[] {
  const stack = options.stackName ?? DEFAULT_STACK_NAMES[options.target];
  return ['cdk', 'destroy', stack, '--force', ...contextArgs(options.target, options.stackName)];
}

/** `npx` arguments of the one-time bootstrap of the target's environment. */
export function bootstrapArgs(target: DeployTarget, account = '<account>'): string[] {
  const environment = `aws://${target === 'localstack' ? LOCALSTACK_ACCOUNT : account}/${designTopology.region}`;
  return ['cdk', 'bootstrap', environment, '-c', `target=${target}`];
}

// ---------------------------------------------------------------------------------------------
// Running the CLI
// ---------------------------------------------------------------------------------------------

/** Runs a command to its end; resolves with its exit code. Injected by tests. */
export type CommandRunner = (
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
) => Promise<number>;

export const runInherited: CommandRunner = (command, args, options) =>
  new Promise((resolvePromise, reject) => {
    const spawnOptions: SpawnOptions = { cwd: options.cwd, env: options.env, stdio: 'inherit' };
    const child = spawn(command, args, spawnOptions);
    child.once('error', reject);
    child.once('exit', (code, signal) => resolvePromise(code ?? (signal ? 128 : 1)));
  });

export interface RunDeps {
  run?: CommandRunner;
  /** Repository root (where cdk.json is). */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** Preflight options (tests point them at a closed port or an empty home). */
  check?: CheckOptions;
}

/** `cdk deploy` failed: the exit code and the command, to run again by hand. */
export class CdkCommandError extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number,
    hint = '',
  ) {
    super(`\`${command}\` exited with ${exitCode}${hint ? `. ${hint}` : ''}`);
    this.name = 'CdkCommandError';
  }
}

function shown(args: string[]): string {
  return ['npx', ...args].map((a) => (/[\s"'<>]/.test(a) ? `'${a}'` : a)).join(' ');
}

/**
 * Deploys the stack for `target` (preflight first: throws `DeployUnavailableError` when the target
 * cannot work) and leaves the outputs in `outputsFile`; resolves with the stack name.
 */
export async function deployStack(
  options: DeployOptions,
  deps: RunDeps = {},
): Promise<{ stackName: string }> {
  const run = deps.run ?? runInherited;
  const cwd = deps.cwd ?? REPO_ROOT;
  const log = deps.log ?? ((line: string) => console.error(line));
  const endpoint = options.localstackEndpoint ?? LOCALSTACK_ENDPOINT;
  const found = await assertDeployTarget(options.target, {
    ...deps.check,
    ...(deps.env ? { env: deps.env } : {}),
    localstackEndpoint: endpoint,
  });
  log(`deploy target ${options.target}: ${found}`);
  const env = deployEnv(options.target, deps.env ?? process.env, endpoint);
  if (options.target === 'localstack' && (options.bootstrap ?? true)) {
    const args = bootstrapArgs('localstack');
    log(`$ ${shown(args)}`);
    const code = await run('npx', args, { cwd, env });
    if (code !== 0)
      throw new CdkCommandError(shown(args), code, 'LocalStack must be bootstrapped once per start.');
  }
  if (options.target === 'aws') {
    log(
      `(an account is bootstrapped once per region before its first deploy: ${shown(bootstrapArgs('aws'))})`,
    );
  }
  const args = deployArgs(options);
  log(`$ ${shown(args)}`);
  const code = await run('npx', args, { cwd, env });
  if (code !== 0) {
    throw new CdkCommandError(
      shown(args),
      code,
      options.target === 'aws'
        ? `If the CLI says the environment is not bootstrapped: ${shown(bootstrapArgs('aws'))}`
        : '',
    );
  }
  return { stackName: options.stackName ?? DEFAULT_STACK_NAMES[options.target] };
}

/** Destroys the stack for `target` (LocalStack's buckets go with it; AWS keeps retained ones). */
export async function destroyStack(options: DestroyOptions, deps: RunDeps = {}): Promise<void> {
  const run = deps.run ?? runInherited;
  const cwd = deps.cwd ?? REPO_ROOT;
  const log = deps.log ?? ((line: string) => console.error(line));
  const endpoint = options.localstackEndpoint ?? LOCALSTACK_ENDPOINT;
  await assertDeployTarget(options.target, {
    ...deps.check,
    ...(deps.env ? { env: deps.env } : {}),
    localstackEndpoint: endpoint,
  });
  const args = destroyArgs(options);
  log(`$ ${shown(args)}`);
  const code = await run('npx', args, {
    cwd,
    env: deployEnv(options.target, deps.env ?? process.env, endpoint),
  });
  if (code !== 0) throw new CdkCommandError(shown(args), code);
}

// ---------------------------------------------------------------------------------------------
// Stack outputs
// ---------------------------------------------------------------------------------------------

export type StackOutputs =
  | { target: 'aws'; stackName: string; outputs: AwsStackOutputs }
  | { target: 'localstack'; stackName: string; outputs: LocalStackStackOutputs };

/** The outputs file is missing, unreadable or lacks an output; the message names which. */
export class StackOutputsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StackOutputsError';
  }
}

/**
 * Reads the JSON `cdk deploy --outputs-file` wrote (`{ "<stack>": { "<output>": "<value>" } }`).
 * The target is the one the outputs belong to (LocalStack stacks have `AlarmTopicArn`); with
 * several stacks in the file, `stackName` picks one.
 */
export function readStackOutputs(file: string, options: { stackName?: string } = {}): StackOutputs {
  if (!existsSync(file)) {
    throw new StackOutputsError(
      `no stack outputs at ${file}: deploy first (tiketi-sim deploy --target aws|localstack) or pass the file cdk deploy --outputs-file wrote`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new StackOutputsError(`${file} is not JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new StackOutputsError(`${file} is not a CDK outputs file (expected { "<stack>": { ...outputs } })`);
  }
  const stacks = parsed as Record<string, unknown>;
  const names = Object.keys(stacks);
  let stackName = options.stackName;
  if (!stackName) {
    if (names.length !== 1) {
      throw new StackOutputsError(
        `${file} has ${names.length === 0 ? 'no stack' : `stacks ${names.join(', ')}`}: name the stack (--stack <name>)`,
      );
    }
    stackName = names[0]!;
  }
  const raw = stacks[stackName];
  if (typeof raw !== 'object' || raw === null) {
    throw new StackOutputsError(`${file} has no stack ${stackName} (it has ${names.join(', ') || 'none'})`);
  }
  return parseStackOutputs(raw as Record<string, unknown>, stackName, file);
}

/**
 * One stack's outputs (`{ "<output>": "<value>" }`, from an outputs file or DescribeStacks) as typed
 * outputs; the target is the one they belong to (LocalStack stacks have `AlarmTopicArn`). `source`
 * names where they came from in the error.
 */
export function parseStackOutputs(
  raw: Record<string, unknown>,
  stackName: string,
  source: string,
): StackOutputs {
  const target = targetOfOutputs(raw);
  const schema = target === 'aws' ? awsStackOutputsSchema : localStackStackOutputsSchema;
  const result = schema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      return key && !(key in raw) ? `missing output ${key}` : `output ${key}: ${issue.message}`;
    });
    throw new StackOutputsError(
      `${source}, stack ${stackName} (${target}): ${problems.join('; ')}. Deploy the current stack again (tiketi-sim deploy --target ${target}).`,
    );
  }
  return { target, stackName, outputs: result.data } as StackOutputs;
}
