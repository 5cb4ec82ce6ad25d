import { randomBytes, randomUUID } from 'node:crypto';
import {
  DescribeTableCommand,
  DynamoDBClient,
  type DynamoDBClientConfig,
  QueryCommand,
  UpdateTableCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { ensureTables, type TableSet } from '../../local/tables';
import { preserveProtoAttributes } from '../../shared/aws/sdk-proto-fix';
import { type HistoryConfig, loadConfig, parseRetention } from '../../shared/core/config';
import type { AttributeMap, HistoryRecord } from '../../shared/core/types';
import { readItemHistory } from '../../shared/integrity/verify';

/** Connected tests refuse to run without the DynamoDB Local the global setup starts. */
export function testEndpoint(): string {
  const endpoint = process.env.DYNAMODB_TEST_ENDPOINT;
  if (!endpoint)
    throw new Error('DYNAMODB_TEST_ENDPOINT is not set: run integration tests through `npm test`');
  return endpoint;
}

export function clientConfig(): DynamoDBClientConfig {
  return {
    endpoint: testEndpoint(),
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  };
}

export function testClient(extra: DynamoDBClientConfig = {}): DynamoDBClient {
  return preserveProtoAttributes(new DynamoDBClient({ ...clientConfig(), ...extra }));
}

export function testStreamsClient(): DynamoDBStreamsClient {
  return preserveProtoAttributes(new DynamoDBStreamsClient(clientConfig()));
}

/**
 * Creates a fresh latest/history/failures trio from resources/ under a unique
 * stage, so test files never share tables, and returns its configuration.
 */
export async function createTestTables(
  client: DynamoDBClient,
  keyAttributes = 'id',
  env: NodeJS.ProcessEnv = {},
): Promise<{ tables: TableSet; config: HistoryConfig }> {
  const stage = `t${randomUUID().slice(0, 8)}`;
  const retention = parseRetention(env) !== undefined;
  const activityIndex = env.ACTIVITY_INDEX !== 'off';
  const tables = await ensureTables(client, { stage, keyAttributes, retention, activityIndex });
  const config = loadConfig({
    LATEST_TABLE_NAME: tables.latest,
    HISTORY_TABLE_NAME: tables.history,
    FAILURES_TABLE_NAME: tables.failures,
    KEY_ATTRIBUTES: keyAttributes,
    // The pipeline re-dates DynamoDB Local's minute-dated stream records to the second, as AWS dates them.
    STREAM_TIME_RESOLUTION_SECONDS: '1',
    // A fresh rollback-label key per test's tables, as the local stack makes one per state folder.
    LABEL_SECRET: randomBytes(32).toString('hex'),
    ...env,
  });
  return { tables, config };
}

/** Every history record of an item, oldest first. */
export const readHistory = readItemHistory;

/** Polls until `check` returns a value (not undefined) or the time is up. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until an item's history holds at least `count` versions; returns them, oldest first. */
export function waitForHistory(
  client: DynamoDBClient,
  historyTable: string,
  itemKey: string,
  count: number,
  timeoutMs = 20_000,
): Promise<HistoryRecord[]> {
  return eventually(
    async () => {
      const records = await readHistory(client, historyTable, itemKey);
      return records.length >= count ? records : undefined;
    },
    timeoutMs,
    `${count} versions of ${itemKey}`,
  );
}

/** Turns a table's stream on (NEW_AND_OLD_IMAGES) or off, and waits until DynamoDB Local reports it so. */
export async function setStream(client: DynamoDBClient, table: string, enabled: boolean): Promise<void> {
  await client.send(
    new UpdateTableCommand({
      TableName: table,
      StreamSpecification: enabled
        ? { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' }
        : { StreamEnabled: false },
    }),
  );
  await eventually(async () => {
    const t = (await client.send(new DescribeTableCommand({ TableName: table }))).Table;
    return (t?.StreamSpecification?.StreamEnabled ?? false) === enabled && (!enabled || t?.LatestStreamArn)
      ? true
      : undefined;
  });
}

/** Every stored item of an item's history partition, as stored: records and the chain marker. */
export async function readPartition(
  client: DynamoDBClient,
  table: string,
  itemKey: string,
): Promise<AttributeMap[]> {
  const out = await client.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'itemKey = :k',
      ExpressionAttributeValues: { ':k': { S: itemKey } },
      ConsistentRead: true,
    }),
  );
  return out.Items ?? [];
}
