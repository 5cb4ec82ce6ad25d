import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { canonicalItemJson } from '../core/canonical';
import { changedAttributes, sameValue } from '../core/compare';
import type { HistoryConfig } from '../core/config';
import {
  ACTIVITY_SHARDS,
  CHAIN_MARKER,
  EXPIRES_AT,
  GENESIS_HASH,
  HISTORY_ITEM_BUDGET_BYTES,
} from '../core/constants';
import { ImageTooLargeError, IntegrityError } from '../core/errors';
import { itemSize } from '../core/item-size';
import { decodeVersion, encodeVersion } from '../core/keys';
import type { AttributeMap, HistoryRecord, Operation, Source } from '../core/types';
import { fromWireMap } from '../core/wire';
import { chainHashV1, HASH_FORMAT, itemHash } from './chain-hash';
import type { LabelVerdict } from './rollback-label';
import type { StreamChange } from './stream-record';

/** What the builder needs to know of an item's newest history record. */
export interface ChainHead {
  versionNumber: number;
  hash: string;
  op: Operation;
  source: Source;
  sequenceNumber: string | undefined;
  eventId: string | undefined;
  /** The head's time: when the versions it pushes out of the retention window left it. */
  recordedAtMs: number;
  /** The head's image (absent on tombstones): what a snapshot compares with, and what the next change changed. */
  image?: AttributeMap | undefined;
}

/** Where a record comes from: the stream, or a snapshot of the latest table taken by backfill or repair. */
export type Origin = 'stream' | 'backfill' | 'repair';

/**
 * One change to record, whoever records it. A stream change carries the
 * stream's own identity and images; a snapshot says what the latest table held
 * when it was read (`newImage` undefined: the item was gone).
 */
export interface Change {
  origin: Origin;
  itemKey: string;
  op: Operation;
  newImage: AttributeMap | undefined;
  /** The image before the change: the stream's OldImage, or for a snapshot the head's image. */
  oldImage: AttributeMap | undefined;
  /** When it happened: the stream's ApproximateCreationDateTime, or when the snapshot was read (a lower bound). */
  atMs: number;
  eventId: string;
  sequenceNumber?: string | undefined;
  isTtlDelete?: boolean;
  /** What the rollback label the write claims proves; only the stream's changes carry one. */
  label?: LabelVerdict | undefined;
}

/** A stream change as the builder takes it. */
export const streamChange = (change: StreamChange): Change => ({
  origin: 'stream',
  itemKey: change.itemKey,
  op: change.op,
  newImage: change.newImage,
  oldImage: change.oldImage,
  atMs: change.createdAtMs,
  eventId: change.eventId,
  sequenceNumber: change.sequenceNumber,
  isTtlDelete: change.isTtlDelete,
  label: change.label,
});

/**
 * A snapshot of the latest table as a change: an INSERT when it starts the chain
 * or follows a tombstone, a MODIFY after a live version, a REMOVE when the item is gone.
 */
export function snapshotChange(
  origin: 'backfill' | 'repair',
  itemKey: string,
  image: AttributeMap | undefined,
  head: ChainHead | undefined,
  atMs: number,
): Change {
  const live = head !== undefined && head.op !== 'REMOVE';
  return {
    origin,
    itemKey,
    op: image === undefined ? 'REMOVE' : live ? 'MODIFY' : 'INSERT',
    newImage: image,
    oldImage: live ? head.image : undefined,
    atMs,
    eventId: `${origin}:${new Date(atMs).toISOString()}`,
  };
}

/** `recordedAt#version`: the LSI sort key, unique per item even when stream timestamps tie. */
export function timeKeyOf(recordedAt: string, versionNumber: number): string {
  return `${recordedAt}#${encodeVersion(versionNumber)}`;
}

/** The first 16 hex digits of SHA-256(itemKey): an item's place in the activity index, short and fixed-size. */
export function itemDigest(itemKey: string): string {
  return createHash('sha256').update(itemKey, 'utf8').digest('hex').slice(0, 16);
}

/** The activity shard of an item, 0 … ACTIVITY_SHARDS − 1. */
export const activityShard = (itemKey: string): number =>
  Number.parseInt(itemDigest(itemKey).slice(0, 8), 16) % ACTIVITY_SHARDS;

/**
 * The `byActivity` GSI keys of a record: `YYYY-MM-DD#shard` and `recordedAt#itemDigest#version`.
 * Derived from the record's own item key, version and time, so verify can recompute them.
 */
export function activityKeysOf(
  itemKey: string,
  recordedAt: string,
  versionNumber: number,
): { activityBucket: string; activityKey: string } {
  return {
    activityBucket: `${recordedAt.slice(0, 10)}#${activityShard(itemKey)}`,
    activityKey: `${recordedAt}#${itemDigest(itemKey)}#${encodeVersion(versionNumber)}`,
  };
}

function declaredVersionOf(
  image: AttributeMap | undefined,
  attribute: string,
): { usable?: number; raw?: string } {
  const value = own(image, attribute);
  const raw = value?.N ?? value?.S;
  if (value?.N === undefined) return raw === undefined ? {} : { raw };
  const n = Number(value.N);
  return Number.isSafeInteger(n) && n > 0 && n <= MAX_DECLARED_VERSION ? { usable: n, raw } : { raw };
}

/**
 * The largest version an item may declare and have kept (2^52). Epoch-millisecond
 * and -microsecond versions fit; a version next to `Number.MAX_SAFE_INTEGER` would
 * leave the numbering no room to continue, so every later change of the item
 * could only be parked: such a version is numbered as a legacy write instead.
 */
export const MAX_DECLARED_VERSION = 2 ** 52;

/** An attribute of an item, only if the item itself has it: names are data, never prototype lookups. */
export function own(image: AttributeMap | undefined, name: string): AttributeValue | undefined {
  return image !== undefined && Object.hasOwn(image, name) ? image[name] : undefined;
}

/** Attributes that say nothing of what a change was: the key never changes, the managed ones change on every write. */
export function unchangedNames(config: HistoryConfig): ReadonlySet<string> {
  return new Set([...Object.values(config.attributes), ...config.keySchema.map((k) => k.name)]);
}

/** The image as history keeps it: without the rollback context attribute, which labels a write, not data. */
export function historyImage(
  image: AttributeMap | undefined,
  config: HistoryConfig,
): AttributeMap | undefined {
  return image && stripAttribute(image, config.attributes.context);
}

/**
 * The actor of a write, only when the write itself set it: the writer library
 * stamps version, modifiedAt and modifiedBy on every write, so a write that
 * changed none of them (a plain client setting one flag) did not say who made it,
 * and the previous writer's name is not carried over.
 */
function actorOf(change: Change, config: HistoryConfig): string | undefined {
  if (change.origin !== 'stream' || change.newImage === undefined) return undefined;
  const actor = own(change.newImage, config.actorAttribute)?.S;
  if (actor === undefined || change.oldImage === undefined) return actor;
  const { version, modifiedAt, modifiedBy } = config.attributes;
  const stamped = [version, modifiedAt, modifiedBy, config.actorAttribute].some(
    (name) => !sameValue(own(change.oldImage, name), own(change.newImage, name)),
  );
  return stamped ? actor : undefined;
}

/**
 * Builds the history record of one change, given the item's chain head. The one
 * place that decides a record's version, source, time and hash, for the stream,
 * backfill and repair alike. Pure: no I/O, no clock.
 *
 * - Version: the item's own version when it is a positive integer above the head
 *   (a skip stays visible in the numbering, and `prevVersion` says it was the
 *   app's); otherwise head + 1, keeping `declaredVersion`. A REMOVE is head + 1.
 * - Source: `backfill` or `repair` for snapshots; for the stream `app`, or `legacy`
 *   when the version was assigned, `ttl` for TTL deletions, `rollback` when the
 *   write carries the rollback context stamped with exactly this version.
 * - Time never runs backwards along a chain: a change dated before the head (a
 *   snapshot's clock, or the stream's rounding) is dated at the head's time.
 */
export function buildRecord(
  change: Change,
  head: ChainHead | undefined,
  config: HistoryConfig,
): HistoryRecord {
  const last = head?.versionNumber ?? 0;
  let versionNumber: number;
  let source: Source;
  let declaredVersion: string | undefined;
  const { origin } = change;
  const stream = origin === 'stream';
  if (change.op === 'REMOVE') {
    versionNumber = last + 1;
    source = origin !== 'stream' ? origin : change.isTtlDelete ? 'ttl' : 'app';
  } else {
    const declared = declaredVersionOf(change.newImage, config.attributes.version);
    if (declared.usable !== undefined && declared.usable > last) {
      versionNumber = declared.usable;
      source = origin !== 'stream' ? origin : 'app';
    } else {
      versionNumber = last + 1;
      source = origin !== 'stream' ? origin : 'legacy';
      declaredVersion = declared.raw;
    }
  }
  if (!Number.isSafeInteger(versionNumber)) {
    throw new IntegrityError(`version of ${change.itemKey} overflows`, { itemKey: change.itemKey });
  }
  // A rollback label counts only when its MAC was verified and it names exactly this version:
  // a label copied onto a later write names a version history already holds.
  const { label } = change;
  const rollback =
    stream && change.op !== 'REMOVE' && label?.verified && label.label.version === versionNumber
      ? label.label
      : undefined;
  if (rollback) source = 'rollback';
  const image = historyImage(change.newImage, config);
  const recordedAt = new Date(Math.max(change.atMs, head?.recordedAtMs ?? 0)).toISOString();
  const record: Omit<HistoryRecord, 'hash'> = {
    itemKey: change.itemKey,
    version: encodeVersion(versionNumber),
    versionNumber,
    timeKey: timeKeyOf(recordedAt, versionNumber),
    ...activityKeysOf(change.itemKey, recordedAt, versionNumber),
    op: change.op,
    source,
    recordedAt,
    changed: changedAttributes(historyImage(change.oldImage, config), image, unchangedNames(config)),
    eventId: change.eventId,
    prevHash: head?.hash ?? GENESIS_HASH,
  };
  if (change.sequenceNumber !== undefined) record.sequenceNumber = change.sequenceNumber;
  if (head) record.prevVersion = head.versionNumber;
  if (image) record.image = image;
  if (rollback) {
    record.restoredFrom = rollback.restoredFrom;
    if (rollback.reason !== undefined) record.reason = rollback.reason;
    // The label's actor, and how it is known: the caller's IAM identity, or what the invoker claimed.
    if (rollback.actor !== undefined) record.actor = rollback.actor;
    record.actorSource = rollback.actorSource;
  } else {
    const actor = actorOf(change, config);
    if (actor !== undefined) record.actor = actor;
    // A write that claimed to be a rollback without a valid label for this version says so, in the hash.
    if (stream && label) record.labelRejected = true;
  }
  if (declaredVersion !== undefined) record.declaredVersion = declaredVersion;
  return sealRecord(record, config);
}

/** The record of one stream change (see {@link buildRecord}). */
export const buildHistoryRecord = (
  change: StreamChange,
  head: ChainHead | undefined,
  config: HistoryConfig,
): HistoryRecord => buildRecord(streamChange(change), head, config);

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
  // The item as it will be stored, with a placeholder hash of the real one's length: the hash is not
  // part of what it hashes, so this one item serves both the size check and the hash.
  let item = toHistoryItem({ ...sealed, hash: GENESIS_HASH });
  if (sealed.image !== undefined && itemSize(item) > HISTORY_ITEM_BUDGET_BYTES) {
    sealed.imageGz = new Uint8Array(gzipSync(canonicalItemJson(sealed.image), { level: 9 }));
    item = toHistoryItem({ ...sealed, hash: GENESIS_HASH });
    const size = itemSize(item);
    if (size > HISTORY_ITEM_BUDGET_BYTES) throw new ImageTooLargeError(record.itemKey, size);
  }
  return { ...sealed, hash: itemHash(item) };
}

/**
 * The hash a record's content gives, with `prevHash` in place of its own link
 * when given: format 2 over the stored item (or the item this record would be
 * stored as), format 1 over its fields. Equal to `record.hash` exactly when the
 * record is unedited.
 */
export function contentHashOf(record: HistoryRecord, prevHash = record.prevHash): string {
  if ((record.format ?? 1) >= 2) {
    // Hashed as stored, except the key: a record is hashed at its version, wherever it is kept
    // (a chain's first record at the start slot, or after retention moved it, at its version).
    const item = record.stored ?? toHistoryItem(record);
    return itemHash({ ...item, version: { S: record.version }, prevHash: { S: prevHash } });
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
  if (record.activityBucket !== undefined) item.activityBucket = s(record.activityBucket);
  if (record.activityKey !== undefined) item.activityKey = s(record.activityKey);
  if (record.format !== undefined && record.format > 1) item.format = { N: String(record.format) };
  if (record.prevVersion !== undefined) item.prevVersion = { N: String(record.prevVersion) };
  if (record.actor !== undefined) item.actor = s(record.actor);
  if (record.eventId !== undefined) item.eventId = s(record.eventId);
  if (record.sequenceNumber !== undefined) item.sequenceNumber = s(record.sequenceNumber);
  if (record.declaredVersion !== undefined) item.declaredVersion = s(record.declaredVersion);
  if (record.restoredFrom !== undefined) item.restoredFrom = { N: String(record.restoredFrom) };
  if (record.reason !== undefined) item.reason = s(record.reason);
  if (record.actorSource !== undefined) item.actorSource = s(record.actorSource);
  if (record.labelRejected) item.labelRejected = { BOOL: true };
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
  // A chain's first record sits at the start slot; its version is `versionNumber`'s.
  const versionNumber = version === CHAIN_MARKER ? startSlotVersion(item, itemKey) : decodeVersion(version);
  const record: HistoryRecord = {
    itemKey,
    version: encodeVersion(versionNumber),
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
  for (const name of [
    'actor',
    'eventId',
    'sequenceNumber',
    'declaredVersion',
    'reason',
    'activityBucket',
    'activityKey',
  ] as const) {
    const value = str(item, name);
    if (value !== undefined) record[name] = value;
  }
  if (item.restoredFrom?.N !== undefined) record.restoredFrom = Number(item.restoredFrom.N);
  const actorSource = str(item, 'actorSource');
  if (actorSource === 'caller' || actorSource === 'claimed') record.actorSource = actorSource;
  if (item.labelRejected?.BOOL === true) record.labelRejected = true;
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

function startSlotVersion(item: AttributeMap, itemKey: string): number {
  const n = Number(item.versionNumber?.N);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new IntegrityError('the record at the chain start has no valid versionNumber', { itemKey });
  return n;
}

/** The chain head a record leaves behind. */
export function headOf(record: HistoryRecord): ChainHead {
  return {
    versionNumber: record.versionNumber,
    hash: record.hash,
    op: record.op,
    source: record.source,
    sequenceNumber: record.sequenceNumber,
    eventId: record.eventId,
    recordedAtMs: Date.parse(record.recordedAt),
    image: record.image,
  };
}

/** How long after a snapshot a stream change is certainly later than its read, whatever the Scan took. */
const SNAPSHOT_READ_MARGIN_MS = 60_000;

/**
 * Whether a stream change happened before the snapshot (backfill or repair) at
 * the head of the item's history, so the snapshot already holds its effect and
 * recording it would duplicate or reorder history.
 *
 * The stream delivers an item's changes in order, each with the image before it.
 * The first change after the snapshot is the one whose old image is the
 * snapshot's image (for a snapshot of a deleted item: the first with none);
 * every change before it is covered. Two clock rules settle the rest, with the
 * snapshot dated at a lower bound of DynamoDB's own clock when it was read:
 * - a change dated a full stream time step before the snapshot is covered even if
 *   its old image matches (the item came back to the same image before the read);
 * - a change dated well after the snapshot is not covered even if its old image
 *   does not match (a change in between was lost, parked, or trimmed), so a lost
 *   change can never make every later one vanish.
 */
export function coveredBySnapshot(
  change: StreamChange,
  head: ChainHead | undefined,
  config: HistoryConfig,
): boolean {
  if (!head || (head.source !== 'backfill' && head.source !== 'repair')) return false;
  if (change.createdAtMs + config.streamTimeResolutionMs <= head.recordedAtMs) return true;
  if (change.createdAtMs >= head.recordedAtMs + config.streamTimeResolutionMs + SNAPSHOT_READ_MARGIN_MS)
    return false;
  const snapshot = head.op === 'REMOVE' ? undefined : head.image;
  const before = historyImage(change.oldImage, config);
  const same =
    snapshot === undefined || before === undefined
      ? snapshot === before
      : canonicalItemJson(snapshot) === canonicalItemJson(before);
  return !same;
}
