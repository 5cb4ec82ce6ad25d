import { type DynamoDBClient, PutItemCommand, type QueryCommandInput } from '@aws-sdk/client-dynamodb';
import { conditionFailureItem, isConditionalCheckFailed } from '../aws/aws-errors';
import { mapLimit } from '../core/concurrency';
import { CHAIN_MARKER } from '../core/constants';
import type { AttributeMap } from '../core/types';

export type PutOutcome =
  | { ok: true }
  /** The slot is taken; `existing` is what holds it (when DynamoDB returned it). */
  | { ok: false; reason: 'version-taken'; existing: AttributeMap | undefined }
  /** Another writer started this item's chain first: re-read the head. */
  | { ok: false; reason: 'chain-started' };

const condition = {
  ConditionExpression: 'attribute_not_exists(#v)',
  ExpressionAttributeNames: { '#v': 'version' },
};

/**
 * Appends one history item: a conditional put that never overwrites. The first
 * record of a chain (`genesis`) is stored at the chain's start slot
 * ({@link CHAIN_MARKER}) instead of its version: one key per item, so its
 * condition alone lets only one writer ever start an item's chain, whatever
 * version each would start it at. One write, as for every other record.
 */
export async function putHistoryItem(
  client: DynamoDBClient,
  table: string,
  item: AttributeMap,
  genesis: boolean,
): Promise<PutOutcome> {
  try {
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: genesis ? atChainStart(item) : item,
        ...condition,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return { ok: true };
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
    const existing = conditionFailureItem(error);
    if (!genesis) return { ok: false, reason: 'version-taken', existing };
    // The start slot is taken: by this very record (an earlier delivery got through), by another
    // chain start, or by a bare chain marker (a chain started by an earlier release, or whose
    // first record retention has moved).
    if (existing !== undefined && isRecordItem(existing) && existing.eventId?.S === item.eventId?.S)
      return { ok: false, reason: 'version-taken', existing };
    return { ok: false, reason: 'chain-started' };
  }
}

/** A chain's first record as stored: at the start slot, its version kept in `versionNumber`. */
export function atChainStart(item: AttributeMap): AttributeMap {
  return { ...item, version: { S: CHAIN_MARKER } };
}

/** Chain starts in flight at once in {@link putChainStarts}. */
export const CHAIN_STARTS_IN_FLIGHT = 8;

/**
 * Starts many chains, each exactly as {@link putHistoryItem} starts one, a few at a time: for
 * backfill, where every item is a chain start. Each is one conditional `PutItem`; DynamoDB's
 * `BatchWriteItem` would cost the same write units but cannot carry the condition.
 * @returns one outcome per item, in order
 */
export async function putChainStarts(
  client: DynamoDBClient,
  table: string,
  items: readonly AttributeMap[],
  inFlight = CHAIN_STARTS_IN_FLIGHT,
): Promise<PutOutcome[]> {
  return mapLimit(items, inFlight, (item) => putHistoryItem(client, table, item, true));
}

/**
 * The bare chain marker of a chain's first record: which event started the chain and
 * that record's hash, so verify can tell a deleted, replaced or edited marker (which
 * would let a second chain start) from an intact one. Retention leaves it in the start
 * slot when it moves the record; verify derives it from a record still there.
 */
export function chainMarker(genesis: AttributeMap): AttributeMap {
  const marker: AttributeMap = {
    itemKey: genesis.itemKey as AttributeMap[string],
    version: { S: CHAIN_MARKER },
    startedBy: genesis.eventId ?? { S: 'unknown' },
  };
  if (genesis.format !== undefined) {
    marker.format = genesis.format;
    marker.genesisHash = genesis.hash as AttributeMap[string];
  }
  return marker;
}

/**
 * The Query of one item's history partition, strongly consistent: every reader
 * of a chain starts from it (newest first, paged, or projected as it needs).
 */
export function itemPartition(
  historyTable: string,
  itemKey: string,
  names: Record<string, string> = {},
): QueryCommandInput & { ExpressionAttributeNames: Record<string, string> } {
  return {
    TableName: historyTable,
    KeyConditionExpression: '#k = :k',
    ExpressionAttributeNames: { '#k': 'itemKey', ...names },
    ExpressionAttributeValues: { ':k': { S: itemKey } },
    ConsistentRead: true,
  };
}

/**
 * History items that are records: every item but a bare chain marker. The start slot holds the
 * chain's first record, or a bare marker: on chains started by earlier releases (which wrote the
 * first record at its version, with the marker, in one transaction), and once retention has moved
 * the first record to its version (`moveChainStart`).
 */
export const isRecordItem = (item: AttributeMap): boolean =>
  item.version?.S !== CHAIN_MARKER || item.hash !== undefined;

/** Whether a stored history item sits at its chain's start slot. */
export const atStartSlot = (item: AttributeMap): boolean => item.version?.S === CHAIN_MARKER;
