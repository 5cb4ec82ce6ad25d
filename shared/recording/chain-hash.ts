import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { type Canonical, canonicalJson, canonicalMap } from '../core/canonical';
import type { AttributeMap, RetentionPolicy } from '../core/types';

/**
 * The hash formats of the tamper-evident chain. Every record states its format
 * (`format`, absent on records written before format 2); each keeps verifying
 * under its own.
 */
export const HASH_FORMAT = 2;

/** Stored attributes a format-2 hash leaves out: the hash itself, and the TTL retention sets later. */
export const UNHASHED_ATTRIBUTES: ReadonlySet<string> = new Set(['hash', 'expiresAt']);

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * Format 2: `SHA-256(JCS(item))`, where `item` is the history record exactly as
 * stored, in DynamoDB JSON (type tags kept, numbers as strings, binary as
 * base64, set members sorted), minus `hash` and `expiresAt`, and JCS is the
 * JSON Canonicalization Scheme of RFC 8785. Every other attribute is covered,
 * including any an editor adds, so any edit of a stored record changes it.
 * An auditor can recompute it with any RFC 8785 library (README, "Verifying
 * history yourself").
 */
export function itemHash(item: AttributeMap): string {
  const body: AttributeMap = Object.create(null);
  for (const name of Object.keys(item)) {
    if (!UNHASHED_ATTRIBUTES.has(name)) body[name] = item[name] as AttributeMap[string];
  }
  const text = canonicalize(canonicalMap(body));
  if (text === undefined) throw new TypeError('history item has no JSON form');
  return sha256(text);
}

/** The fields format 1 covered. */
export interface ChainFieldsV1 {
  itemKey: string;
  versionNumber: number;
  op: string;
  image: AttributeMap | undefined;
  recordedAt: string;
  prevHash: string;
  retention?: RetentionPolicy | undefined;
}

/**
 * Format 1 (records without `format`):
 * `SHA-256(canonical JSON of {itemKey, version, op, image, recordedAt, prevHash[, retention]})`,
 * with `version` as a decimal string, `image` null on tombstones, and the retention
 * policy's numbers as strings. It left the other metadata out; kept so old chains verify.
 */
export function chainHashV1(fields: ChainFieldsV1): string {
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
  return sha256(canonicalJson(body));
}
