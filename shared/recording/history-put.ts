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
/**
 * Requests the puts waiting at one moment are spread over, at least, while each still holds
 * {@link MIN_GROUP}: one request at a time would leave the table's other request handlers idle.
 */
export const PARALLEL_REQUESTS = 4;
/** Statements a request is not split below: the callers of one request wait again together. */
const MIN_GROUP = 4;

/** The PartiQL `INSERT` of one history item: it fails, and changes nothing, where the key is taken. */
export function insertStatement(table: string, item: AttributeMap): BatchStatementRequest {
  const names = Object.keys(item);
  return {
    Statement: `INSERT INTO "${table}" VALUE {${names.map((n) => `'${n.replace(/'/g, "''")}': ?`).join(', ')}}`,
    Parameters: names.map((n) => item[n] as AttributeMap[string]),
  };
}

interface Waiting {
  item: AttributeMap;
  genesis: boolean;
  settle: (outcome: Promise<PutOutcome>) => void;
}

/**
 * Appends history items as {@link putHistoryItem} does, one outcome per item, but sends the puts
 * that wait at the same moment (different items' next records, or backfill's chain starts) together:
 * one PartiQL `BatchExecuteStatement` of up to 25 `INSERT`s. An `INSERT` writes only where no item has
 * the key, exactly the condition of the single put (`attribute_not_exists(version)`), and is billed as
 * a standard write of the item's size: the same write units as one `PutItem` each, in one request.
 * (`BatchWriteItem` takes no condition, and `TransactWriteItems` bills double.)
 *
 * Only a statement that succeeds is decided here. Any other answer (a taken slot, an item too large,
 * throttling, or the whole request failing) sends that item again as the single put, which writes it,
 * or reads and classifies what holds its slot, or throws the error a caller already handles: the
 * outcomes are exactly those of {@link putHistoryItem}. Each item has at most one put waiting (its
 * records go in order), so one request never holds a key twice.
 */
export class GroupedPuts {
  private waiting: Waiting[] = [];
  private scheduled = false;
  /** Requests sent, grouped or single; for the benchmark. */
  requests = 0;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  put(item: AttributeMap, genesis: boolean): Promise<PutOutcome> {
    return new Promise<PutOutcome>((resolve, reject) => {
      this.waiting.push({ item, genesis, settle: (outcome) => outcome.then(resolve, reject) });
      if (!this.scheduled) {
        this.scheduled = true;
        // After the current turn: every caller that continues from the same response has queued by then.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const waiting = this.waiting;
    this.waiting = [];
    // As many requests as 25 statements each need, and up to PARALLEL_REQUESTS of at least
    // MIN_GROUP each, evenly filled.
    const requests = Math.max(
      Math.ceil(waiting.length / STATEMENTS_PER_REQUEST),
      Math.min(PARALLEL_REQUESTS, Math.floor(waiting.length / MIN_GROUP)),
      1,
    );
    const perRequest = Math.ceil(waiting.length / requests);
    let group: Waiting[] = [];
    let bytes = 0;
    for (const w of waiting) {
      const size = itemSize(w.item);
      if (group.length === perRequest || (group.length > 0 && bytes + size > REQUEST_BYTES)) {
        void this.send(group);
        group = [];
        bytes = 0;
      }
      group.push(w);
      bytes += size;
    }
    if (group.length > 0) void this.send(group);
  }

  private single(w: Waiting): void {
    this.requests++;
    w.settle(putHistoryItem(this.client, this.table, w.item, w.genesis));
  }

  private async send(group: Waiting[]): Promise<void> {
    const [only] = group;
    if (group.length === 1 && only) return this.single(only);
    this.requests++;
    let responses: { Error?: unknown }[];
    try {
      const out = await this.client.send(
        new BatchExecuteStatementCommand({
          Statements: group.map((w) =>
            insertStatement(this.table, w.genesis ? atChainStart(w.item) : w.item),
          ),
        }),
      );
      responses = out.Responses ?? [];
    } catch {
      for (const w of group) this.single(w);
      return;
    }
    group.forEach((w, i) => {
      const response = responses[i];
      if (response !== undefined && response.Error === undefined) w.settle(Promise.resolve({ ok: true }));
      else this.single(w);
    });
  }
}

/** Chain starts in flight at once in {@link putChainStarts}. */
export const CHAIN_STARTS_IN_FLIGHT = 8;

/**
 * Starts many chains, each exactly as {@link putHistoryItem} starts one: for backfill, where every
 * item is a chain start. They go out {@link GroupedPuts grouped}, up to 25 conditional `INSERT`s a
 * request, `inFlight` groups at a time.
 * @returns one outcome per item, in order
 */
export async function putChainStarts(
  client: DynamoDBClient,
  table: string,
  items: readonly AttributeMap[],
  inFlight = CHAIN_STARTS_IN_FLIGHT,
): Promise<PutOutcome[]> {
  const puts = new GroupedPuts(client, table);
  return mapLimit(items, inFlight * STATEMENTS_PER_REQUEST, (item) => puts.put(item, true));
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
