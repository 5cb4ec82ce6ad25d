import {
  type ConsumedCapacity,
  CreateTableCommand,
  DeleteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from '../shared/core/types';

/** The kinds of change the baselines write, as an application would. */
export type BaselineOp = 'create' | 'update' | 'delete';

/** A table without indexes or a stream: keyed by `id`, or by `pk` and `sk` when composite. */
export async function plainTable(client: DynamoDBClient, name: string, composite: boolean): Promise<string> {
  await client.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: composite
        ? [
            { AttributeName: 'pk', AttributeType: 'S' },
            { AttributeName: 'sk', AttributeType: 'S' },
          ]
        : [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: composite
        ? [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ]
        : [{ AttributeName: 'id', KeyType: 'HASH' }],
    }),
  );
  return name;
}

const unitsOf = (consumed: ConsumedCapacity | ConsumedCapacity[] | undefined): number =>
  [consumed ?? []].flat().reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);

/**
 * An update that sets the version counter to `next` and every attribute of `data`, on condition that
 * the counter is still `previous` (or absent: the bench's first update may meet an item never created).
 */
function setEvery(data: AttributeMap, counter: string, next: number, previous: number) {
  const names: Record<string, string> = { '#c': counter };
  const values: AttributeMap = { ':next': { N: String(next) }, ':prev': { N: String(previous) } };
  const sets = ['#c = :next'];
  for (const [i, [name, value]] of Object.entries(data).entries()) {
    names[`#a${i}`] = name;
    values[`:a${i}`] = value;
    sets.push(`#a${i} = :a${i}`);
  }
  return {
    UpdateExpression: `SET ${sets.join(', ')}`,
    ConditionExpression: 'attribute_not_exists(#c) OR #c = :prev',
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

/** Both patterns' history copy of version `next`: the data, and a delete's `deleted` flag. */
function historyCopy(pk: string, next: number, op: BaselineOp, data: AttributeMap): AttributeMap {
  return {
    pk: { S: pk },
    sk: { S: `v${next}` },
    ...data,
    ...(op === 'delete' ? { deleted: { BOOL: true } } : {}),
  };
}

/**
 * Pattern (a), AWS's "sort keys for version control": the item collection holds
 * `v0` (the latest state, with a `Latest` counter) and one copy per version. Every
 * change writes the new copy and moves `v0` in one transaction, conditional on
 * `Latest` still being the version read: a create puts `v0` only if absent, an
 * update advances it, a delete removes it beside a tombstone copy. Returns the
 * write units DynamoDB reports.
 */
export async function transactVersioned(
  client: DynamoDBClient,
  table: string,
  pk: string,
  op: BaselineOp,
  previous: number,
  data: AttributeMap,
): Promise<number> {
  const next = previous + 1;
  const copy: TransactWriteItem = {
    Put: {
      TableName: table,
      Item: historyCopy(pk, next, op, data),
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  };
  const head: TransactWriteItem =
    op === 'create'
      ? {
          Put: {
            TableName: table,
            Item: { pk: { S: pk }, sk: { S: 'v0' }, Latest: { N: String(next) }, ...data },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        }
      : op === 'update'
        ? {
            Update: {
              TableName: table,
              Key: { pk: { S: pk }, sk: { S: 'v0' } },
              ...setEvery(data, 'Latest', next, previous),
            },
          }
        : {
            Delete: {
              TableName: table,
              Key: { pk: { S: pk }, sk: { S: 'v0' } },
              ConditionExpression: '#l = :prev',
              ExpressionAttributeNames: { '#l': 'Latest' },
              ExpressionAttributeValues: { ':prev': { N: String(previous) } },
            },
          };
  const out = await client.send(
    new TransactWriteItemsCommand({ ReturnConsumedCapacity: 'TOTAL', TransactItems: [copy, head] }),
  );
  return unitsOf(out.ConsumedCapacity);
}

/**
 * Pattern (b), the client-side dual write: a conditional write of the latest
 * table (create if absent, update or delete at the version read), then the app's
 * own put into a history table. Two round trips, and a crash between them loses
 * the history record. Returns the write units DynamoDB reports for both.
 */
export async function dualWrite(
  client: DynamoDBClient,
  latest: string,
  history: string,
  id: string,
  op: BaselineOp,
  previous: number,
  data: AttributeMap,
): Promise<number> {
  const next = previous + 1;
  const a =
    op === 'create'
      ? await client.send(
          new PutItemCommand({
            TableName: latest,
            Item: { id: { S: id }, version: { N: String(next) }, ...data },
            ConditionExpression: 'attribute_not_exists(id)',
            ReturnConsumedCapacity: 'TOTAL',
          }),
        )
      : op === 'update'
        ? await client.send(
            new UpdateItemCommand({
              TableName: latest,
              Key: { id: { S: id } },
              ...setEvery(data, 'version', next, previous),
              ReturnConsumedCapacity: 'TOTAL',
            }),
          )
        : await client.send(
            new DeleteItemCommand({
              TableName: latest,
              Key: { id: { S: id } },
              ConditionExpression: '#v = :prev',
              ExpressionAttributeNames: { '#v': 'version' },
              ExpressionAttributeValues: { ':prev': { N: String(previous) } },
              ReturnConsumedCapacity: 'TOTAL',
            }),
          );
  const b = await client.send(
    new PutItemCommand({
      TableName: history,
      Item: historyCopy(id, next, op, data),
      ConditionExpression: 'attribute_not_exists(pk)',
      ReturnConsumedCapacity: 'TOTAL',
    }),
  );
  return unitsOf(a.ConsumedCapacity) + unitsOf(b.ConsumedCapacity);
}
