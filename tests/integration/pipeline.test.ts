import { randomBytes } from 'node:crypto';
import { DeleteItemCommand, PutItemCommand, ScanCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { TableSet } from '../../local/tables';
import type { HistoryConfig } from '../../shared/core/config';
import { readParkedRecord } from '../../shared/recording/failures';
import { VersionedTable } from '../../shared/writing/versioned-table';
import { chainProblems } from '../helpers/chain';
import { createTestTables, eventually, readHistory, testClient, waitForHistory } from '../helpers/dynamo';
import { type Pipeline, recordedTables, startPipeline } from '../helpers/pipeline';

const client = testClient();
let tables: TableSet;
let pipeline: Pipeline;
let orders: VersionedTable;

beforeAll(async () => {
  ({ tables, orders, pipeline } = await recordedTables(client));
});
afterAll(async () => {
  await pipeline.stop();
  client.destroy();
});

const historyOf = (itemKey: string) => readHistory(client, tables.history, itemKey);
const waitForVersions = (itemKey: string, count: number) =>
  waitForHistory(client, tables.history, itemKey, count);

describe('stream → event source mapping → history (DynamoDB Local)', () => {
  it('records library writes, plain SDK writes, deletes and re-creation, in order, chained', async () => {
    await orders.create({ id: 'order-1', status: 'new' }, { actor: 'alice' });
    await orders.update({ id: 'order-1' }, 1, { status: 'paid' }, { actor: 'bob' });
    // A plain app write that knows nothing of versions.
    await client.send(
      new UpdateItemCommand({
        TableName: tables.latest,
        Key: { id: { S: 'order-1' } },
        UpdateExpression: 'SET note = :n',
        ExpressionAttributeValues: { ':n': { S: 'gift' } },
      }),
    );
    await client.send(new DeleteItemCommand({ TableName: tables.latest, Key: { id: { S: 'order-1' } } }));
    await client.send(
      new PutItemCommand({
        TableName: tables.latest,
        Item: { id: { S: 'order-1' }, status: { S: 'reborn' } },
      }),
    );

    const records = await waitForVersions('order-1', 5);
    expect(records.map((r) => [r.version, r.op, r.source, r.declaredVersion ?? null])).toEqual([
      ['v0001', 'INSERT', 'app', null],
      ['v0002', 'MODIFY', 'app', null],
      ['v0003', 'MODIFY', 'legacy', '2'],
      ['v0004', 'REMOVE', 'app', null],
      ['v0005', 'INSERT', 'legacy', null],
    ]);
    expect(records[0]?.actor).toBe('alice');
    expect(records[1]).toMatchObject({ actor: 'bob', changed: ['status'] });
    expect(records[1]?.image?.status).toEqual({ S: 'paid' });
    expect(records[2]?.changed).toEqual(['note']);
    expect(records[3]?.image).toBeUndefined();
    expect(records[4]?.image?.status).toEqual({ S: 'reborn' });
    expect(chainProblems(records)).toEqual([]);
    const times = records.map((r) => r.timeKey);
    expect([...times].sort()).toEqual(times);
  });

  it('records every change exactly once when batches are delivered again', async () => {
    for (let i = 1; i <= 5; i++) {
      await client.send(
        new PutItemCommand({
          TableName: tables.latest,
          Item: { id: { S: 'dup' }, version: { N: String(i) } },
        }),
      );
    }
    await waitForVersions('dup', 5);
    const delivered = pipeline.events
      .flatMap((e) => e.Records)
      .filter((r) => (r.dynamodb.Keys as { id?: { S?: string } }).id?.S === 'dup');
    expect(delivered).toHaveLength(5);

    // Replay: the same batch twice more, as a retried invocation would.
    const again = await pipeline.writer.recordBatch(delivered);
    const third = await pipeline.writer.recordBatch([...delivered].reverse());
    expect(again.stats).toMatchObject({ recorded: 0, duplicates: 5 });
    expect(third.stats).toMatchObject({ recorded: 0, duplicates: 5 });
    expect(again.batchItemFailures).toEqual([]);
    const records = await historyOf('dup');
    expect(records.map((r) => r.versionNumber)).toEqual([1, 2, 3, 4, 5]);
    expect(chainProblems(records)).toEqual([]);
  });

  it('keeps versions past 9999 in numeric order', async () => {
    for (const version of [9998, 9999, 10_000, 10_001, 100_000]) {
      await client.send(
        new PutItemCommand({
          TableName: tables.latest,
          Item: { id: { S: 'big-version' }, version: { N: String(version) } },
        }),
      );
    }
    const records = await waitForVersions('big-version', 5);
    expect(records.map((r) => r.version)).toEqual(['v9998', 'v9999', 'va10000', 'va10001', 'vb100000']);
    expect(records.every((r) => r.source === 'app')).toBe(true);
  });

  it('compresses a large image and parks one too large even compressed, without stopping the stream', async () => {
    const compressible = 'abc'.repeat(130 * 1024);
    await client.send(
      new PutItemCommand({
        TableName: tables.latest,
        Item: { id: { S: 'large' }, body: { S: compressible } },
      }),
    );
    // Random bytes do not compress: near DynamoDB's limit they cannot fit a history item.
    const noise = new Uint8Array(randomBytes(395 * 1024));
    await client.send(
      new PutItemCommand({ TableName: tables.latest, Item: { id: { S: 'huge' }, body: { B: noise } } }),
    );
    await client.send(new PutItemCommand({ TableName: tables.latest, Item: { id: { S: 'after-huge' } } }));

    const [large] = await waitForVersions('large', 1);
    expect(large?.image?.body).toEqual({ S: compressible });
    await waitForVersions('after-huge', 1);
    expect(await historyOf('huge')).toEqual([]);
    // Items are recorded in parallel: 'after-huge' (a created item, one put) can be done before 'huge' is parked.
    const parked = await eventually(async () => {
      const failures = await client.send(
        new ScanCommand({ TableName: tables.failures, ConsistentRead: true }),
      );
      return failures.Items?.find((i) => i.itemKey?.S === 'huge' && i.errorCode);
    });
    expect(parked).toMatchObject({
      errorCode: { S: 'record.imageTooLarge' },
      errorType: { S: 'ImageTooLargeError' },
    });
    // The whole stream record is kept so that a repair can re-drive it.
    // Random data does not fit one item even compressed: it is kept in chunks.
    expect(Number(parked?.recordChunks?.N)).toBeGreaterThan(1);
    const record = (await readParkedRecord(client, tables.failures, parked?.failureId?.S ?? '')) as {
      dynamodb: { Keys: unknown; NewImage?: { body?: { B?: string } } };
    };
    expect(record.dynamodb.Keys).toEqual({ id: { S: 'huge' } });
    expect(Buffer.from(record.dynamodb.NewImage?.body?.B ?? '', 'base64').equals(Buffer.from(noise))).toBe(
      true,
    );
  });
});

describe('composite latest-table keys (KEY_ATTRIBUTES=pk,sk)', () => {
  let composite: { tables: TableSet; config: HistoryConfig };
  let compositePipeline: Pipeline;
  beforeAll(async () => {
    composite = await createTestTables(client, 'pk,sk');
    compositePipeline = await startPipeline(client, composite.config);
  });
  afterAll(() => compositePipeline.stop());

  it('records single-table-design items under the documented item-key encoding', async () => {
    const table = new VersionedTable({
      client,
      tableName: composite.tables.latest,
      keySchema: composite.config.keySchema,
      attributes: composite.config.attributes,
    });
    await table.create({ pk: 'USER#1', sk: 'ORDER#2', total: 10 });
    await table.update({ pk: 'USER#1', sk: 'ORDER#2' }, 1, { total: 12 });
    await client.send(
      new DeleteItemCommand({
        TableName: composite.tables.latest,
        Key: { pk: { S: 'USER#1' }, sk: { S: 'ORDER#2' } },
      }),
    );
    await table.create({ pk: 'USER#1', sk: 'ORDER|3' });

    const records = await eventually(async () => {
      const r = await readHistory(client, composite.tables.history, 'USER%231|ORDER%232');
      return r.length >= 3 ? r : undefined;
    });
    expect(records.map((r) => [r.version, r.op])).toEqual([
      ['v0001', 'INSERT'],
      ['v0002', 'MODIFY'],
      ['v0003', 'REMOVE'],
    ]);
    const other = await eventually(async () => {
      const r = await readHistory(client, composite.tables.history, 'USER%231|ORDER%7C3');
      return r.length >= 1 ? r : undefined;
    });
    expect(other[0]?.image?.sk).toEqual({ S: 'ORDER|3' });
  });
});
