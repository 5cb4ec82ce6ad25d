/**
 * The memory writeHistory needs for its largest batch: 100 stream records whose new images are each
 * near DynamoDB's 400 KB item limit (25 items, 4 versions each, old images too), recorded against
 * DynamoDB Local. Run in a process of its own by `npm run bench` (P8), it prints one JSON line: the
 * peak resident set and heap, sampled every 5 ms, next to the function's configured 512 MB.
 * Usage: node --import tsx bench/memory.ts <DynamoDB endpoint>
 */

import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ensureTables } from '../local/tables';
import { preserveProtoAttributes } from '../shared/aws/sdk-proto-fix';
import { loadConfig } from '../shared/core/config';
import { HistoryWriter } from '../shared/recording/history-writer';
import { streamRecord } from '../tests/helpers/stream-records';

const IMAGE_BYTES = 390 * 1024;

/** Text that compresses the way real documents do (words, numbers), not random bytes. */
function document(seed: number): string {
  const words = ['order', 'status', 'paid', 'address', 'city', 'Oslo', 'Bergen', 'qty', 'sku', 'note'];
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < IMAGE_BYTES; i++) {
    const part = `${words[(i * 7 + seed) % words.length]}-${(i * 2654435761 + seed) % 100000} `;
    parts.push(part);
    size += part.length;
  }
  return parts.join('').slice(0, IMAGE_BYTES);
}

async function main(): Promise<void> {
  const endpoint = process.argv[2];
  if (!endpoint) throw new Error('usage: bench/memory.ts <endpoint>');
  const client = preserveProtoAttributes(
    new DynamoDBClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'm', secretAccessKey: 'm' },
    }),
  );
  const tables = await ensureTables(client, { stage: `mem${randomBytes(3).toString('hex')}` });
  const config = loadConfig({
    LATEST_TABLE_NAME: tables.latest,
    HISTORY_TABLE_NAME: tables.history,
    FAILURES_TABLE_NAME: tables.failures,
  });
  const writer = new HistoryWriter({ client, config });
  global.gc?.();
  const baseline = process.memoryUsage();
  // The event as Lambda hands it over: a JSON document, parsed.
  const records = Array.from({ length: 100 }, (_, i) => {
    const item = `big-${i % 25}`;
    const version = Math.floor(i / 25) + 1;
    const image = (v: number) => ({
      id: { S: item },
      version: { N: String(v) },
      body: { S: document(i + v) },
    });
    return streamRecord({
      op: version === 1 ? 'INSERT' : 'MODIFY',
      keys: { id: { S: item } },
      newImage: image(version),
      ...(version > 1 ? { oldImage: image(version - 1) } : {}),
    });
  });
  const event = JSON.parse(JSON.stringify({ Records: records })) as { Records: unknown[] };
  const eventBytes = Buffer.byteLength(JSON.stringify(event));
  let peakRss = 0;
  let peakHeap = 0;
  const sample = () => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  };
  const timer = setInterval(sample, 5);
  const started = performance.now();
  const { stats, batchItemFailures } = await writer.recordBatch(event.Records);
  const seconds = (performance.now() - started) / 1000;
  sample();
  clearInterval(timer);
  const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
  process.stdout.write(
    `${JSON.stringify({
      records: stats.received,
      recorded: stats.recorded,
      parked: stats.parked,
      retried: batchItemFailures.length,
      eventMb: mb(eventBytes),
      baselineRssMb: mb(baseline.rss),
      peakRssMb: mb(peakRss),
      peakHeapMb: mb(peakHeap),
      configuredMb: 512,
      seconds: Math.round(seconds * 100) / 100,
    })}\n`,
  );
  client.destroy();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
