/**
 * `npm start`: the whole service on this machine.
 * DynamoDB Local (real emulator) → tables from resources/ → serverless-offline
 * (HTTP and Lambda invoke) → the local event source mapping feeding writeHistory.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { CONSOLE_PORT, listen } from '../cli/commands/console';
import type { ConsoleServer } from '../cli/console/server';
import { labelled, stageEnv } from '../cli/session';
import streamMapping from '../resources/stream-mapping.json';
import { preserveProtoAttributes } from '../shared/aws/sdk-proto-fix';
import { loadConfigs, parseRetention } from '../shared/core/config';
import { createLogger } from '../shared/core/logger';
import { type DeploymentSettings, deploymentSettings } from '../shared/core/stage-config.js';
import { inspectTable } from '../shared/integrity/attach';
import { assertPortFree, type DynamoLocal, LocalStackError, startDynamoLocal } from './dynamodb-local';
import { EventSourceMapping, FileCheckpointStore, MemoryCheckpointStore } from './event-source-mapping';
import { lambdaInvoker } from './invokers';
import { LOCAL_DIGEST_DIR, localCursorSecret, localDigestKey, localLabelSecret } from './keys';
import { ensureAllTables } from './tables';

const ROOT = resolve(__dirname, '..');
const SERVICE = 'dynamo-history';

function port(value: string | undefined, fallback: number, name: string): number {
  const n = Number(value ?? fallback);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new LocalStackError(`${name} must be a TCP port, got "${value}"`);
  return n;
}

async function waitFor(
  check: () => Promise<unknown>,
  what: string,
  timeoutMs: number,
  child?: ChildProcess,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null)
      throw new LocalStackError(`${what} exited with code ${child.exitCode}`);
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new LocalStackError(`${what} did not come up: ${String(error)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/**
 * Creates the tables the settings call for and returns each recorded stream. The created table
 * is made here; attached tables must already exist in DynamoDB Local (made by the user, as in
 * AWS), with the stream and key the settings file recorded (`dynamo-history init`).
 */
async function recordedStreams(
  client: DynamoDBClient,
  settings: DeploymentSettings,
  stage: string,
  endpoint: string,
  retention: boolean,
  say: (line: string) => void,
): Promise<{ name: string; streamArn: string }[]> {
  const out: { name: string; streamArn: string }[] = [];
  if (settings.mode === 'attached') {
    for (const table of settings.tables) {
      const found = await inspectTable(client, table.latest, { endpoint });
      if (found.key !== table.key || found.streamArn !== table.stream)
        throw new LocalStackError(
          `${table.latest} is now keyed ${found.key} with stream ${found.streamArn}, but ${settings.file} recorded ${table.key} and ${table.stream}: run \`dynamo-history init --table ${table.latest}\` again`,
        );
      out.push({ name: table.latest, streamArn: found.streamArn });
    }
  }
  await ensureAllTables(client, {
    service: SERVICE,
    stage,
    keyAttributes: settings.keyAttributes || 'id',
    retention,
    activityIndex: settings.activityIndex,
    ...(settings.mode === 'attached' ? { tables: settings.tables } : {}),
  });
  for (const table of settings.tables)
    say(
      `tables: ${table.latest} (key ${table.key}${settings.mode === 'attached' ? ', attached' : ''}), ${table.history}, ${table.failures}`,
    );
  if (settings.mode === 'created') {
    const name = settings.tables[0]?.latest as string;
    const described = await client.send(new DescribeTableCommand({ TableName: name }));
    const streamArn = described.Table?.LatestStreamArn;
    if (!streamArn) throw new LocalStackError(`${name} has no stream`);
    out.push({ name, streamArn });
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'in-memory': { type: 'boolean', default: false },
      stage: { type: 'string', default: 'dev' },
      // Where DynamoDB Local keeps its data and the stream checkpoints (default .dynamodb/).
      'data-dir': { type: 'string' },
    },
  });
  const inMemory = values['in-memory'] ?? false;
  const stage = values.stage ?? 'dev';
  const dynamoPort = port(process.env.DYNAMODB_PORT, 8000, 'DYNAMODB_PORT');
  const httpPort = port(process.env.HTTP_PORT, 3000, 'HTTP_PORT');
  const lambdaPort = port(process.env.LAMBDA_PORT, 3002, 'LAMBDA_PORT');
  const consolePort = port(process.env.CONSOLE_PORT, CONSOLE_PORT, 'CONSOLE_PORT');
  // The stage's settings file (config/<stage>.json) when there is one, as a deploy reads it.
  const settings = deploymentSettings({ service: SERVICE, stage, cwd: ROOT, env: process.env });
  const keyAttributes = settings.keyAttributes;
  const retention = parseRetention({
    HISTORY_RETENTION_DAYS: settings.retention.days,
    HISTORY_KEEP_VERSIONS: settings.retention.versions,
  });
  const region = process.env.AWS_REGION || 'us-east-1';
  const say = (line: string) => process.stdout.write(`[dynamo-history] ${line}\n`);

  await assertPortFree(httpPort, 'serverless-offline HTTP', 'HTTP_PORT');
  await assertPortFree(lambdaPort, 'serverless-offline Lambda', 'LAMBDA_PORT');
  await assertPortFree(consolePort, 'the audit console', 'CONSOLE_PORT');

  const stateDir = values['data-dir'] ? resolve(values['data-dir']) : join(ROOT, '.dynamodb');
  let dynamo: DynamoLocal | undefined;
  let offline: ChildProcess | undefined;
  const mappings: EventSourceMapping[] = [];
  let consoleServer: ConsoleServer | undefined;
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping ...');
    await Promise.all(mappings.map((m) => m.stop().catch(() => {})));
    await consoleServer?.close().catch(() => {});
    if (offline && offline.exitCode === null && offline.pid) {
      // Wait for serverless-offline to exit (its ports free), so an immediate restart finds them free.
      const exited = new Promise<void>((done) => offline?.once('exit', () => done()));
      const group = offline.pid;
      try {
        process.kill(-group, 'SIGTERM');
      } catch {
        // already gone
      }
      const late = setTimeout(() => {
        try {
          process.kill(-group, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }, 10_000);
      await exited;
      clearTimeout(late);
    }
    await dynamo?.stop().catch(() => {});
    say('stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  try {
    dynamo = await startDynamoLocal({ port: dynamoPort, inMemory, dbPath: stateDir, log: say });
    say(
      `DynamoDB Local ${dynamo.endpoint} (${inMemory ? 'in memory' : `persistent in ${stateDir}`}, -sharedDb)`,
    );

    // Local credentials only if none are configured: DynamoDB Local accepts any.
    const env = {
      ...process.env,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID || 'local',
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY || 'local',
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      KEY_ATTRIBUTES: keyAttributes,
      HISTORY_RETENTION_DAYS: settings.retention.days,
      HISTORY_KEEP_VERSIONS: settings.retention.versions,
      // DynamoDB Local dates stream records to the minute; the local mapping re-dates them to the second,
      // as AWS dates them (emulatorDatingStepSeconds below), so history has AWS's resolution.
      STREAM_TIME_RESOLUTION_SECONDS: process.env.STREAM_TIME_RESOLUTION_SECONDS || '1',
      HTTP_PORT: String(httpPort),
      LAMBDA_PORT: String(lambdaPort),
      SLS_TELEMETRY_DISABLED: '1',
      SLS_NOTIFICATIONS_MODE: 'off',
    };
    const clientConfig = {
      endpoint: dynamo.endpoint,
      region,
      credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
    };
    const client = new DynamoDBClient(clientConfig);
    const recorded = await recordedStreams(
      client,
      settings,
      stage,
      dynamo.endpoint,
      retention !== undefined,
      say,
    );
    if (settings.file) say(`settings: ${settings.file}`);
    if (retention) say(`retention: ${JSON.stringify(retention)} (history TTL attribute expiresAt)`);
    const streamArn = settings.mode === 'created' ? recorded[0]?.streamArn : undefined;
    // writeHistory records only this stream (serverless.yml reads it through resources/tables.js).
    const digestKey = localDigestKey();
    const offlineEnv = {
      ...env,
      DYNAMO_HISTORY_LOCAL: '1',
      // The created table's stream; attached tables' streams are in RECORDED_TABLES (from the settings file).
      LATEST_STREAM_ARN: streamArn ?? '',
      // Rollback seals its labels with this secret and writeHistory checks them (AWS: a KMS key).
      LABEL_SECRET: localLabelSecret(process.env),
      // List cursors are signed with this secret (AWS: a generated Secrets Manager secret).
      CURSOR_SECRET: localCursorSecret(process.env),
      // publishDigest signs with a local Ed25519 key and keeps digests in a local folder (AWS: KMS and S3 Object Lock).
      DIGEST_KEY_FILE: digestKey.keyFile,
      DIGEST_DIR: LOCAL_DIGEST_DIR,
    };

    offline = spawn(
      join(ROOT, 'node_modules', '.bin', 'serverless'),
      ['offline', 'start', '--stage', stage],
      {
        cwd: ROOT,
        env: offlineEnv,
        stdio: ['ignore', 'inherit', 'inherit'],
        detached: true, // its own process group, so Ctrl-C handling can stop all of it
      },
    );
    offline.on('exit', (code) => {
      if (!stopping) {
        say(`serverless-offline exited (${code}); stopping`);
        void stopAll(1);
      }
    });
    await waitFor(
      () =>
        new Promise<void>((ok, fail) => {
          const socket = connect(lambdaPort, '127.0.0.1', () => {
            socket.end();
            ok();
          });
          socket.once('error', fail);
        }),
      'serverless-offline',
      120_000,
      offline,
    );

    const lambda = new LambdaClient({
      ...clientConfig,
      endpoint: `http://127.0.0.1:${lambdaPort}`,
      maxAttempts: 1,
    });
    mkdirSync(stateDir, { recursive: true });
    const onFailureLog = join(stateDir, 'stream-on-failure.jsonl');
    // One mapping per recorded stream, as AWS has one event source mapping per stream.
    for (const table of recorded) {
      const checkpointFile =
        settings.mode === 'created' ? 'stream-checkpoint.json' : `stream-checkpoint-${table.name}.json`;
      const mapping = new EventSourceMapping({
        streams: preserveProtoAttributes(new DynamoDBStreamsClient(clientConfig)),
        streamArn: table.streamArn,
        region,
        invoke: lambdaInvoker(lambda, `${SERVICE}-${stage}-writeHistory`),
        ...streamMapping,
        checkpoint: inMemory
          ? new MemoryCheckpointStore()
          : new FileCheckpointStore(join(stateDir, checkpointFile)),
        onFailure: (failure) => appendFileSync(onFailureLog, `${JSON.stringify(failure)}\n`),
        logger: createLogger('event-source-mapping', process.env.LOG_LEVEL ?? 'warn'),
        emulatorDatingStepSeconds: 60,
      });
      mapping.start();
      mappings.push(mapping);
    }
    say(
      `digests: signed with ${digestKey.keyFile} (check with ${digestKey.publicKeyFile}), kept in ${LOCAL_DIGEST_DIR}`,
    );
    for (const table of recorded)
      say(
        `stream mapping: ${table.streamArn} → ${SERVICE}-${stage}-writeHistory (batch ${streamMapping.batchSize})`,
      );
    // The audit console, over the same readers as the CLI (dynamo-history ui), with the stack's own secrets.
    const consoleEnv = stageEnv({ ...offlineEnv, STAGE: stage }, stage);
    consoleServer = await listen({
      client,
      configs: loadConfigs(consoleEnv),
      labelled: (config) => labelled(config, consoleEnv),
      cursorSecret: offlineEnv.CURSOR_SECRET,
      actor: process.env.USER || 'console',
      port: consolePort,
    });
    say(`console: ${consoleServer.url} (the audit console; also \`npx dynamo-history ui\`)`);
    say(
      `ready. AWS_ENDPOINT_URL_DYNAMODB=${dynamo.endpoint}  HTTP http://localhost:${httpPort}  Lambda http://localhost:${lambdaPort}`,
    );
    say('Ctrl-C stops everything.');
  } catch (error) {
    process.stderr.write(`[dynamo-history] ${error instanceof Error ? error.message : String(error)}\n`);
    await stopAll(1);
  }
}

main().catch((error: unknown) => {
  // A port in use, a bad variable: one line naming what to fix, not a stack trace.
  process.stderr.write(`[dynamo-history] ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
