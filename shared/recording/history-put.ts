import {
  BatchExecuteStatementCommand,
  type BatchStatementRequest,
  type DynamoDBClient,
  PutItemCommand,
  type QueryCommandInput,
} from '@aws-sdk/client-dynamodb';
import { conditionFailureItem, isConditionalCheckFailed } from '../aws/aws-errors';
import { mapLimit } from '../core/concurrency';
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

/** Statements in one `BatchExecuteStatement`: DynamoDB's limit. */
export const STATEMENTS_PER_REQUEST = 25;
/** Item bytes grouped into one request at most (a request holds at most 25 items of up to 400 KB). */
const REQUEST_BYTES = 4 * 1024 * 1024;

/** The PartiQL `INSERT` of one history item: it fails, and changes nothing, where the key is taken. */
export function insertStatement(table: string, item: AttributeMap): BatchStatementRequest {
  const names = Object.keys(item);
  return {
    Statement: `INSERT INTO "${table}" VALUE {${names.map((n) => `'${n.replace(/'/g, "''")}': ?`).join(', ')}}`,
    Parameters: names.map((n) => item[n] as AttributeMap[string]),
  };
}

/** One put of {@link putHistoryItem}: the item, and whether it starts its chain. */
export interface HistoryPut {
  item: AttributeMap;
  genesis: boolean;
}

/**
 * Appends history items as {@link putHistoryItem} does, one outcome per item, in one request: a
 * PartiQL `BatchExecuteStatement` of up to 25 `INSERT`s. An `INSERT` writes only where no item has
 * the key, exactly the condition of the single put (`attribute_not_exists(version)`), and is billed as
 * a standard write of the item's size: the same write units as one `PutItem` each.
 * (`BatchWriteItem` takes no condition, and `TransactWriteItems` bills double.)
 *
 * Only a statement that succeeds is decided here. Any other answer (a taken slot, an item too large,
 * throttling, or the whole request failing) sends that item again as the single put, which writes it,
 * or reads and classifies what holds its slot, or throws the error a caller already handles: the
 * outcomes are exactly those of {@link putHistoryItem}, each put's own (an error of one, such as an
 * item too large, is that put's). The items must have different keys.
 * @returns one settled outcome per put, in order
 */
export async function putGroup(
  client: DynamoDBClient,
  table: string,
  puts: readonly HistoryPut[],
): Promise<PromiseSettledResult<PutOutcome>[]> {
  const single = ({ item, genesis }: HistoryPut) => putHistoryItem(client, table, item, genesis);
  if (puts.length === 1) return Promise.allSettled(puts.map(single));
  let responses: { Error?: unknown }[];
  try {
    const out = await client.send(
      new BatchExecuteStatementCommand({
        Statements: puts.map(({ item, genesis }) =>
          insertStatement(table, genesis ? atChainStart(item) : item),
        ),
      }),
    );
    responses = out.Responses ?? [];
  } catch {
    return Promise.allSettled(puts.map(single));
  }
  return Promise.allSettled(
    puts.map((put, i) => {
      const response = responses[i];
      return response !== undefined && response.Error === undefined ? ({ ok: true } as const) : single(put);
    }),
  );
}

/** Consecutive runs of up to 25 items, and of at most {@link REQUEST_BYTES}: one request each. */
function requestsOf(puts: readonly HistoryPut[]): HistoryPut[][] {
  const groups: HistoryPut[][] = [];
  let bytes = 0;
  for (const put of puts) {
    const size = itemSize(put.item);
    const last = groups.at(-1);
    if (last && last.length < STATEMENTS_PER_REQUEST && bytes + size <= REQUEST_BYTES) {
      last.push(put);
      bytes += size;
    } else {
      groups.push([put]);
      bytes = size;
    }
  }
  return groups;
}

/** Requests of chain starts in flight at once in {@link putChainStarts}. */
export const CHAIN_STARTS_IN_FLIGHT = 8;

/**
 * Starts many chains, each exactly as {@link putHistoryItem} starts one: for backfill, where every
 * item is a chain start. They go out {@link putGroup grouped}, up to 25 conditional `INSERT`s a
 * request, `inFlight` requests at a time.
 * @returns one outcome per item, in order
 */
export async function putChainStarts(
  client: DynamoDBClient,
  table: string,
  items: readonly AttributeMap[],
  inFlight = CHAIN_STARTS_IN_FLIGHT,
): Promise<PutOutcome[]> {
  const requests = requestsOf(items.map((item) => ({ item, genesis: true })));
  const settled = (await mapLimit(requests, inFlight, (group) => putGroup(client, table, group))).flat();
  return settled.map((s) => {
    if (s.status === 'rejected') throw s.reason;
    return s.value;
  });
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
