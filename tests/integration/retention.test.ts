import {
  DeleteItemCommand,
  DescribeTimeToLiveCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { TableSet } from '../../local/tables';
import type { HistoryConfig } from '../../shared/core/config';
import { encodeVersion } from '../../shared/core/keys';
import type { HistoryRecord } from '../../shared/core/types';
import { Repairer } from '../../shared/integrity/repair';
import { Verifier } from '../../shared/integrity/verify';
import { HistoryReader } from '../../shared/reading/audit';
import { HistoryWriter } from '../../shared/recording/history-writer';
import { DAY_MS } from '../../shared/recording/retention';
import { VersionedTable } from '../../shared/writing/versioned-table';
import { cliEnv, runCli } from '../helpers/cli';
import {
  createTestTables,
  eventually,
  readHistory,
  testClient,
  testEndpoint,
  waitForHistory,
} from '../helpers/dynamo';
import { injectFault } from '../helpers/faults';
import { startPipeline } from '../helpers/pipeline';
import { N, S, streamRecord } from '../helpers/stream-records';

const client = testClient();
afterAll(() => client.destroy());

/**
 * What DynamoDB's TTL process does, without waiting for it: deletes every item
 * whose `expiresAt` (epoch seconds) is below `nowMs`, with a plain client. (DynamoDB
 * Local runs TTL deletion too, on its own schedule, so items already due may be
 * gone before a sweep.) Returns how many it deleted.
 */
async function sweepExpired(table: string, nowMs: number): Promise<number> {
  let deleted = 0;
  let start: Record<string, never> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    for (const item of page.Items ?? []) {
      const expiresAt = item.expiresAt?.N;
      if (expiresAt === undefined || Number(expiresAt) * 1000 >= nowMs) continue;
      const { itemKey, version } = item;
      if (!itemKey || !version) throw new Error('a history item without its key');
      await client.send(new DeleteItemCommand({ TableName: table, Key: { itemKey, version } }));
      deleted++;
    }
    start = page.LastEvaluatedKey as typeof start;
  } while (start);
  return deleted;
}

const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);
const versionsOf = (records: HistoryRecord[]) => records.map((r) => r.versionNumber);

function table(config: HistoryConfig): VersionedTable {
  return new VersionedTable({
    client,
    tableName: config.latestTableName,
    keySchema: config.keySchema,
    attributes: config.attributes,
  });
}

/** Creates item `id` and updates it until it has `versions` versions. */
async function writeVersions(orders: VersionedTable, id: string, versions: number): Promise<void> {
  await orders.create({ id, n: 1 });
  for (let v = 1; v < versions; v++) await orders.update({ id }, v, { n: v + 1 });
}

describe('retention by age (HISTORY_RETENTION_DAYS=1), on the real stream', () => {
  let tables: TableSet;
  let config: HistoryConfig;
  let orders: VersionedTable;

  beforeAll(async () => {
    ({ tables, config } = await createTestTables(client, 'id', { HISTORY_RETENTION_DAYS: '1' }));
    orders = table(config);
    const pipeline = await startPipeline(client, config);
    await writeVersions(orders, 'kept', 5);
    await writeVersions(orders, 'gone', 2);
    await orders.remove({ id: 'gone' }, 2);
    await waitForHistory(client, tables.history, 'kept', 5);
    await waitForHistory(client, tables.history, 'gone', 3);
    await pipeline.stop();
  }, 60_000);

  it('turns on the history table TTL on expiresAt', async () => {
    const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: tables.history }));
    expect(ttl.TimeToLiveDescription).toMatchObject({
      AttributeName: 'expiresAt',
      TimeToLiveStatus: 'ENABLED',
    });
  });

  it('gives each superseded version a TTL one day after its successor, and the current version none', async () => {
    const records = await readHistory(client, tables.history, 'kept');
    expect(versionsOf(records)).toEqual([1, 2, 3, 4, 5]);
    for (const [i, r] of records.entries()) {
      expect(r.retention).toEqual({ days: 1 });
      const next = records[i + 1];
      expect(r.expiresAt).toBe(next ? seconds(next.recordedAt) + 86_400 : undefined);
    }
    const gone = await readHistory(client, tables.history, 'gone');
    expect(gone.map((r) => [r.op, r.expiresAt !== undefined])).toEqual([
      ['INSERT', true],
      ['MODIFY', true],
      ['REMOVE', false], // the tombstone is the current state: kept
    ]);
  });

  it('verifies clean before expiry, and after TTL deleted the expired versions, with the same digest', async () => {
    const verifier = (nowMs: number) => new Verifier({ client, config, clock: () => new Date(nowMs) });
    const before = await verifier(Date.now()).verifyAll();
    expect(before.findings).toEqual([]);
    expect(before.truncated).toBe(0);

    // Nothing is due yet: a sweep now deletes nothing.
    expect(await sweepExpired(tables.history, Date.now())).toBe(0);
    const later = Date.now() + 2 * DAY_MS;
    expect(await sweepExpired(tables.history, later)).toBe(6);
    expect(versionsOf(await readHistory(client, tables.history, 'kept'))).toEqual([5]);
    expect(versionsOf(await readHistory(client, tables.history, 'gone'))).toEqual([3]);

    const after = await verifier(later).verifyAll();
    expect(after.findings).toEqual([]);
    expect(after.truncated).toBe(2);
    // The chain heads did not change, so neither did the digest.
    expect(after.digest).toBe(before.digest);
  }, 30_000);

  it('keeps recording after expiry: the retained head anchors new versions', async () => {
    const pipeline = await startPipeline(client, config);
    await orders.update({ id: 'kept' }, 5, { n: 6 });
    await waitForHistory(client, tables.history, 'kept', 2);
    await pipeline.stop(); // waits for the batch in flight, which sets v5's expiry after recording v6
    const records = await readHistory(client, tables.history, 'kept');
    expect(versionsOf(records)).toEqual([5, 6]);
    expect(records[0]?.expiresAt).toBe(seconds(records[1]?.recordedAt ?? '') + 86_400);
    const reader = new HistoryReader({ client, config });
    expect((await reader.listVersions('kept')).items.map((r) => r.versionNumber)).toEqual([5, 6]);
    const later = new Date(Date.now() + 2 * DAY_MS);
    const report = await new Verifier({ client, config, clock: () => later }).verifyItem('kept');
    expect(report.findings).toEqual([]);
  }, 30_000);
});

describe('retention by count (HISTORY_KEEP_VERSIONS=2)', () => {
  let tables: TableSet;
  let config: HistoryConfig;

  beforeAll(async () => {
    ({ tables, config } = await createTestTables(client, 'id', { HISTORY_KEEP_VERSIONS: '2' }));
    const pipeline = await startPipeline(client, config);
    await writeVersions(table(config), 'counted', 6);
    // Not "6 versions": DynamoDB Local's TTL may delete v1–v4 as soon as they are due.
    await eventually(async () =>
      (await readHistory(client, tables.history, 'counted')).at(-1)?.versionNumber === 6 ? true : undefined,
    );
    await pipeline.stop();
  }, 60_000);

  it('lets all but the newest two versions go at once, and verify stays clean', async () => {
    // Each of v1–v4 expired when the version two above it arrived, which is past already:
    // DynamoDB Local's own TTL may have deleted some. What remains of them is due.
    const records = await readHistory(client, tables.history, 'counted');
    expect(versionsOf(records).slice(-2)).toEqual([5, 6]);
    expect(records.slice(-2).map((r) => r.expiresAt)).toEqual([undefined, undefined]);
    const byVersion = new Map(records.map((r) => [r.versionNumber, r]));
    for (const r of records.slice(0, -2)) {
      const pushedBy = byVersion.get(r.versionNumber + 2);
      expect(r.expiresAt).toBe(pushedBy ? seconds(pushedBy.recordedAt) : expect.any(Number));
      expect((r.expiresAt ?? Number.POSITIVE_INFINITY) * 1000).toBeLessThanOrEqual(Date.now());
    }

    await sweepExpired(tables.history, Date.now() + 1_000);
    expect(versionsOf(await readHistory(client, tables.history, 'counted'))).toEqual([5, 6]);
    const report = await new Verifier({ client, config }).verifyAll();
    expect(report.findings).toEqual([]);
    expect(report.truncated).toBe(1);

    // The CLI agrees: the versions it misses were due; it exits 0.
    const cli = await runCli(['verify'], cliEnv(tables, testEndpoint()));
    expect(cli.stdout).toContain('1 chain(s) start at a retained anchor');
    expect(cli.stdout).toContain(`digest ${report.digest}`);
    expect(cli.code).toBe(0);
  });

  it('still names tampering: a deleted version the policy keeps, an early TTL, an edited policy', async () => {
    const verifier = new Verifier({ client, config });
    const before = (await verifier.verifyAll()).digest;
    const key = (v: number) => ({ itemKey: { S: 'counted' }, version: { S: encodeVersion(v) } });

    // An early TTL on the current version: caught before DynamoDB acts on it.
    await client.send(
      new UpdateItemCommand({
        TableName: tables.history,
        Key: key(6),
        UpdateExpression: 'SET expiresAt = :e',
        // An hour ahead, so DynamoDB Local's own TTL does not act on it during the test.
        ExpressionAttributeValues: { ':e': N(Math.floor(Date.now() / 1000) + 3600) as never },
      }),
    );
    expect((await verifier.verifyItem('counted')).findings.map((f) => [f.kind, f.version])).toEqual([
      ['retention.early', 6],
    ]);

    // An edited policy, to excuse a deletion: the hash gives it away.
    await client.send(
      new UpdateItemCommand({
        TableName: tables.history,
        Key: key(6),
        UpdateExpression: 'SET retentionVersions = :one REMOVE expiresAt',
        ExpressionAttributeValues: { ':one': N(1) as never },
      }),
    );
    expect((await verifier.verifyItem('counted')).findings.map((f) => f.kind)).toContain('hash.mismatch');

    // A version the policy keeps, deleted (after undoing the edit above).
    await client.send(
      new UpdateItemCommand({
        TableName: tables.history,
        Key: key(6),
        UpdateExpression: 'SET retentionVersions = :two',
        ExpressionAttributeValues: { ':two': N(2) as never },
      }),
    );
    expect((await verifier.verifyItem('counted')).findings).toEqual([]);
    await client.send(new DeleteItemCommand({ TableName: tables.history, Key: key(5) }));
    const after = await verifier.verifyAll();
    expect(after.findings.map((f) => [f.kind, f.version])).toEqual([['chain.broken', 6]]);
    expect(after.digest).toBe(before); // the head is intact: the chain check is what catches it
  });
});

describe('retention in the writer, record by record', () => {
  let config: HistoryConfig;

  beforeAll(async () => {
    ({ config } = await createTestTables(client, 'id', { HISTORY_RETENTION_DAYS: '1' }));
  });

  // Stream times of the last minute: past (repair, dated now, comes after them), with expiries ahead,
  // so DynamoDB Local's own TTL leaves the records be.
  const base = Math.floor(Date.now() / 1000) - 60;
  const item = (v: number) =>
    streamRecord({
      op: v === 1 ? 'INSERT' : 'MODIFY',
      keys: { id: S('r') },
      newImage: { id: S('r'), version: N(v) },
      at: base + v,
    });

  it('sets the expiries a failed attempt missed when the batch is redelivered', async () => {
    const faulty = testClient();
    injectFault(faulty, (command) => command === 'UpdateItemCommand');
    const batch = [item(1), item(2), item(3)];
    const first = await new HistoryWriter({ client: faulty, config }).recordBatch(batch);
    faulty.destroy();
    // The records are written, but the item is reported so that its expiries are retried.
    expect(first.stats.recorded).toBe(3);
    expect(first.batchItemFailures).toHaveLength(3);
    expect((await readHistory(client, config.historyTableName, 'r')).map((r) => r.expiresAt)).toEqual([
      undefined,
      undefined,
      undefined,
    ]);

    const second = await new HistoryWriter({ client, config }).recordBatch(batch);
    expect(second).toMatchObject({
      batchItemFailures: [],
      stats: { duplicates: 3, recorded: 0, expiring: 2 },
    });
    const records = await readHistory(client, config.historyTableName, 'r');
    expect(records.map((r) => r.expiresAt)).toEqual([base + 3 + 86_400, base + 3 + 86_400, undefined]);

    // A third delivery changes nothing: the updates are conditional on no expiry yet.
    const third = await new HistoryWriter({ client, config }).recordBatch(batch);
    expect(third.stats.expiring).toBe(0);
    expect((await readHistory(client, config.historyTableName, 'r')).map((r) => r.expiresAt)).toEqual(
      records.map((r) => r.expiresAt),
    );
  });

  it('never gives the current version a TTL, and repair records under the policy too', async () => {
    await new HistoryWriter({ client, config }).recordBatch([item(4)]);
    const records = await readHistory(client, config.historyTableName, 'r');
    expect(records.at(-1)).toMatchObject({ versionNumber: 4, retention: { days: 1 } });
    expect(records.at(-1)?.expiresAt).toBeUndefined();
    expect(records[2]?.expiresAt).toBe(base + 4 + 86_400);

    // The latest table never saw these writes, so no stream will deliver its state: repair --force
    // records it (a delete) as v5.
    const report = await new Repairer({ client, config }).repair({ itemKey: 'r', force: true });
    expect(report.actions.map((a) => a.outcome)).toEqual(['recorded']);
    const repaired = await readHistory(client, config.historyTableName, 'r');
    expect(repaired.at(-1)).toMatchObject({ versionNumber: 5, source: 'repair', retention: { days: 1 } });
    expect(repaired[3]?.expiresAt).toBe(seconds(repaired[4]?.recordedAt ?? '') + 86_400);
    expect((await new Verifier({ client, config }).verifyItem('r')).findings).toEqual([]);
  });
});
