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
import mapping from '../resources/stream-mapping.json';
import { preserveProtoAttributes } from '../shared/aws/sdk-proto-fix';
import { parseKeyAttributes, parseRetention } from '../shared/core/config';
import { createLogger } from '../shared/core/logger';
import { assertPortFree, type DynamoLocal, LocalStackError, startDynamoLocal } from './dynamodb-local';
import { EventSourceMapping, FileCheckpointStore, MemoryCheckpointStore } from './event-source-mapping';
import { lambdaInvoker } from './invokers';
import { LOCAL_DIGEST_DIR, localCursorSecret, localDigestKey, localLabelSecret } from './keys';
import { ensureTables } from './tables';

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

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { 'in-memory': { type: 'boolean', default: false }, stage: { type: 'string', default: 'dev' } },
  });
  const inMemory = values['in-memory'] ?? false;
  const stage = values.stage ?? 'dev';
  const dynamoPort = port(process.env.DYNAMODB_PORT, 8000, 'DYNAMODB_PORT');
  const httpPort = port(process.env.HTTP_PORT, 3000, 'HTTP_PORT');
  const lambdaPort = port(process.env.LAMBDA_PORT, 3002, 'LAMBDA_PORT');
  const keyAttributes = process.env.KEY_ATTRIBUTES?.trim() || 'id';
  parseKeyAttributes(keyAttributes);
  const retention = parseRetention(process.env);
  const region = process.env.AWS_REGION || 'us-east-1';
  const say = (line: string) => process.stdout.write(`[dynamo-history] ${line}\n`);

  await assertPortFree(httpPort, 'serverless-offline HTTP', 'HTTP_PORT');
  await assertPortFree(lambdaPort, 'serverless-offline Lambda', 'LAMBDA_PORT');

  const stateDir = join(ROOT, '.dynamodb');
  let dynamo: DynamoLocal | undefined;
  let offline: ChildProcess | undefined;
  let esm: EventSourceMapping | undefined;
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping ...');
    await esm?.stop().catch(() => {});
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
    const tables = await ensureTables(client, {
      service: SERVICE,
      stage,
      keyAttributes,
      retention: !!retention,
    });
    say(`tables: ${tables.latest} (key ${keyAttributes}), ${tables.history}, ${tables.failures}`);
    if (retention) say(`retention: ${JSON.stringify(retention)} (history TTL attribute expiresAt)`);

    const described = await client.send(new DescribeTableCommand({ TableName: tables.latest }));
    const streamArn = described.Table?.LatestStreamArn;
    if (!streamArn) throw new LocalStackError(`${tables.latest} has no stream`);
    // writeHistory records only this stream (serverless.yml reads it through resources/tables.js).
    const digestKey = localDigestKey();
    const offlineEnv = {
      ...env,
      DYNAMO_HISTORY_LOCAL: '1',
      LATEST_STREAM_ARN: streamArn,
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
    esm = new EventSourceMapping({
      streams: preserveProtoAttributes(new DynamoDBStreamsClient(clientConfig)),
      streamArn,
      region,
      invoke: lambdaInvoker(lambda, `${SERVICE}-${stage}-writeHistory`),
      ...mapping,
      checkpoint: inMemory
        ? new MemoryCheckpointStore()
        : new FileCheckpointStore(join(stateDir, 'stream-checkpoint.json')),
      onFailure: (failure) => appendFileSync(onFailureLog, `${JSON.stringify(failure)}\n`),
      logger: createLogger('event-source-mapping', process.env.LOG_LEVEL ?? 'warn'),
      emulatorDatingStepSeconds: 60,
    });
    esm.start();
    say(
      `digests: signed with ${digestKey.keyFile} (check with ${digestKey.publicKeyFile}), kept in ${LOCAL_DIGEST_DIR}`,
    );
    say(`stream mapping: ${streamArn} → ${SERVICE}-${stage}-writeHistory (batch ${mapping.batchSize})`);
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
