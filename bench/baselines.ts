import {
  type DynamoDBClient,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from '../shared/core/types';

/**
 * Pattern (a), AWS's "sort keys for version control": the item collection holds
 * `v0` (the latest state, with a `Latest` counter) and one copy per version. An
 * update writes the new copy and advances `v0` in one transaction, conditional
 * on `Latest` still being the version read.
 */
export async function transactVersionedUpdate(
  client: DynamoDBClient,
  table: string,
  pk: string,
  previous: number,
  data: AttributeMap,
): Promise<number> {
  const next = previous + 1;
  const out = await client.send(
    new TransactWriteItemsCommand({
      ReturnConsumedCapacity: 'TOTAL',
      TransactItems: [
        {
          Put: {
            TableName: table,
            Item: { pk: { S: pk }, sk: { S: `v${next}` }, ...data },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        {
          Update: {
            TableName: table,
            Key: { pk: { S: pk }, sk: { S: 'v0' } },
            UpdateExpression: 'SET #l = :next, #d = :d',
            ConditionExpression: 'attribute_not_exists(#l) OR #l = :prev',
            ExpressionAttributeNames: { '#l': 'Latest', '#d': 'payload' },
            ExpressionAttributeValues: {
              ':next': { N: String(next) },
              ':prev': { N: String(previous) },
              ':d': data.payload ?? { S: '' },
            },
          },
        },
      ],
    }),
  );
  return out.ConsumedCapacity?.reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0) ?? 0;
}

/**
 * Pattern (b), the client-side dual write: a conditional update of the latest
 * table, then the app's own put into a history table. Two round trips, and a
 * crash between them loses the history record.
 */
export async function dualWrite(
  client: DynamoDBClient,
  latest: string,
  history: string,
  id: string,
  previous: number,
  data: AttributeMap,
): Promise<number> {
  const next = previous + 1;
  const a = await client.send(
    new UpdateItemCommand({
      TableName: latest,
      Key: { id: { S: id } },
      UpdateExpression: 'SET #v = :next, #d = :d',
      ConditionExpression: 'attribute_not_exists(#v) OR #v = :prev',
      ExpressionAttributeNames: { '#v': 'version', '#d': 'payload' },
      ExpressionAttributeValues: {
        ':next': { N: String(next) },
        ':prev': { N: String(previous) },
        ':d': data.payload ?? { S: '' },
      },
      ReturnConsumedCapacity: 'TOTAL',
    }),
  );
  const b = await client.send(
    new PutItemCommand({
      TableName: history,
      Item: { pk: { S: id }, sk: { S: `v${next}` }, ...data },
      ConditionExpression: 'attribute_not_exists(pk)',
      ReturnConsumedCapacity: 'TOTAL',
    }),
  );
  return (a.ConsumedCapacity?.CapacityUnits ?? 0) + (b.ConsumedCapacity?.CapacityUnits ?? 0);
}
