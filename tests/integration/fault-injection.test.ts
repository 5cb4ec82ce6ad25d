import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, DynamoDBClient, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { freePort, startDynamoLocal } from '../../local/dynamodb-local';
import {
  EventSourceMapping,
  FileCheckpointStore,
  type LambdaStreamEvent,
} from '../../local/event-source-mapping';
import { inProcessInvoker } from '../../local/invokers';
import type { HistoryConfig } from '../../shared/core/config';
import type { HistoryRecord } from '../../shared/core/types';
import { readParkedRecord } from '../../shared/recording/failures';
import { HistoryWriter } from '../../shared/recording/history-writer';
import { retryOnConflict, VersionedTable } from '../../shared/writing/versioned-table';
import { chainProblems } from '../helpers/chain';
import { createTestTables, eventually, readHistory, testClient, waitForHistory } from '../helpers/dynamo';
import { injectFault, itemsWritten, writesInto } from '../helpers/faults';
import { startPipeline } from '../helpers/pipeline';

/** Figures of each scenario, printed at the end and quoted in the README. */
const figures: Record<string, Record<string, number | string>> = {};
afterAll(() => {
  process.stdout.write(`\nFAULT-INJECTION FIGURES ${JSON.stringify(figures, null, 2)}\n`);
});

const client = testClient();
afterAll(() => client.destroy());

/** Every version of an item exactly once, contiguous from 1, chained: returns the problems found. */
function exactlyOnce(records: HistoryRecord[], expected: number): string[] {
  const problems = chainProblems(records);
  const versions = records.map((r) => r.versionNumber);
  if (new Set(versions).size !== versions.length) problems.push('duplicate versions');
  if (versions.length !== expected) problems.push(`${versions.length} versions, expected ${expected}`);
  versions.forEach((v, i) => {
    if (v !== i + 1) problems.push(`version ${v} at position ${i + 1}`);
  });
  return problems;
}

const waitForCount = waitForHistory;

describe('fault injection (DynamoDB Local, real stream)', () => {
  it('R1: 16 writers × 50 conflicting read-modify-writes on one item: every write recorded once, none lost', async () => {
    const { tables, config } = await createTestTables(client);
    const pipeline = await startPipeline(client, config);
    const table = new VersionedTable({
      client,
      tableName: tables.latest,
      keySchema: config.keySchema,
      attributes: config.attributes,
    });
    try {
      await table.create({ id: 'hot', n: 0 });
      let conflicts = 0;
      const writers = 16;
      const updates = 50;
      const started = Date.now();
      await Promise.all(
        Array.from({ length: writers }, (_, w) =>
          (async () => {
            for (let i = 0; i < updates; i++) {
              await retryOnConflict(
                async (attempt) => {
                  if (attempt > 1) conflicts++;
                  const current = await table.get({ id: 'hot' });
                  return table.update(
                    { id: 'hot' },
                    current?.version ?? 0,
                    { n: (current?.item.n as number) + 1, [`w${w}`]: i },
                    { actor: `writer-${w}` },
                  );
                },
                { maxAttempts: 1000, baseDelayMs: 2, maxDelayMs: 40 },
              );
            }
          })(),
        ),
      );
      const total = writers * updates;
      const item = await table.get({ id: 'hot' });
      const records = await waitForCount(client, tables.history, 'hot', total + 1);
      expect(item?.item.n).toBe(total);
      expect(exactlyOnce(records, total + 1)).toEqual([]);
      figures.R1 = {
        successfulWrites: total + 1,
        conflictsRetried: conflicts,
        historyVersions: records.length,
        lostUpdates: total - (item?.item.n as number),
        duplicateVersions: records.length - new Set(records.map((r) => r.versionNumber)).size,
        seconds: Math.round((Date.now() - started) / 100) / 10,
      };
    } finally {
      await pipeline.stop();
    }
  }, 240_000);

  it('R2: every batch delivered twice: no duplicate versions, the chain holds', async () => {
    const { tables, config } = await createTestTables(client);
    const writer = new HistoryWriter({ client, config });
    let deliveries = 0;
    let duplicatesSkipped = 0;
    const handler = async (event: unknown) => {
      const records = (event as LambdaStreamEvent).Records;
      const first = await writer.recordBatch(records);
      const second = await writer.recordBatch(records); // the redelivery
      deliveries += 2;
      duplicatesSkipped += second.stats.duplicates;
      return { batchItemFailures: [...first.batchItemFailures, ...second.batchItemFailures] };
    };
    const pipeline = await startPipeline(client, config, { invoke: inProcessInvoker(handler), batchSize: 7 });
    try {
      const items = 5;
      const versions = 30;
      for (let v = 1; v <= versions; v++) {
        await Promise.all(
          Array.from({ length: items }, (_, i) =>
            client.send(
              new PutItemCommand({
                TableName: tables.latest,
                Item: { id: { S: `r2-${i}` }, version: { N: String(v) } },
              }),
            ),
          ),
        );
      }
      for (let i = 0; i < items; i++) {
        expect(
          exactlyOnce(await waitForCount(client, tables.history, `r2-${i}`, versions), versions),
        ).toEqual([]);
      }
      figures.R2 = {
        changes: items * versions,
        deliveries,
        duplicatesSkipped,
        duplicateVersions: 0,
        brokenChains: 0,
      };
      expect(duplicatesSkipped).toBe(items * versions);
    } finally {
      await pipeline.stop();
    }
  }, 120_000);

  it('R3: throttling in ~30% of batches at random records: nothing lost or duplicated, order kept', async () => {
    const { tables, config } = await createTestTables(client);
    const faulty = testClient();
    let failAt: string | undefined;
    let batches = 0;
    let faultedBatches = 0;
    // A write of that record into history, alone or among a batch of INSERTs, is throttled once.
    const intoHistory = writesInto(tables.history);
    const faults = injectFault(faulty, (command, input) => {
      const writes = itemsWritten(command, input).some((item) => item.sequenceNumber?.S === failAt);
      if (failAt === undefined || !intoHistory(command, input) || !writes) return false;
      failAt = undefined;
      return true;
    });
    const writer = new HistoryWriter({ client: faulty, config });
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const handler = async (event: unknown) => {
      const records = (event as LambdaStreamEvent).Records;
      batches++;
      if (random() < 0.3) {
        faultedBatches++;
        failAt = records[Math.floor(random() * records.length)]?.dynamodb.SequenceNumber;
      }
      const { batchItemFailures } = await writer.recordBatch(records);
      return { batchItemFailures };
    };
    const pipeline = await startPipeline(client, config, {
      invoke: inProcessInvoker(handler),
      batchSize: 10,
      retryBaseDelayMs: 5,
    });
    try {
      const items = 4;
      const versions = 50;
      for (let v = 1; v <= versions; v++) {
        await Promise.all(
          Array.from({ length: items }, (_, i) =>
            client.send(
              new PutItemCommand({
                TableName: tables.latest,
                Item: { id: { S: `r3-${i}` }, version: { N: String(v) } },
              }),
            ),
          ),
        );
      }
      for (let i = 0; i < items; i++) {
        expect(
          exactlyOnce(await waitForCount(client, tables.history, `r3-${i}`, versions), versions),
        ).toEqual([]);
      }
      expect(faults.injected()).toBeGreaterThan(0);
      expect(pipeline.onFailure).toEqual([]);
      figures.R3 = {
        changes: items * versions,
        batches,
        faultedBatches,
        faultedShare: `${Math.round((100 * faultedBatches) / batches)}%`,
        errorsInjected: faults.injected(),
        lost: 0,
        duplicated: 0,
      };
    } finally {
      await pipeline.stop();
      faulty.destroy();
    }
  }, 120_000);

  it('R4: poison records in healthy traffic are parked whole; every healthy record is recorded', async () => {
    const { tables, config } = await createTestTables(client);
    const writer = new HistoryWriter({ client, config });
    const poisoned: LambdaStreamEvent['Records'] = [];
    let n = 0;
    const handler = async (event: unknown) => {
      const records = (event as LambdaStreamEvent).Records.map((r) => {
        // Every 7th record arrives corrupted (an unknown attribute type), as a poison record would.
        if (++n % 7 !== 0) return r;
        const bad = {
          ...r,
          dynamodb: { ...r.dynamodb, NewImage: { ...(r.dynamodb.NewImage as object), x: { Q: 'poison' } } },
        };
        poisoned.push(bad);
        return bad;
      });
      const { batchItemFailures } = await writer.recordBatch(records);
      return { batchItemFailures };
    };
    const pipeline = await startPipeline(client, config, { invoke: inProcessInvoker(handler) });
    try {
      const total = 140;
      for (let i = 0; i < total; i++) {
        await client.send(
          new PutItemCommand({
            TableName: tables.latest,
            Item: { id: { S: `r4-${i}` }, version: { N: '1' } },
          }),
        );
      }
      const parked = await eventually(async () => {
        const out = await client.send(new ScanCommand({ TableName: tables.failures, ConsistentRead: true }));
        const items = (out.Items ?? []).filter((i) => i.errorCode?.S === 'record.malformed');
        return items.length >= total / 7 ? items : undefined;
      });
      const healthy = [];
      for (let i = 0; i < total; i++) {
        const id = `r4-${i}`;
        const isPoison = poisoned.some((p) => (p.dynamodb.Keys as { id: { S: string } }).id.S === id);
        if (!isPoison) healthy.push(id);
      }
      for (const id of healthy) expect((await readHistory(client, tables.history, id)).length).toBe(1);
      for (const p of poisoned) expect(await readParkedRecord(client, tables.failures, p.eventID)).toEqual(p);
      figures.R4 = {
        records: total,
        poison: poisoned.length,
        parkedWithFullRecord: parked.length,
        healthyRecorded: healthy.length,
        healthyLost: 0,
      };
      expect(parked).toHaveLength(poisoned.length);
    } finally {
      await pipeline.stop();
    }
  }, 120_000);

  it('R5: DynamoDB Local stopped and restarted mid-stream (persistent): resumes from the checkpoint, 0 lost, 0 duplicated', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dh-r5-'));
    const port = await freePort();
    let local = await startDynamoLocal({ port, inMemory: false, dbPath: join(dir, 'db') });
    const config_ = {
      endpoint: local.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'r5', secretAccessKey: 'r5' },
    };
    const own = new DynamoDBClient({ ...config_, maxAttempts: 1 });
    const streams = new DynamoDBStreamsClient({ ...config_, maxAttempts: 1 });
    let mapping: EventSourceMapping | undefined;
    try {
      const { tables, config } = await createTestTables(own);
      const streamArn = (await own.send(new DescribeTableCommand({ TableName: tables.latest }))).Table
        ?.LatestStreamArn as string;
      const writer = new HistoryWriter({ client: own, config: config as HistoryConfig });
      let invocations = 0;
      mapping = new EventSourceMapping({
        streams,
        streamArn,
        invoke: inProcessInvoker(async (event) => {
          invocations++;
          const { batchItemFailures } = await writer.recordBatch((event as LambdaStreamEvent).Records);
          return { batchItemFailures };
        }),
        checkpoint: new FileCheckpointStore(join(dir, 'checkpoint.json')),
        pollIntervalMs: 50,
        shardDiscoveryMs: 200,
        retryBaseDelayMs: 20,
        batchSize: 10,
        emulatorDatingStepSeconds: 60,
      });
      mapping.start();
      const put = (v: number) =>
        own.send(
          new PutItemCommand({
            TableName: tables.latest,
            Item: { id: { S: 'r5' }, version: { N: String(v) } },
          }),
        );
      for (let v = 1; v <= 50; v++) await put(v);
      await waitForCount(own, tables.history, 'r5', 50, 30_000);

      // Outage: writes 51–60 happen, then the database goes away while the mapping is polling.
      for (let v = 51; v <= 60; v++) await put(v);
      await local.stop();
      await new Promise((r) => setTimeout(r, 1500));
      local = await startDynamoLocal({ port, inMemory: false, dbPath: join(dir, 'db') });
      for (let v = 61; v <= 100; v++) await put(v);

      const records = await waitForCount(own, tables.history, 'r5', 100, 60_000);
      expect(exactlyOnce(records, 100)).toEqual([]);
      figures.R5 = {
        changes: 100,
        outageMs: 1500,
        recorded: records.length,
        lost: 100 - records.length,
        duplicated: 0,
        invocations,
      };
    } finally {
      await mapping?.stop();
      own.destroy();
      streams.destroy();
      await local.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
