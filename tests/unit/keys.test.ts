import fc from 'fast-check';
import { ItemKeyTooLongError, ValidationError } from '../../shared/core/errors';
import {
  canonicalNumber,
  decodeItemKey,
  decodeVersion,
  encodeItemKey,
  encodeVersion,
} from '../../shared/core/keys';
import type { AttributeMap, KeySchema } from '../../shared/core/types';

const byteCompare = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
const version = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
// Bias toward the interesting boundaries: around 9999, powers of ten, and the top.
const boundaryVersion = fc.oneof(
  version,
  fc.integer({ min: 9990, max: 10_010 }),
  fc.integer({ min: 0, max: 15 }).map((e) => 10 ** e),
  fc.integer({ min: 0, max: 15 }).map((e) => Math.max(0, 10 ** e - 1)),
  fc.integer({ min: Number.MAX_SAFE_INTEGER - 1000, max: Number.MAX_SAFE_INTEGER }),
);

describe('version keys', () => {
  it('pads versions up to 9999 to four digits', () => {
    expect(encodeVersion(1)).toBe('v0001');
    expect(encodeVersion(3)).toBe('v0003');
    expect(encodeVersion(9999)).toBe('v9999');
  });

  it('uses a length marker past 9999', () => {
    expect(encodeVersion(10_000)).toBe('va10000');
    expect(encodeVersion(123_456)).toBe('vb123456');
    expect(encodeVersion(Number.MAX_SAFE_INTEGER)).toBe(`vl${Number.MAX_SAFE_INTEGER}`);
  });

  it('sorts in DynamoDB byte order exactly as the numbers do, up to MAX_SAFE_INTEGER', () => {
    fc.assert(
      fc.property(boundaryVersion, boundaryVersion, (a, b) => {
        expect(Math.sign(byteCompare(encodeVersion(a), encodeVersion(b)))).toBe(Math.sign(a - b));
      }),
      { numRuns: 20_000 },
    );
  });

  it('decodes what it encodes', () => {
    fc.assert(
      fc.property(boundaryVersion, (n) => decodeVersion(encodeVersion(n)) === n),
      { numRuns: 5000 },
    );
  });

  it.each([-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1, Number.POSITIVE_INFINITY])(
    'rejects %p',
    (bad) => {
      expect(() => encodeVersion(bad)).toThrow(ValidationError);
    },
  );

  it.each(['v1', 'v00001', 'va1000', 'va010000', 'vz1', 'x0001', 'v000a', 'vm12345678901234567', ''])(
    'refuses to decode %p',
    (bad) => {
      expect(() => decodeVersion(bad)).toThrow(ValidationError);
    },
  );
});

const single: KeySchema = [{ name: 'id', type: 'S' }];
const composite: KeySchema = [
  { name: 'pk', type: 'S' },
  { name: 'sk', type: 'S' },
];
const mixed: KeySchema = [
  { name: 'tenant', type: 'S' },
  { name: 'n', type: 'N' },
];
const text = fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' });

describe('item keys', () => {
  it('is the plain value for a single string key', () => {
    expect(encodeItemKey({ id: { S: 'order-1' } }, single)).toBe('order-1');
    expect(encodeItemKey({ id: { S: 'a|b#c/ d ü' } }, single)).toBe('a|b#c/ d ü');
  });

  it('percent-encodes and joins composite keys', () => {
    expect(encodeItemKey({ pk: { S: 'USER#1' }, sk: { S: 'ORDER|2' } }, composite)).toBe(
      'USER%231|ORDER%7C2',
    );
    expect(encodeItemKey({ tenant: { S: 't 1' }, n: { N: '42' } }, mixed)).toBe('t%201|42');
  });

  it('round-trips any single string key', () => {
    fc.assert(
      fc.property(text, (id) => decodeItemKey(encodeItemKey({ id: { S: id } }, single), single).id?.S === id),
    );
  });

  it('round-trips any composite key and never confuses two of them', () => {
    fc.assert(
      fc.property(text, text, text, text, (a, b, c, d) => {
        const k1: AttributeMap = { pk: { S: a }, sk: { S: b } };
        const k2: AttributeMap = { pk: { S: c }, sk: { S: d } };
        const e1 = encodeItemKey(k1, composite);
        expect(decodeItemKey(e1, composite)).toEqual(k1);
        expect(e1 === encodeItemKey(k2, composite)).toBe(a === c && b === d);
      }),
    );
  });

  it('round-trips binary and numeric parts', () => {
    const schema: KeySchema = [
      { name: 'b', type: 'B' },
      { name: 'n', type: 'N' },
    ];
    const key = { b: { B: new Uint8Array([0, 255, 124, 37]) }, n: { N: '-12.5' } };
    expect(decodeItemKey(encodeItemKey(key, schema), schema)).toEqual(key);
  });

  it.each<[string, AttributeMap]>([
    ['missing attribute', { pk: { S: 'a' } }],
    ['wrong type', { pk: { S: 'a' }, sk: { N: '1' } }],
    ['empty string', { pk: { S: '' }, sk: { S: 'b' } }],
    ['extra attribute', { pk: { S: 'a' }, sk: { S: 'b' }, other: { S: 'c' } }],
  ])('rejects a key with a %s', (_case, key) => {
    expect(() => encodeItemKey(key, composite)).toThrow(ValidationError);
  });

  it.each(['', 'a', 'a|b|c', 'a|', '%E0%A4%A|b'])('refuses to decode %p as a composite key', (bad) => {
    expect(() => decodeItemKey(bad, composite)).toThrow(ValidationError);
  });
});

describe('canonical item keys: one spelling per key', () => {
  const numeric: KeySchema = [{ name: 'id', type: 'N' }];
  const binary: KeySchema = [{ name: 'id', type: 'B' }];

  it.each([
    ['1E+2', '100'],
    ['100.0', '100'],
    ['0100', '100'],
    ['-0.000', '0'],
    ['00012.3400', '12.34'],
    ['1.5e-10', '0.00000000015'],
    ['123.456e2', '12345.6'],
    ['1e21', '1000000000000000000000'],
    ['-1e0', '-1'],
    ['.5', '0.5'],
  ])('spells the number %s as DynamoDB returns it: %s', (raw, canonical) => {
    expect(canonicalNumber(raw)).toBe(canonical);
  });

  it.each(['', '.', 'e5', '1e', '1.2.3', 'NaN', '1e126', '1e-131', '1'.repeat(39)])(
    'refuses %p as a number DynamoDB would not store',
    (bad) => {
      expect(() => canonicalNumber(bad)).toThrow(ValidationError);
    },
  );

  it('is idempotent and keeps the value, for any decimal in any spelling', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }),
        fc.integer({ min: -20, max: 20 }),
        fc.integer({ min: 0, max: 3 }),
        (mantissa, exponent, pad) => {
          const raw = `${'0'.repeat(pad)}${mantissa < 0n ? -mantissa : mantissa}${'0'.repeat(pad)}e${exponent - pad}`;
          const spelled = `${mantissa < 0n ? '-' : ''}${raw}`;
          const canonical = canonicalNumber(spelled);
          expect(canonicalNumber(canonical)).toBe(canonical);
          expect(Number(canonical)).toBeCloseTo(Number(spelled), 6);
          expect(canonical).not.toMatch(/e|^0\d|\.\d*0$|^-0$/);
        },
      ),
    );
  });

  it.each([
    ['1.0', '1'],
    ['01', '1'],
    ['1e0', '1'],
    ['+1', '1'],
  ])('refuses the number key %p, naming %p', (bad, canonical) => {
    expect(() => decodeItemKey(bad, numeric)).toThrow(`this item's key is "${canonical}"`);
  });

  it.each([
    ['AQ==', 'AQ'],
    ['AR', 'AQ'],
  ])('refuses the binary key %p, naming %p', (bad, canonical) => {
    expect(() => decodeItemKey(bad, binary)).toThrow(`this item's key is "${canonical}"`);
  });

  it('refuses binary keys outside base64url', () => {
    expect(() => decodeItemKey('a+b/', binary)).toThrow(ValidationError);
  });

  it.each([
    ['%41|b', 'A|b'],
    ['a%2fb|c', 'a%2Fb|c'],
    ["it's|x", "it's|x"],
  ])('accepts only encodeURIComponent spellings of text parts: %p', (spelled, canonical) => {
    if (spelled === canonical)
      expect(encodeItemKey(decodeItemKey(spelled, composite), composite)).toBe(spelled);
    else expect(() => decodeItemKey(spelled, composite)).toThrow(`this item's key is "${canonical}"`);
  });

  it('refuses to encode a stream key whose number is not in DynamoDB form', () => {
    expect(() => encodeItemKey({ id: { N: '1.0' } }, numeric)).toThrow(ValidationError);
  });

  it('names a key whose encoding is over the 2,048-byte partition key limit', () => {
    const key = { pk: { S: 'é'.repeat(1000) }, sk: { S: 'x' } };
    expect(() => encodeItemKey(key, composite)).toThrow(ItemKeyTooLongError);
    expect(() => encodeItemKey({ id: { S: 'é'.repeat(1025) } }, single)).toThrow(ItemKeyTooLongError);
    expect(encodeItemKey({ id: { S: 'é'.repeat(1024) } }, single)).toHaveLength(1024);
  });

  it('decodes exactly the keys it encodes, for every type', () => {
    const schema: KeySchema = [
      { name: 'b', type: 'B' },
      { name: 'n', type: 'N' },
    ];
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.integer(), (bytes, n) => {
        const key = { b: { B: bytes }, n: { N: String(n) } };
        const encoded = encodeItemKey(key, schema);
        expect(decodeItemKey(encoded, schema)).toEqual(key);
        expect(encodeItemKey(decodeItemKey(encoded, schema), schema)).toBe(encoded);
      }),
    );
  });
});
