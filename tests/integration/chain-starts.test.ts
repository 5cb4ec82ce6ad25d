import { PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import type { HistoryConfig } from '../../shared/core/config';
import type { AttributeMap } from '../../shared/core/types';
import { chainMarker, putChainStarts, putHistoryItem } from '../../shared/recording/history-put';
import { buildRecord, snapshotChange, toHistoryItem } from '../../shared/recording/history-record';
import { createTestTables, testClient } from '../helpers/dynamo';

/**
 * Backfill's grouped chain starts: many items per transaction, each with exactly the outcome a
 * single chain start would have had, whatever else its transaction held.
 */
const client = testClient();
let config: HistoryConfig;

beforeAll(async () => {
  ({ config } = await createTestTables(client));
});
afterAll(() => client.destroy());

const genesis = (id: string, extra: AttributeMap = {}): AttributeMap =>
  toHistoryItem(
    buildRecord(
      snapshotChange('backfill', id, { id: { S: id }, version: { N: '1' }, ...extra }, undefined, Date.now()),
      undefined,
      config,
    ),
  );

const partition = async (id: string) =>
  (
    await client.send(
      new QueryCommand({
        TableName: config.historyTableName,
        KeyConditionExpression: 'itemKey = :k',
        ExpressionAttributeValues: { ':k': { S: id } },
        ConsistentRead: true,
      }),
    )
  ).Items ?? [];

describe('putChainStarts', () => {
  it('writes every free item with its marker, and gives the taken ones the outcome a single start gets', async () => {
    const items = Array.from({ length: 60 }, (_, i) => genesis(`g-${i}`));
    // g-3's chain was started by another writer, at v2; g-17's first slot holds another record, without a marker.
    const other = genesis('g-3', { version: { N: '2' } });
    expect(other.version).toEqual({ S: 'v0002' });
    expect((await putHistoryItem(client, config.historyTableName, other, true)).ok).toBe(true);
    await client.send(
      new PutItemCommand({
        TableName: config.historyTableName,
        Item: { ...(items[17] as AttributeMap), eventId: { S: 'other' } },
      }),
    );
    const outcomes = await putChainStarts(client, config.historyTableName, items);
    expect(outcomes[3]).toEqual({ ok: false, reason: 'chain-started' });
    expect(outcomes[17]).toMatchObject({
      ok: false,
      reason: 'version-taken',
      existing: { eventId: { S: 'other' } },
    });
    const ok = outcomes.map((o, i) => (o.ok ? i : -1)).filter((i) => i >= 0);
    expect(ok).toHaveLength(58);
    for (const i of ok) {
      const stored = await partition(`g-${i}`);
      expect(stored.map((s) => s.version?.S).sort()).toEqual(['!chain', 'v0001']);
      expect(stored.find((s) => s.version?.S === '!chain')).toEqual(chainMarker(items[i] as AttributeMap));
    }
    // A second run starts nothing: every chain is there.
    const again = await putChainStarts(client, config.historyTableName, items);
    expect(again.every((o) => !o.ok)).toBe(true);
  });

  it('splits large items over transactions under DynamoDB’s 4 MB', async () => {
    const big = Array.from({ length: 12 }, (_, i) =>
      genesis(`big-${i}`, { blob: { S: 'x'.repeat(300_000) } }),
    );
    const outcomes = await putChainStarts(client, config.historyTableName, big);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect((await partition('big-11')).length).toBe(2);
  });
});
