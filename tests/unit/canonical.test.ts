import { createHash } from 'node:crypto';
import { canonicalItemJson } from '../../shared/core/canonical';
import { changedAttributes } from '../../shared/core/compare';
import { GENESIS_HASH } from '../../shared/core/constants';
import { itemSize } from '../../shared/core/item-size';
import { chainHashV1 as chainHash, itemHash } from '../../shared/recording/chain-hash';

describe('canonical JSON', () => {
  it('sorts keys at every depth and keeps DynamoDB numbers as strings', () => {
    const json = canonicalItemJson({ b: { N: '2' }, a: { M: { z: { S: 'x' }, y: { BOOL: true } } } });
    expect(json).toBe('{"a":{"M":{"y":{"BOOL":true},"z":{"S":"x"}}},"b":{"N":"2"}}');
  });

  it('is independent of set order and encodes binary as base64', () => {
    const one = canonicalItemJson({
      s: { SS: ['b', 'a'] },
      n: { NS: ['2', '10'] },
      bin: { B: new Uint8Array([1, 2]) },
    });
    const two = canonicalItemJson({
      bin: { B: new Uint8Array([1, 2]) },
      n: { NS: ['10', '2'] },
      s: { SS: ['a', 'b'] },
    });
    expect(one).toBe(two);
    expect(one).toContain('"B":"AQI="');
  });
});

describe('hash chain, format 1 (records written before format 2)', () => {
  const fields = {
    itemKey: 'order-1',
    versionNumber: 1,
    op: 'INSERT',
    image: { id: { S: 'order-1' } },
    recordedAt: '2026-01-01T00:00:00.000Z',
    prevHash: GENESIS_HASH,
  };

  it('is SHA-256 of the canonical JSON of the documented fields', () => {
    const body =
      '{"image":{"id":{"S":"order-1"}},"itemKey":"order-1","op":"INSERT",' +
      `"prevHash":"${GENESIS_HASH}","recordedAt":"2026-01-01T00:00:00.000Z","version":"1"}`;
    expect(chainHash(fields)).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it.each([
    ['image', { image: { id: { S: 'order-2' } } }],
    ['version', { versionNumber: 2 }],
    ['op', { op: 'MODIFY' }],
    ['recordedAt', { recordedAt: '2026-01-01T00:00:00.001Z' }],
    ['prevHash', { prevHash: 'f'.repeat(64) }],
    ['tombstone', { image: undefined }],
  ])('changes when %s changes', (_name, change) => {
    expect(chainHash({ ...fields, ...change })).not.toBe(chainHash(fields));
  });

  it('adds the retention policy to the body only when there is one', () => {
    expect(chainHash({ ...fields, retention: undefined })).toBe(chainHash(fields));
    const body =
      '{"image":{"id":{"S":"order-1"}},"itemKey":"order-1","op":"INSERT",' +
      `"prevHash":"${GENESIS_HASH}","recordedAt":"2026-01-01T00:00:00.000Z",` +
      '"retention":{"days":"30","versions":"5"},"version":"1"}';
    expect(chainHash({ ...fields, retention: { days: 30, versions: 5 } })).toBe(
      createHash('sha256').update(body).digest('hex'),
    );
    expect(chainHash({ ...fields, retention: { days: 31, versions: 5 } })).not.toBe(
      chainHash({ ...fields, retention: { days: 30, versions: 5 } }),
    );
  });
});

describe('hash chain, format 2', () => {
  const item = {
    itemKey: { S: 'order-1' },
    version: { S: 'v0001' },
    versionNumber: { N: '1' },
    format: { N: '2' },
    image: { M: { id: { S: 'order-1' }, tags: { SS: ['b', 'a'] }, raw: { B: new Uint8Array([1, 2]) } } },
    changed: { L: [] },
    prevHash: { S: GENESIS_HASH },
    hash: { S: 'ignored' },
    expiresAt: { N: '99' },
  };

  it('is SHA-256 of the RFC 8785 form of the stored item minus hash and expiresAt', () => {
    const body =
      '{"changed":{"L":[]},"format":{"N":"2"},"image":{"M":{"id":{"S":"order-1"},"raw":{"B":"AQI="},' +
      `"tags":{"SS":["a","b"]}}},"itemKey":{"S":"order-1"},"prevHash":{"S":"${GENESIS_HASH}"},` +
      '"version":{"S":"v0001"},"versionNumber":{"N":"1"}}';
    expect(itemHash(item)).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('covers every attribute, including one an editor adds, and ignores only hash and expiresAt', () => {
    const base = itemHash(item);
    expect(itemHash({ ...item, hash: { S: 'other' }, expiresAt: { N: '1' } })).toBe(base);
    expect(itemHash({ ...item, actor: { S: 'mallory' } })).not.toBe(base);
    expect(itemHash({ ...item, changed: { L: [{ S: 'x' }] } })).not.toBe(base);
    expect(itemHash({ ...item, versionNumber: { N: '2' } })).not.toBe(base);
  });

  it('sorts keys by UTF-16 code units and treats __proto__ as an ordinary attribute name', () => {
    const withProto = JSON.parse(
      '{"image":{"M":{"__proto__":{"S":"x"},"\ud83d\ude00":{"S":"y"},"\uffff":{"S":"z"}}}}',
    );
    const body = '{"image":{"M":{"__proto__":{"S":"x"},"\ud83d\ude00":{"S":"y"},"\uffff":{"S":"z"}}}}';
    expect(itemHash(withProto)).toBe(
      createHash('sha256')
        .update(JSON.stringify(JSON.parse(body)))
        .digest('hex'),
    );
  });
});

describe('changed attributes', () => {
  it('names added, removed and changed top-level attributes, minus ignored ones', () => {
    const before = {
      id: { S: '1' },
      a: { S: 'x' },
      b: { N: '1' },
      version: { N: '1' },
      same: { L: [{ S: 'q' }] },
    };
    const after = {
      id: { S: '1' },
      a: { S: 'y' },
      c: { BOOL: true },
      version: { N: '2' },
      same: { L: [{ S: 'q' }] },
    };
    expect(changedAttributes(before, after, new Set(['version']))).toEqual(['a', 'b', 'c']);
  });

  it('treats sets with the same members as equal', () => {
    expect(changedAttributes({ s: { SS: ['a', 'b'] } }, { s: { SS: ['b', 'a'] } })).toEqual([]);
  });
});

describe('item size', () => {
  it('counts names and UTF-8 values', () => {
    expect(itemSize({ ab: { S: 'ü' } })).toBe(2 + 2);
    expect(itemSize({ m: { M: { k: { S: 'v' } } } })).toBe(1 + 3 + 2 + 1);
  });
});
