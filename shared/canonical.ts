import { createHash } from 'node:crypto';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { AttributeMap, HistoryRecord, RetentionPolicy } from './types';

type Canonical = string | boolean | null | Canonical[] | { [key: string]: Canonical };

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

export function canonicalMap(map: AttributeMap): { [key: string]: Canonical } {
  const out: { [key: string]: Canonical } = {};
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

export interface ChainFields {
  itemKey: string;
  versionNumber: number;
  op: string;
  image: AttributeMap | undefined;
  recordedAt: string;
  prevHash: string;
  retention?: RetentionPolicy | undefined;
}

/**
 * Link of the tamper-evident chain:
 * `SHA-256(canonical JSON of {itemKey, version, op, image, recordedAt, prevHash})`,
 * with `version` as a decimal string and `image` null on tombstones. Under a
 * retention policy the body also holds `retention: {days?, versions?}` (numbers as
 * strings), so the policy a record was written under cannot be edited unseen.
 */
export function chainHash(fields: ChainFields): string {
  const body: Record<string, Canonical> = {
    itemKey: fields.itemKey,
    version: String(fields.versionNumber),
    op: fields.op,
    image: fields.image === undefined ? null : canonicalMap(fields.image),
    recordedAt: fields.recordedAt,
    prevHash: fields.prevHash,
  };
  if (fields.retention) {
    const policy: Record<string, Canonical> = {};
    if (fields.retention.days !== undefined) policy.days = String(fields.retention.days);
    if (fields.retention.versions !== undefined) policy.versions = String(fields.retention.versions);
    body.retention = policy;
  }
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

/** The hash a record must carry, from its own fields. */
export const recordHash = (record: Omit<HistoryRecord, 'hash'>): string =>
  chainHash({
    itemKey: record.itemKey,
    versionNumber: record.versionNumber,
    op: record.op,
    image: record.image,
    recordedAt: record.recordedAt,
    prevHash: record.prevHash,
    retention: record.retention,
  });

function valueEquals(a: AttributeValue | undefined, b: AttributeValue | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return canonicalJson(canonicalValue(a)) === canonicalJson(canonicalValue(b));
}

/** Names of the top-level attributes that differ between two images, sorted, minus `ignore`. */
export function changedAttributes(
  before: AttributeMap | undefined,
  after: AttributeMap | undefined,
  ignore: ReadonlySet<string> = new Set(),
): string[] {
  const names = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  return [...names].filter((n) => !ignore.has(n) && !valueEquals(before?.[n], after?.[n])).sort();
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
