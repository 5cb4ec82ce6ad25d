import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CHAIN_MARKER } from '../../shared/core/constants';
import type { AttributeMap } from '../../shared/core/types';
import { backfill } from '../../shared/integrity/backfill';
import {
  atChainStart,
  type HistoryPut,
  type PutOutcome,
  putGroup,
  putHistoryItem,
} from '../../shared/recording/history-put';
import { buildRecord, snapshotChange, toHistoryItem } from '../../shared/recording/history-record';
import { chainProblems } from '../helpers/chain';
import { createTestTables, readHistory, readPartition, testClient } from '../helpers/dynamo';
import { countCommands, injectFault, injectStatementFaults } from '../helpers/faults';
import { random } from '../simulation/model';

/**
 * Backfill sends its chain starts, 25 to a request, as one PartiQL BatchExecuteStatement of INSERTs
 * (putGroup). The outcomes must be exactly the single conditional put's, whatever holds a slot
 * and whatever fails.
 */
const client = testClient();
afterAll(() => client.destroy());

const record = (id: string, version: number, eventId: string, config: Parameters<typeof buildRecord>[2]) =>
  toHistoryItem(
    buildRecord(
      {
        ...snapshotChange(
          'backfill',
          id,
          { id: { S: id }, version: { N: String(version) } },
          undefined,
          1_795_000_000_000,
        ),
        eventId,
      },
      undefined,
      config,
    ),
  );

/** An outcome with what holds the slot reduced to its event, for comparing two tables. */
const shape = (o: PutOutcome | { thrown: string }) =>
  'thrown' in o || o.ok || o.reason === 'chain-started'
    ? o
    : { ok: false, reason: o.reason, existingEvent: o.existing?.eventId?.S ?? null };

describe('grouped puts', () => {
  it('give every outcome the single put gives, and leave the table as it leaves it', async () => {
    const one = await createTestTables(client);
    const two = await createTestTables(client);
    // Each case: what is in the table first, then the put under test.
    type Case = { name: string; before: [AttributeMap, boolean][]; put: [AttributeMap, boolean] };
    const cases = (config: typeof one.config): Case[] => {
      const r = (id: string, v: number, e: string) => record(id, v, e, config);
      return [
        { name: 'a free version', before: [], put: [r('free', 2, 'e-free'), false] },
        { name: 'a free start slot', before: [], put: [r('start', 1, 'e-start'), true] },
        {
          name: 'a version the same event holds',
          before: [[r('same', 2, 'e-same'), false]],
          put: [r('same', 2, 'e-same'), false],
        },
        {
          name: 'a version another event holds',
          before: [[r('other', 2, 'e-first'), false]],
          put: [r('other', 2, 'e-second'), false],
        },
        {
          name: 'a start slot the same record holds',
          before: [[r('restart', 1, 'e-restart'), true]],
          put: [r('restart', 1, 'e-restart'), true],
        },
        {
          name: 'a start slot another chain start holds',
          before: [[r('race', 3, 'e-race-1'), true]],
          put: [r('race', 1, 'e-race-2'), true],
        },
        {
          name: 'a start slot a bare marker holds',
          before: [
            [{ itemKey: { S: 'marked' }, version: { S: CHAIN_MARKER }, startedBy: { S: 'e-old' } }, false],
          ],
          put: [r('marked', 1, 'e-marked'), true],
        },
        {
          name: 'an item over 400 KB',
          before: [],
          put: [{ ...r('huge', 2, 'e-huge'), blob: { S: 'x'.repeat(410 * 1024) } }, false],
        },
      ];
    };
    type Settled = PutOutcome | { thrown: string };
    const run = async (tables: typeof one, putAll: (puts: HistoryPut[]) => Promise<Settled[]>) => {
      const list = cases(tables.config);
      for (const c of list)
        for (const [item, genesis] of c.before)
          await putHistoryItem(client, tables.config.historyTableName, item, genesis);
      const outcomes = await putAll(list.map((c) => ({ item: c.put[0], genesis: c.put[1] })));
      return Object.fromEntries(list.map((c, i) => [c.name, shape(outcomes[i] as Settled)]));
    };
    const thrown = (error: unknown) => ({ thrown: (error as Error).name });
    // Single: one put after another; grouped: every put in one request.
    const single = await run(one, async (puts) => {
      const outcomes: Settled[] = [];
      for (const { item, genesis } of puts)
        outcomes.push(await putHistoryItem(client, one.config.historyTableName, item, genesis).catch(thrown));
      return outcomes;
    });
    const counted = testClient();
    const counts = countCommands(counted);
    const together = await run(two, async (puts) =>
      (await putGroup(counted, two.config.historyTableName, puts)).map((s) =>
        s.status === 'fulfilled' ? s.value : thrown(s.reason),
      ),
    );
    counted.destroy();

    expect(together).toEqual(single);
    expect(single['a free version']).toEqual({ ok: true });
    expect(single['a version the same event holds']).toEqual({
      ok: false,
      reason: 'version-taken',
      existingEvent: 'e-same',
    });
    expect(single['a start slot a bare marker holds']).toEqual({ ok: false, reason: 'chain-started' });
    expect(single['an item over 400 KB']).toEqual({ thrown: 'ValidationException' });
    // They went out as one request of INSERTs, and only what it did not write was sent again alone.
    expect(counts.get('BatchExecuteStatementCommand')).toBeGreaterThanOrEqual(1);
    expect(counts.get('PutItemCommand')).toBeLessThan(8);
    for (const id of ['free', 'start', 'same', 'other', 'restart', 'race', 'marked', 'huge'])
      expect(await readPartition(client, two.config.historyTableName, id)).toEqual(
        await readPartition(client, one.config.historyTableName, id),
      );
  });

  // Seeded: backfill's chain starts, grouped, against items some of which the stream started first
  // (or an earlier release, with a bare marker), while statements are refused or their answers lost
  // and whole requests are throttled.
  it.each([1, 2, 3, 4, 5])('backfill starts every chain once, whatever fails (seed %i)', async (seed) => {
    const { config } = await createTestTables(client);
    const rng = random(seed);
    const items = Array.from({ length: 80 }, (_, i) => `g${seed}-${i}`);
    const started = new Map<string, AttributeMap | undefined>();
    for (const id of items) {
      await client.send(
        new PutItemCommand({
          TableName: config.latestTableName,
          Item: { id: { S: id }, version: { N: '3' }, n: { N: String(rng.int(1000)) } },
        }),
      );
      const roll = rng.next();
      if (roll < 0.25) {
        const first = record(id, 1, `stream-${id}`, config);
        await putHistoryItem(client, config.historyTableName, first, true);
        started.set(id, atChainStart(first));
      } else if (roll < 0.35) {
        const marker = { itemKey: { S: id }, version: { S: CHAIN_MARKER }, startedBy: { S: 'e-old' } };
        await putHistoryItem(client, config.historyTableName, marker, false);
        started.set(id, marker);
      }
    }
    const faulty = testClient();
    const counts = countCommands(faulty);
    injectFault(faulty, (command) => command === 'BatchExecuteStatementCommand' && rng.next() < 0.15);
    const faults = injectStatementFaults(faulty, () => rng.next(), { refused: 0.25, lost: 0.25 });
    const progress = await backfill(faulty, config, { segments: 2 });
    faulty.destroy();

    // A put that got through with its answer lost counts as skipped (the slot was found taken).
    expect(progress.scanned).toBe(80);
    expect(progress.written + progress.skipped).toBe(80);
    expect(progress.written).toBeLessThanOrEqual(80 - started.size);
    for (const id of items) {
      const partition = await readPartition(client, config.historyTableName, id);
      const before = started.get(id);
      if (before) expect(partition).toEqual([before]);
      else {
        // One record, at the start slot, of the item as the latest table holds it.
        expect(partition).toHaveLength(1);
        expect(partition[0]).toMatchObject({ version: { S: CHAIN_MARKER }, source: { S: 'backfill' } });
        const history = await readHistory(client, config.historyTableName, id);
        expect(history.map((r) => r.versionNumber)).toEqual([3]);
        expect(chainProblems(history)).toEqual([]);
      }
    }
    expect(counts.get('BatchExecuteStatementCommand')).toBeGreaterThan(0);
    expect(faults.refused() + faults.lost()).toBeGreaterThan(0);
  });
});
