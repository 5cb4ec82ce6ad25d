import {
  BatchWriteItemCommand,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { TableSet } from '../../local/tables';
import { mapLimit } from '../../shared/core/concurrency';
import type { HistoryConfig } from '../../shared/core/config';
import { encodeVersion } from '../../shared/core/keys';
import { backfill, buildBackfillRecord } from '../../shared/integrity/backfill';
import { Repairer } from '../../shared/integrity/repair';
import { Verifier } from '../../shared/integrity/verify';
import { parkFailure } from '../../shared/recording/failures';
import { putHistoryItem } from '../../shared/recording/history-put';
import { toHistoryItem } from '../../shared/recording/history-record';
import { HistoryWriter } from '../../shared/recording/history-writer';
import { VersionedTable } from '../../shared/writing/versioned-table';
import { createTestTables, eventually, readHistory, setStream, testClient } from '../helpers/dynamo';
import { startPipeline } from '../helpers/pipeline';
import { N, S, streamRecord } from '../helpers/stream-records';

const client = testClient();
afterAll(() => client.destroy());

describe('backfill (DynamoDB Local)', () => {
  let tables: TableSet;
  let config: HistoryConfig;
  const ITEMS = 10_000;

  beforeAll(async () => {
    ({ tables, config } = await createTestTables(client));
    // A table that held data before its stream existed.
    await setStream(client, tables.latest, false);
    const batches = Array.from({ length: ITEMS / 25 }, (_, b) =>
      Array.from({ length: 25 }, (_, i) => {
        const n = b * 25 + i;
        const item: Record<string, { S: string } | { N: string }> = {
          id: { S: `pre-${n}` },
          n: { N: String(n) },
        };
        if (n % 2 === 0) item.version = { N: '3' }; // half already versioned, half not
        return { PutRequest: { Item: item } };
      }),
    );
    await mapLimit(batches, 8, async (batch) => {
      await client.send(new BatchWriteItemCommand({ RequestItems: { [tables.latest]: batch } }));
    });
    await setStream(client, tables.latest, true);
  }, 120_000);

  it('records 10,000 pre-existing items while an app keeps writing, then verifies clean; a second run adds nothing', async () => {
    const pipeline = await startPipeline(client, config);
    const orders = new VersionedTable({
      client,
      tableName: tables.latest,
      keySchema: config.keySchema,
      attributes: config.attributes,
    });
    try {
      let live = 0;
      const writes = (async () => {
        // Live traffic during the backfill: updates of old items (versioned and not) and new items.
        for (let i = 0; i < 150; i++) {
          const n = i * 61;
          if (n % 2 === 0) await orders.update({ id: `pre-${n}` }, 3, { touched: true });
          else await orders.update({ id: `pre-${n}` }, 0, { touched: true });
          await orders.create({ id: `new-${i}` });
          live += 2;
        }
      })();
      const progress: number[] = [];
      const first = await backfill(client, config, {
        segments: 4,
        onProgress: (p) => progress.push(p.scanned),
      });
      await writes;
      expect(first.scanned).toBeGreaterThanOrEqual(ITEMS);
      expect(first.written + first.skipped).toBe(first.scanned);
      expect(progress.length).toBeGreaterThan(1);

      // Let the stream catch up, then the whole table must verify clean.
      const verifier = new Verifier({ client, config });
      let last: Awaited<ReturnType<Verifier['verifyAll']>> | undefined;
      const report = await eventually(
        async () => {
          last = await verifier.verifyAll({ segments: 4 });
          return last.findings.length === 0 ? last : undefined;
        },
        30_000,
        'a clean verify',
      ).catch(async (error: unknown) => {
        const first = last?.findings[0]?.itemKey ?? '';
        const records = await readHistory(client, tables.history, first);
        const current = await client.send(
          new GetItemCommand({ TableName: tables.latest, Key: { id: { S: first } } }),
        );
        const parked = await client.send(new ScanCommand({ TableName: tables.failures }));
        process.stdout.write(
          `PARKED ${JSON.stringify(parked.Items?.map((i) => [i.itemKey?.S, i.errorMessage?.S]))} ONFAILURE ${JSON.stringify(pipeline.onFailure.map((f) => [f.reason, f.batchSize, f.attempts]))} INVOCATIONS ${pipeline.mapping.invocations} DELIVERED-${first} ${JSON.stringify(
            pipeline.events
              .flatMap((e) => e.Records)
              .filter((r) => JSON.stringify(r.dynamodb.Keys).includes(`"${first}"`))
              .map((r) => r.eventName),
          )}\n`,
        );
        throw new Error(
          `${String(error)}: ${JSON.stringify(last?.findings.slice(0, 10))}\n${first} history: ${JSON.stringify(records.map((r) => [r.version, r.source, r.eventId, r.recordedAt, r.image]))}\nlatest: ${JSON.stringify(current.Item)}`,
        );
      });
      expect(report.items).toBe(ITEMS + 150);
      expect(live).toBe(300);

      // Untouched items: a versioned one keeps its own version, an unversioned one gets v1.
      expect(
        (await readHistory(client, tables.history, 'pre-2')).map((r) => [r.versionNumber, r.source]),
      ).toEqual([[3, 'backfill']]);
      expect(
        (await readHistory(client, tables.history, 'pre-1')).map((r) => [r.versionNumber, r.source]),
      ).toEqual([[1, 'backfill']]);
      // A touched item ends with the app's write, whichever of the stream and the backfill came first.
      const touched = await readHistory(client, tables.history, 'pre-0');
      expect(touched.at(-1)).toMatchObject({ versionNumber: 4, source: 'app' });
      expect(['backfill', 'app']).toContain(touched[0]?.source);

      const again = await backfill(client, config, { segments: 4 });
      expect(again.written).toBe(0);
      expect((await verifier.verifyAll()).digest).toBe(report.digest);
    } finally {
      await pipeline.stop();
    }
  }, 240_000);
});

describe('verify finds every kind of tampering; repair fixes what it may', () => {
  let tables: TableSet;
  let config: HistoryConfig;
  let verifier: Verifier;

  beforeAll(async () => {
    ({ tables, config } = await createTestTables(client));
    verifier = new Verifier({ client, config });
    const pipeline = await startPipeline(client, config);
    const orders = new VersionedTable({
      client,
      tableName: tables.latest,
      keySchema: config.keySchema,
      attributes: config.attributes,
    });
    for (const id of ['image', 'time', 'deleted', 'inserted', 'swapped', 'latest', 'clean']) {
      await orders.create({ id, status: 's1' });
      for (let v = 1; v < 5; v++) await orders.update({ id }, v, { status: `s${v + 1}` });
    }
    for (const id of ['image', 'time', 'deleted', 'inserted', 'swapped', 'latest', 'clean']) {
      await eventually(async () =>
        (await readHistory(client, tables.history, id)).length === 5 ? true : undefined,
      );
    }
    await pipeline.stop(); // edits from here on are made behind the service's back
  }, 120_000);

  const key = (id: string, v: number) => ({ itemKey: { S: id }, version: { S: encodeVersion(v) } });
  const kinds = async (id: string) => (await verifier.verifyItem(id)).findings.map((f) => f.kind);

  it('starts clean, with a digest that stays put while nothing changes', async () => {
    const a = await verifier.verifyAll();
    const b = await verifier.verifyAll();
    expect(a.findings).toEqual([]);
    expect(a.digest).toBe(b.digest);
    expect(a.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('names each edit made with a plain client', async () => {
    const before = (await verifier.verifyAll()).digest;
    const set = (
      id: string,
      v: number,
      expr: string,
      values: Record<string, { S: string }>,
      names?: Record<string, string>,
    ) =>
      client.send(
        new UpdateItemCommand({
          TableName: tables.history,
          Key: key(id, v),
          UpdateExpression: expr,
          ExpressionAttributeValues: values,
          ExpressionAttributeNames: names,
        }),
      );
    await set('image', 3, 'SET image.#s = :x', { ':x': { S: 'forged' } }, { '#s': 'status' });
    await set('time', 2, 'SET recordedAt = :t', { ':t': { S: '2001-01-01T00:00:00.000Z' } });
    await client.send(new DeleteItemCommand({ TableName: tables.history, Key: key('deleted', 3) }));
    // An inserted version with a correctly computed chain link: only the latest table betrays it.
    const v5 =
      (await client.send(new GetItemCommand({ TableName: tables.history, Key: key('inserted', 5) }))).Item ??
      {};
    await client.send(
      new PutItemCommand({
        TableName: tables.history,
        Item: {
          ...v5,
          version: { S: 'v0006' },
          versionNumber: { N: '6' },
          prevHash: { S: v5.hash?.S ?? '' },
        },
      }),
    );
    const [v2, v3] = await Promise.all(
      [2, 3].map(
        async (v) =>
          (await client.send(new GetItemCommand({ TableName: tables.history, Key: key('swapped', v) })))
            .Item ?? {},
      ),
    );
    await client.send(
      new PutItemCommand({ TableName: tables.history, Item: { ...v2, image: v3?.image as never } }),
    );
    await client.send(
      new PutItemCommand({ TableName: tables.history, Item: { ...v3, image: v2?.image as never } }),
    );
    await client.send(
      new UpdateItemCommand({
        TableName: tables.latest,
        Key: { id: { S: 'latest' } },
        UpdateExpression: 'SET #s = :x',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':x': { S: 'edited' } },
      }),
    );

    expect(await kinds('image')).toEqual(expect.arrayContaining(['hash.mismatch']));
    expect(await kinds('time')).toEqual(expect.arrayContaining(['hash.mismatch', 'time.keyMismatch']));
    expect(await kinds('deleted')).toEqual(expect.arrayContaining(['chain.broken', 'version.gap']));
    // Its image equals the latest item, so only its own hash betrays it.
    expect(await kinds('inserted')).toEqual(expect.arrayContaining(['hash.mismatch', 'time.keyMismatch']));
    expect(await kinds('swapped')).toEqual(expect.arrayContaining(['hash.mismatch']));
    expect(await kinds('latest')).toEqual(['latest.mismatch']);
    expect(await kinds('clean')).toEqual([]);

    const after = await verifier.verifyAll();
    expect(new Set(after.findings.map((f) => f.itemKey))).toEqual(
      new Set(['image', 'time', 'deleted', 'inserted', 'swapped', 'latest']),
    );
    expect(after.digest).not.toBe(before);
  });

  it('repairs what it may (a missing current version, a parked record) and reports the rest', async () => {
    // A record parked by an older, faulty release: valid, so a re-drive records it.
    const parked = streamRecord({ keys: { id: S('parked') }, newImage: { id: S('parked'), version: N(1) } });
    await parkFailure(client, tables.failures, {
      failureId: parked.eventID,
      itemKey: 'parked',
      sequenceNumber: parked.dynamodb.SequenceNumber,
      error: new Error('old bug'),
      failedAt: new Date().toISOString(),
      record: parked,
    });
    const dry = await new Repairer({ client, config }).repair({ dryRun: true });
    expect(dry.actions.every((a) => a.outcome === 'planned')).toBe(true);
    expect((await readHistory(client, tables.history, 'parked')).length).toBe(0);

    // Without --force, repair never overtakes the stream: the edit of `latest` is still in the stream
    // (the mapping is stopped), so it is deferred and nothing is written.
    const cautious = await new Repairer({ client, config }).repair({ itemKey: 'latest', settleMs: 500 });
    expect(cautious.actions).toEqual([expect.objectContaining({ itemKey: 'latest', outcome: 'deferred' })]);
    expect((await readHistory(client, tables.history, 'latest')).length).toBe(5);

    // This mapping never resumes: the operator knows the stream will not deliver, and forces it.
    const report = await new Repairer({ client, config }).repair({ force: true });
    expect(report.actions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'redrive', failureId: parked.eventID, outcome: 'recorded' }),
        expect.objectContaining({ kind: 'record-current', itemKey: 'latest', outcome: 'recorded' }),
      ]),
    );
    const latest = await readHistory(client, tables.history, 'latest');
    expect(latest.at(-1)).toMatchObject({ source: 'repair', versionNumber: 6 });
    expect((await verifier.verifyItem('latest')).findings).toEqual([]);
    // The re-driven insert, then the tombstone repair recorded: the item is not in the latest table.
    expect(
      (await readHistory(client, tables.history, 'parked')).map((r) => [r.versionNumber, r.op, r.source]),
    ).toEqual([
      [1, 'INSERT', 'app'],
      [2, 'REMOVE', 'repair'],
    ]);
    expect((await verifier.verifyItem('parked')).findings).toEqual([]);
    // Tampering is reported, never rewritten.
    expect(new Set(report.unrepairable.map((f) => f.itemKey))).toEqual(
      new Set(['image', 'time', 'deleted', 'inserted', 'swapped']),
    );
    const again = await new Repairer({ client, config }).repair({ force: true });
    expect(again.actions.filter((a) => a.kind === 'redrive')).toEqual([]);
  });
});

describe('chain starts cannot race', () => {
  it('a stream change that read an empty head chains onto a snapshot that landed meanwhile', async () => {
    const { tables, config } = await createTestTables(client);
    const raced = testClient();
    let injected = false;
    // Right after the writer reads the (empty) head of `race`, a backfill snapshot of it lands.
    raced.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        const input = args.input as {
          KeyConditionExpression?: string;
          ExpressionAttributeValues?: Record<string, { S?: string }>;
        };
        if (
          !injected &&
          context.commandName === 'QueryCommand' &&
          input.ExpressionAttributeValues?.[':k']?.S === 'race'
        ) {
          injected = true;
          const snapshot = buildBackfillRecord(
            { id: { S: 'race' }, version: { N: '3' } },
            config,
            Date.parse('2026-01-01T00:00:00.000Z'),
          );
          expect((await putHistoryItem(client, tables.history, toHistoryItem(snapshot), true)).ok).toBe(true);
        }
        return result;
      },
      { step: 'initialize', name: 'landSnapshot' },
    );
    const change = streamRecord({
      op: 'MODIFY',
      keys: { id: S('race') },
      newImage: { id: S('race'), version: N(4) },
    });
    const result = await new HistoryWriter({ client: raced, config }).recordBatch([change]);
    expect(injected).toBe(true);
    expect(result).toMatchObject({ batchItemFailures: [], stats: { recorded: 1, parked: 0 } });
    const records = await readHistory(client, tables.history, 'race');
    expect(records.map((r) => [r.versionNumber, r.source])).toEqual([
      [3, 'backfill'],
      [4, 'app'],
    ]);
    expect(records[1]?.prevHash).toBe(records[0]?.hash);
    expect(
      (await new Verifier({ client, config }).verifyItem('race')).findings.filter((f) =>
        f.kind.startsWith('chain'),
      ),
    ).toEqual([]);
    raced.destroy();
  });
});
