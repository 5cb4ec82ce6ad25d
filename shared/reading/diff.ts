import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { getOwn } from '../core/attribute-names';
import { canonicalJson, canonicalValue } from '../core/canonical';
import type { AttributeMap } from '../core/types';
import { type Json, valueToJson } from './json-values';

export interface DiffEntry {
  /** `status`, `address.city`, `items[2].qty`; names that are not plain identifiers are quoted: `["a.b"]`. */
  path: string;
  before?: Json;
  after?: Json;
}

export interface ImageDiff {
  added: DiffEntry[];
  removed: DiffEntry[];
  changed: DiffEntry[];
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

function child(path: string, name: string): string {
  if (IDENTIFIER.test(name)) return path ? `${path}.${name}` : name;
  return `${path}[${JSON.stringify(name)}]`;
}

const same = (a: AttributeValue, b: AttributeValue) =>
  canonicalJson(canonicalValue(a)) === canonicalJson(canonicalValue(b));

function walkMap(before: AttributeMap, after: AttributeMap, path: string, out: ImageDiff): void {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  for (const name of names) walk(getOwn(before, name), getOwn(after, name), child(path, name), out);
}

function walk(
  before: AttributeValue | undefined,
  after: AttributeValue | undefined,
  path: string,
  out: ImageDiff,
): void {
  if (before === undefined && after === undefined) return;
  if (before === undefined) {
    out.added.push({ path, after: valueToJson(after as AttributeValue) });
    return;
  }
  if (after === undefined) {
    out.removed.push({ path, before: valueToJson(before) });
    return;
  }
  if (same(before, after)) return;
  // Descend into maps and lists so that a change deep inside names its own path.
  if (before.M && after.M) {
    walkMap(before.M, after.M, path, out);
    return;
  }
  if (before.L && after.L) {
    const length = Math.max(before.L.length, after.L.length);
    for (let i = 0; i < length; i++) walk(before.L[i], after.L[i], `${path}[${i}]`, out);
    return;
  }
  out.changed.push({ path, before: valueToJson(before), after: valueToJson(after) });
}

/**
 * The difference between two images: attributes added, removed and changed,
 * with nested paths into maps and lists. A missing image (a tombstone) is
 * empty: everything in the other one is added or removed.
 */
export function diffImages(before: AttributeMap | undefined, after: AttributeMap | undefined): ImageDiff {
  const out: ImageDiff = { added: [], removed: [], changed: [] };
  walkMap(before ?? {}, after ?? {}, '', out);
  return out;
}
