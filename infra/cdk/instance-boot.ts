/**
 * What an app instance does when it boots: install Node 20, the CloudWatch agent and the
 * CloudFormation helper from the OS repositories, fetch the app build (bundled once, see
 * `app-build.ts`) from S3, and run it under systemd with the environment `app/config.ts` reads.
 * Secrets are read when the service starts, so they never sit in the user data or the launch
 * template. Once the app answers its health check the instance signals CloudFormation, which is
 * what creation and rolling updates wait for.
 */
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { APP_BUILD } from './repository.ts';

export interface InstanceBootSettings {
  region: string;
  /** The zipped app build (an S3 asset or an uploaded build). */
  artifact: { bucketName: string; objectKey: string };
  port: number;
  healthCheckPath: string;
  /** Where the app finds Redis; `clusterMode`: the host is a cluster configuration endpoint. */
  redis: { host: string; port: string; tls: boolean; clusterMode: boolean; authSecretArn: string };
  database: { writerHost: string; readerHost: string; port: string; name: string; secretArn: string };
  appSecretArn: string;
  /** The log group the CloudWatch agent ships the app's log to. */
  appLogGroupName: string;
  /** The Auto Scaling group's resource, which the instance signals once healthy. */
  signal: { stackName: string; resourceLogicalId: string };
}

const APP_DIR = '/opt/tiketi';
const ENV_FILE = '/etc/tiketi/instance.env';
const LOG_FILE = '/var/log/tiketi/app.log';
const SERVICE = 'tiketi';
/** Amazon RDS's CA bundle (all regions): `sslmode=verify-full` checks Aurora's certificate with it. */
const RDS_CA_URL = 'https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem';
const RDS_CA_FILE = `${APP_DIR}/rds-global-bundle.pem`;
const CLOUDWATCH_AGENT_CONFIG = '/opt/aws/amazon-cloudwatch-agent/etc/tiketi.json';
// Above the app's own SIGTERM drain deadline (25 s + a 5 s guard), so systemd never cuts it short.
const STOP_TIMEOUT_SECONDS = 60;
// Only needs to outlive the two metadata reads below.
const IMDS_TOKEN_TTL_SECONDS = 60;
// How long the boot script waits for the app's health check before signalling failure.
const HEALTH_WAIT_SECONDS = 300;

export function instanceUserData(settings: InstanceBootSettings): ec2.UserData {
  const userData = ec2.UserData.forLinux();
  userData.addCommands(
    'set -euo pipefail',
    // Any failure below tells CloudFormation at once instead of letting it wait out the timeout.
    `trap '${cfnSignal(settings, '1')}' ERR`,
    // Amazon Linux 2023 ships Node 20 as a namespaced package: nodejs20, binary node-20.
    'dnf install -y nodejs20 unzip jq amazon-cloudwatch-agent aws-cfn-bootstrap',
    `id ${SERVICE} >/dev/null 2>&1 || useradd --system --home-dir ${APP_DIR} --shell /sbin/nologin ${SERVICE}`,
    ...fetchAppBuild(settings),
    ...writeInstanceEnvironment(settings),
    ...writeStartScript(),
    ...writeSystemdUnit(),
    ...startCloudWatchAgent(settings),
    'systemctl daemon-reload',
    `systemctl enable --now ${SERVICE}`,
    ...signalWhenHealthy(settings),
  );
  return userData;
}

function cfnSignal(settings: InstanceBootSettings, exitCode: '0' | '1'): string {
  const { stackName, resourceLogicalId } = settings.signal;
  return `/opt/aws/bin/cfn-signal -e ${exitCode} --stack ${stackName} --resource ${resourceLogicalId} --region ${settings.region}`;
}

/** The build is self-contained (one bundled module): no package manager runs on the instance. */
function fetchAppBuild(settings: InstanceBootSettings): string[] {
  const { bucketName, objectKey } = settings.artifact;
  return [
    `aws s3 cp --region ${settings.region} s3://${bucketName}/${objectKey} /tmp/tiketi-app.zip`,
    `mkdir -p ${APP_DIR} $(dirname ${LOG_FILE})`,
    `unzip -oq /tmp/tiketi-app.zip -d ${APP_DIR}`,
    `curl -sSf --retry 5 -o ${RDS_CA_FILE} ${RDS_CA_URL}`,
    `chown -R ${SERVICE}:${SERVICE} ${APP_DIR} $(dirname ${LOG_FILE})`,
  ];
}

/** Instance identity comes from IMDSv2 (the launch template requires tokens). */
function writeInstanceEnvironment(settings: InstanceBootSettings): string[] {
  const { redis, database } = settings;
  // Cluster mode: the configuration endpoint is the startup node, the app's client finds the
  // shards from it (app/config.ts). Otherwise one URL, TLS in its scheme.
  const redisEnvironment = redis.clusterMode
    ? [`REDIS_CLUSTER_NODES=${redis.host}:${redis.port}`, `REDIS_TLS=${redis.tls}`]
    : [`REDIS_URL=${redis.tls ? 'rediss' : 'redis'}://${redis.host}:${redis.port}`];
  return [
    `IMDS_TOKEN=$(curl -sf -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: ${IMDS_TOKEN_TTL_SECONDS}')`,
    `imds() { curl -sf -H "X-aws-ec2-metadata-token: $IMDS_TOKEN" "http://169.254.169.254/latest/meta-data/$1"; }`,
    `mkdir -p $(dirname ${ENV_FILE})`,
    `cat > ${ENV_FILE} <<EOF`,
    `AWS_REGION=${settings.region}`,
    `PORT=${settings.port}`,
    `INSTANCE_ID=$(imds instance-id)`,
    `AZ=$(imds placement/availability-zone)`,
    ...redisEnvironment,
    `REDIS_AUTH_SECRET_ARN=${redis.authSecretArn}`,
    `DB_WRITER_HOST=${database.writerHost}`,
    `DB_READER_HOST=${database.readerHost}`,
    `DB_PORT=${database.port}`,
    `DB_NAME=${database.name}`,
    `DB_SECRET_ARN=${database.secretArn}`,
    `APP_SECRET_ARN=${settings.appSecretArn}`,
    'EOF',
  ];
}

/**
 * Builds DATABASE_URL (TLS, Aurora's certificate checked against the RDS CA), REDIS_PASSWORD and
 * TOKEN_SECRET from Secrets Manager at each start, then runs the app.
 */
function writeStartScript(): string[] {
  const tls = `sslmode=verify-full&sslrootcert=${RDS_CA_FILE}`;
  return [
    `cat > ${APP_DIR}/start.sh <<'EOF'`,
    '#!/bin/bash',
    'set -euo pipefail',
    'secret() { aws secretsmanager get-secret-value --region "$AWS_REGION" --secret-id "$1" --query SecretString --output text; }',
    'db=$(secret "$DB_SECRET_ARN")',
    'user=$(jq -r .username <<<"$db")',
    // URL-encoded, so any character of a generated password survives in the connection URL.
    'password=$(jq -r ".password | @uri" <<<"$db")',
    'export TOKEN_SECRET="$(secret "$APP_SECRET_ARN")"',
    'export REDIS_PASSWORD="$(secret "$REDIS_AUTH_SECRET_ARN")"',
    `export DATABASE_URL="postgres://$user:$password@$DB_WRITER_HOST:$DB_PORT/$DB_NAME?${tls}"`,
    `export DATABASE_READER_URL="postgres://$user:$password@$DB_READER_HOST:$DB_PORT/$DB_NAME?${tls}"`,
    `exec /usr/bin/node-20 ${APP_DIR}/${APP_BUILD.entryFile}`,
    'EOF',
    `chmod 755 ${APP_DIR}/start.sh`,
  ];
}

function writeSystemdUnit(): string[] {
  return [
    `cat > /etc/systemd/system/${SERVICE}.service <<'EOF'`,
    '[Unit]',
    'Description=TIKETI app',
    'After=network-online.target',
    'Wants=network-online.target',
    '[Service]',
    `User=${SERVICE}`,
    `WorkingDirectory=${APP_DIR}`,
    `EnvironmentFile=${ENV_FILE}`,
    `ExecStart=${APP_DIR}/start.sh`,
    // A file the CloudWatch agent tails (it does not read the journal).
    `StandardOutput=append:${LOG_FILE}`,
    `StandardError=append:${LOG_FILE}`,
    'Restart=always',
    'KillSignal=SIGTERM',
    `TimeoutStopSec=${STOP_TIMEOUT_SECONDS}`,
    '[Install]',
    'WantedBy=multi-user.target',
    'EOF',
    `cat > /etc/logrotate.d/${SERVICE} <<'EOF'`,
    `${LOG_FILE} {`,
    '  daily',
    '  rotate 3',
    '  compress',
    '  copytruncate',
    '  missingok',
    '}',
    'EOF',
  ];
}

/** Ships the app log to its log group, one stream per instance. */
function startCloudWatchAgent(settings: InstanceBootSettings): string[] {
  const config = {
    logs: {
      logs_collected: {
        files: {
          collect_list: [
            {
              file_path: LOG_FILE,
              log_group_name: settings.appLogGroupName,
              log_stream_name: '{instance_id}',
            },
          ],
        },
      },
    },
  };
  return [
    `cat > ${CLOUDWATCH_AGENT_CONFIG} <<'EOF'`,
    JSON.stringify(config),
    'EOF',
    `/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:${CLOUDWATCH_AGENT_CONFIG}`,
  ];
}

function signalWhenHealthy(settings: InstanceBootSettings): string[] {
  const url = `http://127.0.0.1:${settings.port}${settings.healthCheckPath}`;
  return [
    `for i in $(seq ${HEALTH_WAIT_SECONDS}); do curl -sf -o /dev/null ${url} && break; sleep 1; done`,
    `curl -sf -o /dev/null ${url}`,
    cfnSignal(settings, '0'),
  ];
}
