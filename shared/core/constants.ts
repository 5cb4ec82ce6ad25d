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
 * Sort key of the marker item that every chain's first record is written with,
 * in one transaction conditional on the marker's absence: two writers (the
 * stream and backfill) can never both start an item's chain. `!` sorts before
 * every version key; the marker has no `timeKey`, so the time index never sees it.
 */
export const CHAIN_MARKER = '!chain';

/**
 * TTL attribute of the history table (epoch seconds). Set only on versions that
 * have left the retention window; the table's TTL deletes them after that time.
 */
export const EXPIRES_AT = 'expiresAt';
