import { gunzipSync, gzipSync } from 'node:zlib';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { canonicalItemJson, changedAttributes, itemSize } from './canonical';
import { chainHashV1, HASH_FORMAT, itemHash } from './chain-hash';
import type { HistoryConfig } from './config';
import { EXPIRES_AT, GENESIS_HASH, HISTORY_ITEM_BUDGET_BYTES } from './constants';
import { ImageTooLargeError, IntegrityError } from './errors';
import { decodeVersion, encodeVersion } from './keys';
import type { StreamChange } from './stream-record';
import type { AttributeMap, HistoryRecord, Operation, Source } from './types';
import { fromWireMap } from './wire';

/** eventId of a backfill record whose version was assigned (the item had none of its own). */
export const BACKFILL_ASSIGNED_VERSION = 'backfill:assigned';

/** What the builder needs to know of an item's newest history record. */
export interface ChainHead {
  versionNumber: number;
  hash: string;
  sequenceNumber: string | undefined;
  eventId: string | undefined;
  /** The head's stream time: when the versions it pushes out of the retention window left it. */
  recordedAtMs: number;
  /** Set when the head is a backfill snapshot: what the stream writer needs to recognise changes it covers. */
  backfill?: { recordedAtMs: number; imageJson: string; ownVersion: boolean };
}

/** `recordedAt#version`: the LSI sort key, unique per item even when stream timestamps tie. */
export function timeKeyOf(recordedAt: string, versionNumber: number): string {
  return `${recordedAt}#${encodeVersion(versionNumber)}`;
}

function declaredVersionOf(
  image: AttributeMap | undefined,
  attribute: string,
): { usable?: number; raw?: string } {
  const value = image?.[attribute];
  const raw = value?.N ?? value?.S;
  if (value?.N === undefined) return raw === undefined ? {} : { raw };
  const n = Number(value.N);
  return Number.isSafeInteger(n) && n > 0 ? { usable: n, raw } : { raw };
}

/**
 * Builds the history record of one stream change, given the item's current
 * chain head (DESIGN section 3). Pure: no I/O, no clock.
 *
 * - INSERT/MODIFY whose own version is a positive integer above the head keep it
 *   (`source: app`); a skipped version stays visible as a gap.
 * - Otherwise the record gets head + 1 (`source: legacy`) and keeps `declaredVersion`.
 * - REMOVE becomes a tombstone at head + 1 (`source: ttl` for TTL expiries).
 */
export function buildHistoryRecord(
  change: StreamChange,
  head: ChainHead | undefined,
  config: HistoryConfig,
): HistoryRecord {
  const last = head?.versionNumber ?? 0;
  // Keys never change and managed attributes change on every write: neither says what the change was.
  const managed = new Set([...Object.values(config.attributes), ...config.keySchema.map((k) => k.name)]);
  let versionNumber: number;
  let source: Source;
  let declaredVersion: string | undefined;
  if (change.op === 'REMOVE') {
    versionNumber = last + 1;
    source = change.isTtlDelete ? 'ttl' : 'app';
  } else {
    const declared = declaredVersionOf(change.newImage, config.attributes.version);
    if (declared.usable !== undefined && declared.usable > last) {
      versionNumber = declared.usable;
      source = 'app';
    } else {
      versionNumber = last + 1;
      source = 'legacy';
      declaredVersion = declared.raw;
    }
  }
  if (!Number.isSafeInteger(versionNumber)) {
    throw new IntegrityError(`version of ${change.itemKey} overflows`, { itemKey: change.itemKey });
  }
  // A rollback stamps its context with the version it wrote; any other version ignores it.
  const context = change.newImage?.[config.attributes.context]?.M;
  const isRollback =
    change.op !== 'REMOVE' &&
    context?.source?.S === 'rollback' &&
    context.version?.N === String(versionNumber);
  if (isRollback) source = 'rollback';
  const image = change.newImage && stripAttribute(change.newImage, config.attributes.context);
  const recordedAt = new Date(change.createdAtMs).toISOString();
  const prevHash = head?.hash ?? GENESIS_HASH;
  const actorValue = change.newImage?.[config.actorAttribute];
  const record: Omit<HistoryRecord, 'hash'> = {
    itemKey: change.itemKey,
    version: encodeVersion(versionNumber),
    versionNumber,
    timeKey: timeKeyOf(recordedAt, versionNumber),
    op: change.op,
    source,
    recordedAt,
    changed: changedAttributes(change.oldImage, change.newImage, managed),
    eventId: change.eventId,
    sequenceNumber: change.sequenceNumber,
    prevHash,
  };
  if (head) record.prevVersion = head.versionNumber;
  if (image) record.image = image;
  if (isRollback && context) {
    const restoredFrom = Number(context.restoredFrom?.N);
    if (Number.isSafeInteger(restoredFrom)) record.restoredFrom = restoredFrom;
    if (context.reason?.S !== undefined) record.reason = context.reason.S;
  }
  if (typeof actorValue?.S === 'string') record.actor = actorValue.S;
  if (declaredVersion !== undefined) record.declaredVersion = declaredVersion;
  return sealRecord(record, config);
}

/**
 * Completes a record in the current hash format: stamps the format and the
 * configured retention policy, decides whether the image must be stored
 * compressed, and hashes the finished item, so every writer (stream, backfill,
 * repair) hashes alike.
 * @throws ImageTooLargeError when even the compressed image does not fit.
 */
export function sealRecord(record: Omit<HistoryRecord, 'hash'>, config: HistoryConfig): HistoryRecord {
  const sealed: Omit<HistoryRecord, 'hash'> = { ...record, format: HASH_FORMAT };
  delete sealed.imageGz;
  delete sealed.contentHash;
  delete sealed.stored;
  if (config.retention) sealed.retention = { ...config.retention };
  if (sealed.image !== undefined) {
    const plain = toHistoryItem({ ...sealed, hash: GENESIS_HASH });
    if (itemSize(plain) > HISTORY_ITEM_BUDGET_BYTES) {
      sealed.imageGz = new Uint8Array(gzipSync(canonicalItemJson(sealed.image), { level: 9 }));
      const size = itemSize(toHistoryItem({ ...sealed, hash: GENESIS_HASH }));
      if (size > HISTORY_ITEM_BUDGET_BYTES) throw new ImageTooLargeError(record.itemKey, size);
    }
  }
  const hash = itemHash(toHistoryItem({ ...sealed, hash: GENESIS_HASH }));
  return { ...sealed, hash };
}

/**
 * The hash a record's content gives, with `prevHash` in place of its own link
 * when given: format 2 over the stored item (or the item this record would be
 * stored as), format 1 over its fields. Equal to `record.hash` exactly when the
 * record is unedited.
 */
export function contentHashOf(record: HistoryRecord, prevHash = record.prevHash): string {
  if ((record.format ?? 1) >= 2) {
    const item = record.stored ?? toHistoryItem(record);
    return itemHash({ ...item, prevHash: { S: prevHash } });
  }
  return chainHashV1({
    itemKey: record.itemKey,
    versionNumber: record.versionNumber,
    op: record.op,
    image: record.image,
    recordedAt: record.recordedAt,
    prevHash,
    retention: record.retention,
  });
}

function stripAttribute(image: AttributeMap, name: string): AttributeMap {
  if (!(name in image)) return image;
  const { [name]: _removed, ...rest } = image;
  return rest;
}

const s = (value: string): AttributeValue => ({ S: value });

/**
 * The history table item of a record. Metadata stays at the root and the
 * user's data in `image`, so user attribute names can never collide with ours.
 * A sealed record whose image is over the item budget carries it as `imageGz`
 * (gzip of its canonical DynamoDB JSON), decided by {@link sealRecord}.
 */
export function toHistoryItem(record: HistoryRecord): AttributeMap {
  const item: AttributeMap = {
    itemKey: s(record.itemKey),
    version: s(record.version),
    versionNumber: { N: String(record.versionNumber) },
    timeKey: s(record.timeKey),
    op: s(record.op),
    source: s(record.source),
    recordedAt: s(record.recordedAt),
    prevHash: s(record.prevHash),
    hash: s(record.hash),
    changed: { L: record.changed.map(s) },
  };
  if (record.format !== undefined && record.format > 1) item.format = { N: String(record.format) };
  if (record.prevVersion !== undefined) item.prevVersion = { N: String(record.prevVersion) };
  if (record.actor !== undefined) item.actor = s(record.actor);
  if (record.eventId !== undefined) item.eventId = s(record.eventId);
  if (record.sequenceNumber !== undefined) item.sequenceNumber = s(record.sequenceNumber);
  if (record.declaredVersion !== undefined) item.declaredVersion = s(record.declaredVersion);
  if (record.restoredFrom !== undefined) item.restoredFrom = { N: String(record.restoredFrom) };
  if (record.reason !== undefined) item.reason = s(record.reason);
  if (record.retention?.days !== undefined) item.retentionDays = { N: String(record.retention.days) };
  if (record.retention?.versions !== undefined)
    item.retentionVersions = { N: String(record.retention.versions) };
  if (record.expiresAt !== undefined) item[EXPIRES_AT] = { N: String(record.expiresAt) };
  if (record.imageGz !== undefined) item.imageGz = { B: record.imageGz };
  else if (record.image !== undefined) item.image = { M: record.image };
  return item;
}

/** Decodes an image stored as `imageGz` back to DynamoDB JSON. */
export function inflateImage(gz: Uint8Array): AttributeMap {
  const canonical = JSON.parse(gunzipSync(gz).toString('utf8')) as unknown;
  return fromWireMap(canonical, '$.imageGz');
}

const str = (item: AttributeMap, name: string): string | undefined => item[name]?.S;

/** Reads a history table item back into a record, inflating `imageGz` transparently. */
export function fromHistoryItem(item: AttributeMap): HistoryRecord {
  const itemKey = str(item, 'itemKey');
  const version = str(item, 'version');
  const recordedAt = str(item, 'recordedAt');
  const op = str(item, 'op') as Operation | undefined;
  if (itemKey === undefined || version === undefined || recordedAt === undefined || op === undefined) {
    throw new IntegrityError('history item lacks required attributes', { itemKey, version });
  }
  const versionNumber = decodeVersion(version);
  const record: HistoryRecord = {
    itemKey,
    version,
    versionNumber,
    timeKey: str(item, 'timeKey') ?? timeKeyOf(recordedAt, versionNumber),
    op,
    source: (str(item, 'source') ?? 'app') as Source,
    recordedAt,
    changed: (item.changed?.L ?? []).flatMap((v) => (v.S === undefined ? [] : [v.S])),
    prevHash: str(item, 'prevHash') ?? '',
    hash: str(item, 'hash') ?? '',
  };
  if (item.image?.M) record.image = item.image.M;
  else if (item.imageGz?.B) {
    record.imageGz = item.imageGz.B;
    record.image = inflateImage(item.imageGz.B);
  }
  const format = item.format?.N;
  if (format !== undefined) record.format = Number(format);
  const prevVersion = item.prevVersion?.N;
  if (prevVersion !== undefined) record.prevVersion = Number(prevVersion);
  for (const name of ['actor', 'eventId', 'sequenceNumber', 'declaredVersion', 'reason'] as const) {
    const value = str(item, name);
    if (value !== undefined) record[name] = value;
  }
  if (item.restoredFrom?.N !== undefined) record.restoredFrom = Number(item.restoredFrom.N);
  const days = item.retentionDays?.N;
  const versions = item.retentionVersions?.N;
  if (days !== undefined || versions !== undefined) {
    record.retention = {};
    if (days !== undefined) record.retention.days = Number(days);
    if (versions !== undefined) record.retention.versions = Number(versions);
  }
  const expiresAt = item[EXPIRES_AT]?.N;
  if (expiresAt !== undefined) record.expiresAt = Number(expiresAt);
  Object.defineProperty(record, 'stored', { value: item, enumerable: false });
  record.contentHash = contentHashOf(record);
  return record;
}

/** The chain head a record leaves behind. */
export function headOf(record: HistoryRecord): ChainHead {
  const head: ChainHead = {
    versionNumber: record.versionNumber,
    hash: record.hash,
    sequenceNumber: record.sequenceNumber,
    eventId: record.eventId,
    recordedAtMs: Date.parse(record.recordedAt),
  };
  if (record.source === 'backfill') {
    head.backfill = {
      recordedAtMs: Date.parse(record.recordedAt),
      imageJson: canonicalItemJson(record.image ?? {}),
      // The eventId says whether the version was the item's own or assigned (v1 for unversioned items).
      ownVersion: record.eventId !== BACKFILL_ASSIGNED_VERSION,
    };
  }
  return head;
}

/**
 * Whether a stream change is already covered by a backfill snapshot at the
 * head of the item's history, so recording it would duplicate or reorder it:
 * its own version is not above the snapshot's, or (without a usable version)
 * its image is the snapshot's, or it happened a full stream-time step before the
 * snapshot (stream times are rounded down: to the second in AWS, to the minute in
 * DynamoDB Local). A delete is never covered.
 */
export function coveredByBackfill(
  change: StreamChange,
  head: ChainHead | undefined,
  config: HistoryConfig,
): boolean {
  if (!head?.backfill || change.op === 'REMOVE') return false;
  const declared = declaredVersionOf(change.newImage, config.attributes.version).usable;
  // Versions compare only against a version the item itself had: an assigned v1 says nothing of order.
  if (declared !== undefined && head.backfill.ownVersion) return declared <= head.versionNumber;
  const image = stripAttribute(change.newImage ?? {}, config.attributes.context);
  return (
    canonicalItemJson(image) === head.backfill.imageJson ||
    change.createdAtMs + config.streamTimeResolutionMs <= head.backfill.recordedAtMs
  );
}
