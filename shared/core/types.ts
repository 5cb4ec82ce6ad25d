import type { AttributeValue } from '@aws-sdk/client-dynamodb';

export type KeyType = 'S' | 'N' | 'B';
export interface KeyAttribute {
  name: string;
  type: KeyType;
}
/** The latest table's key: a partition key and an optional sort key. */
export type KeySchema = readonly [KeyAttribute] | readonly [KeyAttribute, KeyAttribute];

/** An item in DynamoDB's wire form. */
export type AttributeMap = Record<string, AttributeValue>;

export type Operation = 'INSERT' | 'MODIFY' | 'REMOVE';
export type Source = 'app' | 'legacy' | 'rollback' | 'backfill' | 'ttl' | 'repair';

/**
 * An opt-in retention policy. A version stays while it is one of the newest
 * `versions` (default 1: the current one) or for `days` after it left them
 * (default 0); the current version is never expired. Modelled on S3's
 * NoncurrentVersionExpiration: a version goes only when every rule lets it go.
 */
export interface RetentionPolicy {
  days?: number;
  versions?: number;
}

/** One record of the history table, as the library reads and writes it. */
export interface HistoryRecord {
  itemKey: string;
  /** Sort key, `v0003`. */
  version: string;
  versionNumber: number;
  /** LSI sort key: `recordedAt#version`, unique and time-ordered per item. */
  timeKey: string;
  /**
   * `byActivity` GSI partition key, `YYYY-MM-DD#shard`: the UTC day of `recordedAt` and one of
   * {@link ACTIVITY_SHARDS} shards picked by the item key. Absent on records written before the
   * activity index (they are not in it); part of the hash.
   */
  activityBucket?: string;
  /** `byActivity` GSI sort key, `recordedAt#itemDigest#version`: unique across items, time-ordered. */
  activityKey?: string;
  op: Operation;
  source: Source;
  recordedAt: string;
  /** Full new image, absent on tombstones and when stored compressed. */
  image?: AttributeMap;
  /** gzip of the canonical JSON of the image, for images too large to store plainly. */
  imageGz?: Uint8Array;
  changed: string[];
  actor?: string;
  eventId?: string;
  sequenceNumber?: string;
  declaredVersion?: string;
  restoredFrom?: number;
  reason?: string;
  /** On rollbacks: `caller` when `actor` is the IAM identity of the request, `claimed` when it is the invoker's text. */
  actorSource?: 'caller' | 'claimed';
  /** The write carried a rollback label that did not verify (forged, replayed or for another version). */
  labelRejected?: boolean;
  /** The retention policy in force when the record was written; part of the hash. */
  retention?: RetentionPolicy;
  /** TTL attribute (epoch seconds), set once the record has left the retention window. Not hashed. */
  expiresAt?: number;
  prevHash: string;
  hash: string;
  /** Hash format (2 today); absent on records written in format 1. */
  format?: number;
  /** The version this record follows in its chain, inside the hash: a skip the app made is not a deleted record. */
  prevVersion?: number;
  /** Not stored: the hash recomputed from the stored content on read; differs from `hash` when edited. */
  contentHash?: string;
  /** Not stored: the item as read from the history table (format 2 hashes it). */
  stored?: AttributeMap;
}
