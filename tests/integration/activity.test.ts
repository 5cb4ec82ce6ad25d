import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import type { HistoryConfig } from '../../shared/core/config';
import { ValidationError } from '../../shared/core/errors';
import type { HistoryRecord } from '../../shared/core/types';
import { Verifier } from '../../shared/integrity/verify';
import { ActivityReader } from '../../shared/reading/activity';
import {
  activityKeysOf,
  buildHistoryRecord,
  type ChainHead,
  headOf,
  toHistoryItem,
} from '../../shared/recording/history-record';
import { createTestTables, testClient } from '../helpers/dynamo';
import { putItems } from '../helpers/history';

/**
 * The table-wide activity listing against a reference model: whatever the window, page size
 * and order, the pages put together are exactly the history records recorded in [from, to),
 * in activityKey order, each once. The records are spread over five days and every write
 * shard, built by the real record builder.
 */
const client = testClient();
let config: HistoryConfig;
let reader: ActivityReader;
const all: HistoryRecord[] = [];
const DAY0 = Date.parse('2026-03-01T00:00:00.000Z');
const DAYS = 5;
const SEED = Number(process.env.ACTIVITY_SEED ?? 20261202);

/** A deterministic generator (mulberry32), so the history is the same on every run of a seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

beforeAll(async () => {
  ({ config } = await createTestTables(client));
  reader = new ActivityReader({ client, config, cursorSecret: 'a'.repeat(40) });
  const random = prng(SEED);
  for (let i = 0; i < 40; i++) {
    const itemKey = `item-${i}`;
    let head: ChainHead | undefined;
    let at = DAY0 + Math.floor(random() * DAYS * 86_400_000);
    const count = 1 + Math.floor(random() * 6);
    for (let v = 1; v <= count; v++) {
      // Ties in time across items are common (the same second), and some changes share a millisecond.
      const remove = v > 1 && random() < 0.2;
      const record = buildHistoryRecord(
        {
          eventId: `e-${i}-${v}`,
          op: remove ? 'REMOVE' : head === undefined || head.op === 'REMOVE' ? 'INSERT' : 'MODIFY',
          itemKey,
          keys: { id: { S: itemKey } },
          newImage: remove
            ? undefined
            : { id: { S: itemKey }, version: { N: String(v) }, n: { N: String(v) } },
          oldImage: undefined,
          sequenceNumber: String(1000 + v),
          createdAtMs: Math.min(at, DAY0 + DAYS * 86_400_000 - 1),
          isTtlDelete: false,
        },
        head,
        config,
      );
      all.push(record);
      head = headOf(record);
      at += Math.floor(random() * 20 * 3_600_000);
    }
  }
  await putItems(client, config.historyTableName, all.map(toHistoryItem));
}, 60_000);
afterAll(() => client.destroy());

const model = (from: number, to: number, order: 'asc' | 'desc') => {
  const f = new Date(from).toISOString();
  const t = new Date(to).toISOString();
  const keys = all
    .filter((r) => r.recordedAt >= f && r.recordedAt < t)
    .map((r) => `${r.itemKey} v${r.versionNumber}`);
  const byKey = new Map(all.map((r) => [`${r.itemKey} v${r.versionNumber}`, r.activityKey as string]));
  keys.sort((a, b) => ((byKey.get(a) as string) < (byKey.get(b) as string) ? -1 : 1));
  return order === 'asc' ? keys : keys.reverse();
};

async function listAll(from: number, to: number, order: 'asc' | 'desc', limit: number): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await reader.list(new Date(from).toISOString(), new Date(to).toISOString(), {
      limit,
      order,
      ...(cursor ? { cursor } : {}),
    });
    expect(page.items.length).toBeLessThanOrEqual(limit);
    seen.push(...page.items.map((e) => `${e.itemKey} v${e.version}`));
    cursor = page.cursor;
    if (++pages > 500) throw new Error('the listing does not end');
  } while (cursor);
  return seen;
}

describe('table-wide activity (byActivity index)', () => {
  it('stamps every record with its derived day bucket and key, spread over the shards', () => {
    const shards = new Set(all.map((r) => r.activityBucket?.split('#')[1]));
    expect(shards.size).toBe(8);
    for (const r of all)
      expect(activityKeysOf(r.itemKey, r.recordedAt, r.versionNumber)).toEqual({
        activityBucket: r.activityBucket,
        activityKey: r.activityKey,
      });
  });

  it('pages through any window exactly as the model filters it', async () => {
    const span = DAYS * 86_400_000;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: -86_400_000, max: span }),
        fc.integer({ min: 1, max: span + 86_400_000 }),
        fc.constantFrom('asc' as const, 'desc' as const),
        fc.integer({ min: 1, max: 30 }),
        async (start, length, order, limit) => {
          const from = DAY0 + start;
          const to = from + length;
          expect(await listAll(from, to, order, limit)).toEqual(model(from, to, order));
        },
      ),
      { seed: SEED, numRuns: 25 },
    );
  }, 120_000);

  it('lists the whole history once, in time order, with what the index projects', async () => {
    const page = await reader.list(
      new Date(DAY0).toISOString(),
      new Date(DAY0 + DAYS * 86_400_000).toISOString(),
      {
        limit: 1000,
      },
    );
    expect(page.items.length).toBe(all.length);
    expect(page.cursor).toBeUndefined();
    const times = page.items.map((e) => e.recordedAt);
    expect(times).toEqual([...times].sort());
    const first = page.items[0];
    const record = all.find((r) => r.itemKey === first?.itemKey && r.versionNumber === first?.version);
    expect(first).toMatchObject({ op: record?.op, source: record?.source, recordedAt: record?.recordedAt });
  });

  it('refuses bad windows and foreign cursors with a ValidationError', async () => {
    const from = new Date(DAY0).toISOString();
    await expect(reader.list(from, from)).rejects.toThrow(ValidationError);
    await expect(reader.list('yesterday', from)).rejects.toThrow(ValidationError);
    await expect(reader.list('2020-01-01T00:00:00Z', '2026-01-01T00:00:00Z')).rejects.toThrow(/366 days/);
    const to = new Date(DAY0 + 86_400_000).toISOString();
    const page = await reader.list(from, to, { limit: 1 });
    expect(page.cursor).toBeDefined();
    // A cursor is bound to its window and order, and signed.
    await expect(reader.list(from, to, { limit: 1, order: 'desc', cursor: page.cursor })).rejects.toThrow(
      ValidationError,
    );
    await expect(
      new ActivityReader({ client, config, cursorSecret: 'b'.repeat(40) }).list(from, to, {
        cursor: page.cursor,
      }),
    ).rejects.toThrow(ValidationError);
  });

  it('says plainly that activity is off where the stage left the index out, and still stamps the keys', async () => {
    const { config: off } = await createTestTables(client, 'id', { ACTIVITY_INDEX: 'off' });
    const listing = new ActivityReader({ client, config: off }).list(
      '2026-03-01T00:00:00Z',
      '2026-03-02T00:00:00Z',
    );
    await expect(listing).rejects.toThrow(ValidationError);
    await expect(listing).rejects.toMatchObject({ code: 'activity.off' });
    await expect(listing).rejects.toThrow(/activityIndex: false/);
  });

  it('makes verify name a record filed under another day or shard', async () => {
    const target = all.find((r) => r.op !== 'REMOVE') as HistoryRecord;
    const item = toHistoryItem(target);
    item.activityBucket = { S: `1999-01-01#${(Number(target.activityBucket?.split('#')[1]) + 1) % 8}` };
    await client.send(new PutItemCommand({ TableName: config.historyTableName, Item: item }));
    const report = await new Verifier({ client, config }).verifyItem(target.itemKey);
    const kinds = report.findings.filter((f) => f.version === target.versionNumber).map((f) => f.kind);
    expect(kinds).toEqual(expect.arrayContaining(['time.keyMismatch', 'hash.mismatch']));
    await client.send(
      new PutItemCommand({ TableName: config.historyTableName, Item: toHistoryItem(target) }),
    );
  });
});
