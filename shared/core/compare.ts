import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { canonicalJson, canonicalValue } from './canonical';
import type { AttributeMap } from './types';

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
