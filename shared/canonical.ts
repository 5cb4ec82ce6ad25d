import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from './types';

export type Canonical = string | boolean | null | Canonical[] | { [key: string]: Canonical };

/**
 * DynamoDB JSON in a canonical form: type tags kept, numbers as strings (as
 * DynamoDB sends them), binary as base64, set members sorted (DynamoDB returns
 * sets in no fixed order). Two equal items give equal output.
 */
export function canonicalValue(value: AttributeValue): Canonical {
  if (value.S !== undefined) return { S: value.S };
  if (value.N !== undefined) return { N: value.N };
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.BOOL !== undefined) return { BOOL: value.BOOL };
  if (value.NULL !== undefined) return { NULL: true };
  if (value.SS !== undefined) return { SS: [...value.SS].sort() };
  if (value.NS !== undefined) return { NS: [...value.NS].sort() };
  if (value.BS !== undefined) return { BS: value.BS.map((b) => Buffer.from(b).toString('base64')).sort() };
  if (value.L !== undefined) return { L: value.L.map(canonicalValue) };
  if (value.M !== undefined) return { M: canonicalMap(value.M) };
  throw new TypeError(`unsupported attribute value: ${Object.keys(value).join(',')}`);
}

/**
 * Attribute names are user data: the output has no prototype, so a name such as
 * `__proto__` or `constructor` is an ordinary key, never one JavaScript interprets.
 */
export function canonicalMap(map: AttributeMap): { [key: string]: Canonical } {
  const out: { [key: string]: Canonical } = Object.create(null);
  for (const key of Object.keys(map).sort()) out[key] = canonicalValue(map[key] as AttributeValue);
  return out;
}

/** JSON with object keys sorted at every depth. */
export function canonicalJson(value: Canonical): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k] as Canonical)}`).join(',')}}`;
}

/** Canonical JSON of an item in DynamoDB JSON. */
export function canonicalItemJson(map: AttributeMap): string {
  return canonicalJson(canonicalMap(map));
}

/** Whether two attribute values (or their absence) are equal, sets compared as sets. */
export function sameValue(a: AttributeValue | undefined, b: AttributeValue | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return canonicalJson(canonicalValue(a)) === canonicalJson(canonicalValue(b));
}

const ownValue = (map: AttributeMap | undefined, name: string): AttributeValue | undefined =>
  map !== undefined && Object.hasOwn(map, name) ? map[name] : undefined;

/** Names of the top-level attributes that differ between two images, sorted, minus `ignore`. */
export function changedAttributes(
  before: AttributeMap | undefined,
  after: AttributeMap | undefined,
  ignore: ReadonlySet<string> = new Set(),
): string[] {
  const names = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  return [...names]
    .filter((n) => !ignore.has(n) && !sameValue(ownValue(before, n), ownValue(after, n)))
    .sort();
}

const utf8 = (s: string): number => Buffer.byteLength(s, 'utf8');

/** Size of a number as DynamoDB counts it: about one byte per two significant digits, plus one. */
function numberSize(n: string): number {
  const digits = n
    .replace(/^-/, '')
    .replace(/[eE].*$/, '')
    .replace('.', '')
    .replace(/^0+/, '');
  return Math.ceil(digits.length / 2) + 1;
}

/**
 * Estimated DynamoDB size of an attribute value, following the published rules
 * (UTF-8 strings, raw binary, 3 bytes per map or list plus 1 per element).
 * It errs high, never low: it decides when an image must be compressed.
 */
export function valueSize(value: AttributeValue): number {
  if (value.S !== undefined) return utf8(value.S);
  if (value.N !== undefined) return numberSize(value.N);
  if (value.B !== undefined) return value.B.length;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return value.SS.reduce((s, x) => s + utf8(x), 0);
  if (value.NS !== undefined) return value.NS.reduce((s, x) => s + numberSize(x), 0);
  if (value.BS !== undefined) return value.BS.reduce((s, x) => s + x.length, 0);
  if (value.L !== undefined) return 3 + value.L.reduce((s, x) => s + 1 + valueSize(x), 0);
  if (value.M !== undefined) return 3 + itemSize(value.M) + Object.keys(value.M).length;
  return 0;
}

/** Estimated DynamoDB size of an item: attribute names plus values. */
export function itemSize(map: AttributeMap): number {
  let size = 0;
  for (const [name, value] of Object.entries(map)) size += utf8(name) + valueSize(value);
  return size;
}
