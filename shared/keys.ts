import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { ValidationError } from './errors';
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

function componentOf(value: AttributeValue | undefined, name: string, type: 'S' | 'N' | 'B'): string {
  if (type === 'S' && typeof value?.S === 'string' && value.S.length > 0) return value.S;
  if (type === 'N' && typeof value?.N === 'string' && value.N.length > 0) return value.N;
  if (type === 'B' && value?.B instanceof Uint8Array && value.B.length > 0) {
    return Buffer.from(value.B).toString('base64url');
  }
  throw new ValidationError(`key attribute "${name}" must be a non-empty ${type}`, { attribute: name });
}

/**
 * The canonical history partition key of a latest-table key.
 *
 * - A single string key is its plain value: `order-1`.
 * - Otherwise each component is percent-encoded (`encodeURIComponent`; numbers
 *   as DynamoDB returns them, binary as base64url) and the components are joined
 *   with `|`, which percent-encoding never leaves bare: `USER%231|ORDER%232`.
 *
 * Decoding needs the key schema, which is fixed for a deployment, so the
 * encoding carries no type markers and stays readable.
 */
export function encodeItemKey(key: AttributeMap, schema: KeySchema): string {
  const extra = Object.keys(key).filter((k) => !schema.some((a) => a.name === k));
  if (extra.length > 0) {
    throw new ValidationError(`key has attributes outside the key schema: ${extra.join(', ')}`, { extra });
  }
  const parts = schema.map((a) => componentOf(key[a.name], a.name, a.type));
  const [first] = schema;
  if (schema.length === 1 && first.type === 'S') return parts[0] as string;
  return parts.map((p) => encodeURIComponent(p)).join('|');
}

/** Inverse of {@link encodeItemKey}. */
export function decodeItemKey(itemKey: string, schema: KeySchema): AttributeMap {
  if (itemKey.length === 0) throw new ValidationError('item key is empty');
  const [first] = schema;
  if (schema.length === 1 && first.type === 'S') return { [first.name]: { S: itemKey } };
  const parts = itemKey.split('|');
  if (parts.length !== schema.length) {
    throw new ValidationError(`item key "${itemKey}" must have ${schema.length} part(s) joined by "|"`, {
      itemKey,
    });
  }
  const key: AttributeMap = {};
  schema.forEach((attribute, i) => {
    let raw: string;
    try {
      raw = decodeURIComponent(parts[i] as string);
    } catch (cause) {
      throw new ValidationError(
        `item key "${itemKey}" is not valid percent-encoding`,
        { itemKey },
        { cause },
      );
    }
    if (raw.length === 0) throw new ValidationError(`item key "${itemKey}" has an empty part`, { itemKey });
    if (attribute.type === 'S') key[attribute.name] = { S: raw };
    else if (attribute.type === 'N') {
      if (!/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(raw)) {
        throw new ValidationError(`item key part "${raw}" is not a number`, { itemKey });
      }
      key[attribute.name] = { N: raw };
    } else key[attribute.name] = { B: new Uint8Array(Buffer.from(raw, 'base64url')) };
  });
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
