/**
 * `npm run bench:cost`: the capacity each recorded change consumes, counted by DynamoDB itself
 * (`ReturnConsumedCapacity: TOTAL` on every request) on a real DynamoDB Local, through the real
 * stream and the project's event source mapping. Create, update, delete, rollback and backfill,
 * each measured on its own, split by table: history (and its chain marker), latest, failures.
 * The README's cost per million changes is computed from these figures. The patterns users would
 * otherwise pick, (a) `TransactWriteItems` versioning and (b) the client-side dual write
 * (`baselines.ts`), write the same items and changes for create, update and delete, and
 * bench/results/cost.svg charts all three, write units per change in all, side by side.
 */

import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  type AttributeValue,
  type BatchExecuteStatementCommandInput,
  type ConsumedCapacity,
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { freePort, startDynamoLocal } from '../local/dynamodb-local';
import { EventSourceMapping, MemoryCheckpointStore } from '../local/event-source-mapping';
import { inProcessInvoker } from '../local/invokers';
import { ensureTables } from '../local/tables';
import { preserveProtoAttributes } from '../shared/aws/sdk-proto-fix';
import { mapLimit } from '../shared/core/concurrency';
import { type HistoryConfig, loadConfig } from '../shared/core/config';
import type { AttributeMap } from '../shared/core/types';
import { backfill } from '../shared/integrity/backfill';
import { HistoryWriter } from '../shared/recording/history-writer';
import { RollbackService } from '../shared/writing/rollback';
import { VersionedTable } from '../shared/writing/versioned-table';
import { itemsWritten } from '../tests/helpers/faults';
import { type BaselineOp, dualWrite, plainTable, transactVersioned } from './baselines';
import { type Bar, barChart } from './svg';

const ROOT = resolve(__dirname, '..');
const ITEMS = Number(process.env.COST_ITEMS ?? 200);

/** Capacity and requests, by table, as DynamoDB reported them. */
interface Meter {
  requests: number;
  read: Map<string, number>;
  write: Map<string, number>;
}

const newMeter = (): Meter => ({ requests: 0, read: new Map(), write: new Map() });

/**
 * A client that asks for ConsumedCapacity on every request and adds it to `meter()`.
 *
 * DynamoDB Local reports no capacity for a PartiQL `BatchExecuteStatement` (AWS has reported it since
 * January 2022). For those, each `INSERT` that succeeded is put again into `twin`, a table of the
 * history table's very shape (key and indexes), and what DynamoDB reports for that put is counted
 * against the statement's table: an item's write units depend only on its size and the indexes it
 * is written to, not on the API that wrote it.
 */
function meteredClient(
  endpoint: string,
  meter: () => Meter,
  twin?: { client: DynamoDBClient; table: string },
): DynamoDBClient {
  const client = preserveProtoAttributes(
    new DynamoDBClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'cost', secretAccessKey: 'cost' },
    }),
  );
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { ReturnConsumedCapacity?: string };
      input.ReturnConsumedCapacity ??= 'INDEXES';
      const out = await next(args);
      const m = meter();
      m.requests += 1;
      if (process.env.COST_TRACE)
        process.stderr.write(
          `${context.commandName} ${JSON.stringify((out.output as { ConsumedCapacity?: unknown }).ConsumedCapacity)}\n`,
        );
      const consumed = (out.output as { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] })
        .ConsumedCapacity;
      if (context.commandName === 'BatchExecuteStatementCommand' && consumed === undefined && twin) {
        const statements = (args.input as BatchExecuteStatementCommandInput).Statements ?? [];
        const responses = (out.output as { Responses?: { Error?: unknown }[] }).Responses ?? [];
        const items = itemsWritten('BatchExecuteStatementCommand', args.input as Record<string, unknown>);
        for (const [i, statement] of statements.entries()) {
          const table = /^INSERT INTO "([^"]+)"/.exec(statement.Statement ?? '')?.[1];
          if (!table || responses[i]?.Error !== undefined) continue;
          const put = await twin.client.send(
            new PutItemCommand({
              TableName: twin.table,
              Item: items[i] as AttributeMap,
              ReturnConsumedCapacity: 'TOTAL',
            }),
          );
          m.write.set(table, (m.write.get(table) ?? 0) + (put.ConsumedCapacity?.CapacityUnits ?? 0));
          // Gone again, so that the next put of the same key is a new item too, not a replacement.
          const key = { itemKey: items[i]?.itemKey, version: items[i]?.version } as AttributeMap;
          await twin.client.send(new DeleteItemCommand({ TableName: twin.table, Key: key }));
        }
      }
      for (const c of [consumed ?? []].flat()) {
        const table = c.TableName ?? '?';
        const units = c.CapacityUnits ?? 0;
        const reads = c.ReadCapacityUnits ?? 0;
        const writes = c.WriteCapacityUnits ?? 0;
        // Single-item requests report only CapacityUnits: the command says whether they were reads or writes.
        const isWrite = /Put|Update|Delete|Write/.test(context.commandName ?? '');
        m.read.set(table, (m.read.get(table) ?? 0) + reads);
        m.write.set(table, (m.write.get(table) ?? 0) + writes);
        if (reads === 0 && writes === 0 && units > 0) {
          const target = isWrite ? m.write : m.read;
          target.set(table, (target.get(table) ?? 0) + units);
        }
      }
      return out;
    },
    { step: 'initialize', name: 'capacityMeter' },
  );
  return client;
}

async function main(): Promise<void> {
  const port = await freePort();
  const local = await startDynamoLocal({ port, inMemory: true });
  // The app's writes (and the rollback service's) and the recorder's are metered apart.
  let meters = { app: newMeter(), recorder: newMeter() };
  const twinClient = preserveProtoAttributes(
    new DynamoDBClient({
      endpoint: local.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'cost', secretAccessKey: 'cost' },
    }),
  );
  const twin = {
    client: twinClient,
    table: (await ensureTables(twinClient, { stage: 'costtwin', keyAttributes: 'id' })).history,
  };
  const writerClient = meteredClient(local.endpoint, () => meters.recorder, twin);
  const appClient = meteredClient(local.endpoint, () => meters.app);
  const tables = await ensureTables(appClient, { stage: 'cost', keyAttributes: 'id' });
  const config: HistoryConfig = loadConfig({
    LATEST_TABLE_NAME: tables.latest,
    HISTORY_TABLE_NAME: tables.history,
    FAILURES_TABLE_NAME: tables.failures,
    LABEL_SECRET: randomBytes(32).toString('hex'),
  });
  const app = new VersionedTable({
    client: appClient,
    tableName: tables.latest,
    keySchema: config.keySchema,
    attributes: config.attributes,
  });
  const writer = new HistoryWriter({ client: writerClient, config });
  const streams = preserveProtoAttributes(
    new DynamoDBStreamsClient({
      endpoint: local.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'cost', secretAccessKey: 'cost' },
    }),
  );
  const streamArn = (await appClient.send(new DescribeTableCommand({ TableName: tables.latest }))).Table
    ?.LatestStreamArn;
  if (!streamArn) throw new Error('no stream');
  const mapping = new EventSourceMapping({
    streams,
    streamArn,
    invoke: inProcessInvoker(async (event) => writer.recordBatch((event as { Records: unknown[] }).Records)),
    pollIntervalMs: 50,
    checkpoint: new MemoryCheckpointStore(),
  });
  mapping.start();

  const payload = (i: number, v: number) => ({
    status: v % 2 ? 'paid' : 'new',
    total: i * 3 + v,
    note: `order ${i} `.repeat(20),
  });
  const historyCount = async (): Promise<number> => {
    let n = 0;
    let start: Record<string, AttributeValue> | undefined;
    const probe = preserveProtoAttributes(
      new DynamoDBClient({
        endpoint: local.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'cost', secretAccessKey: 'cost' },
      }),
    );
    do {
      const out = await probe.send(
        new ScanCommand({
          TableName: tables.history,
          Select: 'COUNT',
          FilterExpression: 'begins_with(version, :v)',
          ExpressionAttributeValues: { ':v': { S: 'v' } },
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      n += out.Count ?? 0;
      start = out.LastEvaluatedKey;
    } while (start);
    probe.destroy();
    return n;
  };
  const settle = async (expected: number) => {
    for (let i = 0; i < 600 && (await historyCount()) < expected; i++)
      await new Promise((r) => setTimeout(r, 100));
  };

  /** Runs one kind of change on every item and returns the capacity it took, app and recorder apart. */
  type Phase = { name: string; changes: number; app: Meter; recorder: Meter };
  const phases: Phase[] = [];
  let recorded = 0;
  const phase = async (name: string, changes: number, run: () => Promise<void>) => {
    meters = { app: newMeter(), recorder: newMeter() };
    await run();
    recorded += changes;
    await settle(recorded);
    // The mapping's last batch may still be finishing its writes.
    await new Promise((r) => setTimeout(r, 1000));
    phases.push({ name, changes, ...meters });
  };
  const ids = Array.from({ length: ITEMS }, (_, i) => ({ id: `order-${i}` }));
  await phase('create', ITEMS, async () => {
    await mapLimit(ids, 8, async (key, i) => void (await app.create({ ...key, ...payload(i, 1) })));
  });
  await phase('update', ITEMS, async () => {
    await mapLimit(ids, 8, async (key, i) => void (await app.update(key, 1, payload(i, 2))));
  });
  const rollbacks = new RollbackService({ client: appClient, config });
  const rollbackPhaseItems = ids.slice(0, Math.max(1, ITEMS / 4));
  await phase('rollback', rollbackPhaseItems.length, async () => {
    // The rollback service's own reads and its write to the latest table count as the app's side here.
    await mapLimit(
      rollbackPhaseItems,
      8,
      async (key) => void (await rollbacks.rollback({ key, toVersion: 1, reason: 'cost' })),
    );
  });
  await phase('delete', ITEMS, async () => {
    await mapLimit(
      ids,
      8,
      async (key, i) => void (await app.remove(key, i < rollbackPhaseItems.length ? 3 : 2)),
    );
  });
  await mapping.stop();

  // Backfill: items written before anything recorded them (a fresh stage, no stream mapping running).
  const pre = await ensureTables(appClient, { stage: 'costfill', keyAttributes: 'id' });
  const fillConfig = loadConfig({
    LATEST_TABLE_NAME: pre.latest,
    HISTORY_TABLE_NAME: pre.history,
    FAILURES_TABLE_NAME: pre.failures,
  });
  const preApp = new VersionedTable({
    client: appClient,
    tableName: pre.latest,
    keySchema: fillConfig.keySchema,
    attributes: fillConfig.attributes,
  });
  await mapLimit(ids, 8, async (key, i) => void (await preApp.create({ ...key, ...payload(i, 1) })));
  meters = { app: newMeter(), recorder: newMeter() };
  await backfill(writerClient, fillConfig, { segments: 4 });
  phases.push({ name: 'backfill', changes: ITEMS, ...meters });

  // The same items and changes through the patterns users would otherwise pick. The baselines return
  // the units DynamoDB reported for their own requests.
  // (On an unmetered client: the phases' meters are done.)
  const baselineTables = {
    transact: await plainTable(twinClient, 'cost-transact', true),
    dualLatest: await plainTable(twinClient, 'cost-dual-latest', false),
    dualHistory: await plainTable(twinClient, 'cost-dual-history', true),
  };
  const asAttributes = (i: number, v: number): AttributeMap => {
    const p = payload(i, v);
    return { status: { S: p.status }, total: { N: String(p.total) }, note: { S: p.note } };
  };
  const baselineOps: BaselineOp[] = ['create', 'update', 'delete'];
  const baselines: { operation: BaselineOp; transactWru: number; dualWriteWru: number }[] = [];
  for (const [previous, op] of baselineOps.entries()) {
    let transact = 0;
    let dual = 0;
    await mapLimit(ids, 8, async ({ id }, i) => {
      const data = asAttributes(i, previous + 1);
      const transactUnits = await transactVersioned(
        twinClient,
        baselineTables.transact,
        id,
        op,
        previous,
        data,
      );
      const dualUnits = await dualWrite(
        twinClient,
        baselineTables.dualLatest,
        baselineTables.dualHistory,
        id,
        op,
        previous,
        data,
      );
      transact += transactUnits;
      dual += dualUnits;
    });
    baselines.push({ operation: op, transactWru: transact / ITEMS, dualWriteWru: dual / ITEMS });
  }

  const sum = (m: Map<string, number>, pick: (table: string) => boolean) =>
    [...m].filter(([t]) => pick(t)).reduce((a, [, v]) => a + v, 0);
  const isHistory = (t: string) => t.endsWith('-history');
  const isLatest = (t: string) => t.endsWith('-latest');
  const round = (x: number) => Math.round(x * 1000) / 1000;
  const rows = phases.map((p) => ({
    operation: p.name,
    changes: p.changes,
    historyWru: round(sum(p.recorder.write, isHistory) / p.changes),
    historyRru: round(sum(p.recorder.read, isHistory) / p.changes),
    latestWru: round((sum(p.app.write, isLatest) + sum(p.recorder.write, isLatest)) / p.changes),
    latestRru: round((sum(p.app.read, isLatest) + sum(p.recorder.read, isLatest)) / p.changes),
    failuresWru: round(sum(p.recorder.write, (t) => t.endsWith('-failures')) / p.changes),
    recorderRequests: round(p.recorder.requests / p.changes),
  }));
  // us-east-1 on-demand prices (DynamoDB pricing page, since 2024-11-01): $0.625 per million write
  // request units, $0.125 per million read request units.
  const WRU = 0.625;
  const RRU = 0.125;
  const priced = rows.map((r) => ({
    ...r,
    historyUsdPerMillion: round(r.historyWru * WRU + r.historyRru * RRU),
  }));
  const result = {
    measuredAt: new Date().toISOString(),
    itemsPerPhase: ITEMS,
    itemBytes: 'about 250 bytes',
    rows: priced,
    baselines,
  };
  const out = join(ROOT, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'cost.json'), `${JSON.stringify(result, null, 2)}\n`);
  const bars: Bar[] = baselines.flatMap((b) => {
    const ours = priced.find((r) => r.operation === b.operation);
    if (!ours) throw new Error(`no ${b.operation} phase`);
    return [
      { label: `${b.operation}: no history (the app's write alone)`, value: ours.latestWru },
      { label: `${b.operation}: dynamo-history`, value: ours.latestWru + ours.historyWru },
      { label: `${b.operation}: (a) TransactWriteItems`, value: b.transactWru },
      { label: `${b.operation}: (b) dual write`, value: b.dualWriteWru },
    ];
  });
  writeFileSync(
    join(out, 'cost.svg'),
    barChart('Write units per change, all tables (ConsumedCapacity; lower is better)', 'WRU', bars),
  );
  process.stdout.write(
    [
      '| operation | history WRU | history RRU | latest WRU | latest RRU | writer requests | history $ per million (on-demand) |',
      '|---|---|---|---|---|---|---|',
      ...priced.map(
        (r) =>
          `| ${r.operation} | ${r.historyWru} | ${r.historyRru} | ${r.latestWru} | ${r.latestRru} | ${r.recorderRequests} | ${r.historyUsdPerMillion.toFixed(2)} |`,
      ),
      '',
      '| operation | dynamo-history, all tables | (a) TransactWriteItems versioning | (b) dual write |',
      '|---|---|---|---|',
      ...baselines.map((b) => {
        const ours = priced.find((r) => r.operation === b.operation);
        return `| ${b.operation} | ${round((ours?.latestWru ?? Number.NaN) + (ours?.historyWru ?? Number.NaN))} | ${round(b.transactWru)} | ${round(b.dualWriteWru)} |`;
      }),
      '',
    ].join('\n'),
  );
  streams.destroy();
  twinClient.destroy();
  await local.stop();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
