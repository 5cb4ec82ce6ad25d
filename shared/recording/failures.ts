import { gunzipSync, gzipSync } from 'node:zlib';
import { type DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { isConditionalCheckFailed } from '../aws/aws-errors';
import { HistoryError, IntegrityError } from '../core/errors';
import type { AttributeMap } from '../core/types';

/** Bytes of compressed record per failures-table item; well under the 400 KB item limit. */
const CHUNK_BYTES = 350 * 1024;

export interface ParkedFailure {
  failureId: string;
  itemKey?: string;
  sequenceNumber?: string;
  error: unknown;
  failedAt: string;
  /** The stream record exactly as received. */
  record: unknown;
}

/**
 * Writes a parked record to the failures table with the whole stream record,
 * gzip-compressed. A record too large for one item (an incompressible image
 * near 400 KB) is split: the extra chunks are written first, under
 * `<failureId>#<n>`, and the main item last, so a main item always means a
 * complete record.
 */
export async function parkFailure(
  client: DynamoDBClient,
  table: string,
  failure: ParkedFailure,
): Promise<string> {
  const gz = gzipSync(JSON.stringify(failure.record) ?? 'null');
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < gz.length || offset === 0; offset += CHUNK_BYTES) {
    chunks.push(new Uint8Array(gz.subarray(offset, offset + CHUNK_BYTES)));
  }
  const get = async (id: string) =>
    (
      await client.send(
        new GetItemCommand({ TableName: table, Key: { failureId: { S: id } }, ConsistentRead: true }),
      )
    ).Item;
  // Parking never overwrites: a second record under the same id (a forged or reused eventID) gets
  // its own id; the same record parked again (a redelivery) is already there.
  for (let attempt = 0; attempt < MAX_ID_ATTEMPTS; attempt++) {
    const failureId = attempt === 0 ? failure.failureId : `${failure.failureId}~${attempt}`;
    const existing = await get(failureId);
    if (existing) {
      if (
        existing.recordGz?.B &&
        Buffer.from(existing.recordGz.B).equals(Buffer.from(chunks[0] as Uint8Array))
      )
        return failureId;
      continue;
    }
    for (let i = 1; i < chunks.length; i++) {
      await client.send(
        new PutItemCommand({
          TableName: table,
          Item: {
            failureId: { S: `${failureId}#${i}` },
            chunkOf: { S: failureId },
            recordGz: { B: chunks[i] as Uint8Array },
          },
        }),
      );
    }
    const error = failure.error;
    const item: AttributeMap = {
      failureId: { S: failureId },
      errorCode: { S: error instanceof HistoryError ? error.code : 'unknown' },
      errorType: { S: error instanceof Error ? error.name : 'Error' },
      errorMessage: {
        S: error instanceof Error ? error.message.slice(0, 2000) : String(error).slice(0, 2000),
      },
      failedAt: { S: failure.failedAt },
      recordGz: { B: chunks[0] as Uint8Array },
      recordChunks: { N: String(chunks.length) },
    };
    if (failure.itemKey !== undefined) item.itemKey = { S: failure.itemKey };
    if (failure.sequenceNumber !== undefined) item.sequenceNumber = { S: failure.sequenceNumber };
    try {
      await client.send(
        new PutItemCommand({
          TableName: table,
          Item: item,
          ConditionExpression: 'attribute_not_exists(failureId)',
        }),
      );
      return failureId;
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error; // taken meanwhile: try the next id
    }
  }
  throw new IntegrityError(`no free failure id for ${failure.failureId}`, { failureId: failure.failureId });
}

/** Ids tried for one parked record before parking gives up (and the record is retried). */
const MAX_ID_ATTEMPTS = 8;

/** Reads back the whole stream record of a parked failure, joining its chunks. */
export async function readParkedRecord(
  client: DynamoDBClient,
  table: string,
  failureId: string,
): Promise<unknown> {
  const get = async (id: string) =>
    (
      await client.send(
        new GetItemCommand({ TableName: table, Key: { failureId: { S: id } }, ConsistentRead: true }),
      )
    ).Item;
  const main = await get(failureId);
  if (!main?.recordGz?.B) throw new IntegrityError(`no parked record ${failureId}`, { failureId });
  const parts = [main.recordGz.B];
  const count = Number(main.recordChunks?.N ?? '1');
  for (let i = 1; i < count; i++) {
    const chunk = (await get(`${failureId}#${i}`))?.recordGz?.B;
    if (!chunk) throw new IntegrityError(`parked record ${failureId} is missing chunk ${i}`, { failureId });
    parts.push(chunk);
  }
  return JSON.parse(gunzipSync(Buffer.concat(parts)).toString('utf8')) as unknown;
}
