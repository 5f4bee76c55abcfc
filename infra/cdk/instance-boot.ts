/**
 * What an app instance does when it boots: install Node 20, fetch the app build from S3, and run
 * `app/main.ts` under systemd with the environment `app/config.ts` reads. Secrets are read when
 * the service starts, so they never sit in the user data or the launch template.
 */
import * as ec2 from 'aws-cdk-lib/aws-ec2';

export interface InstanceBootSettings {
  region: string;
  /** The zipped repository (an S3 asset or an uploaded build). */
  artifact: { bucketName: string; objectKey: string };
  port: number;
  /** Where the app finds Redis; `clusterMode`: the host is a cluster configuration endpoint. */
  redis: { host: string; port: string; tls: boolean; clusterMode: boolean };
  database: { writerHost: string; readerHost: string; port: string; name: string; secretArn: string };
  appSecretArn: string;
}

const APP_DIR = '/opt/tiketi';
const ENV_FILE = '/etc/tiketi/instance.env';
const SERVICE = 'tiketi';
// Above the app's own SIGTERM drain deadline (25 s + a 5 s guard), so systemd never cuts it short.
const STOP_TIMEOUT_SECONDS = 60;
// Only needs to outlive the two metadata reads below.
const IMDS_TOKEN_TTL_SECONDS = 60;

export function instanceUserData(settings: InstanceBootSettings): ec2.UserData {
  const userData = ec2.UserData.forLinux();
  userData.addCommands(
    'set -euo pipefail',
    // Amazon Linux 2023 ships Node 20 as a namespaced package: node-20, npm-20.
    'dnf install -y nodejs20 nodejs20-npm unzip jq',
    `id ${SERVICE} >/dev/null 2>&1 || useradd --system --home-dir ${APP_DIR} --shell /sbin/nologin ${SERVICE}`,
    ...fetchAppBuild(settings),
    ...writeInstanceEnvironment(settings),
    ...writeStartScript(),
    ...writeSystemdUnit(),
    `systemctl daemon-reload`,
    `systemctl enable --now ${SERVICE}`,
  );
  return userData;
}

function fetchAppBuild(settings: InstanceBootSettings): string[] {
  const { bucketName, objectKey } = settings.artifact;
  return [
    `aws s3 cp --region ${settings.region} s3://${bucketName}/${objectKey} /tmp/tiketi-app.zip`,
    `mkdir -p ${APP_DIR}`,
    `unzip -oq /tmp/tiketi-app.zip -d ${APP_DIR}`,
    `cd ${APP_DIR} && npm-20 ci --omit=dev --no-audit --no-fund`,
    `chown -R ${SERVICE}:${SERVICE} ${APP_DIR}`,
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
    `DB_WRITER_HOST=${database.writerHost}`,
    `DB_READER_HOST=${database.readerHost}`,
    `DB_PORT=${database.port}`,
    `DB_NAME=${database.name}`,
    `DB_SECRET_ARN=${database.secretArn}`,
    `APP_SECRET_ARN=${settings.appSecretArn}`,
    'EOF',
  ];
}

/** Builds DATABASE_URL and TOKEN_SECRET from Secrets Manager at each start, then runs the app. */
function writeStartScript(): string[] {
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
    'export DATABASE_URL="postgres://$user:$password@$DB_WRITER_HOST:$DB_PORT/$DB_NAME"',
    'export DATABASE_READER_URL="postgres://$user:$password@$DB_READER_HOST:$DB_PORT/$DB_NAME"',
    'exec /usr/bin/node-20 --import tsx app/main.ts',
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
    'Restart=always',
    'KillSignal=SIGTERM',
    `TimeoutStopSec=${STOP_TIMEOUT_SECONDS}`,
    '[Install]',
    'WantedBy=multi-user.target',
    'EOF',
  ];
}
