import { canonicalItemJson } from '../../shared/core/canonical';
import type { AttributeMap, Operation, Source } from '../../shared/core/types';

/**
 * The reference model of the simulation: from what really happened to the
 * latest table (every write's resulting item, read back) it says what history
 * must hold, by the documented rules, written here a second time and
 * independently of `shared/`:
 *
 * - history starts with the item's first change in the stream, or with the
 *   backfill snapshot that started its chain (then it holds the state the
 *   snapshot read and every change after it);
 * - every change after that appears exactly once, in order, with its op (INSERT
 *   when the item did not exist before, MODIFY when it did, REMOVE for deletes)
 *   and its image (without the rollback context attribute);
 * - its version is the item's own when that is a whole number above the one
 *   before, otherwise the one before + 1; its source is `app`, or `legacy` when
 *   the version was assigned, `ttl` for TTL deletes, `rollback` for the write of
 *   a rollback whose stamped version is the record's, `backfill` for a snapshot.
 */

/** One change the harness made to the latest table, as it really happened. */
export interface TrueChange {
  kind: 'write' | 'delete';
  /** The item after the change (undefined after a delete). */
  after: AttributeMap | undefined;
  /** The item before it. */
  before: AttributeMap | undefined;
  /** Made before the table had a stream: never delivered by it. */
  preStream: boolean;
  ttl: boolean;
  /** The write of a rollback: the version it stamped, and what it restored. */
  rollback?: { version: number; restoredFrom: number; reason?: string };
}

/** A moment a backfill read the item (its state then), between two changes. */
export interface BackfillMoment {
  afterChange: number;
  state: AttributeMap;
}

export interface ExpectedRecord {
  versionNumber: number;
  op: Operation;
  source: Source;
  image: AttributeMap | undefined;
  restoredFrom?: number;
}

export const CONTEXT = 'historyContext';

const strip = (image: AttributeMap | undefined): AttributeMap | undefined => {
  if (!image) return undefined;
  const { [CONTEXT]: _context, ...rest } = image;
  return rest;
};

export const sameImage = (a: AttributeMap | undefined, b: AttributeMap | undefined): boolean =>
  a === undefined || b === undefined ? a === b : canonicalItemJson(a) === canonicalItemJson(b);

function ownVersion(image: AttributeMap | undefined): number | undefined {
  const n = image?.version?.N;
  if (n === undefined) return undefined;
  const v = Number(n);
  return Number.isSafeInteger(v) && v > 0 ? v : undefined;
}

/**
 * What history must hold for one item. `startedBy` is how its chain began, as
 * observed (`backfill` with the snapshot's image, or the stream): both are legal
 * outcomes of a race, and the model checks the one that happened.
 */
export function expectedHistory(
  changes: readonly TrueChange[],
  backfills: readonly BackfillMoment[],
  startedBy: { source: 'backfill'; image: AttributeMap | undefined } | { source: 'stream' },
): ExpectedRecord[] | string {
  const out: ExpectedRecord[] = [];
  let first = 0;
  let last = 0;
  if (startedBy.source === 'backfill') {
    const moment = backfills.find((b) => sameImage(strip(b.state), startedBy.image));
    if (!moment) return 'the chain starts with a backfill snapshot of a state no backfill read';
    const own = ownVersion(moment.state);
    last = own ?? 1;
    out.push({ versionNumber: last, op: 'INSERT', source: 'backfill', image: strip(moment.state) });
    first = moment.afterChange + 1;
  } else {
    first = changes.findIndex((c) => !c.preStream);
    if (first < 0) return out;
  }
  for (const change of changes.slice(first)) {
    if (change.preStream) return 'a change made before the stream came after one in it';
    if (change.kind === 'delete') {
      last += 1;
      out.push({ versionNumber: last, op: 'REMOVE', source: change.ttl ? 'ttl' : 'app', image: undefined });
      continue;
    }
    const own = ownVersion(change.after);
    const app = own !== undefined && own > last;
    last = app ? (own as number) : last + 1;
    const record: ExpectedRecord = {
      versionNumber: last,
      op: change.before === undefined ? 'INSERT' : 'MODIFY',
      source: app ? 'app' : 'legacy',
      image: strip(change.after),
    };
    if (change.rollback && change.rollback.version === last) {
      record.source = 'rollback';
      record.restoredFrom = change.rollback.restoredFrom;
    }
    out.push(record);
  }
  return out;
}

/** A small, fast, seeded PRNG (mulberry32): the same seed gives the same run. */
export function random(seed: number): {
  next(): number;
  int(n: number): number;
  pick<T>(xs: readonly T[]): T;
} {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (xs) => xs[Math.floor(next() * xs.length)] as (typeof xs)[number],
  };
}
