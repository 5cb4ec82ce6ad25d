import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { LambdaStreamRecord } from '../../local/event-source-mapping';
import { CHAIN_MARKER } from '../../shared/core/constants';
import type { AttributeMap } from '../../shared/core/types';
import { GroupedPuts, type PutOutcome, putHistoryItem } from '../../shared/recording/history-put';
import { buildRecord, snapshotChange, toHistoryItem } from '../../shared/recording/history-record';
import { HistoryWriter } from '../../shared/recording/history-writer';
import { compareSequenceNumbers } from '../../shared/recording/stream-record';
import { chainProblems } from '../helpers/chain';
import { createTestTables, readHistory, readPartition, testClient } from '../helpers/dynamo';
import { injectFault, injectStatementFaults } from '../helpers/faults';
import { N, S, streamRecord } from '../helpers/stream-records';
import { random } from '../simulation/model';

/**
 * writeHistory sends the puts that wait at the same moment (different items' next records, and
 * backfill's chain starts) as one PartiQL BatchExecuteStatement of INSERTs. Its outcomes must be
 * exactly the single conditional put's, whatever holds a slot and whatever fails.
 */
const client = testClient();
afterAll(() => client.destroy());

/** Counts the requests of each command sent through a client. */
function countCommands(c: DynamoDBClient): Map<string, number> {
  const counts = new Map<string, number>();
  c.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? '?';
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countCommands' },
  );
  return counts;
}

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
    const run = async (
      tables: typeof one,
      put: (item: AttributeMap, genesis: boolean) => Promise<PutOutcome>,
      all: boolean,
    ) => {
      const list = cases(tables.config);
      for (const c of list)
        for (const [item, genesis] of c.before)
          await putHistoryItem(client, tables.config.historyTableName, item, genesis);
      const settle = async (c: Case) => {
        try {
          return shape(await put(...c.put));
        } catch (error) {
          return { thrown: (error as Error).name };
        }
      };
      // Grouped: every put at once, so they go out together; single: one after another.
      const outcomes = all ? await Promise.all(list.map(settle)) : [];
      if (!all) for (const c of list) outcomes.push(await settle(c));
      return Object.fromEntries(list.map((c, i) => [c.name, outcomes[i]]));
    };
    const single = await run(
      one,
      (item, genesis) => putHistoryItem(client, one.config.historyTableName, item, genesis),
      false,
    );
    const counted = testClient();
    const counts = countCommands(counted);
    const grouped = new GroupedPuts(counted, two.config.historyTableName);
    const together = await run(two, (item, genesis) => grouped.put(item, genesis), true);
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

  // Seeded: many items changed several times in one batch, statements refused or their answers lost,
  // whole requests throttled, redelivered as the mapping would until nothing fails.
  it.each([1, 2, 3, 4, 5])('record every change once, in order, whatever fails (seed %i)', async (seed) => {
    const { config } = await createTestTables(client);
    const rng = random(seed);
    const faulty = testClient();
    const counts = countCommands(faulty);
    injectFault(faulty, (command) => command === 'BatchExecuteStatementCommand' && rng.next() < 0.15);
    const lost = injectStatementFaults(faulty, () => rng.next(), { refused: 0.25, lost: 0.25 });
    const items = Array.from({ length: 60 }, (_, i) => `g${seed}-${i}`);
    const versions = new Map(items.map((id) => [id, 1 + rng.int(5)]));
    const batch: LambdaStreamRecord[] = [];
    for (let v = 1; v <= 5; v++)
      for (const id of items)
        if (v <= (versions.get(id) ?? 0))
          batch.push(
            streamRecord({
              op: v === 1 ? 'INSERT' : 'MODIFY',
              keys: { id: S(id) },
              newImage: { id: S(id), version: N(v), n: N(rng.int(1000)) },
              ...(v > 1 ? { oldImage: { id: S(id), version: N(v - 1) } } : {}),
            }),
          );
    const writer = new HistoryWriter({ client: faulty, config });
    let pending = batch;
    for (let attempt = 0; pending.length > 0; attempt++) {
      expect(attempt).toBeLessThan(30);
      const { batchItemFailures } = await writer.recordBatch(pending);
      const lowest = batchItemFailures.map((f) => f.itemIdentifier).sort(compareSequenceNumbers)[0];
      pending =
        lowest === undefined
          ? []
          : pending.filter((r) => compareSequenceNumbers(r.dynamodb.SequenceNumber, lowest) >= 0);
    }
    for (const id of items) {
      const history = await readHistory(client, config.historyTableName, id);
      const expected = Array.from({ length: versions.get(id) ?? 0 }, (_, i) => i + 1);
      expect({ id, versions: history.map((r) => r.versionNumber) }).toEqual({ id, versions: expected });
      expect(chainProblems(history)).toEqual([]);
    }
    expect(counts.get('BatchExecuteStatementCommand')).toBeGreaterThan(0);
    expect(lost.refused() + lost.lost()).toBeGreaterThan(0);
  });
});
