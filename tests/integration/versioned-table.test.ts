import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import {
  ItemExistsError,
  ItemNotFoundError,
  ValidationError,
  VersionConflictError,
} from '../../shared/core/errors';
import { retryOnConflict, VersionedTable } from '../../shared/writing/versioned-table';
import { createTestTables, testClient } from '../helpers/dynamo';

const client = testClient();
let table: VersionedTable;
let tableName: string;

beforeAll(async () => {
  const { tables, config } = await createTestTables(client);
  tableName = tables.latest;
  table = new VersionedTable({
    client,
    tableName,
    keySchema: config.keySchema,
    attributes: config.attributes,
  });
});
afterAll(() => client.destroy());

async function raw(id: string) {
  const out = await client.send(
    new GetItemCommand({ TableName: tableName, Key: { id: { S: id } }, ConsistentRead: true }),
  );
  return out.Item ? unmarshall(out.Item) : undefined;
}

describe('VersionedTable on DynamoDB Local', () => {
  it('creates once; a second create fails with ItemExistsError carrying the version', async () => {
    expect(await table.create({ id: 'c1', status: 'new' }, { actor: 'alice' })).toBe(1);
    const error = await table.create({ id: 'c1', status: 'again' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ItemExistsError);
    expect((error as ItemExistsError).currentVersion).toBe(1);
    expect(await raw('c1')).toMatchObject({ status: 'new', version: 1, modifiedBy: 'alice' });
  });

  it('updates only at the expected version, and a stale writer gets the current version', async () => {
    await table.create({ id: 'u1', n: 1 });
    const created = (await raw('u1'))?.createdAt;
    expect(await table.update({ id: 'u1' }, 1, { n: 2 })).toBe(2);
    const error = await table.update({ id: 'u1' }, 1, { n: 99 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VersionConflictError);
    expect(error).toMatchObject({ code: 'version.conflict', expectedVersion: 1, currentVersion: 2 });
    expect(await raw('u1')).toMatchObject({ n: 2, version: 2, createdAt: created });
  });

  it('reports a missing item as ItemNotFoundError', async () => {
    await expect(table.update({ id: 'nobody' }, 1, { n: 1 })).rejects.toBeInstanceOf(ItemNotFoundError);
    await expect(table.remove({ id: 'nobody' }, 1)).rejects.toBeInstanceOf(ItemNotFoundError);
    expect(await raw('nobody')).toBeUndefined();
  });

  it('put replaces the item and keeps createdAt even when the caller omits it', async () => {
    await table.create({ id: 'p1', a: 1, b: 2 });
    const before = await raw('p1');
    expect(await table.put({ id: 'p1', a: 10 }, 1)).toBe(2);
    const after = await raw('p1');
    expect(after).toMatchObject({ id: 'p1', a: 10, version: 2, createdAt: before?.createdAt });
    expect(after?.b).toBeUndefined();
    await expect(table.put({ id: 'p1', a: 11 }, 1)).rejects.toBeInstanceOf(VersionConflictError);
  });

  it('removes only at the expected version and returns the tombstone version', async () => {
    await table.create({ id: 'r1' });
    await expect(table.remove({ id: 'r1' }, 5)).rejects.toBeInstanceOf(VersionConflictError);
    expect(await table.remove({ id: 'r1' }, 1)).toBe(2);
    expect(await raw('r1')).toBeUndefined();
  });

  it('brings an unversioned legacy item under locking with expected version 0', async () => {
    await client.send(
      new PutItemCommand({ TableName: tableName, Item: { id: { S: 'legacy' }, x: { N: '1' } } }),
    );
    expect(await table.update({ id: 'legacy' }, 0, { x: 2 })).toBe(1);
    await expect(table.update({ id: 'legacy' }, 0, { x: 3 })).rejects.toBeInstanceOf(VersionConflictError);
    expect(await raw('legacy')).toMatchObject({ x: 2, version: 1 });
  });

  it('round-trips attribute names with #, :, ., spaces and reserved words', async () => {
    const names = ['a#b', 'x:y', 'p.q', 'has space', 'size', 'ORDER', 'status', '#n0', ':v0'];
    await table.create({ id: 'names' });
    await table.update({ id: 'names' }, 1, Object.fromEntries(names.map((n, i) => [n, i])));
    const item = await raw('names');
    names.forEach((n, i) => {
      expect(item?.[n]).toBe(i);
    });
  });

  it('rejects an oversized item with a ValidationError and writes nothing', async () => {
    await expect(table.create({ id: 'big', body: 'x'.repeat(401 * 1024) })).rejects.toBeInstanceOf(
      ValidationError,
    );
    expect(await raw('big')).toBeUndefined();
  });

  it('loses no update under contention when writers retry on conflict', async () => {
    await table.create({ id: 'counter', n: 0 });
    const writers = 8;
    const perWriter = 10;
    await Promise.all(
      Array.from({ length: writers }, async () => {
        for (let i = 0; i < perWriter; i++) {
          await retryOnConflict(
            async () => {
              const current = await table.get({ id: 'counter' });
              if (!current) throw new Error('counter vanished');
              return table.update({ id: 'counter' }, current.version, { n: (current.item.n as number) + 1 });
            },
            { maxAttempts: 200, baseDelayMs: 2, maxDelayMs: 50 },
          );
        }
      }),
    );
    expect(await raw('counter')).toMatchObject({ n: writers * perWriter, version: 1 + writers * perWriter });
  });
});
