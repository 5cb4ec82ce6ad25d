import {
  type DynamoDBClient,
  PutItemCommand,
  type QueryCommandInput,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { awsErrorName, conditionFailureItem, isConditionalCheckFailed } from '../aws/aws-errors';
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
 * record of a chain (`genesis`) is written together with the chain marker in
 * one transaction, so only one writer can ever start an item's chain.
 */
export async function putHistoryItem(
  client: DynamoDBClient,
  table: string,
  item: AttributeMap,
  genesis: boolean,
): Promise<PutOutcome> {
  if (!genesis) {
    try {
      await client.send(
        new PutItemCommand({
          TableName: table,
          Item: item,
          ...condition,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { ok: true };
    } catch (error) {
      if (isConditionalCheckFailed(error))
        return { ok: false, reason: 'version-taken', existing: conditionFailureItem(error) };
      throw error;
    }
  }
  const marker = chainMarker(item);
  try {
    await client.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          {
            Put: {
              TableName: table,
              Item: item,
              ...condition,
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
          { Put: { TableName: table, Item: marker, ...condition } },
        ],
      }),
    );
    return { ok: true };
  } catch (error) {
    if (awsErrorName(error) !== 'TransactionCanceledException') throw error;
    const reasons =
      (error as { CancellationReasons?: { Code?: string; Item?: AttributeMap }[] }).CancellationReasons ?? [];
    if (reasons[0]?.Code === 'ConditionalCheckFailed')
      return { ok: false, reason: 'version-taken', existing: reasons[0].Item };
    if (reasons[1]?.Code === 'ConditionalCheckFailed') return { ok: false, reason: 'chain-started' };
    // Reasons retrying cannot fix: name them as a single put would, so the record is parked.
    const permanent = reasons.find(
      (r) => r.Code === 'ValidationError' || r.Code === 'ItemCollectionSizeLimitExceeded',
    );
    if (permanent) {
      const cause = Object.assign(new Error(permanent.Code ?? ''), {
        name:
          permanent.Code === 'ValidationError'
            ? 'ValidationException'
            : 'ItemCollectionSizeLimitExceededException',
        cause: error,
      });
      throw cause;
    }
    throw error;
  }
}

/**
 * The chain marker written with a chain's first record: which event started the
 * chain and that record's hash, so verify can tell a deleted, replaced or edited
 * marker (which would let a second chain start) from an intact one.
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

/** History items that are records (not the chain marker). */
export const isRecordItem = (item: AttributeMap): boolean => item.version?.S !== CHAIN_MARKER;
