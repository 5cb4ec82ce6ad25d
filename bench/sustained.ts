/**
 * `npm run bench:sustained`: a sustained load through the local pipeline. Changes are offered at
 * SUSTAINED_RATE per second (default 1,000, DynamoDB's per-partition write limit) for SUSTAINED_SECONDS
 * (default 60), open loop (the schedule does not wait for slow writes), as plain PutItems of existing
 * apps on 200 items. The project's event source mapping reads the real stream and writeHistory records
 * it in process. For every change, lag = when its history record was written − when the app wrote it
 * (an attribute of the item, in milliseconds). Reported per 10-second window of the writes: the rate
 * achieved, lag p50/p99, how many were recorded, and the CPU that DynamoDB Local and this process
 * (the load, the mapping and writeHistory) used, as a share of one core, to show what limits the run on
 * a small machine. Results: bench/results/sustained.json and sustained.svg at the default rate,
 * sustained-<rate>.json and .svg at another. SUSTAINED_RECORD=0 offers the same load with nothing
 * recording it (no mapping), to measure what the app's writes alone cost DynamoDB Local
 * (sustained-<rate>-app-only.json).
 */

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { DescribeTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { freePort, startDynamoLocal } from '../local/dynamodb-local';
import {
  EventSourceMapping,
  type LambdaStreamEvent,
  MemoryCheckpointStore,
} from '../local/event-source-mapping';
import { inProcessInvoker } from '../local/invokers';
import { ensureTables } from '../local/tables';
import mapping from '../resources/stream-mapping.json';
import { preserveProtoAttributes } from '../shared/aws/sdk-proto-fix';
import { loadConfig } from '../shared/core/config';
import { HistoryWriter } from '../shared/recording/history-writer';
import { lineChart } from './svg';

const ROOT = resolve(__dirname, '..');
const RATE = Number(process.env.SUSTAINED_RATE ?? 1000);
const SECONDS = Number(process.env.SUSTAINED_SECONDS ?? 60);
const ITEMS = 200;
const WINDOW_S = 10;
const RECORD = process.env.SUSTAINED_RECORD !== '0';
const NAME = `sustained${RATE === 1000 ? '' : `-${RATE}`}${RECORD ? '' : '-app-only'}`;

/** CPU seconds a process has used so far, from /proc (Linux); NaN elsewhere. */
function processCpuSeconds(pid: number | undefined): number {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticks;
  } catch {
    return Number.NaN;
  }
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number) : Number.NaN;
};

async function main(): Promise<void> {
  const port = await freePort();
  const local = await startDynamoLocal({ port, inMemory: true });
  const clientConfig = {
    endpoint: local.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'load', secretAccessKey: 'load' },
    maxAttempts: 10,
  };
  const client = preserveProtoAttributes(new DynamoDBClient(clientConfig));
  const streams = preserveProtoAttributes(new DynamoDBStreamsClient(clientConfig));
  const tables = await ensureTables(client, { stage: 'load' });
  const config = loadConfig({
    LATEST_TABLE_NAME: tables.latest,
    HISTORY_TABLE_NAME: tables.history,
    FAILURES_TABLE_NAME: tables.failures,
  });
  const writer = new HistoryWriter({ client, config });
  const streamArn = (await client.send(new DescribeTableCommand({ TableName: tables.latest }))).Table
    ?.LatestStreamArn as string;

  const written = new Map<string, number>(); // change id → app write time (ms)
  const recordedAt = new Map<string, number>(); // change id → history written (ms)
  const esm = new EventSourceMapping({
    streams,
    streamArn,
    ...mapping,
    invoke: inProcessInvoker(async (event) => {
      const records = (event as LambdaStreamEvent).Records;
      const { batchItemFailures } = await writer.recordBatch(records);
      const failed = new Set(batchItemFailures.map((f) => f.itemIdentifier));
      const now = Date.now();
      for (const r of records) {
        const change = (r.dynamodb as { NewImage?: { change?: { S?: string } } }).NewImage?.change?.S;
        if (change && !failed.has(r.dynamodb.SequenceNumber as string)) recordedAt.set(change, now);
      }
      return { batchItemFailures };
    }),
    checkpoint: new MemoryCheckpointStore(),
    emulatorDatingStepSeconds: 60,
  });
  if (RECORD) esm.start();

  // Warm up: the mapping has found its shard and recorded a change before the clock starts.
  await client.send(
    new PutItemCommand({
      TableName: tables.latest,
      Item: { id: { S: 'warm-up' }, change: { S: 'warm-up' } },
    }),
  );
  while (RECORD && !recordedAt.has('warm-up')) await new Promise((r) => setTimeout(r, 50));
  recordedAt.delete('warm-up');

  const total = RATE * SECONDS;
  const started = Date.now();
  // CPU used in each second since the start, by DynamoDB Local and by this process, in core-seconds.
  const cpu: { at: number; local: number; bench: number }[] = [];
  let lastLocal = processCpuSeconds(local.process.pid);
  let lastBench = process.cpuUsage();
  const sampler = setInterval(() => {
    const nowLocal = processCpuSeconds(local.process.pid);
    const nowBench = process.cpuUsage();
    cpu.push({
      at: (Date.now() - started) / 1000,
      local: nowLocal - lastLocal,
      bench: (nowBench.user - lastBench.user + nowBench.system - lastBench.system) / 1e6,
    });
    lastLocal = nowLocal;
    lastBench = nowBench;
  }, 1000);
  const inFlight = new Set<Promise<void>>();
  let writeErrors = 0;
  process.stdout.write(
    `offering ${RATE} changes/s for ${SECONDS} s (${total} changes on ${ITEMS} items) ...\n`,
  );
  for (let n = 0; n < total; n++) {
    const due = started + (n * 1000) / RATE;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const change = `c${n}`;
    const put = (async () => {
      try {
        await client.send(
          new PutItemCommand({
            TableName: tables.latest,
            Item: {
              id: { S: `item-${n % ITEMS}` },
              change: { S: change },
              status: { S: n % 2 ? 'paid' : 'new' },
              total: { N: String(n) },
            },
          }),
        );
        // The change exists once DynamoDB has acknowledged it: lag counts from there.
        written.set(change, Date.now());
      } catch {
        writeErrors += 1;
      }
    })();
    inFlight.add(put);
    put.finally(() => inFlight.delete(put));
  }
  await Promise.all(inFlight);
  const offeredSeconds = (Date.now() - started) / 1000;
  // Let the writer drain (or show that it cannot), up to 120 s more.
  const drainStart = Date.now();
  while (RECORD && recordedAt.size < written.size && Date.now() - drainStart < 120_000)
    await new Promise((r) => setTimeout(r, 250));
  clearInterval(sampler);
  if (RECORD) await esm.stop();

  const windows: {
    fromS: number;
    writesPerS: number;
    recorded: number;
    written: number;
    p50: number;
    p99: number;
    /** Mean CPU over the window's seconds, as a share of one core (the machine has os.availableParallelism()). */
    dynamodbLocalCpu: number;
    benchCpu: number;
  }[] = [];
  const meanCpu = (from: number, pick: (s: { local: number; bench: number }) => number) => {
    const inWindow = cpu.filter((s) => s.at > from && s.at <= from + WINDOW_S);
    return inWindow.length
      ? Math.round((100 * inWindow.reduce((a, s) => a + pick(s), 0)) / inWindow.length) / 100
      : Number.NaN;
  };
  for (let w = 0; w * WINDOW_S < offeredSeconds; w++) {
    const lags: number[] = [];
    let count = 0;
    for (const [change, at] of written) {
      const second = (at - started) / 1000;
      if (second < w * WINDOW_S || second >= (w + 1) * WINDOW_S) continue;
      count += 1;
      const done = recordedAt.get(change);
      if (done !== undefined) lags.push(done - at);
    }
    windows.push({
      fromS: w * WINDOW_S,
      writesPerS: Math.round(count / WINDOW_S),
      written: count,
      recorded: lags.length,
      p50: percentile(lags, 50),
      p99: percentile(lags, 99),
      dynamodbLocalCpu: meanCpu(w * WINDOW_S, (s) => s.local),
      benchCpu: meanCpu(w * WINDOW_S, (s) => s.bench),
    });
  }
  const result = {
    measuredAt: new Date().toISOString(),
    offeredRatePerS: RATE,
    recording: RECORD,
    cores: availableParallelism(),
    batchSize: mapping.batchSize,
    seconds: SECONDS,
    offeredSeconds: Math.round(offeredSeconds * 10) / 10,
    written: written.size,
    writeErrors,
    recorded: recordedAt.size,
    drainedAfterS: RECORD ? Math.round((Date.now() - drainStart) / 100) / 10 : Number.NaN,
    windows,
  };
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', `${NAME}.json`), `${JSON.stringify(result, null, 2)}\n`);
  if (RECORD)
    writeFileSync(
      join(ROOT, 'bench', 'results', `${NAME}.svg`),
      lineChart(
        `Lag over time at ${RATE} changes/s offered (local stack), per ${WINDOW_S} s window`,
        'ms',
        windows.map((w) => `${w.fromS}s`),
        [
          { label: 'p50', values: windows.map((w) => w.p50) },
          { label: 'p99', values: windows.map((w) => w.p99) },
        ],
      ),
    );
  process.stdout.write(
    [
      `written ${result.written} (errors ${writeErrors}) in ${result.offeredSeconds} s; recorded ${result.recorded}; drained ${result.drainedAfterS} s after the last write; batch size ${mapping.batchSize}; ${result.cores} cores`,
      '| window | writes/s | recorded | lag p50 ms | lag p99 ms | CPU, DynamoDB Local (cores) | CPU, this process (cores) |',
      '|---|---|---|---|---|---|---|',
      ...windows.map(
        (w) =>
          `| ${w.fromS}–${w.fromS + WINDOW_S} s | ${w.writesPerS} | ${w.recorded}/${w.written} | ${w.p50} | ${w.p99} | ${w.dynamodbLocalCpu} | ${w.benchCpu} |`,
      ),
      '',
    ].join('\n'),
  );
  client.destroy();
  streams.destroy();
  await local.stop();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
