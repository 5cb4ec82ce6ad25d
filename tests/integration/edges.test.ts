import { randomBytes } from 'node:crypto';
import { DeleteItemCommand, PutItemCommand, ScanCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import type { TableSet } from '../../local/tables';
import type { HistoryConfig } from '../../shared/core/config';
import { ValidationError } from '../../shared/core/errors';
import { canonicalNumber } from '../../shared/core/keys';
import type { HistoryRecord } from '../../shared/core/types';
import { type BackfillCheckpoint, backfill } from '../../shared/integrity/backfill';
import { Repairer } from '../../shared/integrity/repair';
import { Verifier } from '../../shared/integrity/verify';
import { HistoryReader } from '../../shared/reading/audit';
import { RollbackService } from '../../shared/writing/rollback';
import { VersionedTable } from '../../shared/writing/versioned-table';
import { createTestTables, eventually, readHistory, testClient, waitForHistory } from '../helpers/dynamo';
import { injectFault } from '../helpers/faults';
import { type Pipeline, startPipeline } from '../helpers/pipeline';

/**
 * The edges of issue 10, each reproduced as an operator would meet it: backfill,
 * repair, rollback and plain clients while the stream lags (the mapping stopped
 * and resumed from its checkpoint), on DynamoDB Local's real stream.
 */
const client = testClient();
afterAll(() => client.destroy());

const summary = (records: HistoryRecord[]) => records.map((r) => [r.versionNumber, r.op, r.source]);

describe('edges: backfill, repair and rollback against a lagging stream', () => {
  let tables: TableSet;
  let config: HistoryConfig;
  let orders: VersionedTable;
  let pipeline: Pipeline | undefined;

  beforeEach(async () => {
    ({ tables, config } = await createTestTables(client));
    orders = new VersionedTable({
      client,
      tableName: tables.latest,
      keySchema: config.keySchema,
      attributes: config.attributes,
    });
  });
  afterEach(async () => {
    await pipeline?.stop();
    pipeline = undefined;
  });

  /** Starts the mapping, or resumes it from where it stopped. */
  const resume = async () => {
    const checkpoint = pipeline?.checkpoint;
    await pipeline?.stop();
    pipeline = await startPipeline(client, config, checkpoint ? { checkpoint } : {});
  };
  const pause = async () => {
    await pipeline?.stop(); // keeps the checkpoint: resume() delivers what came meanwhile
  };
  const plainUpdate = (id: string, expr: string, values: Record<string, { S: string } | { N: string }>) =>
    client.send(
      new UpdateItemCommand({
        TableName: tables.latest,
        Key: { id: { S: id } },
        UpdateExpression: expr,
        ExpressionAttributeValues: values,
      }),
    );
  const verifyClean = async (id: string) => {
    const report = await new Verifier({ client, config }).verifyItem(id);
    expect(report.findings).toEqual([]);
    return report;
  };

  it('#1 backfill, then plain writes that leave the version alone: every change after the snapshot is recorded', async () => {
    await client.send(
      new PutItemCommand({ TableName: tables.latest, Item: { id: { S: 'o1' }, version: { N: '3' } } }),
    );
    await backfill(client, config);
    await plainUpdate('o1', 'SET note = :n', { ':n': { S: 'first' } });
    await plainUpdate('o1', 'SET note = :n', { ':n': { S: 'second' } });
    await resume();
    const records = await waitForHistory(client, tables.history, 'o1', 3);
    expect(summary(records)).toEqual([
      [3, 'INSERT', 'backfill'],
      [4, 'MODIFY', 'legacy'],
      [5, 'MODIFY', 'legacy'],
    ]);
    expect(records.map((r) => r.image?.note?.S)).toEqual([undefined, 'first', 'second']);
    await pause();
    await verifyClean('o1');
  });

  it('#10 backfill while a delete and a re-creation are still in the stream: history starts at the snapshot', async () => {
    await orders.create({ id: 'dr', life: 'first' });
    await orders.remove({ id: 'dr' }, 1);
    await orders.create({ id: 'dr', life: 'second' });
    await backfill(client, config);
    await resume();
    await orders.update({ id: 'dr' }, 1, { life: 'second, changed' });
    const records = await waitForHistory(client, tables.history, 'dr', 2);
    expect(summary(records)).toEqual([
      [1, 'INSERT', 'backfill'],
      [2, 'MODIFY', 'app'],
    ]);
    expect(records.map((r) => r.image?.life?.S)).toEqual(['second', 'second, changed']);
    await pause();
    await verifyClean('dr');
  });

  it('#16 a finished backfill does not block the next one', async () => {
    let saved: BackfillCheckpoint | undefined;
    const checkpoint = { load: () => saved, save: (c: BackfillCheckpoint) => (saved = structuredClone(c)) };
    await orders.create({ id: 'b1' });
    expect(await backfill(client, config, { checkpoint })).toMatchObject({ scanned: 1, written: 1 });
    await orders.create({ id: 'b2' });
    expect(await backfill(client, config, { checkpoint })).toMatchObject({
      scanned: 2,
      written: 1,
      skipped: 1,
    });
  });

  it('#17 backfill stops within moments of Ctrl-C, mid-page, and resumes to record each item once', async () => {
    const batch = Array.from({ length: 300 }, (_, i) =>
      client.send(new PutItemCommand({ TableName: tables.latest, Item: { id: { S: `c${i}` } } })),
    );
    await Promise.all(batch);
    let saved: BackfillCheckpoint | undefined;
    const checkpoint = { load: () => saved, save: (c: BackfillCheckpoint) => (saved = structuredClone(c)) };
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 300);
    const started = Date.now();
    const first = await backfill(client, config, {
      checkpoint,
      segments: 1,
      maxWritesPerSecond: 100,
      signal: abort.signal,
    });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(first.written).toBeLessThan(300);
    const second = await backfill(client, config, { checkpoint, segments: 1 });
    expect(first.written + second.written).toBe(300);
    const history = await client.send(new ScanCommand({ TableName: tables.history, Select: 'COUNT' }));
    expect(history.Count).toBe(300); // one record per item, each at its chain's start slot
  });

  it('#2 repair while the stream lags writes nothing; the stream then records every change once, in order', async () => {
    await resume();
    await orders.create({ id: 'lag' });
    await waitForHistory(client, tables.history, 'lag', 1);
    await pause();
    await orders.update({ id: 'lag' }, 1, { n: 2 });
    await orders.update({ id: 'lag' }, 2, { n: 3 });
    const report = await new Repairer({ client, config }).repair({ itemKey: 'lag', settleMs: 600 });
    expect(report.actions.map((a) => a.outcome)).toEqual(['deferred']);
    expect((await readHistory(client, tables.history, 'lag')).length).toBe(1);
    await resume();
    const records = await waitForHistory(client, tables.history, 'lag', 3);
    expect(summary(records)).toEqual([
      [1, 'INSERT', 'app'],
      [2, 'MODIFY', 'app'],
      [3, 'MODIFY', 'app'],
    ]);
    await pause();
    await verifyClean('lag');
  });

  it('#2 repair that waits sees the stream catch up and writes nothing', async () => {
    await resume();
    await orders.create({ id: 'catch' });
    await waitForHistory(client, tables.history, 'catch', 1);
    await pause();
    await orders.update({ id: 'catch' }, 1, { n: 2 });
    const repairing = new Repairer({ client, config }).repair({ itemKey: 'catch', settleMs: 20_000 });
    await new Promise((r) => setTimeout(r, 300));
    await resume();
    expect((await repairing).actions.map((a) => a.outcome)).toEqual(['already-recorded']);
    expect(summary(await readHistory(client, tables.history, 'catch'))).toEqual([
      [1, 'INSERT', 'app'],
      [2, 'MODIFY', 'app'],
    ]);
  });

  it('#2 repair --force during lag records the snapshot once; the changes it overtook are never duplicated after it', async () => {
    await resume();
    await orders.create({ id: 'forced' });
    await waitForHistory(client, tables.history, 'forced', 1);
    await pause();
    await orders.update({ id: 'forced' }, 1, { n: 2 });
    await orders.update({ id: 'forced' }, 2, { n: 3 });
    const report = await new Repairer({ client, config }).repair({ itemKey: 'forced', force: true });
    expect(report.actions.map((a) => a.outcome)).toEqual(['recorded']);
    await resume();
    await orders.update({ id: 'forced' }, 3, { n: 4 });
    const records = await waitForHistory(client, tables.history, 'forced', 3);
    expect(summary(records)).toEqual([
      [1, 'INSERT', 'app'],
      [3, 'MODIFY', 'repair'],
      [4, 'MODIFY', 'app'],
    ]);
    await pause();
    await verifyClean('forced');
  });

  it('#11 #7 a repair after a tombstone is an INSERT, dated in order: no false alarm, as-of never goes back', async () => {
    await resume();
    await orders.create({ id: 'tomb' });
    await orders.remove({ id: 'tomb' }, 1);
    await waitForHistory(client, tables.history, 'tomb', 2);
    await pause();
    await client.send(
      new PutItemCommand({ TableName: tables.latest, Item: { id: { S: 'tomb' }, note: { S: 'back' } } }),
    );
    await new Repairer({ client, config }).repair({ itemKey: 'tomb', force: true });
    const records = await readHistory(client, tables.history, 'tomb');
    expect(summary(records)).toEqual([
      [1, 'INSERT', 'app'],
      [2, 'REMOVE', 'app'],
      [3, 'INSERT', 'repair'],
    ]);
    const [, tombstone, repaired] = records;
    expect(Date.parse(repaired?.recordedAt ?? '')).toBeGreaterThanOrEqual(
      Date.parse(tombstone?.recordedAt ?? ''),
    );
    expect(Date.parse(repaired?.recordedAt ?? '') % config.streamTimeResolutionMs).toBe(0);
    await verifyClean('tomb');
    const reader = new HistoryReader({ client, config });
    let seen = 0;
    for (const r of records) {
      const at = (await reader.asOf('tomb', r.recordedAt)).versionNumber;
      expect(at).toBeGreaterThanOrEqual(seen);
      seen = at;
    }
  });

  it('#3 rollback of a deleted item before its tombstone is recorded: a labelled rollback after the tombstone', async () => {
    await resume();
    await orders.create({ id: 'rb', status: 'one' });
    await orders.update({ id: 'rb' }, 1, { status: 'two' });
    await waitForHistory(client, tables.history, 'rb', 2);
    await pause();
    await orders.remove({ id: 'rb' }, 2);
    const result = await new RollbackService({ client, config }).rollback({
      key: { id: 'rb' },
      toVersion: 1,
      reason: 'undo the delete',
    });
    expect(result).toMatchObject({ previousVersion: 3, newVersion: 4, restoredVersion: 1 });
    await resume();
    const records = await waitForHistory(client, tables.history, 'rb', 4);
    expect(summary(records)).toEqual([
      [1, 'INSERT', 'app'],
      [2, 'MODIFY', 'app'],
      [3, 'REMOVE', 'app'],
      [4, 'INSERT', 'rollback'],
    ]);
    expect(records[3]).toMatchObject({ restoredFrom: 1, reason: 'undo the delete' });
    await pause();
    await verifyClean('rb');
  });

  it('#13 rollback of an item whose version is not an integer writes a whole version', async () => {
    await resume();
    await orders.create({ id: 'frac' });
    await waitForHistory(client, tables.history, 'frac', 1);
    await client.send(
      new PutItemCommand({ TableName: tables.latest, Item: { id: { S: 'frac' }, version: { N: '3.5' } } }),
    );
    await waitForHistory(client, tables.history, 'frac', 2);
    const result = await new RollbackService({ client, config }).rollback({
      key: { id: 'frac' },
      toVersion: 1,
    });
    expect(result).toMatchObject({ previousVersion: 2, newVersion: 3 });
    const records = await waitForHistory(client, tables.history, 'frac', 3);
    expect(records[2]).toMatchObject({ versionNumber: 3, source: 'rollback', restoredFrom: 1 });
    await pause();
    await verifyClean('frac');
  });

  it('#4 a parked record history has moved past is never marked resolved; verify keeps naming it', async () => {
    await resume();
    await orders.create({ id: 'big' });
    await waitForHistory(client, tables.history, 'big', 1);
    // Incompressible, near the item limit: the history item cannot hold it even gzip-compressed.
    await orders.update({ id: 'big' }, 1, { blob: new Uint8Array(randomBytes(395 * 1024)) });
    await orders.update({ id: 'big' }, 2, { blob: null });
    await eventually(async () => {
      const parked = await client.send(new ScanCommand({ TableName: tables.failures }));
      return (parked.Items ?? []).some((i) => i.itemKey?.S === 'big') ? true : undefined;
    });
    const records = await waitForHistory(client, tables.history, 'big', 2);
    expect(records.map((r) => r.versionNumber)).toEqual([1, 3]);
    await pause();
    const report = await new Repairer({ client, config }).repair();
    expect(report.actions).toEqual([expect.objectContaining({ kind: 'redrive', outcome: 'superseded' })]);
    const failures = await client.send(new ScanCommand({ TableName: tables.failures }));
    expect((failures.Items ?? []).filter((i) => i.errorCode && i.resolvedAt)).toEqual([]);
    const verify = await new Verifier({ client, config }).verifyItem('big');
    expect(verify.findings.map((f) => f.kind)).toEqual(['record.parked']);
  }, 60_000);

  it('#19 a plain write that does not stamp the writer attributes names no actor', async () => {
    await resume();
    await orders.create({ id: 'who' }, { actor: 'alice' });
    await plainUpdate('who', 'SET flag = :f', { ':f': { S: 'vip' } });
    await orders.update({ id: 'who' }, 1, { n: 1 }, { actor: 'alice' });
    const records = await waitForHistory(client, tables.history, 'who', 3);
    // The plain write took v2 in history, so the library's version 2 is numbered after it (legacy),
    // but it stamped the writer attributes: its actor is its own.
    expect(records.map((r) => [r.versionNumber, r.source, r.actor])).toEqual([
      [1, 'app', 'alice'],
      [2, 'legacy', undefined],
      [3, 'legacy', 'alice'],
    ]);
  });

  it('a delete the stream delivers after a repair snapshot of the deleted item is covered by it', async () => {
    await resume();
    await orders.create({ id: 'gone' });
    await waitForHistory(client, tables.history, 'gone', 1);
    await pause();
    await client.send(new DeleteItemCommand({ TableName: tables.latest, Key: { id: { S: 'gone' } } }));
    await new Repairer({ client, config }).repair({ itemKey: 'gone', force: true });
    await resume();
    await orders.create({ id: 'gone', again: true });
    const records = await waitForHistory(client, tables.history, 'gone', 3);
    expect(summary(records)).toEqual([
      [1, 'INSERT', 'app'],
      [2, 'REMOVE', 'repair'],
      [3, 'INSERT', 'legacy'],
    ]);
    await pause();
    await verifyClean('gone');
  });
});

describe('edges: item keys in odd spellings (#8, #9)', () => {
  it('spells numbers exactly as DynamoDB returns them, for 200 seeded random spellings', async () => {
    const { tables } = await createTestTables(client, 'id:N');
    const spellings = fc.sample(
      fc
        .tuple(
          fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }),
          fc.integer({ min: -40, max: 40 }),
          fc.integer({ min: 0, max: 2 }),
          fc.boolean(),
        )
        .map(([m, e, pad, upper]) => {
          const digits = `${'0'.repeat(pad)}${m < 0n ? -m : m}${'0'.repeat(pad)}`;
          return `${m < 0n ? '-' : ''}${digits}${upper ? 'E' : 'e'}${e - pad}`;
        }),
      { seed: 1010, numRuns: 200 },
    );
    await Promise.all(
      spellings.map((n, i) =>
        client.send(
          new PutItemCommand({ TableName: tables.latest, Item: { id: { N: String(i) }, n: { N: n } } }),
        ),
      ),
    );
    const stored = await client.send(new ScanCommand({ TableName: tables.latest, ConsistentRead: true }));
    const mismatches = (stored.Items ?? []).flatMap((item) => {
      const spelled = spellings[Number(item.id?.N)] ?? '';
      return canonicalNumber(spelled) === item.n?.N ? [] : [[spelled, item.n?.N, canonicalNumber(spelled)]];
    });
    expect(mismatches).toEqual([]);
    expect(stored.Items).toHaveLength(200);
  });

  it('refuses every other spelling of a number key in repair, verify and rollback: no phantom chain', async () => {
    const { tables, config } = await createTestTables(client, 'id:N');
    const pipeline = await startPipeline(client, config);
    try {
      await client.send(
        new PutItemCommand({ TableName: tables.latest, Item: { id: { N: '1' }, version: { N: '1' } } }),
      );
      await waitForHistory(client, tables.history, '1', 1);
    } finally {
      await pipeline.stop();
    }
    for (const spelling of ['1.0', '01', '1e0']) {
      await expect(
        new Repairer({ client, config }).repair({ itemKey: spelling, force: true }),
      ).rejects.toThrow(`this item's key is "1"`);
      await expect(new Verifier({ client, config }).verifyItem(spelling)).rejects.toThrow(ValidationError);
    }
    await expect(
      new RollbackService({ client, config }).rollback({ key: { id: 1e21 }, toVersion: 1 }),
    ).rejects.toThrow(ValidationError);
    const repaired = await new Repairer({ client, config }).repair({ force: true });
    expect(repaired.actions).toEqual([]);
    const history = await client.send(new ScanCommand({ TableName: tables.history, ConsistentRead: true }));
    expect(new Set((history.Items ?? []).map((i) => i.itemKey?.S))).toEqual(new Set(['1']));
  });

  it('parks whole a record whose key is too long to record once encoded, and never retries it', async () => {
    const { tables, config } = await createTestTables(client, 'pk,sk');
    const pipeline = await startPipeline(client, config);
    try {
      // 2,000 bytes is a legal partition key; percent-encoded it is 6,000 bytes.
      await client.send(
        new PutItemCommand({
          TableName: tables.latest,
          Item: { pk: { S: 'é'.repeat(1000) }, sk: { S: 'x' } },
        }),
      );
      await client.send(
        new PutItemCommand({ TableName: tables.latest, Item: { pk: { S: 'ok' }, sk: { S: 'x' } } }),
      );
      await waitForHistory(client, tables.history, 'ok|x', 1);
      const parked = await eventually(async () => {
        const items = (await client.send(new ScanCommand({ TableName: tables.failures }))).Items ?? [];
        return items.length > 0 ? items : undefined;
      });
      expect(parked.map((i) => i.errorCode?.S)).toEqual(['record.keyTooLong']);
      expect(pipeline.onFailure).toEqual([]);
      expect(pipeline.events.length).toBeLessThanOrEqual(2);
    } finally {
      await pipeline.stop();
    }
  });
});

describe('edges: attribute names JavaScript treats specially (#12)', () => {
  it('records, verifies, backfills and rolls back __proto__, constructor and toString as plain data', async () => {
    const { tables, config } = await createTestTables(client);
    // As boto3 or the AWS CLI send it: the JSON names are just names.
    const item = JSON.parse(
      '{"id":{"S":"odd"},"version":{"N":"1"},"__proto__":{"S":"kept"},"constructor":{"S":"c"},"toString":{"N":"7"},"nested":{"M":{"__proto__":{"S":"inner"}}}}',
    );
    await client.send(new PutItemCommand({ TableName: tables.latest, Item: item }));
    await client.send(
      new PutItemCommand({
        TableName: tables.latest,
        Item: { ...item, version: { N: '2' }, constructor: { S: 'd' } },
      }),
    );
    const pipeline = await startPipeline(client, config);
    let records: HistoryRecord[];
    try {
      records = await waitForHistory(client, tables.history, 'odd', 2);
    } finally {
      await pipeline.stop();
    }
    expect(Object.keys(records[0]?.image ?? {}).sort()).toEqual(
      ['__proto__', 'constructor', 'id', 'nested', 'toString', 'version'].sort(),
    );
    expect(Object.getOwnPropertyDescriptor(records[0]?.image ?? {}, '__proto__')?.value).toEqual({
      S: 'kept',
    });
    expect(records[1]?.changed).toEqual(['constructor']);
    expect((await new Verifier({ client, config }).verifyItem('odd')).findings).toEqual([]);

    const result = await new RollbackService({ client, config }).rollback({
      key: { id: 'odd' },
      toVersion: 1,
    });
    expect(result.image).toMatchObject({ constructor: 'c', toString: 7 });
    expect(Object.hasOwn(result.image ?? {}, '__proto__')).toBe(true);

    const other = await createTestTables(client);
    await client.send(new PutItemCommand({ TableName: other.tables.latest, Item: item }));
    await backfill(client, other.config);
    const snapshot = await readHistory(client, other.tables.history, 'odd');
    expect(Object.getOwnPropertyDescriptor(snapshot[0]?.image ?? {}, '__proto__')?.value).toEqual({
      S: 'kept',
    });
    expect((await new Verifier({ client, config: other.config }).verifyItem('odd')).findings).toEqual([]);
  });
});

describe('edges: one numbering after a re-create (#18)', () => {
  it('the writer library continues the history numbering of a deleted item, even while the stream lags', async () => {
    const { tables, config } = await createTestTables(client);
    const orders = new VersionedTable({
      client,
      tableName: tables.latest,
      keySchema: config.keySchema,
      attributes: config.attributes,
      historyTableName: tables.history,
    });
    let pipeline = await startPipeline(client, config);
    try {
      expect(await orders.create({ id: 'life' })).toBe(1);
      expect(await orders.update({ id: 'life' }, 1, { n: 2 })).toBe(2);
      expect(await orders.remove({ id: 'life' }, 2)).toBe(3);
      await waitForHistory(client, tables.history, 'life', 3);
      // The tombstone is v3: the new life starts at v4, and its versions stay the app's own.
      expect(await orders.create({ id: 'life', again: true })).toBe(4);
      expect(await orders.update({ id: 'life' }, 4, { n: 5 })).toBe(5);
      await waitForHistory(client, tables.history, 'life', 5);
      // A delete still in the stream: its tombstone will be v6, so the next life starts at v7.
      const checkpoint = pipeline.checkpoint;
      await pipeline.stop();
      expect(await orders.remove({ id: 'life' }, 5)).toBe(6);
      expect(await orders.create({ id: 'life', third: true })).toBe(7);
      pipeline = await startPipeline(client, config, { checkpoint });
      const records = await waitForHistory(client, tables.history, 'life', 7);
      expect(summary(records)).toEqual([
        [1, 'INSERT', 'app'],
        [2, 'MODIFY', 'app'],
        [3, 'REMOVE', 'app'],
        [4, 'INSERT', 'app'],
        [5, 'MODIFY', 'app'],
        [6, 'REMOVE', 'app'],
        [7, 'INSERT', 'app'],
      ]);
      expect(records.every((r) => r.declaredVersion === undefined)).toBe(true);
    } finally {
      await pipeline.stop();
    }
  });
});

describe('edges: an item whose history reached the 10 GB item-collection limit', () => {
  it('parks its change as history.itemCollectionFull instead of retrying it forever', async () => {
    const { tables, config } = await createTestTables(client);
    const full = testClient();
    // What DynamoDB answers when an item collection of a table with an LSI reaches 10 GB.
    injectFault(
      full,
      (command, input) =>
        (command === 'PutItemCommand' && input.TableName === tables.history) ||
        command === 'TransactWriteItemsCommand',
      () =>
        Object.assign(new Error('Item collection size limit exceeded (injected)'), {
          name: 'ItemCollectionSizeLimitExceededException',
        }),
    );
    const pipeline = await startPipeline(client, config, { writerClient: full });
    try {
      await client.send(new PutItemCommand({ TableName: tables.latest, Item: { id: { S: 'huge' } } }));
      const parked = await eventually(async () => {
        const items = (await client.send(new ScanCommand({ TableName: tables.failures }))).Items ?? [];
        return items.length > 0 ? items : undefined;
      });
      expect(parked.map((i) => i.errorCode?.S)).toEqual(['history.itemCollectionFull']);
      expect(pipeline.onFailure).toEqual([]);
    } finally {
      await pipeline.stop();
      full.destroy();
    }
  });
});
