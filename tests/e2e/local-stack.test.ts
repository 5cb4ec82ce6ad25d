import { createConnection } from 'node:net';
import {
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { fromHistoryItem } from '../../shared/history-record';
import type { HistoryRecord } from '../../shared/types';
import { chainProblems } from '../helpers/chain';
import { eventually } from '../helpers/dynamo';
import { type Stack, startStack } from '../helpers/stack';
import { N, S, streamRecord } from '../helpers/stream-records';

// DynamoDB Local accepts only letters and digits in an access key id.
const credentials = { accessKeyId: 'someoneElse', secretAccessKey: 'x' };
const HISTORY = 'dynamo-history-dev-history';
const LATEST = 'dynamo-history-dev-latest';

async function history(client: DynamoDBClient, itemKey: string): Promise<HistoryRecord[]> {
  const out = await client.send(
    new QueryCommand({
      TableName: HISTORY,
      KeyConditionExpression: 'itemKey = :k',
      ExpressionAttributeValues: { ':k': { S: itemKey } },
      ConsistentRead: true,
    }),
  );
  return (out.Items ?? []).map(fromHistoryItem);
}

const waitFor = (client: DynamoDBClient, itemKey: string, count: number) =>
  eventually(
    async () => {
      const r = await history(client, itemKey);
      return r.length >= count ? r : undefined;
    },
    20_000,
    `${count} versions of ${itemKey}`,
  );

const portOpen = (url: string) =>
  new Promise<boolean>((done) => {
    const { hostname, port } = new URL(url);
    const socket = createConnection(Number(port), hostname, () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });

describe('npm start stack (DynamoDB Local + serverless-offline + local event source mapping)', () => {
  let stack: Stack;
  let dynamo: DynamoDBClient;

  beforeAll(async () => {
    stack = await startStack();
    // Other credentials than the stack's: -sharedDb makes the same tables visible to any client.
    dynamo = new DynamoDBClient({ endpoint: stack.dynamoEndpoint, region: 'eu-west-1', credentials });
  }, 180_000);

  afterAll(async () => {
    dynamo?.destroy();
    await stack?.stop();
  });

  it('records plain SDK writes (not our library) in history within seconds', async () => {
    await dynamo.send(
      new PutItemCommand({
        TableName: LATEST,
        Item: { id: { S: 'plain-1' }, status: { S: 'new' }, version: { N: '1' } },
        ConditionExpression: 'attribute_not_exists(id)',
      }),
    );
    await dynamo.send(
      new UpdateItemCommand({
        TableName: LATEST,
        Key: { id: { S: 'plain-1' } },
        UpdateExpression: 'SET #s = :s, version = version + :one',
        ConditionExpression: 'version = :v',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':s': { S: 'paid' }, ':one': { N: '1' }, ':v': { N: '1' } },
      }),
    );
    await dynamo.send(
      new UpdateItemCommand({
        TableName: LATEST,
        Key: { id: { S: 'plain-1' } },
        UpdateExpression: 'SET note = :n',
        ExpressionAttributeValues: { ':n': { S: 'no version' } },
      }),
    );
    await dynamo.send(new DeleteItemCommand({ TableName: LATEST, Key: { id: { S: 'plain-1' } } }));

    const records = await waitFor(dynamo, 'plain-1', 4);
    expect(records.map((r) => [r.version, r.op, r.source])).toEqual([
      ['v0001', 'INSERT', 'app'],
      ['v0002', 'MODIFY', 'app'],
      ['v0003', 'MODIFY', 'legacy'],
      ['v0004', 'REMOVE', 'app'],
    ]);
    expect(records[1]?.image?.status).toEqual({ S: 'paid' });
    expect(chainProblems(records)).toEqual([]);
  });

  it('answers a direct invoke of writeHistory on the Lambda port, skipping duplicates and parking malformed records', async () => {
    const lambda = new LambdaClient({ endpoint: stack.lambdaEndpoint, region: 'us-east-1', credentials });
    const first = streamRecord({
      keys: { id: S('synthetic') },
      newImage: { id: S('synthetic'), version: N(1) },
    });
    const malformed = streamRecord({
      keys: { id: S('synthetic-bad') },
      newImage: { id: S('synthetic-bad'), x: { N: 'abc' } },
    });
    const event = { Records: [first, malformed, first] };
    const out = await lambda.send(
      new InvokeCommand({ FunctionName: 'dynamo-history-dev-writeHistory', Payload: JSON.stringify(event) }),
    );
    expect(out.FunctionError).toBeUndefined();
    expect(JSON.parse(Buffer.from(out.Payload ?? []).toString())).toEqual({ batchItemFailures: [] });
    expect((await history(dynamo, 'synthetic')).map((r) => r.version)).toEqual(['v0001']);
    expect(await history(dynamo, 'synthetic-bad')).toEqual([]);
    lambda.destroy();
  });

  it('stops every process on Ctrl-C', async () => {
    const code = await stack.stop();
    expect(code).toBe(0);
    expect(await portOpen(stack.dynamoEndpoint)).toBe(false);
    expect(await portOpen(stack.lambdaEndpoint)).toBe(false);
  });
});

describe('npm start with KEY_ATTRIBUTES=pk,sk', () => {
  let stack: Stack;
  let dynamo: DynamoDBClient;

  beforeAll(async () => {
    stack = await startStack({ KEY_ATTRIBUTES: 'pk,sk' });
    dynamo = new DynamoDBClient({ endpoint: stack.dynamoEndpoint, region: 'us-east-1', credentials });
  }, 180_000);

  afterAll(async () => {
    dynamo?.destroy();
    await stack?.stop();
  });

  it('creates a composite-key latest table and records its items', async () => {
    const key = { pk: { S: 'TENANT#9' }, sk: { S: 'INVOICE#2026/11' } };
    await dynamo.send(new PutItemCommand({ TableName: LATEST, Item: { ...key, amount: { N: '10' } } }));
    await dynamo.send(
      new UpdateItemCommand({
        TableName: LATEST,
        Key: key,
        UpdateExpression: 'SET amount = :a',
        ExpressionAttributeValues: { ':a': { N: '12' } },
      }),
    );
    const records = await waitFor(dynamo, 'TENANT%239|INVOICE%232026%2F11', 2);
    expect(records.map((r) => [r.version, r.op, r.image?.amount])).toEqual([
      ['v0001', 'INSERT', { N: '10' }],
      ['v0002', 'MODIFY', { N: '12' }],
    ]);
  });
});
