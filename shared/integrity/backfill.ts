import { DescribeTableCommand, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { ServerClock } from '../aws/server-clock';
import { mapLimit, sleep } from '../core/concurrency';
import type { HistoryConfig } from '../core/config';
import { encodeItemKey, keyOf } from '../core/keys';
import type { AttributeMap, HistoryRecord } from '../core/types';
import { putChainStarts } from '../recording/history-put';
import { buildRecord, snapshotChange, toHistoryItem } from '../recording/history-record';

/** Where each scan segment stands; saved after every page so a restart resumes. */
export interface BackfillCheckpoint {
  table: string;
  segments: number;
  positions: Record<number, { lastKey?: AttributeMap; done?: boolean }>;
}

export interface BackfillProgress {
  scanned: number;
  written: number;
  skipped: number;
}

export interface BackfillOptions {
  segments?: number;
  /** Upper bound on history writes per second, across all segments. */
  maxWritesPerSecond?: number;
  checkpoint?: { load(): BackfillCheckpoint | undefined; save(checkpoint: BackfillCheckpoint): void };
  onProgress?: (progress: BackfillProgress) => void;
  /** Stop early (Ctrl-C): the checkpoint keeps what was done. */
  signal?: AbortSignal;
  /** When a snapshot was read; DynamoDB's own clock (from its responses) unless given. */
  clock?: () => Date;
  /** Items per Scan page (default 100). */
  pageSize?: number;
}

/** A shared token bucket: at most `rate` acquisitions per second. */
class RateLimiter {
  private next = 0;
  constructor(private readonly rate: number | undefined) {}
  async acquire(): Promise<void> {
    if (!this.rate) return;
    const now = Date.now();
    const at = Math.max(now, this.next);
    this.next = at + 1000 / this.rate;
    if (at > now) await sleep(at - now);
  }
}

/**
 * The history record of an item that existed before the stream did: its
 * current image, read at `atMs`, starting a new chain (see {@link buildRecord}). Pure.
 */
export function buildBackfillRecord(item: AttributeMap, config: HistoryConfig, atMs: number): HistoryRecord {
  const itemKey = encodeItemKey(keyOf(item, config.keySchema), config.keySchema);
  return buildRecord(snapshotChange('backfill', itemKey, item, undefined, atMs), undefined, config);
}

/** Items per Scan page: small enough that Ctrl-C and progress are seen within moments. */
const PAGE_LIMIT = 100;
/** Requests of chain starts (up to 25 each) in flight per scan segment. */
const STARTS_PER_SEGMENT = 4;
/** Items per batch of a page: the unit of stopping and of progress; four requests of 25 starts. */
const BATCH = 100;

/**
 * Records the current image of every item already in the latest table, for
 * tables that held data before their stream existed.
 *
 * Safe while live writes flow, by these rules:
 * - only items with no history at all are backfilled (any history means the
 *   stream already covers the item): the snapshot is written at the item's
 *   chain start slot, conditional on its absence, so a record the stream wrote
 *   first is never overwritten, the two never start two chains, and a second run
 *   adds nothing;
 * - `writeHistory` skips the stream changes made before the snapshot and records
 *   every one after it (see `coveredBySnapshot`): history starts at the snapshot.
 *
 * A checkpoint of a finished run is not resumed: a new run scans the table again
 * (recording only items that still have no history).
 */
export async function backfill(
  client: DynamoDBClient,
  config: HistoryConfig,
  options: BackfillOptions = {},
): Promise<BackfillProgress> {
  const segments = Math.max(1, Math.min(options.segments ?? 4, 64));
  const saved = options.checkpoint?.load();
  const resumable =
    saved !== undefined &&
    saved.table === config.latestTableName &&
    saved.segments === segments &&
    !Array.from({ length: segments }, (_, i) => saved.positions[i]?.done === true).every(Boolean);
  const checkpoint: BackfillCheckpoint = resumable
    ? saved
    : { table: config.latestTableName, segments, positions: {} };
  const limiter = new RateLimiter(options.maxWritesPerSecond);
  let clock: () => number;
  if (options.clock) {
    const given = options.clock;
    clock = () => given().getTime();
  } else {
    const server = new ServerClock().attach(client);
    // One cheap call so the first page is already dated by DynamoDB's clock.
    await client.send(new DescribeTableCommand({ TableName: config.latestTableName }));
    clock = () => server.lowerBoundMs();
  }
  const pageSize = Math.max(1, Math.min(options.pageSize ?? PAGE_LIMIT, 1000));
  const progress: BackfillProgress = { scanned: 0, written: 0, skipped: 0 };

  await mapLimit(
    Array.from({ length: segments }, (_, i) => i),
    segments,
    async (segment) => {
      const position = checkpoint.positions[segment] ?? {};
      if (position.done) return;
      let start = position.lastKey;
      do {
        if (options.signal?.aborted) return;
        // The snapshot's time is taken before the read, so a change the stream dates a full
        // time step earlier was certainly seen by this (strongly consistent) scan; and floored
        // to the stream's resolution, as the stream floors its own. See coveredBySnapshot.
        const step = config.streamTimeResolutionMs;
        const snapshotAt = Math.floor(clock() / step) * step;
        const page = await client.send(
          new ScanCommand({
            TableName: config.latestTableName,
            Segment: segment,
            TotalSegments: segments,
            ExclusiveStartKey: start,
            ConsistentRead: true,
            Limit: pageSize,
          }),
        );
        const items = page.Items ?? [];
        let stopped = false;
        // Every item is a chain start, written at its chain's start slot: an item that has any
        // history already holds that slot, so the put's condition both checks and writes. The items
        // of a page are independent, so they go 25 to a request (conditional INSERTs), a batch of
        // them between checks for Ctrl-C.
        for (let i = 0; i < items.length && !stopped; i += BATCH) {
          if (options.signal?.aborted) {
            stopped = true;
            break;
          }
          const batch = items.slice(i, i + BATCH);
          const records = batch.map((item) => toHistoryItem(buildBackfillRecord(item, config, snapshotAt)));
          for (const _ of batch) await limiter.acquire();
          progress.scanned += batch.length;
          for (const outcome of await putChainStarts(
            client,
            config.historyTableName,
            records,
            STARTS_PER_SEGMENT,
          )) {
            // Skipped: the stream, or an earlier backfill, started this item's chain first. (So is an
            // item whose put got through with its answer lost: the history is right, the count is not.)
            if (outcome.ok) progress.written++;
            else progress.skipped++;
          }
        }
        if (stopped) {
          // Resume at this page: the items of it already recorded are skipped next time (they have history).
          checkpoint.positions[segment] = start ? { lastKey: start } : {};
          options.checkpoint?.save(checkpoint);
          return;
        }
        start = page.LastEvaluatedKey;
        checkpoint.positions[segment] = start ? { lastKey: start } : { done: true };
        options.checkpoint?.save(checkpoint);
        options.onProgress?.({ ...progress });
      } while (start);
    },
  );
  return progress;
}
