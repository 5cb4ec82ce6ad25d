import { type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { mapLimit, sleep } from './concurrency';
import type { HistoryConfig } from './config';
import { GENESIS_HASH } from './constants';
import { putHistoryItem } from './history-put';
import { BACKFILL_ASSIGNED_VERSION, sealRecord, timeKeyOf, toHistoryItem } from './history-record';
import { encodeItemKey, encodeVersion, keyOf } from './keys';
import type { AttributeMap, HistoryRecord } from './types';

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
  clock?: () => Date;
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
 * current image, at its own version (or 1), starting a new chain. Pure.
 */
export function buildBackfillRecord(
  item: AttributeMap,
  config: HistoryConfig,
  recordedAt: string,
): HistoryRecord {
  const itemKey = encodeItemKey(keyOf(item, config.keySchema), config.keySchema);
  const own = Number(item[config.attributes.version]?.N);
  const versionNumber = Number.isSafeInteger(own) && own > 0 ? own : 1;
  const { [config.attributes.context]: _context, ...image } = item;
  const record: Omit<HistoryRecord, 'hash'> = {
    itemKey,
    version: encodeVersion(versionNumber),
    versionNumber,
    timeKey: timeKeyOf(recordedAt, versionNumber),
    op: 'INSERT',
    source: 'backfill',
    recordedAt,
    image,
    changed: [],
    eventId: Number.isSafeInteger(own) && own > 0 ? `backfill:v${versionNumber}` : BACKFILL_ASSIGNED_VERSION,
    prevHash: GENESIS_HASH,
  };
  const actor = item[config.actorAttribute]?.S;
  if (actor !== undefined) record.actor = actor;
  return sealRecord(record, config);
}

/**
 * Records the current image of every item already in the latest table, for
 * tables that held data before their stream existed.
 *
 * Safe while live writes flow, by these rules:
 * - only items with no history at all are backfilled (any history means the
 *   stream already covers the item): the snapshot is written with the item's
 *   chain marker, in one transaction conditional on the marker's absence, so a
 *   record the stream wrote first is never overwritten, the two never start two
 *   chains, and a second run adds nothing;
 * - `writeHistory` skips stream changes the snapshot already covers (see
 *   `coveredByBackfill`), so a change in flight during the scan is not recorded twice.
 */
export async function backfill(
  client: DynamoDBClient,
  config: HistoryConfig,
  options: BackfillOptions = {},
): Promise<BackfillProgress> {
  const segments = Math.max(1, Math.min(options.segments ?? 4, 64));
  const saved = options.checkpoint?.load();
  const checkpoint: BackfillCheckpoint =
    saved && saved.table === config.latestTableName && saved.segments === segments
      ? saved
      : { table: config.latestTableName, segments, positions: {} };
  const limiter = new RateLimiter(options.maxWritesPerSecond);
  const clock = options.clock ?? (() => new Date());
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
        // to the stream's resolution, so history never runs backwards. See coveredByBackfill.
        const step = config.streamTimeResolutionMs;
        const snapshotAt = new Date(Math.floor(clock().getTime() / step) * step).toISOString();
        const page = await client.send(
          new ScanCommand({
            TableName: config.latestTableName,
            Segment: segment,
            TotalSegments: segments,
            ExclusiveStartKey: start,
            ConsistentRead: true,
          }),
        );
        for (const item of page.Items ?? []) {
          progress.scanned++;
          const record = buildBackfillRecord(item, config, snapshotAt);
          await limiter.acquire();
          // Always a chain start, written with the chain marker: an item that has any history already
          // has a marker, so this one conditional transaction both checks and writes.
          const outcome = await putHistoryItem(client, config.historyTableName, toHistoryItem(record), true);
          if (outcome.ok) progress.written++;
          else progress.skipped++; // the stream started this item's chain first
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
