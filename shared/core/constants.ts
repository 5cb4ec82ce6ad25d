/** DynamoDB's item size limit, in bytes. */
export const DYNAMODB_ITEM_LIMIT_BYTES = 400 * 1024;

/**
 * History items are kept under this size. The margin covers the metadata we add
 * and the imprecision of the size estimate (DynamoDB's exact accounting is not
 * public for every type).
 */
export const HISTORY_ITEM_BUDGET_BYTES = DYNAMODB_ITEM_LIMIT_BYTES - 8 * 1024;

/** `prevHash` of the first record of every chain. */
export const GENESIS_HASH = '0'.repeat(64);

/** Name of the LSI that orders an item's history by time. */
export const BY_TIME_INDEX = 'byTime';

/** Name of the GSI that orders every item's history by time, in day buckets (README, "Table-wide activity"). */
export const BY_ACTIVITY_INDEX = 'byActivity';

/**
 * Write shards of each day's activity bucket. All of one item's changes go to one shard, so
 * the index takes up to this many times DynamoDB's per-partition write rate (1,000 items/s)
 * across items; a reader queries every shard of each day. Part of the record format: changing it
 * would move records between buckets, so it is fixed.
 */
export const ACTIVITY_SHARDS = 8;

/** `userIdentity` DynamoDB puts on stream records of TTL deletions. */
export const TTL_PRINCIPAL = 'dynamodb.amazonaws.com';

/**
 * Sort key of an item's chain start slot. A chain's first record is stored there, so that one
 * conditional put lets only one writer (the stream, backfill, repair) ever start a chain; once
 * retention moves that record to its version, the slot keeps a bare chain marker for good. `!` sorts
 * before every version key.
 */
export const CHAIN_MARKER = '!chain';

/**
 * TTL attribute of the history table (epoch seconds). Set only on versions that
 * have left the retention window; the table's TTL deletes them after that time.
 */
export const EXPIRES_AT = 'expiresAt';
