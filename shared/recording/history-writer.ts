import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import { awsErrorName, isAwsValidation } from '../aws/aws-errors';
import { mapLimit } from '../core/concurrency';
import type { HistoryConfig } from '../core/config';
import { GENESIS_HASH } from '../core/constants';
import {
  type HistoryError,
  HistoryFullError,
  IntegrityError,
  isPermanent,
  MalformedRecordError,
} from '../core/errors';
import type { Logger } from '../core/logger';
import { silentLogger } from '../core/logger';
import { parkFailure } from './failures';
import { isRecordItem, itemPartition, type PutOutcome, putHistoryItem } from './history-put';
import {
  buildHistoryRecord,
  type ChainHead,
  coveredBySnapshot,
  fromHistoryItem,
  headOf,
  toHistoryItem,
} from './history-record';
import { applyExits, windowExits } from './retention';
import { claimedLabel, type LabelVerdict, verifyLabel } from './rollback-label';
import { checkOrigin, type StreamTrust } from './stream-origin';
import {
  compareSequenceNumbers,
  parseStreamRecord,
  rawSequenceNumber,
  type StreamChange,
} from './stream-record';

export interface BatchItemFailure {
  itemIdentifier: string;
}

export interface BatchStats {
  received: number;
  recorded: number;
  duplicates: number;
  parked: number;
  retried: number;
  /** Versions that left the retention window and got their TTL. */
  expiring: number;
}

export interface BatchResult {
  batchItemFailures: BatchItemFailure[];
  stats: BatchStats;
}

/** A record of the batch: as received (kept whole for parking) and as parsed. */
interface Pending {
  raw: unknown;
  change: StreamChange;
}

export interface HistoryWriterOptions {
  client: DynamoDBClient;
  config: HistoryConfig;
  logger?: Logger;
  /** Items processed in parallel; records of one item are always sequential. */
  concurrency?: number;
  clock?: () => Date;
  /**
   * The stream this writer records. When given (the Lambda handler always gives it),
   * a record from any other source, or dated outside what the stream holds, is
   * parked instead of recorded (see {@link checkOrigin}).
   */
  trust?: StreamTrust;
}

/** The newest records of an item's history, newest first, checked against their hashes. */
export interface RecentHistory {
  head: ChainHead | undefined;
  /** eventIds of the records read: a stream record whose eventId is here is already recorded. */
  eventIds: Set<string>;
  /** The highest stream sequence number among the records read. */
  maxSequence: string | undefined;
}

/**
 * Reads the newest `window` history records of an item (one Query) and checks
 * each against its hash. The head is what the next record chains onto; the
 * eventIds tell redelivered records. A redelivery replays a contiguous run of the
 * shard, so the records of an item it repeats are among its newest ones: as many
 * as the batch holds for the item, plus any backfill or repair records written
 * in between, which the margin covers.
 * @throws IntegrityError when a record read was edited: chaining onto it, or
 *   trusting its eventId, would hide the edit or drop real changes as duplicates.
 */
export async function readRecentHistory(
  client: DynamoDBClient,
  historyTable: string,
  itemKey: string,
  window = 1,
): Promise<RecentHistory> {
  const out = await client.send(
    new QueryCommand({
      ...itemPartition(historyTable, itemKey),
      ScanIndexForward: false,
      Limit: Math.min(window, MAX_WINDOW),
    }),
  );
  const records = (out.Items ?? []).filter(isRecordItem).map(fromHistoryItem);
  for (const r of records) {
    if (r.contentHash !== r.hash) {
      throw new IntegrityError(`history record ${r.version} of ${itemKey} does not match its hash (edited)`, {
        itemKey,
        version: r.versionNumber,
      });
    }
  }
  const eventIds = new Set(records.flatMap((r) => (r.eventId === undefined ? [] : [r.eventId])));
  const newest = records[0];
  let maxSequence: string | undefined;
  for (const r of records) maxSequence = maxSequenceOf(maxSequence, r.sequenceNumber);
  return { head: newest && headOf(newest), eventIds, maxSequence };
}

function maxSequenceOf(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareSequenceNumbers(a, b) >= 0 ? a : b;
}

/**
 * Looks through an item's whole history for one stream event (eventId, a
 * globally unique id per stream record). Also says whether retention has
 * removed the chain's start, in which case an event may be gone with it, and
 * which snapshot (backfill or repair) is the newest in the chain: a change it
 * covered was skipped, not recorded, so only the snapshot can recognise it.
 */
export async function findEvent(
  client: DynamoDBClient,
  historyTable: string,
  itemKey: string,
  eventId: string,
): Promise<{ found: boolean; truncated: boolean; snapshot: ChainHead | undefined }> {
  let start: Record<string, AttributeValue> | undefined;
  let oldestPrevHash: string | undefined;
  let found = false;
  let snapshotVersion: string | undefined;
  do {
    const out = await client.send(
      new QueryCommand({
        ...itemPartition(historyTable, itemKey, {
          '#v': 'version',
          '#e': 'eventId',
          '#p': 'prevHash',
          '#s': 'source',
          '#h': 'hash',
        }),
        // The hash only tells a record at the start slot from a bare chain marker there.
        ProjectionExpression: '#v, #e, #p, #s, #h',
        ExclusiveStartKey: start,
      }),
    );
    for (const item of out.Items ?? []) {
      if (!isRecordItem(item)) continue;
      oldestPrevHash ??= item.prevHash?.S;
      if (item.eventId?.S === eventId) found = true;
      if (item.source?.S === 'backfill' || item.source?.S === 'repair') snapshotVersion = item.version?.S;
    }
    start = out.LastEvaluatedKey;
  } while (start && !found);
  let snapshot: ChainHead | undefined;
  if (!found && snapshotVersion !== undefined) {
    const out = await client.send(
      new GetItemCommand({
        TableName: historyTable,
        Key: { itemKey: { S: itemKey }, version: { S: snapshotVersion } },
        ConsistentRead: true,
      }),
    );
    if (out.Item) snapshot = headOf(fromHistoryItem(out.Item));
  }
  return { found, truncated: oldestPrevHash !== undefined && oldestPrevHash !== GENESIS_HASH, snapshot };
}

/** Reads the newest history record of an item: the head the next record chains onto. */
export async function readChainHead(
  client: DynamoDBClient,
  historyTable: string,
  itemKey: string,
): Promise<ChainHead | undefined> {
  return (await readRecentHistory(client, historyTable, itemKey, 1)).head;
}

/** Records read back per item and batch at most, for the redelivery check. */
const MAX_WINDOW = 100;
/** Backfill and repair records that may sit between the redelivered ones. */
const WINDOW_MARGIN = 2;

/**
 * Copies a batch of DynamoDB stream records into the history table, exactly
 * once and in order per item (README, "Version rules" and "Failures").
 *
 * Returns a partial batch response: the sequence numbers of records to retry.
 * Permanent failures are parked in the failures table and not retried.
 */
export class HistoryWriter {
  private readonly client: DynamoDBClient;
  private readonly config: HistoryConfig;
  private readonly logger: Logger;
  private readonly concurrency: number;
  private readonly clock: () => Date;
  private readonly trust: StreamTrust | undefined;

  constructor(options: HistoryWriterOptions) {
    this.client = options.client;
    this.config = options.config;
    this.logger = options.logger ?? silentLogger;
    this.concurrency = options.concurrency ?? 16;
    this.clock = options.clock ?? (() => new Date());
    this.trust = options.trust;
  }

  async recordBatch(rawRecords: readonly unknown[]): Promise<BatchResult> {
    const stats: BatchStats = {
      received: rawRecords.length,
      recorded: 0,
      duplicates: 0,
      parked: 0,
      retried: 0,
      expiring: 0,
    };
    const failures: string[] = [];
    const groups = new Map<string, Pending[]>();

    for (const raw of rawRecords) {
      let change: StreamChange | undefined;
      try {
        change = parseStreamRecord(raw, this.config.keySchema);
        if (this.trust) checkOrigin(raw, change, this.trust, this.clock().getTime());
      } catch (error) {
        // A record refused for its origin was parsed: it is parked under its item, for the investigation.
        const parked = await this.park(raw, change, error as HistoryError);
        if (parked) stats.parked++;
        else this.fail(failures, stats, rawSequenceNumber(raw), raw);
        continue;
      }
      const group = groups.get(change.itemKey);
      if (group) group.push({ raw, change });
      else groups.set(change.itemKey, [{ raw, change }]);
    }

    await mapLimit([...groups.values()], this.concurrency, async (pending) => {
      const failed = await this.recordItem(pending, stats);
      for (const { raw, change } of failed) this.fail(failures, stats, change.sequenceNumber, raw);
    });

    // AWS resumes from the lowest reported sequence number, so report order does not matter;
    // sorting keeps responses deterministic for logs and tests.
    failures.sort(compareSequenceNumbers);
    const result = { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })), stats };
    this.logger.info('batch recorded', { ...stats });
    return result;
  }

  private fail(
    failures: string[],
    stats: BatchStats,
    sequenceNumber: string | undefined,
    record: unknown,
  ): void {
    if (sequenceNumber === undefined) {
      // Without a sequence number the record cannot be named in a partial response;
      // failing the whole invocation is the only way to get it retried.
      throw new MalformedRecordError('a record without a sequence number could not be parked', { record });
    }
    stats.retried++;
    failures.push(sequenceNumber);
  }

  /** Records one item's changes in order; returns the changes to retry (the first failure and all after it). */
  private async recordItem(changes: Pending[], stats: BatchStats): Promise<Pending[]> {
    const itemKey = changes[0]?.change.itemKey ?? '';
    const appended: ChainHead[] = [];
    // An item created by the batch's first change of it most likely has no history yet: start its
    // chain without reading first. The chain start is exclusive (the marker), so where history
    // exists it is refused, nothing is written, and the item takes the reading path below.
    let recent = await this.startChain(changes[0]?.change);
    let done = 0;
    if (recent?.head) {
      appended.push(recent.head);
      stats.recorded++;
      done = 1;
    } else {
      try {
        recent = await readRecentHistory(
          this.client,
          this.config.historyTableName,
          itemKey,
          changes.length + WINDOW_MARGIN,
        );
      } catch (error) {
        if (isPermanent(error)) {
          // An edited head: park every change of the item (whole, for a repair after the
          // investigation) instead of chaining onto it; the parked-records alarm fires.
          const unparked: Pending[] = [];
          for (const pending of changes) {
            if (await this.park(pending.raw, pending.change, error as HistoryError)) stats.parked++;
            else unparked.push(pending);
          }
          return unparked;
        }
        this.logger.warn('reading chain head failed; item retried', { itemKey, error });
        return changes;
      }
    }
    let head = recent.head;
    let retry: Pending[] = [];
    for (const [i, { raw, change }] of changes.entries()) {
      if (i < done) continue;
      const log = { itemKey, sequenceNumber: change.sequenceNumber, eventId: change.eventId };
      let duplicate: boolean;
      try {
        duplicate = await this.alreadyRecorded(change, recent);
      } catch (error) {
        this.logger.warn('duplicate check failed; item retried', { ...log, error });
        retry = changes.slice(i);
        break;
      }
      if (duplicate) {
        stats.duplicates++;
        this.logger.info('duplicate skipped', log);
        continue;
      }
      if (coveredBySnapshot(change, head, this.config)) {
        stats.duplicates++;
        this.logger.info('covered by the backfill snapshot; skipped', log);
        continue;
      }
      try {
        const outcome = await this.append(change, head);
        head = outcome.head;
        recent.eventIds.add(change.eventId);
        recent.maxSequence = maxSequenceOf(recent.maxSequence, change.sequenceNumber);
        if (outcome.duplicate) {
          stats.duplicates++;
          this.logger.info('duplicate skipped (same event already recorded)', log);
          continue;
        }
        appended.push(head);
        stats.recorded++;
        this.logger.info('version recorded', { ...log, version: head.versionNumber });
      } catch (error) {
        if (isPermanent(error)) {
          if (await this.park(raw, change, error as HistoryError)) {
            stats.parked++;
            continue;
          }
        }
        // Order per item is sacred: once one record of the item must be retried,
        // its later records in this batch must wait for it, so they are reported too.
        this.logger.warn('record will be retried', { ...log, error });
        retry = changes.slice(i);
        break;
      }
    }
    const { retention } = this.config;
    if (!retention || !head) return retry;
    const exits = windowExits(retention, head, changes.length - retry.length, appended);
    try {
      stats.expiring += await applyExits(this.client, this.config.historyTableName, itemKey, exits);
      return retry;
    } catch (error) {
      // The records are written; a redelivery finds them duplicates and sets the expiries then.
      this.logger.warn('setting retention expiries failed; item retried', { itemKey, error });
      return retry.length > 0 ? retry : changes;
    }
  }

  /**
   * Starts an item's chain with a stream INSERT (a change with no old image) without reading its
   * history first: the one request a created item costs. Returns what the read would have given
   * once the record is written; undefined, having written nothing, when the change is not an
   * INSERT, or the start was refused (history exists: a re-creation, a backfilled item, a
   * redelivery) or failed in any way. The reading path then decides, as it always did.
   */
  private async startChain(change: StreamChange | undefined): Promise<RecentHistory | undefined> {
    if (change === undefined || change.op !== 'INSERT' || change.oldImage !== undefined) return undefined;
    try {
      const record = buildHistoryRecord(
        { ...change, label: await this.labelOf(change) },
        undefined,
        this.config,
      );
      const outcome = await putHistoryItem(
        this.client,
        this.config.historyTableName,
        toHistoryItem(record),
        true,
      );
      if (!outcome.ok) return undefined;
      const head = headOf(record);
      this.logger.info('version recorded', {
        itemKey: change.itemKey,
        sequenceNumber: change.sequenceNumber,
        eventId: change.eventId,
        version: head.versionNumber,
      });
      return { head, eventIds: new Set([change.eventId]), maxSequence: change.sequenceNumber };
    } catch {
      // Too large, malformed, throttled, or an answer lost in transit: the reading path meets the
      // same change again, and parks, retries or finds it recorded.
      return undefined;
    }
  }

  /**
   * What a rollback label the change carries proves (see `rollback-label.ts`);
   * undefined when the write claims none. Costs a KMS call only for such writes.
   */
  private async labelOf(change: StreamChange): Promise<LabelVerdict | undefined> {
    const claim = claimedLabel(change.newImage, change.oldImage, this.config);
    if (!claim) return undefined;
    const verdict = await verifyLabel(
      this.config.labelKey,
      this.config.latestTableName,
      change.itemKey,
      claim,
    );
    if (!verdict.verified)
      this.logger.warn('rollback label rejected: recorded as a plain write', {
        itemKey: change.itemKey,
        eventId: change.eventId,
      });
    return verdict;
  }

  /**
   * Re-drives one parked stream record (repair), in order or not at all:
   * `recorded` once appended, `already-recorded` when history holds it,
   * `superseded` when history already holds later changes of the item (or a
   * snapshot taken after it), so it can no longer be placed in order. Nothing is
   * parked again.
   * @throws HistoryError when the record still cannot be recorded (malformed, too large).
   */
  async redrive(raw: unknown): Promise<'recorded' | 'already-recorded' | 'superseded'> {
    const change = parseStreamRecord(raw, this.config.keySchema);
    const recent = await readRecentHistory(
      this.client,
      this.config.historyTableName,
      change.itemKey,
      1 + WINDOW_MARGIN,
    );
    if (await this.alreadyRecorded(change, recent)) return 'already-recorded';
    const older =
      recent.maxSequence !== undefined &&
      compareSequenceNumbers(change.sequenceNumber, recent.maxSequence) <= 0;
    if (older || coveredBySnapshot(change, recent.head, this.config)) return 'superseded';
    const outcome = await this.append(change, recent.head);
    return outcome.duplicate ? 'already-recorded' : 'recorded';
  }

  /**
   * Whether a stream record is already in history: its eventId is among the
   * newest records, or (for a record older in the stream than what history holds,
   * as when a mapping replays from TRIM_HORIZON) anywhere in the item's history.
   * Sequence numbers only decide when to look further, never alone that a record
   * is a duplicate: AWS documents their order within a shard, not across shards.
   * A replayed record whose own history record retention has deleted is known by
   * the chain's missing start; one a snapshot covered (never recorded) by that snapshot.
   */
  private async alreadyRecorded(change: StreamChange, recent: RecentHistory): Promise<boolean> {
    if (recent.eventIds.has(change.eventId)) return true;
    if (
      recent.maxSequence === undefined ||
      compareSequenceNumbers(change.sequenceNumber, recent.maxSequence) > 0
    )
      return false;
    const { found, truncated, snapshot } = await findEvent(
      this.client,
      this.config.historyTableName,
      change.itemKey,
      change.eventId,
    );
    // A replay of a change a snapshot covered: skipped then, skipped now.
    return found || truncated || (snapshot !== undefined && coveredBySnapshot(change, snapshot, this.config));
  }

  private async append(
    change: StreamChange,
    head: ChainHead | undefined,
    attempt = 0,
  ): Promise<{ head: ChainHead; duplicate: boolean }> {
    const record = buildHistoryRecord({ ...change, label: await this.labelOf(change) }, head, this.config);
    let outcome: PutOutcome;
    try {
      outcome = await putHistoryItem(
        this.client,
        this.config.historyTableName,
        toHistoryItem(record),
        head === undefined,
      );
    } catch (error) {
      if (isAwsValidation(error)) {
        throw new MalformedRecordError(
          `DynamoDB rejected the history item: ${(error as Error).message}`,
          {},
          { cause: error },
        );
      }
      if (awsErrorName(error) === 'ItemCollectionSizeLimitExceededException')
        throw new HistoryFullError(change.itemKey, { cause: error });
      throw error;
    }
    if (outcome.ok) return { head: headOf(record), duplicate: false };

    if (outcome.reason === 'version-taken' && outcome.existing?.eventId?.S === change.eventId) {
      // The same event already holds this version: an earlier delivery of this record got through.
      return { head: headOf(fromHistoryItem(outcome.existing)), duplicate: true };
    }
    // Someone else (backfill, repair, a concurrent delivery) started or extended the chain since the
    // head was read: read it again and chain onto it. Bounded: the head only moves forward.
    if (attempt < 3 && (outcome.reason === 'chain-started' || outcome.existing?.source?.S !== 'app')) {
      const fresh = await readRecentHistory(
        this.client,
        this.config.historyTableName,
        change.itemKey,
        1 + WINDOW_MARGIN,
      );
      if (fresh.head && fresh.eventIds.has(change.eventId)) return { head: fresh.head, duplicate: true };
      if (fresh.head && coveredBySnapshot(change, fresh.head, this.config))
        return { head: fresh.head, duplicate: true };
      return this.append(change, fresh.head, attempt + 1);
    }
    const existing = outcome.reason === 'version-taken' ? outcome.existing : undefined;
    throw new IntegrityError(
      `history of ${change.itemKey} already holds ${record.version} from another event (${existing?.eventId?.S ?? 'unknown'})`,
      { itemKey: change.itemKey, version: record.versionNumber, eventId: change.eventId },
    );
  }

  /**
   * Parks a record that can never be recorded, with the whole stream record, so
   * that a repair can re-drive it. Returns false when parking itself failed;
   * the record is then retried instead of lost.
   */
  private async park(raw: unknown, change: StreamChange | undefined, error: HistoryError): Promise<boolean> {
    const sequenceNumber = change?.sequenceNumber ?? rawSequenceNumber(raw);
    const rawEventId = (raw as { eventID?: unknown } | null)?.eventID;
    const failedAt = this.clock().toISOString();
    // The record's own id when it is a usable key; a malformed record's id may be anything.
    const usableId = (id: unknown): id is string => typeof id === 'string' && /^[\x21-\x7e]{1,256}$/.test(id);
    const failureId = usableId(change?.eventId)
      ? change.eventId
      : usableId(rawEventId)
        ? rawEventId
        : `seq-${sequenceNumber ?? 'none'}-${failedAt}`;
    try {
      const parkedAs = await parkFailure(this.client, this.config.failuresTableName, {
        failureId,
        itemKey: change?.itemKey,
        sequenceNumber,
        error,
        failedAt,
        record: raw,
      });
      this.logger.error('record parked', {
        itemKey: change?.itemKey,
        sequenceNumber,
        failureId: parkedAs,
        errorCode: error.code,
        errorMessage: error.message,
      });
      return true;
    } catch (parkError) {
      this.logger.error('parking failed; record will be retried', {
        sequenceNumber,
        error: String(parkError),
      });
      return false;
    }
  }
}
