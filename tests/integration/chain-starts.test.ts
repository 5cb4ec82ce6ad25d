import { GetItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import type { HistoryConfig } from '../../shared/core/config';
import { CHAIN_MARKER } from '../../shared/core/constants';
import type { AttributeMap } from '../../shared/core/types';
import { digestLine, readItemChain, Verifier } from '../../shared/integrity/verify';
import { HistoryReader } from '../../shared/reading/audit';
import {
  atChainStart,
  chainMarker,
  putChainStarts,
  putHistoryItem,
} from '../../shared/recording/history-put';
import { buildRecord, snapshotChange, toHistoryItem } from '../../shared/recording/history-record';
import { HistoryWriter } from '../../shared/recording/history-writer';
import { moveChainStart } from '../../shared/recording/retention';
import { createTestTables, testClient } from '../helpers/dynamo';
import { countCommands } from '../helpers/faults';
import { streamRecord } from '../helpers/stream-records';

/**
 * A chain's first record is stored at the chain's start slot: one conditional put starts a chain,
 * exclusive whatever version two writers would start it at. Retention moves it to its version,
 * leaving a bare marker. Every reader sees one history whichever layout a chain has.
 */
const client = testClient();
let config: HistoryConfig;

beforeAll(async () => {
  ({ config } = await createTestTables(client));
});
afterAll(() => client.destroy());

const genesis = (id: string, extra: AttributeMap = {}, cfg = config): AttributeMap =>
  toHistoryItem(
    buildRecord(
      snapshotChange('backfill', id, { id: { S: id }, version: { N: '1' }, ...extra }, undefined, Date.now()),
      undefined,
      cfg,
    ),
  );

const partition = async (id: string, table = config.historyTableName) =>
  (
    await client.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'itemKey = :k',
        ExpressionAttributeValues: { ':k': { S: id } },
        ConsistentRead: true,
      }),
    )
  ).Items ?? [];

/** An item's creation at version 1 and its next `changes` updates, as the stream delivers them. */
const createdThenChanged = (id: string, changes: number) => [
  streamRecord({ keys: { id: { S: id } }, newImage: { id: { S: id }, version: { N: '1' } } }),
  ...Array.from({ length: changes }, (_, i) =>
    streamRecord({
      op: 'MODIFY',
      keys: { id: { S: id } },
      oldImage: { id: { S: id }, version: { N: String(i + 1) } },
      newImage: { id: { S: id }, version: { N: String(i + 2) } },
    }),
  ),
];

describe('chain starts', () => {
  it('start a chain with one item at the start slot, and give taken slots the outcome a single start gets', async () => {
    const items = Array.from({ length: 30 }, (_, i) => genesis(`g-${i}`));
    // g-3's chain was started by another writer, at v2; g-17's start slot already holds this very
    // record (a redelivery); g-20 has a chain from an earlier release (its record at v1, a bare marker).
    expect(
      (await putHistoryItem(client, config.historyTableName, genesis('g-3', { version: { N: '2' } }), true))
        .ok,
    ).toBe(true);
    await client.send(
      new PutItemCommand({
        TableName: config.historyTableName,
        Item: atChainStart(items[17] as AttributeMap),
      }),
    );
    const legacy = items[20] as AttributeMap;
    await client.send(new PutItemCommand({ TableName: config.historyTableName, Item: legacy }));
    await client.send(new PutItemCommand({ TableName: config.historyTableName, Item: chainMarker(legacy) }));

    const outcomes = await putChainStarts(client, config.historyTableName, items);
    expect(outcomes[3]).toEqual({ ok: false, reason: 'chain-started' });
    expect(outcomes[17]).toMatchObject({
      ok: false,
      reason: 'version-taken',
      existing: { eventId: items[17]?.eventId },
    });
    expect(outcomes[20]).toEqual({ ok: false, reason: 'chain-started' });
    const ok = outcomes.map((o, i) => (o.ok ? i : -1)).filter((i) => i >= 0);
    expect(ok).toHaveLength(27);
    const reader = new HistoryReader({ client, config });
    const verifier = new Verifier({ client, config });
    for (const i of [...ok, 17]) {
      const stored = await partition(`g-${i}`);
      expect(stored).toEqual([atChainStart(items[i] as AttributeMap)]);
      const v1 = await reader.getVersion(`g-${i}`, 1);
      expect([v1.version, v1.hash, v1.contentHash]).toEqual(['v0001', items[i]?.hash?.S, items[i]?.hash?.S]);
      const chainFindings = (await verifier.verifyItem(`g-${i}`)).findings.filter(
        (f) => !f.kind.startsWith('latest.'),
      );
      expect(chainFindings).toEqual([]);
    }
    // A second run starts nothing: every chain is there.
    const again = await putChainStarts(client, config.historyTableName, items);
    expect(again.every((o) => !o.ok)).toBe(true);
  });

  it('start chains of items near 400 KB', async () => {
    const big = Array.from({ length: 12 }, (_, i) =>
      genesis(`big-${i}`, { blob: { S: 'x'.repeat(300_000) } }),
    );
    const outcomes = await putChainStarts(client, config.historyTableName, big);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect((await partition('big-11')).map((s) => s.version?.S)).toEqual([CHAIN_MARKER]);
  });

  it('cost a created item one request: its chain is started without reading history first', async () => {
    const counted = testClient();
    const counts = countCommands(counted);
    try {
      const writer = new HistoryWriter({ client: counted, config });
      const id = 'one-request';
      const batch = createdThenChanged(id, 3);
      const result = await writer.recordBatch(batch);
      expect(result.stats.recorded).toBe(4);
      expect(Object.fromEntries(counts)).toEqual({ PutItemCommand: 4 });
      // Redelivered: the start is refused, and the item takes the reading path, finding all four.
      counts.clear();
      const again = await writer.recordBatch(batch);
      expect(again.stats).toMatchObject({ recorded: 0, duplicates: 4 });
      expect(counts.get('QueryCommand')).toBe(1);
      expect((await partition(id)).map((s) => s.version?.S)).toEqual([
        CHAIN_MARKER,
        'v0002',
        'v0003',
        'v0004',
      ]);
    } finally {
      counted.destroy();
    }
  });
});

describe('retention and the start slot', () => {
  it('moves the first record to its version when it leaves the window, leaving a bare marker', async () => {
    const own = await createTestTables(client, 'id', { HISTORY_KEEP_VERSIONS: '1' });
    const writer = new HistoryWriter({ client, config: own.config });
    const id = 'moved';
    await writer.recordBatch(createdThenChanged(id, 0));
    const [first] = await partition(id, own.tables.history);
    expect(first?.version?.S).toBe(CHAIN_MARKER);
    const before = await readItemChain(client, own.tables.history, id);
    const lineBefore = digestLine(id, before.records, before.marker);

    // Moving it changes where it is kept, never what history says: same records, same digest line.
    expect(
      await moveChainStart(client, own.tables.history, id, { versionNumber: 1, expiresAt: 2_000_000_000 }),
    ).toBe(true);
    expect(
      await moveChainStart(client, own.tables.history, id, { versionNumber: 1, expiresAt: 2_000_000_000 }),
    ).toBe(false);
    const after = await readItemChain(client, own.tables.history, id);
    expect(digestLine(id, after.records, after.marker)).toBe(lineBefore);
    const stored = await partition(id, own.tables.history);
    const { version: _slot, ...content } = first as AttributeMap;
    expect(stored).toEqual([
      chainMarker(first as AttributeMap),
      { ...content, version: { S: 'v0001' }, expiresAt: { N: '2000000000' } },
    ]);
  });

  it('moves it as the writer pushes it out, and verify finds nothing', async () => {
    const own = await createTestTables(client, 'id', { HISTORY_KEEP_VERSIONS: '1' });
    const writer = new HistoryWriter({ client, config: own.config });
    const id = 'pushed';
    await writer.recordBatch(createdThenChanged(id, 0));
    const result = await writer.recordBatch([
      streamRecord({
        op: 'MODIFY',
        keys: { id: { S: id } },
        oldImage: { id: { S: id }, version: { N: '1' } },
        newImage: { id: { S: id }, version: { N: '2' } },
      }),
    ]);
    expect(result.stats).toMatchObject({ recorded: 1, expiring: 1 });
    const stored = await partition(id, own.tables.history);
    expect(stored.map((s) => [s.version?.S, s.hash === undefined, s.expiresAt !== undefined])).toEqual([
      [CHAIN_MARKER, true, false],
      ['v0001', false, true],
      ['v0002', false, false],
    ]);
    const report = await new Verifier({ client, config: own.config }).verifyItem(id);
    expect(report.findings.filter((f) => !f.kind.startsWith('latest.'))).toEqual([]);
  });
});

describe('readers over every layout of a chain', () => {
  /** v1–v4 of an item, its first record at the start slot, at its version with a bare marker, or (earlier releases) the same. */
  async function chainOf(id: string, layout: 'start-slot' | 'moved'): Promise<void> {
    const writer = new HistoryWriter({ client, config });
    await writer.recordBatch(createdThenChanged(id, 3));
    if (layout === 'moved')
      expect(
        await moveChainStart(client, config.historyTableName, id, {
          versionNumber: 1,
          expiresAt: 2_000_000_000,
        }),
      ).toBe(true);
  }

  it.each(['start-slot', 'moved'] as const)(
    'list, page and find every version, once and in order (%s)',
    async (layout) => {
      const id = `layout-${layout}`;
      await chainOf(id, layout);
      const reader = new HistoryReader({ client, config });
      const tried: string[] = [];
      for (const from of [undefined, 1, 2, 4])
        for (const to of [undefined, 1, 3])
          for (const order of ['asc', 'desc'] as const)
            for (const limit of [1, 2, 5]) {
              if (from !== undefined && to !== undefined && from > to) continue;
              const expected = [1, 2, 3, 4].filter((v) => (from ?? 0) <= v && v <= (to ?? 4));
              if (order === 'desc') expected.reverse();
              const seen: number[] = [];
              let cursor: string | undefined;
              for (let pages = 0; pages < 10; pages++) {
                const page = await reader.listVersions(id, { from, to, order, limit, cursor }).catch((e) => {
                  throw new Error(`${JSON.stringify({ from, to, order, limit, pages })}: ${e}`);
                });
                expect(page.items.length).toBeLessThanOrEqual(limit);
                seen.push(...page.items.map((r) => r.versionNumber));
                cursor = page.cursor;
                if (!cursor) break;
              }
              tried.push(`${from}-${to}-${order}-${limit}`);
              expect([from, to, order, limit, seen]).toEqual([from, to, order, limit, expected]);
            }
      expect(tried.length).toBeGreaterThan(50);
      for (const v of [1, 2, 3, 4]) expect((await reader.getVersion(id, v)).versionNumber).toBe(v);
      expect((await reader.latest(id))?.versionNumber).toBe(4);
      const blamed: number[] = [];
      for await (const page of reader.metadata(id, 'asc')) blamed.push(...page.map((r) => r.versionNumber));
      expect(blamed).toEqual([1, 2, 3, 4]);
      const raw = await client.send(
        new GetItemCommand({
          TableName: config.historyTableName,
          Key: { itemKey: { S: id }, version: { S: CHAIN_MARKER } },
        }),
      );
      expect(raw.Item?.hash === undefined).toBe(layout === 'moved');
    },
  );
});
