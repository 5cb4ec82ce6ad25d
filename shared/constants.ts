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

/** `userIdentity` DynamoDB puts on stream records of TTL deletions. */
export const TTL_PRINCIPAL = 'dynamodb.amazonaws.com';
