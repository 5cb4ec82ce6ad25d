import { type AttributeValue, BatchWriteItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mapLimit } from '../../shared/core/concurrency';
import type { HistoryConfig } from '../../shared/core/config';
import type { HistoryRecord } from '../../shared/core/types';
import { chainMarker } from '../../shared/recording/history-put';
import {
  buildHistoryRecord,
  type ChainHead,
  headOf,
  toHistoryItem,
} from '../../shared/recording/history-record';
import type { StreamChange } from '../../shared/recording/stream-record';

/**
 * Seeds a long, valid history for one item through the real record builder
 * (versions, hash chain, timeKey), one second apart from `startMs`, and writes it
 * with BatchWriteItem: far faster than streaming 10,000 changes.
 */
export async function seedHistory(
  client: DynamoDBClient,
  config: HistoryConfig,
  itemKey: string,
  count: number,
  startMs: number,
  removeAt?: number,
  /** Extra attributes for every image (large payloads, for memory tests). */
  extra: (v: number) => Record<string, AttributeValue> = () => ({}),
): Promise<HistoryRecord[]> {
  const records: HistoryRecord[] = [];
  let head: ChainHead | undefined;
  for (let v = 1; v <= count; v++) {
    const remove = v === removeAt;
    const change: StreamChange = {
      eventId: `seed-${itemKey}-${v}`,
      op: remove ? 'REMOVE' : v === 1 ? 'INSERT' : 'MODIFY',
      itemKey,
      keys: { id: { S: itemKey } },
      newImage: remove
        ? undefined
        : { id: { S: itemKey }, version: { N: String(v) }, counter: { N: String(v * 10) }, ...extra(v) },
      oldImage: undefined,
      sequenceNumber: String(1_000_000 + v),
      createdAtMs: startMs + (v - 1) * 1000,
      isTtlDelete: false,
    };
    const record = buildHistoryRecord(change, head, config);
    records.push(record);
    head = headOf(record);
  }
  // The chain marker too, as the writer writes it with the first record.
  const items = records.map(toHistoryItem);
  if (items[0]) items.push(chainMarker(items[0]));
  await putItems(client, config.historyTableName, items);
  return records;
}

/** Writes items with BatchWriteItem, 25 at a time, 8 batches in flight, until none is left unprocessed. */
export async function putItems(
  client: DynamoDBClient,
  tableName: string,
  items: Record<string, AttributeValue>[],
): Promise<void> {
  const chunks: (typeof items)[] = [];
  for (let i = 0; i < items.length; i += 25) chunks.push(items.slice(i, i + 25));
  await mapLimit(chunks, 8, async (chunk) => {
    let pending = chunk.map((Item) => ({ PutRequest: { Item } }));
    while (pending.length > 0) {
      const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: pending } }));
      pending = (out.UnprocessedItems?.[tableName] ?? []) as typeof pending;
    }
  });
}
