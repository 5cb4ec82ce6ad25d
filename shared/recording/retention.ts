import {
  type DynamoDBClient,
  GetItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { awsErrorName, conditionFailureItem, isConditionalCheckFailed } from '../aws/aws-errors';
import { mapLimit } from '../core/concurrency';
import { CHAIN_MARKER, EXPIRES_AT } from '../core/constants';
import { encodeVersion } from '../core/keys';
import type { AttributeMap, HistoryRecord, RetentionPolicy } from '../core/types';
import { chainMarker, isRecordItem } from './history-put';

export const DAY_MS = 86_400_000;

/** How many of the newest versions a policy keeps: the current one at least. */
export const keptVersions = (policy: RetentionPolicy): number => policy.versions ?? 1;

/** How long a version stays after it left the newest `versions`, in ms. */
export const graceMs = (policy: RetentionPolicy): number => (policy.days ?? 0) * DAY_MS;

/** A version leaving the retention window, and the TTL it gets (epoch seconds). */
export interface WindowExit {
  versionNumber: number;
  expiresAt: number;
}

/**
 * The versions that left the window while the head advanced over the last
 * `advanced` records: `(head − kept − advanced, head − kept]`, each expiring
 * `days` after the record that pushed it out (the first of `appended` at or above
 * `version + kept`, else the head). Pure.
 *
 * The range is as wide as the number of records the batch held for the item, so
 * a redelivered batch, whose records are all duplicates, sets expiries an earlier
 * delivery could not. A gap in the numbering can make a version leave unseen: it
 * is then kept longer, never shorter.
 */
export function windowExits(
  policy: RetentionPolicy,
  head: { versionNumber: number; recordedAtMs: number },
  advanced: number,
  appended: readonly { versionNumber: number; recordedAtMs: number }[],
): WindowExit[] {
  const kept = keptVersions(policy);
  const newest = head.versionNumber - kept;
  const oldest = Math.max(1, newest - advanced + 1);
  const exits: WindowExit[] = [];
  for (let v = oldest; v <= newest; v++) {
    const pushedBy = appended.find((r) => r.versionNumber >= v + kept) ?? head;
    exits.push({ versionNumber: v, expiresAt: Math.floor((pushedBy.recordedAtMs + graceMs(policy)) / 1000) });
  }
  return exits;
}

/**
 * Gives each exiting version its TTL: a conditional UpdateItem of `expiresAt`
 * alone, only on a record that exists and has none yet, so it is idempotent and
 * never creates an item. The only change ever made to a written history record
 * (a chain's first record moves instead: {@link moveChainStart}).
 * Returns how many records got an expiry.
 */
export async function applyExits(
  client: DynamoDBClient,
  historyTable: string,
  itemKey: string,
  exits: readonly WindowExit[],
): Promise<number> {
  let set = 0;
  // Independent single-attribute updates: in parallel, a few at a time.
  await mapLimit(exits, 8, async (exit) => {
    try {
      await client.send(
        new UpdateItemCommand({
          TableName: historyTable,
          Key: { itemKey: { S: itemKey }, version: { S: encodeVersion(exit.versionNumber) } },
          UpdateExpression: 'SET #e = :e',
          ConditionExpression: 'attribute_exists(#v) AND attribute_not_exists(#e)',
          ExpressionAttributeNames: { '#e': EXPIRES_AT, '#v': 'version' },
          ExpressionAttributeValues: { ':e': { N: String(exit.expiresAt) } },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      set++;
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      // Already expiring: nothing to do. No record at the version: the chain's first record,
      // kept at the start slot, or a version the numbering skipped.
      if (
        conditionFailureItem(error) === undefined &&
        (await moveChainStart(client, historyTable, itemKey, exit))
      )
        set++;
    }
  });
  return set;
}

/**
 * Lets a chain's first record leave the retention window: it moves, with its TTL, from the start
 * slot to its version, and the start slot keeps a bare chain marker (`chainMarker`), which no TTL
 * deletes, so that no second chain can ever start where this one was. One transaction, so a reader
 * sees the record at exactly one of the two places; it is the only write that ever replaces a
 * record, and the record's content, hash included, is unchanged (a record is hashed at its
 * version). Returns whether this call moved it: false when the start slot does not hold this
 * version's record (a skipped version, or already moved).
 */
export async function moveChainStart(
  client: DynamoDBClient,
  historyTable: string,
  itemKey: string,
  exit: WindowExit,
): Promise<boolean> {
  const key = { itemKey: { S: itemKey }, version: { S: CHAIN_MARKER } };
  const out = await client.send(
    new GetItemCommand({ TableName: historyTable, Key: key, ConsistentRead: true }),
  );
  const start = out.Item;
  if (!start || !isRecordItem(start) || start.versionNumber?.N !== String(exit.versionNumber)) return false;
  const moved: AttributeMap = {
    ...start,
    version: { S: encodeVersion(exit.versionNumber) },
    [EXPIRES_AT]: { N: String(exit.expiresAt) },
  };
  try {
    await client.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          {
            Put: {
              TableName: historyTable,
              Item: moved,
              ConditionExpression: 'attribute_not_exists(#v)',
              ExpressionAttributeNames: { '#v': 'version' },
            },
          },
          {
            Put: {
              TableName: historyTable,
              Item: chainMarker(moved),
              ConditionExpression: '#h = :h',
              ExpressionAttributeNames: { '#h': 'hash' },
              ExpressionAttributeValues: { ':h': start.hash as AttributeMap[string] },
            },
          },
        ],
      }),
    );
    return true;
  } catch (error) {
    // Another delivery moved it first.
    if (awsErrorName(error) === 'TransactionCanceledException') return false;
    throw error;
  }
}

/** The distinct policies a chain's records were written under. */
export function policiesOf(records: readonly HistoryRecord[]): RetentionPolicy[] {
  const seen = new Map<string, RetentionPolicy>();
  for (const r of records)
    if (r.retention) seen.set(`${r.retention.days}/${r.retention.versions}`, r.retention);
  return [...seen.values()];
}

/**
 * When `version` was pushed out of a policy's newest versions: the time of the
 * first record at or above `version + kept`, as the writer decides (see
 * {@link windowExits}). When that record is gone too (expired itself, or the
 * numbering skipped it), the last retained record below it bounds the time from
 * below. Undefined while nothing has pushed the version out.
 */
function pushedOutAtMs(
  policy: RetentionPolicy,
  version: number,
  records: readonly HistoryRecord[],
): number | undefined {
  const target = version + keptVersions(policy);
  const pusher = records.find((r) => r.versionNumber >= target);
  if (!pusher) return undefined;
  if (pusher.versionNumber === target) return Date.parse(pusher.recordedAt);
  const before = [...records].reverse().find((r) => r.versionNumber < target);
  return Date.parse((before ?? pusher).recordedAt);
}

/**
 * Whether the versions up to `missing` may have been deleted by retention rather
 * than by someone: some policy recorded in the chain had pushed `missing` out of
 * the newest versions (a record at or above `missing + kept` exists), and its
 * grace, counted from that record, is over by `nowMs`. The grace is counted from
 * the pushing record, not from the version's successor: under "keep 3 for 30
 * days" a version written on day 1 and pushed out on day 100 stays until day 130.
 */
export function mayHaveExpired(
  policies: readonly RetentionPolicy[],
  missing: number,
  records: readonly HistoryRecord[],
  nowMs: number,
): boolean {
  if (missing < 1) return false;
  return policies.some((p) => {
    const at = pushedOutAtMs(p, missing, records);
    return at !== undefined && at + graceMs(p) <= nowMs;
  });
}

/**
 * Whether a record's `expiresAt` is one the writer could have set: it has left the
 * newest versions under some recorded policy, and expires no earlier than its
 * grace after the record that pushed it out. An earlier expiry is an attempt to
 * make TTL delete history the policy keeps.
 */
export function expiryPlausible(
  policies: readonly RetentionPolicy[],
  record: HistoryRecord,
  records: readonly HistoryRecord[],
): boolean {
  if (record.expiresAt === undefined) return true;
  const expiresAtMs = record.expiresAt * 1000;
  return policies.some((p) => {
    const at = pushedOutAtMs(p, record.versionNumber, records);
    return at !== undefined && at + graceMs(p) <= expiresAtMs + 999;
  });
}
