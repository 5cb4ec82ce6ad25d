import {
  type DynamoDBClient,
  PutItemCommand,
  type QueryCommandInput,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { awsErrorName, conditionFailureItem, isConditionalCheckFailed } from '../aws/aws-errors';
import { CHAIN_MARKER } from '../core/constants';
import { itemSize } from '../core/item-size';
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
  try {
    await client.send(new TransactWriteItemsCommand({ TransactItems: chainStartPuts(table, item) }));
    return { ok: true };
  } catch (error) {
    if (awsErrorName(error) !== 'TransactionCanceledException') throw error;
    const reasons = cancellationReasons(error);
    const refused = conditionOutcome(reasons, 0);
    if (refused) return refused;
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

type CancellationReason = { Code?: string; Item?: AttributeMap };

const cancellationReasons = (error: unknown): CancellationReason[] =>
  (error as { CancellationReasons?: CancellationReason[] }).CancellationReasons ?? [];

/** A chain start's two puts: the record and its marker, each conditional on its absence. */
function chainStartPuts(table: string, item: AttributeMap) {
  return [
    {
      Put: {
        TableName: table,
        Item: item,
        ...condition,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
      },
    },
    { Put: { TableName: table, Item: chainMarker(item), ...condition } },
  ];
}

/** The outcome of the chain start at position `k` of a cancelled transaction when its own condition failed. */
function conditionOutcome(reasons: CancellationReason[], k: number): PutOutcome | undefined {
  const record = reasons[2 * k];
  if (record?.Code === 'ConditionalCheckFailed')
    return { ok: false, reason: 'version-taken', existing: record.Item };
  if (reasons[2 * k + 1]?.Code === 'ConditionalCheckFailed') return { ok: false, reason: 'chain-started' };
  return undefined;
}

/** Items (each with its marker) per chain-start transaction: 50 of DynamoDB's 100 actions would also do; 25 keeps a cancelled group cheap to redo. */
export const CHAIN_STARTS_PER_TRANSACTION = 25;
/** Bytes of items per transaction, under DynamoDB's 4 MB. */
const TRANSACTION_BYTES = 3.5 * 1024 * 1024;

/**
 * Starts many chains, each exactly as {@link putHistoryItem} starts one (the record and its marker,
 * each conditional on its absence), but up to {@link CHAIN_STARTS_PER_TRANSACTION} items per
 * `TransactWriteItems`: for backfill, where every item is a chain start. A transaction is all or
 * nothing, so when DynamoDB cancels one, the items whose own condition failed get that outcome,
 * the items cancelled only because of them are written again, and an item refused for any other
 * reason is written on its own, to meet the error exactly as a single put would.
 * @returns one outcome per item, in order
 */
export async function putChainStarts(
  client: DynamoDBClient,
  table: string,
  items: readonly AttributeMap[],
): Promise<PutOutcome[]> {
  const outcomes: (PutOutcome | undefined)[] = items.map(() => undefined);
  let pending = items.map((_, i) => i);
  while (pending.length > 0) {
    const groups: number[][] = [];
    let group: number[] = [];
    let bytes = 0;
    for (const i of pending) {
      const size = itemSize(items[i] as AttributeMap) * 2;
      if (
        group.length > 0 &&
        (group.length >= CHAIN_STARTS_PER_TRANSACTION || bytes + size > TRANSACTION_BYTES)
      ) {
        groups.push(group);
        group = [];
        bytes = 0;
      }
      group.push(i);
      bytes += size;
    }
    if (group.length > 0) groups.push(group);
    const again: number[] = [];
    for (const g of groups) {
      if (g.length === 1) {
        const [only] = g as [number];
        outcomes[only] = await putHistoryItem(client, table, items[only] as AttributeMap, true);
        continue;
      }
      try {
        await client.send(
          new TransactWriteItemsCommand({
            TransactItems: g.flatMap((i) => chainStartPuts(table, items[i] as AttributeMap)),
          }),
        );
        for (const i of g) outcomes[i] = { ok: true };
      } catch (error) {
        if (awsErrorName(error) !== 'TransactionCanceledException') throw error;
        const reasons = cancellationReasons(error);
        const blamed = g.filter(
          (_, k) =>
            (reasons[2 * k]?.Code ?? 'None') !== 'None' || (reasons[2 * k + 1]?.Code ?? 'None') !== 'None',
        );
        if (blamed.length === 0) {
          // Cancelled with no item named: each on its own, as a single put meets it.
          for (const i of g)
            outcomes[i] = await putHistoryItem(client, table, items[i] as AttributeMap, true);
          continue;
        }
        g.forEach((i, k) => {
          const refused = conditionOutcome(reasons, k);
          if (refused) outcomes[i] = refused;
          else if (!blamed.includes(i)) again.push(i);
        });
        // Refused for another reason (a conflict, a throttle, a validation error): on its own.
        for (const i of blamed)
          if (outcomes[i] === undefined)
            outcomes[i] = await putHistoryItem(client, table, items[i] as AttributeMap, true);
      }
    }
    pending = again;
  }
  return outcomes as PutOutcome[];
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
