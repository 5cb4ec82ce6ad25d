/**
 * `npm run bench`: dynamo-history against the patterns users would otherwise
 * pick, side by side on one DynamoDB Local (in memory, started here). Every
 * figure is a ratio taken within a round; we report the median of the rounds
 * (after a warm-up) with min and max. It is a benchmark, not a test.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import {
  BatchExecuteStatementCommand,
  BatchWriteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { freePort, startDynamoLocal } from '../local/dynamodb-local';
import { EventSourceMapping, type LambdaStreamEvent } from '../local/event-source-mapping';
import { inProcessInvoker } from '../local/invokers';
import { ensureTables } from '../local/tables';
import { mapLimit } from '../shared/core/concurrency';
import { type HistoryConfig, loadConfig, parseRetention } from '../shared/core/config';
import { encodeVersion } from '../shared/core/keys';
import type { AttributeMap } from '../shared/core/types';
import { backfill } from '../shared/integrity/backfill';
import { HistoryReader } from '../shared/reading/audit';
import { insertStatement } from '../shared/recording/history-put';
import { HistoryWriter } from '../shared/recording/history-writer';
import { VersionedTable } from '../shared/writing/versioned-table';
import { seedHistory } from '../tests/helpers/history';
import { streamRecord } from '../tests/helpers/stream-records';
import { dualWrite, plainTable, transactVersioned } from './baselines';
import { type Bar, barChart } from './svg';

const ROOT = resolve(__dirname, '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const OPS = Number(process.env.BENCH_OPS ?? 200);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
};
const summary = (xs: number[]) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
const log = (line: string) => process.stdout.write(`${line}\n`);

/** The same UpdateItem without its condition (and the values only the condition used): the unversioned write. */
function withoutCondition(input: UpdateItemCommandInput): UpdateItemCommandInput {
  const { ConditionExpression: _condition, ...rest } = input;
  const used = (name: string) => (rest.UpdateExpression ?? '').includes(name);
  const values = Object.fromEntries(
    Object.entries(rest.ExpressionAttributeValues ?? {}).filter(([k]) => used(k)),
  );
  const names = Object.fromEntries(
    Object.entries(rest.ExpressionAttributeNames ?? {}).filter(([k]) => used(k)),
  );
  return {
    ...rest,
    ...(Object.keys(values).length
      ? { ExpressionAttributeValues: values }
      : { ExpressionAttributeValues: undefined }),
    ...(Object.keys(names).length
      ? { ExpressionAttributeNames: names }
      : { ExpressionAttributeNames: undefined }),
  };
}

/** A client over the same endpoint that counts the requests sent through it. */
async function countRequests(
  client: DynamoDBClient,
): Promise<{ client: DynamoDBClient; requests: () => number }> {
  let n = 0;
  const endpoint = await client.config.endpoint?.();
  const counted = new DynamoDBClient({
    endpoint: endpoint ? `${endpoint.protocol}//${endpoint.hostname}:${endpoint.port}` : undefined,
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  counted.middlewareStack.add(
    (next) => async (args) => {
      n += 1;
      return next(args);
    },
    { step: 'initialize', name: 'countRequests' },
  );
  return { client: counted, requests: () => n };
}

async function timeEach(n: number, op: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await op(i);
    out.push(performance.now() - t);
  }
  return out;
}

const payload = (i: number): AttributeMap => ({
  payload: { S: `order ${i} `.repeat(20) },
  status: { S: i % 2 ? 'paid' : 'new' },
  total: { N: String(i * 3) },
});

async function main(): Promise<void> {
  const port = await freePort();
  const local = await startDynamoLocal({ port, inMemory: true });
  const client = new DynamoDBClient({
    endpoint: local.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  const streams = new DynamoDBStreamsClient({
    endpoint: local.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  const rounds: Record<string, number>[] = [];
  let lagSamples: number[] = [];
  const memoryRuns: Record<string, number>[] = [];
  try {
    for (let round = 0; round <= ROUNDS; round++) {
      const warmup = round === 0;
      log(`${warmup ? 'warm-up' : `round ${round}/${ROUNDS}`} ...`);
      const r = await runRound(client, streams);
      if (!warmup) {
        rounds.push(r.figures);
        lagSamples = lagSamples.concat(r.lag);
      }
    }
    // P8: writeHistory's memory for its largest batch, each run in a process of its own.
    for (let run = 0; run < 3; run++) memoryRuns.push(measureMemory(local.endpoint));
  } finally {
    client.destroy();
    streams.destroy();
    await local.stop();
  }

  const figure = (name: string) => summary(rounds.map((r) => r[name] as number));
  const bundles = measureBundles();
  const result = {
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version },
    method: `median of ${ROUNDS} rounds after a warm-up; ${OPS} sequential operations per latency figure; ratios taken within each round`,
    P1: {
      name: 'versioned update ÷ plain PutItem (latency)',
      target: '≤ 1.10',
      ratio: figure('p1'),
      // Attribution: both on a table without a stream; both on the stream-enabled latest table.
      ratioNoStream: figure('p1NoStream'),
      ratioSameStreamTable: figure('p1SameTable'),
      // The issue-13 figure: the same UpdateItem without the version condition, same table.
      sameOperation: figure('p1SameOperation'),
      sameOperationLatencyMs: {
        versioned: figure('lSameVersioned'),
        unversioned: figure('lSameUnversioned'),
      },
    },
    P2: {
      name: 'versioned update ÷ TransactWriteItems pattern (latency)',
      target: '≤ 0.60',
      ratio: figure('p2'),
      wcuPerUpdate: {
        ours: figure('wcuOurs'),
        oursWithHistory: figure('wcuOursTotal'),
        transact: figure('wcuTransact'),
        dualWrite: figure('wcuDual'),
      },
    },
    latencyMs: {
      plainPut: figure('lPut'),
      versionedUpdate: figure('lOurs'),
      transactPattern: figure('lTransact'),
      dualWrite: figure('lDual'),
      plainPutOnStreamTable: figure('lPutStream'),
      versionedUpdateWithoutStream: figure('lOursNoStream'),
    },
    P3: {
      name: 'writeHistory throughput ÷ raw BatchWriteItem ceiling',
      target: '≥ 0.80',
      ratio: figure('p3'),
      recordsPerSecond: figure('p3ours'),
      ceilingItemsPerSecond: figure('p3raw'),
      // The issue-13 figure: ÷ the hand-written recorder (an unconditional PutItem per record).
      handWritten: { ratio: figure('p3handRatio'), recordsPerSecond: figure('p3hand') },
      // What limits it: the same hand-written recorder into a table with both our indexes.
      handWrittenIndexed: { ratio: figure('p3handIndexedRatio'), recordsPerSecond: figure('p3handIndexed') },
      // The same hand-written recorder putting writeHistory's own records: the floor on this emulator.
      handWrittenOwnRecords: { ratio: figure('p3handOwnRatio'), recordsPerSecond: figure('p3handOwn') },
      requestsPerChange: figure('requestsPerChange'),
      requestsPerChangeOnePerBatch: figure('requestsPerChangeAcross'),
      // Not a target: what a retention policy costs the writer (one UpdateItem per version leaving the window).
      withRetention: { recordsPerSecond: figure('p3retention'), ratioToWithout: figure('p3retentionRatio') },
    },
    P4: {
      name: 'end-to-end lag, write → history readable (local mapping, 250 ms polling)',
      target: 'p50 ≤ 300 ms, p99 ≤ 1 s',
      p50: percentile(lagSamples, 50),
      p99: percentile(lagSamples, 99),
      samples: lagSamples.length,
    },
    P5: {
      name: 'asOf / getVersion latency, 10,000 versions ÷ 10 versions',
      target: '≤ 1.3',
      asOf: figure('p5asOf'),
      getVersion: figure('p5get'),
    },
    P6: {
      name: 'backfill throughput ÷ raw parallel Scan + BatchWriteItem ceiling',
      target: '≥ 0.70',
      ratio: figure('p6'),
      itemsPerSecond: figure('p6ours'),
      ceilingItemsPerSecond: figure('p6raw'),
      // What limits it: the same naive copy into a table with both our indexes.
      indexed: { ratio: figure('p6indexedRatio'), ceilingItemsPerSecond: figure('p6rawIndexed') },
      // Backfill's own records copied from memory: unconditionally, and as conditional INSERT batches.
      ownRecordsBatchWrite: { ratio: figure('p6ownBatchRatio'), itemsPerSecond: figure('p6ownBatch') },
      ownRecordsInsert: { ratio: figure('p6ownInsertRatio'), itemsPerSecond: figure('p6ownInsert') },
      ownRecordsConditionalPut: { ratio: figure('p6ownPutRatio'), itemsPerSecond: figure('p6ownPut') },
    },
    P8: {
      name: 'writeHistory memory, one batch of 100 records with images near 400 KB (new and old), of its 512 MB',
      target: 'within the configured 512 MB',
      peakRssMb: summary(memoryRuns.map((m) => m.peakRssMb as number)),
      peakHeapMb: summary(memoryRuns.map((m) => m.peakHeapMb as number)),
      baselineRssMb: summary(memoryRuns.map((m) => m.baselineRssMb as number)),
      eventMb: memoryRuns[0]?.eventMb,
      recorded: memoryRuns.map((m) => m.recorded),
    },
    P7: {
      name: 'bundle size (minified) and module init time',
      target: '≤ 300 KB, ≤ 100 ms',
      functions: bundles,
    },
  };
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(ROOT, 'bench', 'results', 'latest.md'), markdown(result));
  writeFileSync(
    join(ROOT, 'bench', 'results', 'latency.svg'),
    barChart('Write latency per update (median of rounds, whiskers min–max)', 'ms', [
      {
        label: 'plain PutItem (no history)',
        value: result.latencyMs.plainPut.median,
        min: result.latencyMs.plainPut.min,
        max: result.latencyMs.plainPut.max,
      },
      {
        label: 'dynamo-history update',
        value: result.latencyMs.versionedUpdate.median,
        min: result.latencyMs.versionedUpdate.min,
        max: result.latencyMs.versionedUpdate.max,
      },
      {
        label: '(a) TransactWriteItems',
        value: result.latencyMs.transactPattern.median,
        min: result.latencyMs.transactPattern.min,
        max: result.latencyMs.transactPattern.max,
      },
      {
        label: '(b) dual write',
        value: result.latencyMs.dualWrite.median,
        min: result.latencyMs.dualWrite.min,
        max: result.latencyMs.dualWrite.max,
      },
    ] satisfies Bar[]),
  );
  writeFileSync(
    join(ROOT, 'bench', 'results', 'lag.svg'),
    barChart('End-to-end lag: write → history readable', 'ms', [
      { label: 'p50', value: result.P4.p50 },
      { label: 'p90', value: percentile(lagSamples, 90) },
      { label: 'p99', value: result.P4.p99 },
      { label: 'max', value: Math.max(...lagSamples) },
    ]),
  );
  log(markdown(result));
}

interface RoundResult {
  figures: Record<string, number>;
  lag: number[];
}

async function freshConfig(client: DynamoDBClient, env: NodeJS.ProcessEnv = {}): Promise<HistoryConfig> {
  const stage = `b${randomUUID().slice(0, 6)}`;
  const t = await ensureTables(client, { stage, retention: parseRetention(env) !== undefined });
  return loadConfig({
    LATEST_TABLE_NAME: t.latest,
    HISTORY_TABLE_NAME: t.history,
    FAILURES_TABLE_NAME: t.failures,
    STREAM_TIME_RESOLUTION_SECONDS: '60',
    ...env,
  });
}

/** Every item of a table (a paged Scan). */
async function scanAll(client: DynamoDBClient, table: string): Promise<AttributeMap[]> {
  const items: AttributeMap[] = [];
  let start: AttributeMap | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

async function runRound(client: DynamoDBClient, streams: DynamoDBStreamsClient): Promise<RoundResult> {
  const f: Record<string, number> = {};
  const config = await freshConfig(client);
  const tag = randomUUID().slice(0, 6);

  // P1/P2: one item updated OPS times by each pattern, interleaved so drift hits all alike.
  const plain = await plainTable(client, `plain-${tag}`, false);
  const transact = await plainTable(client, `transact-${tag}`, true);
  const dualLatest = await plainTable(client, `dual-latest-${tag}`, false);
  const dualHistory = await plainTable(client, `dual-history-${tag}`, true);
  const ours = new VersionedTable({
    client,
    tableName: config.latestTableName,
    keySchema: config.keySchema,
    attributes: config.attributes,
  });
  await ours.create({ id: 'bench' });
  // Split measurements, to attribute the cost: the same plain put on the stream-enabled latest table,
  // and our exact update on a table without a stream.
  const noStream = new VersionedTable({
    client,
    tableName: plain,
    keySchema: config.keySchema,
    attributes: config.attributes,
  });
  await noStream.create({ id: 'bench-update' });
  const lPutStream: number[] = [];
  const lOursNoStream: number[] = [];
  const lPut: number[] = [];
  const lOurs: number[] = [];
  const lTransact: number[] = [];
  const lDual: number[] = [];
  const lSameUnversioned: number[] = [];
  // P1 on equal footing: the very UpdateItem our writer sends, without its version condition, on the same table.
  await ours.create({ id: 'bench-unversioned' });
  const wcu = { ours: 0, transact: 0, dual: 0 };
  for (let i = 0; i < OPS; i++) {
    const data = payload(i);
    let t = performance.now();
    await client.send(new PutItemCommand({ TableName: plain, Item: { id: { S: 'bench' }, ...data } }));
    lPut.push(performance.now() - t);
    t = performance.now();
    const out = await client.send(
      new UpdateItemCommand({
        ...ours.commands.update(
          { id: 'bench' },
          i + 1,
          { payload: data.payload?.S, status: data.status?.S, total: i * 3 },
          new Date(),
        ).input,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    lOurs.push(performance.now() - t);
    wcu.ours += out.ConsumedCapacity?.CapacityUnits ?? 0;
    t = performance.now();
    await client.send(
      new PutItemCommand({ TableName: config.latestTableName, Item: { id: { S: 'bench-put' }, ...data } }),
    );
    lPutStream.push(performance.now() - t);
    t = performance.now();
    await noStream.update({ id: 'bench-update' }, i + 1, {
      payload: data.payload?.S,
      status: data.status?.S,
      total: i * 3,
    });
    lOursNoStream.push(performance.now() - t);
    t = performance.now();
    wcu.transact += await transactVersioned(client, transact, 'bench', 'update', i, data);
    lTransact.push(performance.now() - t);
    t = performance.now();
    wcu.dual += await dualWrite(client, dualLatest, dualHistory, 'bench', 'update', i, data);
    lDual.push(performance.now() - t);
  }
  // P1 on equal footing, in a loop of its own: our UpdateItem and the very same UpdateItem without its
  // version condition, on the same table, one item each, taking turns at going first. (Measured inside
  // the loop above, after writes to other tables, whichever ran first after such a switch paid for it.)
  const lSameVersioned: number[] = [];
  await ours.create({ id: 'bench-versioned' });
  for (let i = 0; i < OPS; i++) {
    const data = payload(i);
    const changes = { payload: data.payload?.S, status: data.status?.S, total: i * 3 };
    const versioned = ours.commands.update({ id: 'bench-versioned' }, i + 1, changes, new Date()).input;
    const unversioned = withoutCondition(
      ours.commands.update({ id: 'bench-unversioned' }, i + 1, changes, new Date()).input,
    );
    const pair: [UpdateItemCommandInput, number[]][] = [
      [versioned, lSameVersioned],
      [unversioned, lSameUnversioned],
    ];
    for (const [input, into] of i % 2 === 0 ? pair : [...pair].reverse()) {
      const t0 = performance.now();
      await client.send(new UpdateItemCommand(input));
      into.push(performance.now() - t0);
    }
  }
  f.lSameVersioned = median(lSameVersioned);
  f.lPut = median(lPut);
  f.lOurs = median(lOurs);
  f.lTransact = median(lTransact);
  f.lDual = median(lDual);
  f.lPutStream = median(lPutStream);
  f.lOursNoStream = median(lOursNoStream);
  f.p1NoStream = f.lOursNoStream / f.lPut;
  f.p1SameTable = f.lOurs / f.lPutStream;
  f.p1 = f.lOurs / f.lPut;
  f.lSameUnversioned = median(lSameUnversioned);
  f.p1SameOperation = f.lSameVersioned / f.lSameUnversioned;
  f.p2 = f.lOurs / f.lTransact;
  f.wcuOurs = wcu.ours / OPS;
  f.wcuTransact = wcu.transact / OPS;
  f.wcuDual = wcu.dual / OPS;

  // P3: the real writer on synthetic batches vs raw BatchWriteItem of the same number of history-sized items.
  const counted = await countRequests(client);
  const writer = new HistoryWriter({ client: counted.client, config });
  const batches = Array.from({ length: 20 }, (_, b) =>
    Array.from({ length: 100 }, (_, i) => {
      const item = `p3-${b}-${i % 25}`;
      return streamRecord({
        keys: { id: { S: item } },
        newImage: { id: { S: item }, version: { N: String(Math.floor(i / 25) + 1) }, ...payload(i) },
      });
    }),
  );
  let t = performance.now();
  for (const batch of batches) await writer.recordBatch(batch);
  const oursSeconds = (performance.now() - t) / 1000;
  f.p3ours = 2000 / oursSeconds;
  // DynamoDB requests writeHistory makes per recorded change (every item gets 4 changes per batch).
  f.requestsPerChange = counted.requests() / 2000;
  // writeHistory's own records, for the floor below.
  const p3Records = await scanAll(client, config.historyTableName);
  // Items written repeatedly, one change of each per batch: every batch reads each item's head once.
  const across = await countRequests(client);
  const acrossWriter = new HistoryWriter({ client: across.client, config });
  for (let b = 0; b < 5; b++)
    await acrossWriter.recordBatch(
      Array.from({ length: 100 }, (_, i) =>
        streamRecord({
          op: 'MODIFY',
          keys: { id: { S: `p3-${Math.floor(i / 25)}-${i % 25}` } },
          newImage: { id: { S: `p3-${Math.floor(i / 25)}-${i % 25}` }, version: { N: String(5 + b) } },
        }),
      ),
    );
  f.requestsPerChangeAcross = across.requests() / 500;
  // Every item's first change an INSERT and its next three in the same batch (the P3 batches): the
  // chain is started without a read, so the item costs one request per change.
  // The same batches under a retention policy (keep 1 version): 3 of every item's 4 records leave the window.
  const retained = new HistoryWriter({
    client,
    config: await freshConfig(client, { HISTORY_KEEP_VERSIONS: '1' }),
  });
  t = performance.now();
  for (const batch of batches) await retained.recordBatch(batch);
  f.p3retention = 2000 / ((performance.now() - t) / 1000);
  f.p3retentionRatio = f.p3retention / f.p3ours;
  const rawTable = await plainTable(client, `raw-${tag}`, true);
  const rawItems = Array.from({ length: 2000 }, (_, i) => ({
    PutRequest: {
      Item: {
        pk: { S: `r${i}` },
        sk: { S: 'v0001' },
        image: { M: payload(i) },
        hash: { S: 'x'.repeat(64) },
        prevHash: { S: 'y'.repeat(64) },
      },
    },
  }));
  const chunks = Array.from({ length: 80 }, (_, c) => rawItems.slice(c * 25, c * 25 + 25));
  t = performance.now();
  await mapLimit(chunks, 16, async (chunk) => {
    await client.send(new BatchWriteItemCommand({ RequestItems: { [rawTable]: chunk } }));
  });
  f.p3raw = 2000 / ((performance.now() - t) / 1000);
  f.p3 = f.p3ours / f.p3raw;
  // The recorder people write by hand: an unconditional PutItem per record, the same records, 16 items at a time
  // and each item's records in order (as ours), no chain, no deduplication.
  const handTable = await plainTable(client, `hand-${tag}`, true);
  const byItem = new Map<string, { pk: string; v: number; i: number }[]>();
  for (let b = 0; b < 20; b++)
    for (let i = 0; i < 100; i++) {
      const pk = `h${b}-${i % 25}`;
      const list = byItem.get(pk) ?? [];
      list.push({ pk, v: Math.floor(i / 25) + 1, i });
      byItem.set(pk, list);
    }
  const handWritten = async (
    item: (r: { pk: string; v: number; i: number }) => AttributeMap,
    table: string,
  ) => {
    const t0 = performance.now();
    for (let b = 0; b < 20; b++) {
      const items = [...byItem.entries()].filter(([pk]) => pk.startsWith(`h${b}-`));
      await mapLimit(items, 16, async ([, records]) => {
        for (const r of records) await client.send(new PutItemCommand({ TableName: table, Item: item(r) }));
      });
    }
    return 2000 / ((performance.now() - t0) / 1000);
  };
  f.p3hand = await handWritten(
    (r) => ({
      pk: { S: r.pk },
      sk: { S: `v${String(r.v).padStart(4, '0')}` },
      image: { M: payload(r.i) },
    }),
    handTable,
  );
  // What the indexes cost it: the same recorder into a table shaped as ours (both indexes), each
  // record carrying the index keys, a hash and a link. Not a target; it says what limits P3.
  const indexed = await freshConfig(client);
  const handAt = new Date().toISOString();
  f.p3handIndexed = await handWritten(
    (r) => ({
      itemKey: { S: r.pk },
      version: { S: encodeVersion(r.v) },
      versionNumber: { N: String(r.v) },
      timeKey: { S: `${handAt}#${encodeVersion(r.v)}` },
      activityBucket: { S: `${handAt.slice(0, 10)}#${r.i % 8}` },
      activityKey: { S: `${handAt}#${r.pk}#${encodeVersion(r.v)}` },
      hash: { S: 'x'.repeat(64) },
      prevHash: { S: 'y'.repeat(64) },
      image: { M: payload(r.i) },
    }),
    indexed.historyTableName,
  );
  f.p3handIndexedRatio = f.p3ours / f.p3handIndexed;
  // The floor on this emulator: the same hand-written recorder putting writeHistory's own records,
  // byte for byte, into a table shaped as ours, batch by batch, 16 items at a time, each in order.
  const ownTable = (await freshConfig(client)).historyTableName;
  const ownItems = new Map<string, AttributeMap[]>();
  for (const r of p3Records) {
    const key = r.itemKey?.S ?? '';
    ownItems.set(key, [...(ownItems.get(key) ?? []), r]);
  }
  t = performance.now();
  for (let b = 0; b < 20; b++) {
    const items = [...ownItems.entries()].filter(([key]) => key.startsWith(`p3-${b}-`));
    await mapLimit(items, 16, async ([, records]) => {
      const ordered = [...records].sort((x, y) => Number(x.versionNumber?.N) - Number(y.versionNumber?.N));
      for (const Item of ordered) await client.send(new PutItemCommand({ TableName: ownTable, Item }));
    });
  }
  f.p3handOwn = p3Records.length / ((performance.now() - t) / 1000);
  f.p3handOwnRatio = f.p3ours / f.p3handOwn;
  f.p3handRatio = f.p3ours / f.p3hand;

  // WCU of the history record our design adds per update (measured on one real history item).
  // A record, not a chain marker: its byTime index entry is part of what it costs.
  const sample = (
    await client.send(
      new ScanCommand({
        TableName: config.historyTableName,
        Limit: 200,
        FilterExpression: 'attribute_exists(timeKey)',
      }),
    )
  ).Items?.[0];
  if (sample) {
    const out = await client.send(
      new PutItemCommand({
        TableName: config.historyTableName,
        Item: { ...sample, itemKey: { S: `wcu-${tag}` } },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    f.wcuOursTotal = f.wcuOurs + (out.ConsumedCapacity?.CapacityUnits ?? 0);
  }

  // P4: lag through the local event source mapping (AWS polls a shard about 4 times a second).
  const lagConfig = await freshConfig(client);
  const streamArn = (await client.send(new DescribeTableCommand({ TableName: lagConfig.latestTableName })))
    .Table?.LatestStreamArn as string;
  const lagWriter = new HistoryWriter({ client, config: lagConfig });
  const mapping = new EventSourceMapping({
    streams,
    streamArn,
    invoke: inProcessInvoker(async (event) => ({
      batchItemFailures: (await lagWriter.recordBatch((event as LambdaStreamEvent).Records))
        .batchItemFailures,
    })),
    pollIntervalMs: 250,
  });
  mapping.start();
  const lag: number[] = [];
  const lagTable = new VersionedTable({
    client,
    tableName: lagConfig.latestTableName,
    keySchema: lagConfig.keySchema,
    attributes: lagConfig.attributes,
  });
  await lagTable.create({ id: 'lag-warm' });
  await new Promise((r) => setTimeout(r, 1500));
  for (let i = 0; i < 40; i++) {
    const id = `lag-${i}`;
    const start = performance.now();
    await lagTable.create({ id });
    for (;;) {
      const page = await new HistoryReader({ client, config: lagConfig }).listVersions(id, { limit: 1 });
      if (page.items.length > 0) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    lag.push(performance.now() - start);
    await new Promise((r) => setTimeout(r, Math.random() * 100));
  }
  await mapping.stop();

  // P5: query cost against history depth.
  const reader = new HistoryReader({ client, config });
  const start = Date.parse('2026-01-01T00:00:00Z');
  await seedHistory(client, config, 'deep', 10_000, start);
  await seedHistory(client, config, 'shallow', 10, start);
  const at = (n: number) => new Date(start + (n - 1) * 1000 + 500).toISOString();
  const asOfDeep = median(await timeEach(100, (i) => reader.asOf('deep', at(1 + ((i * 97) % 10_000)))));
  const asOfShallow = median(await timeEach(100, (i) => reader.asOf('shallow', at(1 + (i % 10)))));
  const getDeep = median(await timeEach(100, (i) => reader.getVersion('deep', 1 + ((i * 97) % 10_000))));
  const getShallow = median(await timeEach(100, (i) => reader.getVersion('shallow', 1 + (i % 10))));
  f.p5asOf = asOfDeep / asOfShallow;
  f.p5get = getDeep / getShallow;

  // P6: backfill of 2,000 pre-existing items vs a raw parallel Scan + BatchWriteItem copy of them.
  const bfConfig = await freshConfig(client);
  const seedItems = Array.from({ length: 2000 }, (_, i) => ({
    PutRequest: { Item: { id: { S: `bf-${i}` }, version: { N: '2' }, ...payload(i) } },
  }));
  await mapLimit(
    Array.from({ length: 80 }, (_, c) => seedItems.slice(c * 25, c * 25 + 25)),
    8,
    async (chunk) => {
      await client.send(new BatchWriteItemCommand({ RequestItems: { [bfConfig.latestTableName]: chunk } }));
    },
  );
  t = performance.now();
  const done = await backfill(client, bfConfig, { segments: 4 });
  f.p6ours = done.written / ((performance.now() - t) / 1000);
  const copyTable = await plainTable(client, `copy-${tag}`, true);
  const naiveCopy = async (table: string, shape: (item: AttributeMap) => AttributeMap) => {
    const t0 = performance.now();
    await mapLimit([0, 1, 2, 3], 4, async (segment) => {
      let startKey: AttributeMap | undefined;
      do {
        const page = await client.send(
          new ScanCommand({
            TableName: bfConfig.latestTableName,
            Segment: segment,
            TotalSegments: 4,
            ExclusiveStartKey: startKey,
          }),
        );
        const puts = (page.Items ?? []).map((item) => ({ PutRequest: { Item: shape(item) } }));
        for (let i = 0; i < puts.length; i += 25) {
          await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: puts.slice(i, i + 25) } }));
        }
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    });
    return 2000 / ((performance.now() - t0) / 1000);
  };
  f.p6raw = await naiveCopy(copyTable, (item) => ({
    pk: { S: item.id?.S ?? '' },
    sk: { S: encodeVersion(2) },
    image: { M: item },
  }));
  // What limits it: the same copy into a table with both our indexes, each item carrying their keys.
  const copyIndexed = await freshConfig(client);
  const copyAt = new Date().toISOString();
  f.p6rawIndexed = await naiveCopy(copyIndexed.historyTableName, (item) => ({
    itemKey: { S: item.id?.S ?? '' },
    version: { S: encodeVersion(2) },
    versionNumber: { N: '2' },
    timeKey: { S: `${copyAt}#v0002` },
    activityBucket: { S: `${copyAt.slice(0, 10)}#${(item.id?.S ?? '').length % 8}` },
    activityKey: { S: `${copyAt}#${item.id?.S ?? ''}#v0002` },
    image: { M: item },
  }));
  f.p6indexedRatio = f.p6ours / f.p6rawIndexed;
  // The floors on this emulator: backfill's own records, byte for byte, copied from memory into a
  // table shaped as ours, 16 requests in flight (as backfill's 4 segments × 4): unconditionally with
  // BatchWriteItem (what the records' size and indexes cost), and as the conditional INSERTs an
  // exactly-once copy needs, 25 to a request (what DynamoDB Local's PartiQL adds).
  const bfRecords = await scanAll(client, bfConfig.historyTableName);
  const ownCopy = async (write: (table: string, chunk: AttributeMap[]) => Promise<unknown>) => {
    const table = (await freshConfig(client)).historyTableName;
    const chunks = Array.from({ length: Math.ceil(bfRecords.length / 25) }, (_, c) =>
      bfRecords.slice(c * 25, c * 25 + 25),
    );
    const t0 = performance.now();
    await mapLimit(chunks, 16, (chunk) => write(table, chunk));
    return bfRecords.length / ((performance.now() - t0) / 1000);
  };
  f.p6ownBatch = await ownCopy((table, chunk) =>
    client.send(
      new BatchWriteItemCommand({
        RequestItems: { [table]: chunk.map((Item) => ({ PutRequest: { Item } })) },
      }),
    ),
  );
  f.p6ownInsert = await ownCopy((table, chunk) =>
    client.send(
      new BatchExecuteStatementCommand({ Statements: chunk.map((item) => insertStatement(table, item)) }),
    ),
  );
  // And as single conditional PutItems, 16 in flight: whether the condition or PartiQL is the cost.
  f.p6ownPut = await ownCopy((table, chunk) =>
    mapLimit(chunk, 1, (Item) =>
      client.send(
        new PutItemCommand({
          TableName: table,
          Item,
          ConditionExpression: 'attribute_not_exists(version)',
        }),
      ),
    ),
  );
  f.p6ownPutRatio = f.p6ours / f.p6ownPut;
  f.p6ownBatchRatio = f.p6ours / f.p6ownBatch;
  f.p6ownInsertRatio = f.p6ours / f.p6ownInsert;
  f.p6 = f.p6ours / f.p6raw;
  return { figures: f, lag };
}

/** P7: each function's bundle as serverless.yml builds it, and the time to load it. */
/** bench/memory.ts in a process of its own (its peak is the batch's, not the benchmark's). */
function measureMemory(endpoint: string): Record<string, number> {
  const run = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/memory.ts', endpoint], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  if (run.status !== 0) throw new Error(`bench/memory.ts failed: ${run.stderr.slice(0, 500)}`);
  return JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, number>;
}

function measureBundles(): {
  name: string;
  bytes: number;
  initMs: { median: number; min: number; max: number };
}[] {
  const out = join(ROOT, '.cache', 'bench-bundles');
  mkdirSync(out, { recursive: true });
  const handlers = {
    writeHistory: 'functions/writeHistory.ts',
    rollback: 'functions/rollback.ts',
    audit: 'functions/audit.ts',
  };
  return Object.entries(handlers).map(([name, entry]) => {
    const file = join(out, `${name}.js`);
    execFileSync(
      join(ROOT, 'node_modules', '.bin', 'esbuild'),
      [
        entry,
        '--bundle',
        '--minify',
        '--keep-names',
        '--platform=node',
        '--target=node22',
        '--format=cjs',
        '--external:@aws-sdk/*',
        `--outfile=${file}`,
      ],
      { cwd: ROOT, stdio: 'ignore' },
    );
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      const probe = spawnSync(
        process.execPath,
        [
          '-e',
          `const t=process.hrtime.bigint();require(${JSON.stringify(file)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`,
        ],
        {
          cwd: ROOT,
          env: {
            ...process.env,
            AWS_REGION: 'us-east-1',
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
            LATEST_STREAM_ARN:
              'arn:aws:dynamodb:us-east-1:123456789012:table/bench/stream/2026-01-01T00:00:00.000',
            // The handlers refuse to start without their label key (README, "Threat model").
            LABEL_SECRET: '00'.repeat(32),
          },
          encoding: 'utf8',
        },
      );
      // A handler that fails at load would otherwise be timed as 0 ms.
      if (probe.status !== 0) throw new Error(`${name} failed to load: ${probe.stderr.slice(0, 500)}`);
      times.push(Number(probe.stdout));
    }
    return { name, bytes: statSync(file).size, initMs: summary(times.slice(2)) };
  });
}

type Result = Record<string, unknown> & {
  date: string;
  machine: { cpu: string; cores: number; node: string };
  method: string;
};

function markdown(r: Result): string {
  const s = (x: unknown, d = 2) => {
    const v = x as { median: number; min: number; max: number };
    return `${v.median.toFixed(d)} (${v.min.toFixed(d)}–${v.max.toFixed(d)})`;
  };
  const get = (k: string) => r[k] as Record<string, never>;
  const p2 = get('P2') as unknown as { ratio: never; wcuPerUpdate: Record<string, never> };
  const p3 = get('P3') as unknown as {
    ratio: never;
    recordsPerSecond: never;
    ceilingItemsPerSecond: never;
    withRetention: { recordsPerSecond: never; ratioToWithout: never };
    handWritten: { ratio: never; recordsPerSecond: never };
    handWrittenIndexed: { ratio: never; recordsPerSecond: never };
    handWrittenOwnRecords: { ratio: never; recordsPerSecond: never };
    requestsPerChange: never;
    requestsPerChangeOnePerBatch: never;
  };
  const p4 = get('P4') as unknown as { p50: number; p99: number; samples: number };
  const p5 = get('P5') as unknown as { asOf: never; getVersion: never };
  const p6 = get('P6') as unknown as {
    ratio: never;
    itemsPerSecond: never;
    ceilingItemsPerSecond: never;
    indexed: { ratio: never; ceilingItemsPerSecond: never };
    ownRecordsBatchWrite: { ratio: never; itemsPerSecond: never };
    ownRecordsInsert: { ratio: never; itemsPerSecond: never };
    ownRecordsConditionalPut: { ratio: never; itemsPerSecond: never };
  };
  const p7 = get('P7') as unknown as { functions: { name: string; bytes: number; initMs: never }[] };
  const p8 = get('P8') as unknown as {
    peakRssMb: never;
    peakHeapMb: never;
    baselineRssMb: never;
    eventMb: number;
  };
  const lat = get('latencyMs') as unknown as Record<string, never>;
  return `| figure | target | measured: median (min–max) |
|---|---|---|
| P1 versioned update ÷ plain PutItem | ≤ 1.10 | ${s(get('P1').ratio)} |
| P1 split: both without a stream / both on the stream-enabled table | | ${s((get('P1') as unknown as Record<string, never>).ratioNoStream)} / ${s((get('P1') as unknown as Record<string, never>).ratioSameStreamTable)} |
| P1 versioned update ÷ the same UpdateItem without its version condition, same table | ≤ 1.10 | ${s((get('P1') as unknown as Record<string, never>).sameOperation)} |
| P2 versioned update ÷ TransactWriteItems pattern | ≤ 0.60 | ${s(p2.ratio)} |
| P2 WCU per update: ours (latest only) / ours + history record / (a) transact / (b) dual write | lower is better | ${s(p2.wcuPerUpdate.ours, 1)} / ${s(p2.wcuPerUpdate.oursWithHistory, 1)} / ${s(p2.wcuPerUpdate.transact, 1)} / ${s(p2.wcuPerUpdate.dualWrite, 1)} |
| latency ms: plain put / ours / (a) / (b) | | ${s(lat.plainPut)} / ${s(lat.versionedUpdate)} / ${s(lat.transactPattern)} / ${s(lat.dualWrite)} |
| latency ms: plain put on the stream table / ours without a stream | | ${s(lat.plainPutOnStreamTable)} / ${s(lat.versionedUpdateWithoutStream)} |
| P3 writeHistory throughput ÷ raw BatchWriteItem | ≥ 0.80 | ${s(p3.ratio)} (${s(p3.recordsPerSecond, 0)} vs ${s(p3.ceilingItemsPerSecond, 0)} items/s) |
| P3 writeHistory ÷ hand-written recorder (unconditional PutItem per record) | ≥ 0.9 | ${s(p3.handWritten.ratio)} (${s(p3.handWritten.recordsPerSecond, 0)} records/s by hand) |
| P3 writeHistory ÷ the same hand-written recorder into a table with both our indexes | (what limits it) | ${s(p3.handWrittenIndexed.ratio)} (${s(p3.handWrittenIndexed.recordsPerSecond, 0)} records/s by hand) |
| P3 writeHistory ÷ the hand-written recorder putting writeHistory's own records (same items, same table shape) | (what limits it) | ${s(p3.handWrittenOwnRecords.ratio)} (${s(p3.handWrittenOwnRecords.recordsPerSecond, 0)} records/s by hand) |
| DynamoDB requests per recorded change in writeHistory (each item created, then 3 more changes, in one batch) | ≤ 1.1 | ${s(p3.requestsPerChange)} |
| DynamoDB requests per recorded change, items written repeatedly, one change per item per batch | ≤ 1.1 | ${s(p3.requestsPerChangeOnePerBatch)} |
| writeHistory with retention (keep 1) ÷ without | (cost, no target) | ${s(p3.withRetention.ratioToWithout)} (${s(p3.withRetention.recordsPerSecond, 0)} records/s) |
| P4 lag write → history readable | p50 ≤ 300 ms, p99 ≤ 1 s | p50 ${p4.p50.toFixed(0)} ms, p99 ${p4.p99.toFixed(0)} ms (${p4.samples} samples) |
| P5 asOf, 10,000 ÷ 10 versions | ≤ 1.3 | ${s(p5.asOf)} |
| P5 getVersion, 10,000 ÷ 10 versions | ≤ 1.3 | ${s(p5.getVersion)} |
| P6 backfill ÷ raw Scan + BatchWriteItem | ≥ 0.70 | ${s(p6.ratio)} (${s(p6.itemsPerSecond, 0)} vs ${s(p6.ceilingItemsPerSecond, 0)} items/s) |
| P6 backfill ÷ the same copy into a table with both our indexes | (what limits it) | ${s(p6.indexed.ratio)} (${s(p6.indexed.ceilingItemsPerSecond, 0)} items/s) |
| P6 backfill ÷ backfill's own records copied from memory with BatchWriteItem (unconditional) | (what limits it) | ${s(p6.ownRecordsBatchWrite.ratio)} (${s(p6.ownRecordsBatchWrite.itemsPerSecond, 0)} items/s) |
| P6 backfill ÷ the same records copied as conditional INSERT batches (what exactly-once needs) | (what limits it) | ${s(p6.ownRecordsInsert.ratio)} (${s(p6.ownRecordsInsert.itemsPerSecond, 0)} items/s) |
| P6 backfill ÷ the same records copied as single conditional PutItems (16 in flight) | (what limits it) | ${s(p6.ownRecordsConditionalPut.ratio)} (${s(p6.ownRecordsConditionalPut.itemsPerSecond, 0)} items/s) |
${p7.functions.map((fn) => `| P7 ${fn.name}: bundle, init | ≤ 300 KB, ≤ 100 ms | ${(fn.bytes / 1024).toFixed(1)} KB, ${s(fn.initMs, 1)} ms |`).join('\n')}
| P8 writeHistory memory: peak RSS (heap) for 100 records of ${String(p8.eventMb)} MB in all, of 512 MB | within 512 MB | ${s(p8.peakRssMb, 0)} MB (${s(p8.peakHeapMb, 0)} MB heap; ${s(p8.baselineRssMb, 0)} MB before the batch) |

${r.method}. Machine: ${r.machine.cpu}, ${r.machine.cores} cores, Node.js ${r.machine.node}; ${r.date}.
`;
}

void main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
