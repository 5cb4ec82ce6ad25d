import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { ItemKeyTooLongError, ValidationError } from './errors';
import type { AttributeMap, KeySchema } from './types';

const SHORT_DIGITS = 4;
/** First length marker, for 5-digit versions. Any letter sorts after the digits '0'-'9'. */
const MARKER_BASE = 'a'.charCodeAt(0);
const SHORT_KEY = /^v(\d{4})$/;
const LONG_KEY = /^v([a-l])([1-9]\d{4,15})$/;

/**
 * Encodes a version number as the history sort key.
 * Versions up to 9999 are `v` + 4 digits (`v0003`). Longer ones are `v` + a
 * length marker + the digits (`va10000`, `vb100000`, ...): the marker is a
 * letter, so it sorts after every 4-digit key, and a longer number gets a later
 * letter, so DynamoDB's byte order equals numeric order up to MAX_SAFE_INTEGER.
 *
 * @example encodeVersion(3) === 'v0003'; encodeVersion(12345) === 'va12345'
 */
export function encodeVersion(version: number): string {
  if (!Number.isSafeInteger(version) || version < 0) {
    throw new ValidationError(`version must be a non-negative safe integer, got ${String(version)}`, {
      version,
    });
  }
  const digits = String(version);
  if (digits.length <= SHORT_DIGITS) return `v${digits.padStart(SHORT_DIGITS, '0')}`;
  return `v${String.fromCharCode(MARKER_BASE + digits.length - SHORT_DIGITS - 1)}${digits}`;
}

/** Inverse of {@link encodeVersion}; rejects anything it would not produce. */
export function decodeVersion(key: string): number {
  const short = SHORT_KEY.exec(key);
  if (short?.[1] !== undefined) return Number(short[1]);
  const long = LONG_KEY.exec(key);
  if (long?.[1] !== undefined && long[2] !== undefined) {
    const expectedLength = long[1].charCodeAt(0) - MARKER_BASE + SHORT_DIGITS + 1;
    const value = Number(long[2]);
    if (long[2].length === expectedLength && Number.isSafeInteger(value)) return value;
  }
  throw new ValidationError(`not a history version key: "${key}"`, { key });
}

/** DynamoDB's limit on a partition key value, in bytes. */
export const PARTITION_KEY_LIMIT_BYTES = 2048;

const NUMBER = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,6}))?$/;

/**
 * A number as DynamoDB stores and returns it: plain decimal, no exponent, no
 * leading or trailing zeros, no sign on zero (`1E+2`, `100.0` and `0100` are all
 * `100`). DynamoDB keeps 38 significant digits, magnitudes from 1E-130 to below 1E+126.
 * @throws ValidationError for anything DynamoDB would not accept as a number.
 */
export function canonicalNumber(raw: string): string {
  const m = NUMBER.exec(raw);
  const [, sign = '', whole = '', fraction = '', exponent = '0'] = m ?? [];
  if (!m || whole.length + fraction.length === 0) throw new ValidationError(`"${raw}" is not a number`);
  let digits = `${whole}${fraction}`;
  // The value is 0.digits × 10^point.
  let point = whole.length + Number(exponent);
  const lead = digits.length - digits.replace(/^0+/, '').length;
  digits = digits.slice(lead).replace(/0+$/, '');
  point -= lead;
  if (digits.length === 0) return '0';
  if (digits.length > 38)
    throw new ValidationError(`"${raw}" has more than DynamoDB's 38 significant digits`);
  if (point > 126 || point < -129) throw new ValidationError(`"${raw}" is outside the range DynamoDB stores`);
  let text: string;
  if (point <= 0) text = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) text = `${digits}${'0'.repeat(point - digits.length)}`;
  else text = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return sign === '-' ? `-${text}` : text;
}

function componentOf(value: AttributeValue | undefined, name: string, type: 'S' | 'N' | 'B'): string {
  if (type === 'S' && typeof value?.S === 'string' && value.S.length > 0) return value.S;
  if (type === 'N' && typeof value?.N === 'string' && value.N.length > 0) {
    const canonical = canonicalNumber(value.N);
    if (canonical !== value.N) {
      throw new ValidationError(
        `key attribute "${name}" is the number ${value.N}, spelled "${canonical}" in history`,
        { attribute: name, canonical },
      );
    }
    return canonical;
  }
  if (type === 'B' && value?.B instanceof Uint8Array && value.B.length > 0) {
    return Buffer.from(value.B).toString('base64url');
  }
  throw new ValidationError(`key attribute "${name}" must be a non-empty ${type}`, { attribute: name });
}

function checkLength(itemKey: string): string {
  const bytes = Buffer.byteLength(itemKey, 'utf8');
  if (bytes > PARTITION_KEY_LIMIT_BYTES) throw new ItemKeyTooLongError(bytes);
  return itemKey;
}

/**
 * The canonical history partition key of a latest-table key.
 *
 * - A single string key is its plain value: `order-1`.
 * - Otherwise each component is percent-encoded (`encodeURIComponent`; numbers
 *   as DynamoDB returns them, binary as base64url without padding) and the
 *   components are joined with `|`, which percent-encoding never leaves bare:
 *   `USER%231|ORDER%232`.
 *
 * Every key has exactly one encoding. Decoding needs the key schema, which is
 * fixed for a deployment, so the encoding carries no type markers and stays readable.
 * @throws ItemKeyTooLongError when the encoding exceeds DynamoDB's 2,048-byte partition key.
 */
export function encodeItemKey(key: AttributeMap, schema: KeySchema): string {
  const extra = Object.keys(key).filter((k) => !schema.some((a) => a.name === k));
  if (extra.length > 0) {
    throw new ValidationError(`key has attributes outside the key schema: ${extra.join(', ')}`, { extra });
  }
  const parts = schema.map((a) =>
    componentOf(Object.hasOwn(key, a.name) ? key[a.name] : undefined, a.name, a.type),
  );
  const [first] = schema;
  if (schema.length === 1 && first.type === 'S') return checkLength(parts[0] as string);
  return checkLength(parts.map((p) => encodeURIComponent(p)).join('|'));
}

/**
 * Inverse of {@link encodeItemKey}. Only the canonical spelling is accepted: a
 * number as DynamoDB returns it (`1`, never `1.0`, `01` or `1e0`), binary as
 * unpadded base64url (`AQ`, never `AQ==`), text percent-encoded exactly as
 * `encodeURIComponent` does. Any other spelling of the same key is a
 * ValidationError naming the canonical one, so one item never has two histories.
 */
export function decodeItemKey(itemKey: string, schema: KeySchema): AttributeMap {
  if (itemKey.length === 0) throw new ValidationError('item key is empty');
  checkLength(itemKey);
  const [first] = schema;
  if (schema.length === 1 && first.type === 'S') return { [first.name]: { S: itemKey } };
  const parts = itemKey.split('|');
  if (parts.length !== schema.length) {
    throw new ValidationError(`item key "${itemKey}" must have ${schema.length} part(s) joined by "|"`, {
      itemKey,
    });
  }
  const key: AttributeMap = {};
  const canonical: string[] = [];
  schema.forEach((attribute, i) => {
    const part = parts[i] as string;
    let raw: string;
    try {
      raw = decodeURIComponent(part);
    } catch (cause) {
      throw new ValidationError(
        `item key "${itemKey}" is not valid percent-encoding`,
        { itemKey },
        { cause },
      );
    }
    if (raw.length === 0) throw new ValidationError(`item key "${itemKey}" has an empty part`, { itemKey });
    if (attribute.type === 'S') {
      key[attribute.name] = { S: raw };
      canonical.push(encodeURIComponent(raw));
    } else if (attribute.type === 'N') {
      let n: string;
      try {
        n = canonicalNumber(raw);
      } catch (cause) {
        throw new ValidationError(`item key part "${raw}" is not a number`, { itemKey }, { cause });
      }
      key[attribute.name] = { N: n };
      canonical.push(encodeURIComponent(n));
    } else {
      if (!/^[A-Za-z0-9_-]+$/.test(raw.replace(/=+$/, ''))) {
        throw new ValidationError(`item key part "${raw}" is not base64url`, { itemKey });
      }
      const bytes = Buffer.from(raw, 'base64url');
      key[attribute.name] = { B: new Uint8Array(bytes) };
      canonical.push(bytes.toString('base64url'));
    }
  });
  const spelled = canonical.join('|');
  if (spelled !== itemKey) {
    throw new ValidationError(`item key "${itemKey}" is not canonical: this item's key is "${spelled}"`, {
      itemKey,
      canonical: spelled,
    });
  }
  return key;
}

/** Picks the key attributes out of a full image. */
export function keyOf(image: AttributeMap, schema: KeySchema): AttributeMap {
  const key: AttributeMap = {};
  for (const { name } of schema) {
    const value = image[name];
    if (value === undefined)
      throw new ValidationError(`item lacks key attribute "${name}"`, { attribute: name });
    key[name] = value;
  }
  return key;
}
