import { GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { TableSet } from '../../local/tables';
import type { HistoryConfig } from '../../shared/core/config';
import {
  ItemNotFoundError,
  ValidationError,
  VersionConflictError,
  VersionNotFoundError,
} from '../../shared/core/errors';
import { RollbackService } from '../../shared/writing/rollback';
import type { VersionedTable } from '../../shared/writing/versioned-table';
import { chainProblems } from '../helpers/chain';
import { readHistory, testClient, waitForHistory } from '../helpers/dynamo';
import { type Pipeline, recordedTables } from '../helpers/pipeline';

const client = testClient();
let tables: TableSet;
let config: HistoryConfig;
let pipeline: Pipeline;
let orders: VersionedTable;
let rollback: RollbackService;

beforeAll(async () => {
  ({ tables, config, orders, pipeline } = await recordedTables(client));
  rollback = new RollbackService({ client, config });
});
afterAll(async () => {
  await pipeline.stop();
  client.destroy();
});

const history = (id: string) => readHistory(client, tables.history, id);
const waitForVersions = (id: string, count: number) => waitForHistory(client, tables.history, id, count);
const latest = async (id: string) => {
  const out = await client.send(
    new GetItemCommand({ TableName: tables.latest, Key: { id: { S: id } }, ConsistentRead: true }),
  );
  return out.Item ? unmarshall(out.Item) : undefined;
};

/** Three versions: new → paid (+ items) → shipped. */
async function threeVersions(id: string): Promise<void> {
  await orders.create({ id, status: 'new', address: { city: 'Oslo' } }, { actor: 'app' });
  await orders.update({ id }, 1, { status: 'paid', items: [{ sku: 'a', qty: 1 }] }, { actor: 'app' });
  await orders.update({ id }, 2, { status: 'shipped' }, { actor: 'app' });
  await waitForVersions(id, 3);
}

describe('rollback (DynamoDB Local, real stream)', () => {
  it('restores an old image as a new version, labelled in history; a later write is not', async () => {
    await threeVersions('rb-1');
    const before = await latest('rb-1');
    const result = await rollback.rollback({
      key: { id: 'rb-1' },
      toVersion: 1,
      expectedVersion: 3,
      actor: 'alice',
      reason: 'undo bad edit',
    });
    expect(result).toMatchObject({
      key: { id: 'rb-1' },
      restoredVersion: 1,
      previousVersion: 3,
      newVersion: 4,
      dryRun: false,
    });
    expect(result.image).toMatchObject({
      id: 'rb-1',
      status: 'new',
      address: { city: 'Oslo' },
      version: 4,
      modifiedBy: 'alice',
    });
    const now = await latest('rb-1');
    expect(now).toMatchObject({ status: 'new', version: 4, createdAt: before?.createdAt });
    expect(now?.items).toBeUndefined();

    await orders.update({ id: 'rb-1' }, 4, { status: 'paid-again' }, { actor: 'bob' });
    const records = await waitForVersions('rb-1', 5);
    expect(records.map((r) => [r.versionNumber, r.source])).toEqual([
      [1, 'app'],
      [2, 'app'],
      [3, 'app'],
      [4, 'rollback'],
      [5, 'app'],
    ]);
    expect(records[3]).toMatchObject({
      restoredFrom: 1,
      actor: 'alice',
      reason: 'undo bad edit',
      changed: ['items', 'status'],
    });
    expect(records[3]?.image?.historyContext).toBeUndefined();
    expect(records[4]?.restoredFrom).toBeUndefined();
    expect(records[4]?.reason).toBeUndefined();
    expect(chainProblems(records)).toEqual([]);
  });

  it('labels nothing as a rollback when a plain write keeps the context attribute', async () => {
    await threeVersions('rb-plain');
    await rollback.rollback({ key: { id: 'rb-plain' }, toVersion: 2 });
    // A plain app update that neither bumps the version nor clears historyContext.
    await client.send(
      new UpdateItemCommand({
        TableName: tables.latest,
        Key: { id: { S: 'rb-plain' } },
        UpdateExpression: 'SET note = :n, version = version + :one',
        ExpressionAttributeValues: { ':n': { S: 'x' }, ':one': { N: '1' } },
      }),
    );
    const records = await waitForVersions('rb-plain', 5);
    expect(records.map((r) => r.source)).toEqual(['app', 'app', 'app', 'rollback', 'app']);
  });

  it('writes nothing on a dry run', async () => {
    await threeVersions('rb-dry');
    const before = await latest('rb-dry');
    const result = await rollback.rollback({ key: { id: 'rb-dry' }, toVersion: 1, dryRun: true });
    expect(result).toMatchObject({ dryRun: true, newVersion: 4, image: { status: 'new', version: 4 } });
    expect(await latest('rb-dry')).toEqual(before);
    await new Promise((r) => setTimeout(r, 500));
    expect(await history('rb-dry')).toHaveLength(3);
  });

  it.each<[string, object, new (...args: never[]) => Error]>([
    ['a stale expectedVersion', { toVersion: 1, expectedVersion: 2 }, VersionConflictError],
    ['an unknown version', { toVersion: 99 }, VersionNotFoundError],
  ])('refuses %s and writes nothing', async (_case, payload, type) => {
    const id = `rb-bad-${type.name}`;
    await threeVersions(id);
    const before = await latest(id);
    await expect(rollback.rollback({ key: { id }, ...payload } as never)).rejects.toBeInstanceOf(type);
    expect(await latest(id)).toEqual(before);
    await new Promise((r) => setTimeout(r, 300));
    expect(await history(id)).toHaveLength(3);
  });

  it('refuses an item without history and a key of the wrong shape', async () => {
    await expect(rollback.rollback({ key: { id: 'never' }, toVersion: 1 })).rejects.toBeInstanceOf(
      ItemNotFoundError,
    );
    await expect(rollback.rollback({ key: { id: 'rb-1', extra: 'x' }, toVersion: 1 })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(rollback.rollback({ key: { id: 7 }, toVersion: 1 })).rejects.toBeInstanceOf(ValidationError);
    await expect(rollback.rollback({ key: {}, toVersion: 1 })).rejects.toBeInstanceOf(ValidationError);
  });

  it('loses a race with a concurrent write: VersionConflictError, the other write stands', async () => {
    await threeVersions('rb-race');
    const service = new RollbackService({ client, config });
    // The app writes between the rollback's read and its write: simulated by expecting the old version.
    await orders.update({ id: 'rb-race' }, 3, { status: 'concurrent' });
    await expect(
      service.rollback({ key: { id: 'rb-race' }, toVersion: 1, expectedVersion: 3 }),
    ).rejects.toMatchObject({
      code: 'version.conflict',
      currentVersion: 4,
    });
    expect(await latest('rb-race')).toMatchObject({ status: 'concurrent', version: 4 });
  });

  it('deletes the item when rolling back to a tombstone, and restores a deleted item with numbering continuing', async () => {
    await orders.create({ id: 'rb-del', n: 1 });
    await orders.remove({ id: 'rb-del' }, 1);
    await client.send(
      new PutItemCommand({ TableName: tables.latest, Item: { id: { S: 'rb-del' }, n: { N: '3' } } }),
    );
    await waitForVersions('rb-del', 3);

    const toTombstone = await rollback.rollback({ key: { id: 'rb-del' }, toVersion: 2 });
    // The item has no version of its own: its version is the one history gave its state (v3, legacy).
    expect(toTombstone).toMatchObject({ previousVersion: 3, newVersion: 4, image: null });
    expect(await latest('rb-del')).toBeUndefined();
    await waitForVersions('rb-del', 4);
    await expect(rollback.rollback({ key: { id: 'rb-del' }, toVersion: 2 })).rejects.toBeInstanceOf(
      ValidationError,
    );

    const restored = await rollback.rollback({
      key: { id: 'rb-del' },
      toVersion: 1,
      expectedVersion: 4,
      reason: 'restore',
    });
    expect(restored).toMatchObject({
      previousVersion: 4,
      newVersion: 5,
      image: { id: 'rb-del', n: 1, version: 5 },
    });
    const records = await waitForVersions('rb-del', 5);
    expect(records.map((r) => [r.versionNumber, r.op, r.source])).toEqual([
      [1, 'INSERT', 'app'],
      [2, 'REMOVE', 'app'],
      [3, 'INSERT', 'legacy'],
      [4, 'REMOVE', 'app'],
      [5, 'INSERT', 'rollback'],
    ]);
    expect(records[4]).toMatchObject({ restoredFrom: 1, reason: 'restore' });
  });
});
