import { PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { MemoryCheckpointStore } from '../../local/event-source-mapping';
import type { TableSet } from '../../local/tables';
import type { HistoryConfig } from '../../shared/core/config';
import { readParkedRecord } from '../../shared/recording/failures';
import { HistoryWriter } from '../../shared/recording/history-writer';
import { chainProblems } from '../helpers/chain';
import { createTestTables, eventually, readHistory, testClient } from '../helpers/dynamo';
import { injectFault, itemsWritten, writesInto } from '../helpers/faults';
import { startPipeline } from '../helpers/pipeline';
import { N, S, streamRecord } from '../helpers/stream-records';

const client = testClient();
let tables: TableSet;
let config: HistoryConfig;

beforeAll(async () => {
  ({ tables, config } = await createTestTables(client));
});
afterAll(() => client.destroy());

/** A put of that record, alone or among a batch of INSERTs (the whole request then fails, as a throttled one does). */
const isPutOf = (itemKey: string, version: string) => (command: string, input: Record<string, unknown>) =>
  itemsWritten(command, input).some((item) => item.itemKey?.S === itemKey && item.version?.S === version);

describe('HistoryWriter failure handling (DynamoDB Local)', () => {
  it('reports a throttled record and every later record of the same item, and nothing of other items', async () => {
    const faulty = testClient();
    injectFault(faulty, isPutOf('a', 'v0002'));
    const writer = new HistoryWriter({ client: faulty, config });
    const batch = [
      streamRecord({ keys: { id: S('a') }, newImage: { id: S('a'), version: N(1) } }),
      streamRecord({ keys: { id: S('b') }, newImage: { id: S('b'), version: N(1) } }),
      streamRecord({ op: 'MODIFY', keys: { id: S('a') }, newImage: { id: S('a'), version: N(2) } }),
      streamRecord({ op: 'MODIFY', keys: { id: S('b') }, newImage: { id: S('b'), version: N(2) } }),
      streamRecord({ op: 'MODIFY', keys: { id: S('a') }, newImage: { id: S('a'), version: N(3) } }),
    ];
    const result = await writer.recordBatch(batch);
    const seq = (i: number) => batch[i]?.dynamodb.SequenceNumber;
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: seq(2) }, { itemIdentifier: seq(4) }]);
    expect(result.stats).toMatchObject({ recorded: 3, retried: 2, parked: 0 });
    expect((await readHistory(client, tables.history, 'a')).map((r) => r.versionNumber)).toEqual([1]);
    expect((await readHistory(client, tables.history, 'b')).map((r) => r.versionNumber)).toEqual([1, 2]);

    // The retry, as the event source mapping sends it: from the lowest failure on.
    const retry = await new HistoryWriter({ client, config }).recordBatch(batch.slice(2));
    expect(retry.batchItemFailures).toEqual([]);
    expect(retry.stats).toMatchObject({ recorded: 2, duplicates: 1 });
    const a = await readHistory(client, tables.history, 'a');
    expect(a.map((r) => r.versionNumber)).toEqual([1, 2, 3]);
    expect(chainProblems(a)).toEqual([]);
    faulty.destroy();
  });

  it('parks malformed records with the whole record and records the rest of the batch', async () => {
    const writer = new HistoryWriter({ client, config });
    const bad = streamRecord({ keys: { id: S('m') }, newImage: { id: S('m'), x: { Q: 'what' } } });
    const noKey = streamRecord({ keys: { other: S('z') } });
    const batch = [
      streamRecord({ keys: { id: S('m') }, newImage: { id: S('m'), version: N(1) } }),
      bad,
      noKey,
      streamRecord({ op: 'MODIFY', keys: { id: S('m') }, newImage: { id: S('m'), version: N(2) } }),
    ];
    const result = await writer.recordBatch(batch);
    expect(result.batchItemFailures).toEqual([]);
    expect(result.stats).toMatchObject({ recorded: 2, parked: 2 });
    expect((await readHistory(client, tables.history, 'm')).map((r) => r.versionNumber)).toEqual([1, 2]);
    const parked = await client.send(new ScanCommand({ TableName: tables.failures, ConsistentRead: true }));
    const ids = (parked.Items ?? [])
      .filter((i) => i.errorCode?.S === 'record.malformed')
      .map((i) => i.failureId?.S);
    expect(ids).toEqual(expect.arrayContaining([bad.eventID, noKey.eventID]));
    expect(await readParkedRecord(client, tables.failures, bad.eventID)).toEqual(bad);
  });

  it('retries a record whose parking fails rather than lose it', async () => {
    const faulty = testClient();
    injectFault(
      faulty,
      (command, input) => command === 'PutItemCommand' && input.TableName === tables.failures,
    );
    const bad = streamRecord({ keys: { id: S('p') }, newImage: { id: S('p'), n: { N: 'NaN' } } });
    const result = await new HistoryWriter({ client: faulty, config }).recordBatch([bad]);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: bad.dynamodb.SequenceNumber }]);
    faulty.destroy();
  });

  it('fails the whole invocation for a record it can neither parse, park nor name', async () => {
    const faulty = testClient();
    injectFault(faulty, (command) => command === 'PutItemCommand');
    await expect(
      new HistoryWriter({ client: faulty, config }).recordBatch([{ nonsense: true }]),
    ).rejects.toThrow('could not be parked');
    faulty.destroy();
  });

  it('handles an empty batch and a REMOVE of an item with no history', async () => {
    const writer = new HistoryWriter({ client, config });
    expect(await writer.recordBatch([])).toMatchObject({ batchItemFailures: [], stats: { received: 0 } });
    const gone = streamRecord({
      op: 'REMOVE',
      keys: { id: S('never-seen') },
      oldImage: { id: S('never-seen') },
    });
    expect((await writer.recordBatch([gone])).batchItemFailures).toEqual([]);
    const records = await readHistory(client, tables.history, 'never-seen');
    expect(records.map((r) => [r.version, r.op])).toEqual([['v0001', 'REMOVE']]);
  });
});

describe('event source mapping on the real stream', () => {
  it('retries injected throttling until every change is recorded once, in order', async () => {
    const own = await createTestTables(client);
    const faulty = testClient();
    let calls = 0;
    // Throttle every third history write (a put, or a batch of INSERTs).
    const intoHistory = writesInto(own.tables.history);
    const faults = injectFault(faulty, (command, input) => intoHistory(command, input) && ++calls % 3 === 0);
    const pipeline = await startPipeline(client, own.config, { writerClient: faulty, batchSize: 10 });
    try {
      for (let v = 1; v <= 30; v++) {
        await client.send(
          new PutItemCommand({
            TableName: own.tables.latest,
            Item: { id: { S: `k${v % 3}` }, version: { N: String(Math.ceil(v / 3)) } },
          }),
        );
      }
      for (const key of ['k0', 'k1', 'k2']) {
        const records = await eventually(async () => {
          const r = await readHistory(client, own.tables.history, key);
          return r.length >= 10 ? r : undefined;
        });
        expect(records.map((r) => r.versionNumber)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        expect(chainProblems(records)).toEqual([]);
      }
      expect(faults.injected()).toBeGreaterThan(0);
      expect(pipeline.onFailure).toEqual([]);
    } finally {
      await pipeline.stop();
      faulty.destroy();
    }
  });

  it('resumes from its checkpoint after a restart, delivering nothing twice', async () => {
    const own = await createTestTables(client);
    const checkpoint = new MemoryCheckpointStore();
    const put = (v: number) =>
      client.send(
        new PutItemCommand({
          TableName: own.tables.latest,
          Item: { id: { S: 'r' }, version: { N: String(v) } },
        }),
      );
    const first = await startPipeline(client, own.config, { checkpoint });
    for (let v = 1; v <= 3; v++) await put(v);
    await eventually(async () =>
      (await readHistory(client, own.tables.history, 'r')).length === 3 ? true : undefined,
    );
    await first.stop();

    for (let v = 4; v <= 6; v++) await put(v);
    const second = await startPipeline(client, own.config, { checkpoint });
    try {
      const records = await eventually(async () => {
        const r = await readHistory(client, own.tables.history, 'r');
        return r.length >= 6 ? r : undefined;
      });
      expect(records.map((r) => r.versionNumber)).toEqual([1, 2, 3, 4, 5, 6]);
      const redelivered = second.events.flatMap((e) => e.Records).map((r) => r.dynamodb.NewImage);
      expect(redelivered).toHaveLength(3);
    } finally {
      await second.stop();
    }
  });

  it('gives up on a batch after the retry limit and sends it to on-failure', async () => {
    const own = await createTestTables(client);
    const faulty = testClient();
    injectFault(
      faulty,
      // Every read and write of the item: a created item's chain is started without a read first.
      (_command, input) => JSON.stringify(input).includes('"poison"'),
    );
    const pipeline = await startPipeline(client, own.config, {
      writerClient: faulty,
      maximumRetryAttempts: 2,
      batchSize: 5,
    });
    try {
      await client.send(new PutItemCommand({ TableName: own.tables.latest, Item: { id: { S: 'poison' } } }));
      await client.send(new PutItemCommand({ TableName: own.tables.latest, Item: { id: { S: 'healthy' } } }));
      const failure = await eventually(async () => pipeline.onFailure[0]);
      // As in AWS, the batch given up on runs from the failing record to the end of the retried batch;
      // `healthy` in it was recorded on the first attempt and skipped as a duplicate on retries.
      expect(failure).toMatchObject({ reason: 'RetryAttemptsExhausted', attempts: 3, batchSize: 2 });
      expect(failure.records.map((r) => r.dynamodb.Keys)).toEqual([
        { id: { S: 'poison' } },
        { id: { S: 'healthy' } },
      ]);
      await eventually(async () =>
        (await readHistory(client, own.tables.history, 'healthy')).length === 1 ? true : undefined,
      );
    } finally {
      await pipeline.stop();
      faulty.destroy();
    }
  });
});

describe('parking never overwrites, and every unwritable record is parked (issue 14)', () => {
  const parkedItems = async (table: string) =>
    ((await client.send(new ScanCommand({ TableName: table, ConsistentRead: true }))).Items ?? []).filter(
      (i) => i.errorCode,
    );

  it('keeps two different malformed records that share an eventID, and parks a redelivered one once', async () => {
    const own = await createTestTables(client);
    const writer = new HistoryWriter({ client, config: own.config });
    const first = { ...streamRecord(), eventID: 'shared-id', eventName: 'UPSERT' };
    const second = { ...streamRecord(), eventID: 'shared-id', eventName: 'PURGE' };
    await writer.recordBatch([first]);
    await writer.recordBatch([second]);
    await writer.recordBatch([first]); // redelivered
    const parked = await parkedItems(own.tables.failures);
    expect(parked.map((i) => i.failureId?.S).sort()).toEqual(['shared-id', 'shared-id~1']);
    const records = await Promise.all(
      parked.map((i) => readParkedRecord(client, own.tables.failures, i.failureId?.S ?? '')),
    );
    expect(records.map((r) => (r as { eventName: string }).eventName).sort()).toEqual(['PURGE', 'UPSERT']);
  });

  it.each([
    [
      'a time far past any real one',
      (r: ReturnType<typeof streamRecord>) => {
        r.dynamodb.ApproximateCreationDateTime = 1e15;
      },
    ],
    [
      'an eventID of 3,000 characters',
      (r: ReturnType<typeof streamRecord>) => {
        r.eventID = 'e'.repeat(3000);
      },
    ],
  ])('parks, never retries, a record with %s', async (_what, spoil) => {
    const own = await createTestTables(client);
    const record = streamRecord({ keys: { id: S('odd') }, newImage: { id: S('odd'), version: N(1) } });
    spoil(record);
    const result = await new HistoryWriter({ client, config: own.config }).recordBatch([record]);
    expect(result).toMatchObject({ batchItemFailures: [], stats: { parked: 1, recorded: 0 } });
    const [parked] = await parkedItems(own.tables.failures);
    expect(parked?.errorCode?.S).toBe('record.malformed');
    expect(await readHistory(client, own.tables.history, 'odd')).toEqual([]);
  });
});
