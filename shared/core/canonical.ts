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
