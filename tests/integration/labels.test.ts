import { randomBytes } from 'node:crypto';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { TableSet } from '../../local/tables';
import type { HistoryConfig } from '../../shared/core/config';
import { ConfigurationError } from '../../shared/core/errors';
import { HmacKey } from '../../shared/core/mac';
import { sealLabel } from '../../shared/recording/rollback-label';
import { RollbackService } from '../../shared/writing/rollback';
import type { VersionedTable } from '../../shared/writing/versioned-table';
import { chainProblems } from '../helpers/chain';
import { readHistory, testClient, waitForHistory } from '../helpers/dynamo';
import { type Pipeline, recordedTables } from '../helpers/pipeline';

// Provable rollback labels (README, "Threat model"): only the rollback service, holding the
// label key, can make a write that history records as a rollback.
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
const wait = (id: string, count: number) => waitForHistory(client, tables.history, id, count);
const rawItem = async (id: string) =>
  (
    await client.send(
      new GetItemCommand({ TableName: tables.latest, Key: { id: { S: id } }, ConsistentRead: true }),
    )
  ).Item ?? {};
const put = (item: Record<string, unknown>) =>
  client.send(new PutItemCommand({ TableName: tables.latest, Item: item as never }));

async function twoVersions(id: string): Promise<void> {
  await orders.create({ id, status: 'new' }, { actor: 'app' });
  await orders.update({ id }, 1, { status: 'paid' }, { actor: 'app' });
  await wait(id, 2);
}

describe('rollback labels', () => {
  it('records a real rollback as one, with the claimed actor marked as claimed', async () => {
    await twoVersions('lb-real');
    await rollback.rollback({ key: { id: 'lb-real' }, toVersion: 1, actor: 'alice', reason: 'undo' });
    const records = await wait('lb-real', 3);
    expect(records[2]).toMatchObject({
      source: 'rollback',
      restoredFrom: 1,
      reason: 'undo',
      actor: 'alice',
      actorSource: 'claimed',
    });
    expect(records[2]?.labelRejected).toBeUndefined();
    expect(chainProblems(records)).toEqual([]);
  });

  it('takes the actor from the caller’s identity where the caller is known', async () => {
    await twoVersions('lb-caller');
    const caller = 'arn:aws:iam::123456789012:user/auditor';
    await rollback.rollback({ key: { id: 'lb-caller' }, toVersion: 1, reason: 'ticket 7' }, { caller });
    const records = await wait('lb-caller', 3);
    expect(records[2]).toMatchObject({ source: 'rollback', actor: caller, actorSource: 'caller' });
  });

  it('does not believe a plain write that labels itself a rollback (the forged "approved by CFO")', async () => {
    await twoVersions('lb-forged');
    await put({
      id: { S: 'lb-forged' },
      version: { N: '3' },
      status: { S: 'new' },
      historyContext: {
        M: {
          source: { S: 'rollback' },
          version: { N: '3' },
          restoredFrom: { N: '1' },
          reason: { S: 'approved by CFO' },
          actorSource: { S: 'caller' },
          actor: { S: 'arn:aws:iam::123456789012:user/cfo' },
          keyId: { S: 'local' },
          mac: { B: randomBytes(32) },
        },
      },
    });
    const records = await wait('lb-forged', 3);
    const forged = records[2];
    expect(forged).toMatchObject({ source: 'app', labelRejected: true });
    expect(forged?.restoredFrom).toBeUndefined();
    expect(forged?.reason).toBeUndefined();
    expect(forged?.actorSource).toBeUndefined();
    // The change itself is recorded, and the chain is whole.
    expect(forged?.image?.status).toEqual({ S: 'new' });
    expect(chainProblems(records)).toEqual([]);
  });

  it('does not believe a real label copied onto a later write (a replay)', async () => {
    await twoVersions('lb-replay');
    await rollback.rollback({ key: { id: 'lb-replay' }, toVersion: 1, reason: 'real' });
    await wait('lb-replay', 3);
    const label = (await rawItem('lb-replay')).historyContext;
    // A later write, then a plain put of the label at its own version number: history numbers it v5.
    await orders.update({ id: 'lb-replay' }, 3, { status: 'other' }, { actor: 'app' });
    await wait('lb-replay', 4);
    await put({ id: { S: 'lb-replay' }, version: { N: '3' }, status: { S: 'x' }, historyContext: label });
    const records = await wait('lb-replay', 5);
    expect(records.map((r) => [r.source, r.labelRejected ?? false])).toEqual([
      ['app', false],
      ['app', false],
      ['rollback', false],
      ['app', false],
      ['legacy', true],
    ]);
  });

  it('does not believe a label sealed with another key, even for the right version', async () => {
    await twoVersions('lb-otherkey');
    const other = new HmacKey(randomBytes(32));
    const label = await sealLabel(other, tables.latest, 'lb-otherkey', {
      version: 3,
      restoredFrom: 1,
      actorSource: 'claimed',
      actor: 'mallory',
    });
    await put({ id: { S: 'lb-otherkey' }, version: { N: '3' }, status: { S: 'new' }, historyContext: label });
    const [, , third] = await wait('lb-otherkey', 3);
    expect(third).toMatchObject({ source: 'app', labelRejected: true });
  });

  it('does not believe a label made for another item or another table', async () => {
    await twoVersions('lb-elsewhere');
    const key = config.labelKey as HmacKey;
    const forOther = await sealLabel(key, tables.latest, 'some-other-item', {
      version: 3,
      restoredFrom: 1,
      actorSource: 'claimed',
    });
    const forOtherTable = await sealLabel(key, 'another-table', 'lb-elsewhere', {
      version: 4,
      restoredFrom: 1,
      actorSource: 'claimed',
    });
    await put({ id: { S: 'lb-elsewhere' }, version: { N: '3' }, historyContext: forOther });
    await put({ id: { S: 'lb-elsewhere' }, version: { N: '4' }, historyContext: forOtherTable });
    const records = await wait('lb-elsewhere', 4);
    expect(records.slice(2).map((r) => [r.source, r.labelRejected])).toEqual([
      ['app', true],
      ['app', true],
    ]);
  });

  it('ignores a label a later plain write carries over unchanged: it claims nothing', async () => {
    await twoVersions('lb-carried');
    await rollback.rollback({ key: { id: 'lb-carried' }, toVersion: 1 });
    await wait('lb-carried', 3);
    const item = await rawItem('lb-carried');
    await put({ ...item, version: { N: '4' }, status: { S: 'later' } });
    const records = await wait('lb-carried', 4);
    expect(records[3]).toMatchObject({ source: 'app' });
    expect(records[3]?.labelRejected).toBeUndefined();
  });

  it('refuses to roll back without a label key, writing nothing', async () => {
    await twoVersions('lb-nokey');
    const { labelKey: _none, ...keyless } = config;
    const before = await rawItem('lb-nokey');
    await expect(
      new RollbackService({ client, config: keyless }).rollback({ key: { id: 'lb-nokey' }, toVersion: 1 }),
    ).rejects.toBeInstanceOf(ConfigurationError);
    expect(await rawItem('lb-nokey')).toEqual(before);
    expect((await history('lb-nokey')).length).toBe(2);
  });
});
