import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import type { HistoryConfig } from '../../shared/core/config';
import { ItemNotFoundError } from '../../shared/core/errors';
import type { AttributeMap } from '../../shared/core/types';
import { HistoryReader } from '../../shared/reading/audit';
import { blame } from '../../shared/reading/blame';
import {
  buildHistoryRecord,
  type ChainHead,
  headOf,
  toHistoryItem,
} from '../../shared/recording/history-record';
import { createTestTables, testClient } from '../helpers/dynamo';
import { putItems } from '../helpers/history';

/**
 * Blame against a reference model: for random lives of an item (attributes set, changed,
 * removed, the item deleted and re-created), each attribute of the current image is
 * blamed on the newest version whose image changed it, or on the (re-)creation.
 */
const client = testClient();
let config: HistoryConfig;
let reader: HistoryReader;
let n = 0;

beforeAll(async () => {
  ({ config } = await createTestTables(client));
  reader = new HistoryReader({ client, config });
});
afterAll(() => client.destroy());

type Step = { remove: true } | { set: Record<string, number | undefined> };
const ATTRS = ['a', 'b', 'c', 'd'];

async function record(itemKey: string, steps: Step[]): Promise<(AttributeMap | undefined)[]> {
  let head: ChainHead | undefined;
  let image: AttributeMap | undefined;
  const images: (AttributeMap | undefined)[] = [];
  const items: AttributeMap[] = [];
  steps.forEach((step, i) => {
    const before = image;
    if ('remove' in step) image = undefined;
    else {
      const next: AttributeMap = { ...(image ?? {}), id: { S: itemKey } };
      for (const [name, value] of Object.entries(step.set)) {
        if (value === undefined) delete next[name];
        else next[name] = { N: String(value) };
      }
      next.version = { N: String(i + 1) };
      image = next;
    }
    const rec = buildHistoryRecord(
      {
        eventId: `e${i}`,
        op: image === undefined ? 'REMOVE' : before === undefined ? 'INSERT' : 'MODIFY',
        itemKey,
        keys: { id: { S: itemKey } },
        newImage: image,
        oldImage: before,
        sequenceNumber: String(100 + i),
        createdAtMs: Date.parse('2026-05-01T00:00:00Z') + i * 1000,
        isTtlDelete: false,
      },
      head,
      config,
    );
    head = headOf(rec);
    images.push(image);
    items.push(toHistoryItem(rec));
  });
  await putItems(client, config.historyTableName, items);
  return images;
}

/** The model: walk back from the current image to the version where each value last changed. */
function model(images: (AttributeMap | undefined)[]): Record<string, number> {
  const current = images.at(-1);
  const out: Record<string, number> = {};
  for (const name of Object.keys(current ?? {}).filter((k) => ATTRS.includes(k))) {
    let v = images.length;
    while (v > 1) {
      const older = images[v - 2];
      if (older === undefined || JSON.stringify(older[name]) !== JSON.stringify(current?.[name])) break;
      v--;
    }
    out[name] = v;
  }
  return out;
}

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ remove: true as const }) },
  {
    weight: 5,
    arbitrary: fc
      .dictionary(fc.constantFrom(...ATTRS), fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }))
      .map((set) => ({ set })),
  },
);

describe('blame', () => {
  it('places every attribute where the model does', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
        const itemKey = `item-${n++}`;
        const images = await record(itemKey, steps);
        const result = await blame(reader, itemKey);
        expect(result.deleted).toBe(images.at(-1) === undefined);
        const placed = Object.fromEntries(result.attributes.map((e) => [e.attribute, e.version]));
        expect(placed).toEqual(model(images));
        expect(result.managed.sort()).toEqual(result.deleted ? [] : ['id', 'version']);
      }),
      { seed: Number(process.env.BLAME_SEED ?? 20261202), numRuns: 40 },
    );
  }, 120_000);

  it('says "or earlier" where retention removed the versions before the oldest kept', async () => {
    const images = await record('kept', [{ set: { a: 1 } }, { set: { b: 1 } }, { set: { c: 1 } }]);
    expect(images).toHaveLength(3);
    await client.send(
      new DeleteItemCommand({
        TableName: config.historyTableName,
        Key: { itemKey: { S: 'kept' }, version: { S: 'v0001' } },
      }),
    );
    const result = await blame(reader, 'kept');
    expect(result.attributes.map((e) => [e.attribute, e.version, e.how])).toEqual([
      ['a', 2, 'retained'],
      ['b', 2, 'changed'],
      ['c', 3, 'changed'],
    ]);
  });

  it('is ItemNotFoundError for an item without history', async () => {
    await expect(blame(reader, 'nobody')).rejects.toBeInstanceOf(ItemNotFoundError);
  });
});
