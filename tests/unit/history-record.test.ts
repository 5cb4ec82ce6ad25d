import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../shared/core/config';
import { GENESIS_HASH, HISTORY_ITEM_BUDGET_BYTES } from '../../shared/core/constants';
import { ImageTooLargeError } from '../../shared/core/errors';
import type { HistoryRecord } from '../../shared/core/types';
import { checkChain } from '../../shared/integrity/verify';
import { itemHash } from '../../shared/recording/chain-hash';
import {
  buildHistoryRecord,
  type ChainHead,
  fromHistoryItem,
  headOf,
  toHistoryItem,
} from '../../shared/recording/history-record';
import { parseStreamRecord } from '../../shared/recording/stream-record';
import { N, type RecordSpec, S, streamRecord } from '../helpers/stream-records';

const config = loadConfig({});
const change = (spec: RecordSpec) => parseStreamRecord(streamRecord(spec), config.keySchema);
const head = (versionNumber: number): ChainHead => ({
  versionNumber,
  op: 'MODIFY',
  source: 'app',
  hash: 'a'.repeat(64),
  sequenceNumber: '1',
  eventId: 'e',
  recordedAtMs: 0,
});
const keys = { id: S('order-1') };

describe('buildHistoryRecord', () => {
  it('keeps the item version of a versioned insert and starts the chain at the genesis hash', () => {
    const record = buildHistoryRecord(
      change({ keys, newImage: { ...keys, status: S('new'), version: N(1), modifiedBy: S('alice') } }),
      undefined,
      config,
    );
    expect(record).toMatchObject({
      itemKey: 'order-1',
      version: 'v0001',
      versionNumber: 1,
      op: 'INSERT',
      source: 'app',
      actor: 'alice',
      changed: ['status'],
      prevHash: GENESIS_HASH,
    });
    expect(record.format).toBe(2);
    expect(record.prevVersion).toBeUndefined();
    expect(record.hash).toBe(itemHash(toHistoryItem(record)));
    expect(record.recordedAt).toBe('2026-11-18T11:06:40.000Z');
    expect(record.timeKey).toBe('2026-11-18T11:06:40.000Z#v0001');
  });

  it('keeps a skipped version visible as a gap', () => {
    const record = buildHistoryRecord(
      change({ op: 'MODIFY', keys, newImage: { ...keys, version: N(5) } }),
      head(3),
      config,
    );
    expect(record).toMatchObject({
      versionNumber: 5,
      source: 'app',
      prevHash: 'a'.repeat(64),
      prevVersion: 3,
    });
    expect(record.declaredVersion).toBeUndefined();
  });

  it.each([
    ['no version', {}, undefined],
    ['a version not above the head', { version: N(3) }, '3'],
    ['a fractional version', { version: N('3.5') }, '3.5'],
    ['a string version', { version: S('7') }, '7'],
    ['a zero version', { version: N(0) }, '0'],
  ])('numbers a write with %s as a legacy write at head + 1', (_case, extra, declared) => {
    const record = buildHistoryRecord(
      change({ op: 'MODIFY', keys, newImage: { ...keys, ...extra } }),
      head(3),
      config,
    );
    expect(record).toMatchObject({ versionNumber: 4, version: 'v0004', source: 'legacy' });
    expect(record.declaredVersion).toBe(declared);
  });

  it('turns a delete into a tombstone at head + 1', () => {
    const record = buildHistoryRecord(
      change({ op: 'REMOVE', keys, oldImage: { ...keys, status: S('paid'), version: N(3) } }),
      head(3),
      config,
    );
    expect(record).toMatchObject({ versionNumber: 4, op: 'REMOVE', source: 'app', changed: ['status'] });
    expect(record.image).toBeUndefined();
  });

  it('labels a TTL expiry', () => {
    const record = buildHistoryRecord(
      change({ op: 'REMOVE', keys, ttl: true, oldImage: { ...keys } }),
      head(1),
      config,
    );
    expect(record.source).toBe('ttl');
  });

  it('continues numbering when a deleted item is created again', () => {
    const record = buildHistoryRecord(
      change({ keys, newImage: { ...keys, version: N(1) } }),
      head(4),
      config,
    );
    expect(record).toMatchObject({ versionNumber: 5, source: 'legacy', declaredVersion: '1' });
  });

  it('sorts versions past 9999 with the length marker', () => {
    const record = buildHistoryRecord(
      change({ op: 'MODIFY', keys, newImage: { ...keys, version: N(10_000) } }),
      head(9999),
      config,
    );
    expect(record.version).toBe('va10000');
  });
});

describe('history items', () => {
  it('stores the image under `image` and metadata at the root, and reads it back', () => {
    const userImage = { ...keys, version: N(1), hash: S('user data named like our metadata'), op: S('x') };
    const record = buildHistoryRecord(change({ keys, newImage: userImage }), undefined, config);
    const item = toHistoryItem(record);
    expect(item.image?.M?.hash?.S).toBe('user data named like our metadata');
    expect(item.hash?.S).toBe(record.hash);
    const read = fromHistoryItem(item);
    expect(read).toEqual({ ...record, contentHash: record.hash });
    expect(toHistoryItem(read)).toEqual(item);
  });

  it('compresses an image over the item budget and inflates it transparently', () => {
    const big = 'x'.repeat(HISTORY_ITEM_BUDGET_BYTES);
    const record = buildHistoryRecord(
      change({ keys, newImage: { ...keys, version: N(1), body: S(big) } }),
      undefined,
      config,
    );
    const item = toHistoryItem(record);
    expect(item.image).toBeUndefined();
    expect(item.imageGz?.B?.length).toBeLessThan(10_000);
    expect(fromHistoryItem(item).image).toEqual(record.image);
  });

  it('refuses an image too large even compressed', () => {
    // Random bytes do not compress: 400 KB of them stays over the budget after gzip.
    const noise = randomBytes(400 * 1024).toString('base64');
    const noisy = change({ keys, newImage: { ...keys, version: N(1), body: { B: noise } } });
    expect(() => buildHistoryRecord(noisy, undefined, config)).toThrow(ImageTooLargeError);
  });
});

describe('verify tells an app skip from a deleted record (#14)', () => {
  const chainOf = (versions: number[]) => {
    const records: ReturnType<typeof buildHistoryRecord>[] = [];
    let last: ChainHead | undefined;
    for (const v of versions) {
      const r = buildHistoryRecord(
        change({ op: v === versions[0] ? 'INSERT' : 'MODIFY', keys, newImage: { ...keys, version: N(v) } }),
        last,
        config,
      );
      records.push(r);
      last = headOf(r);
    }
    return records;
  };

  it('accepts versions the app skipped, epoch-millisecond versions included', () => {
    expect(checkChain('order-1', chainOf([1, 5, 1_795_000_000_000])).findings).toEqual([]);
  });

  it('names a deleted record between two linked ones', () => {
    const [v1, , v3] = chainOf([1, 2, 3]);
    const kinds = checkChain('order-1', [v1, v3] as HistoryRecord[]).findings.map((f) => f.kind);
    expect(kinds).toEqual(['chain.broken', 'version.gap']);
  });
});

describe('a declared version that would leave no room to continue (issue 14)', () => {
  it('numbers 9007199254740991 as a legacy write, so the next changes still record', () => {
    const huge = buildHistoryRecord(
      change({ op: 'MODIFY', keys, newImage: { ...keys, version: N('9007199254740991') } }),
      head(3),
      config,
    );
    expect(huge).toMatchObject({ versionNumber: 4, source: 'legacy', declaredVersion: '9007199254740991' });
    const next = buildHistoryRecord(
      change({ op: 'MODIFY', keys, newImage: { ...keys, version: N(5) } }),
      headOf(huge),
      config,
    );
    expect(next).toMatchObject({ versionNumber: 5, source: 'app' });
  });

  it('keeps epoch-millisecond versions as the app wrote them', () => {
    const record = buildHistoryRecord(
      change({ op: 'MODIFY', keys, newImage: { ...keys, version: N(1_795_000_000_000) } }),
      head(3),
      config,
    );
    expect(record).toMatchObject({ versionNumber: 1_795_000_000_000, source: 'app' });
  });
});
