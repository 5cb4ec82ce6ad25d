import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import canonicalize from 'canonicalize';
import { sameValue } from '../core/compare';
import type { HistoryConfig } from '../core/config';
import type { MacKey } from '../core/mac';
import type { AttributeMap } from '../core/types';

/**
 * Rollback labels. The rollback service puts a label on the item it writes
 * (the `historyContext` attribute): which version it wrote, what it restored,
 * why, and who asked, with a MAC over all of it, the table and the item key.
 * writeHistory records `source: rollback` only for a label whose MAC its key
 * verifies and whose version is exactly the version being recorded. A plain
 * writer can copy an old label, but it names an old version, and history holds
 * each version once; it cannot make a new one without the key.
 */

/** Who the label says asked for the rollback, and how that is known. */
export type ActorSource = 'caller' | 'claimed';

export interface RollbackLabel {
  version: number;
  restoredFrom: number;
  reason?: string | undefined;
  actor?: string | undefined;
  /** `caller`: the IAM identity of an authenticated request; `claimed`: free text from the invoker. */
  actorSource: ActorSource;
}

/** What writeHistory concluded of a label a write carried. */
export type LabelVerdict =
  | { verified: true; label: RollbackLabel }
  | { verified: false; claimedVersion?: number };

const PURPOSE = 'dynamo-history rollback label 1';

/** The exact bytes a label's MAC covers. */
export function labelMessage(table: string, itemKey: string, label: RollbackLabel): Uint8Array {
  const text = canonicalize({
    purpose: PURPOSE,
    table,
    itemKey,
    version: label.version,
    restoredFrom: label.restoredFrom,
    reason: label.reason ?? null,
    actor: label.actor ?? null,
    actorSource: label.actorSource,
  });
  return new TextEncoder().encode(text ?? '');
}

/** The context attribute's value for a label, MAC included. */
export async function sealLabel(
  key: MacKey,
  table: string,
  itemKey: string,
  label: RollbackLabel,
): Promise<AttributeValue> {
  const context: AttributeMap = {
    source: { S: 'rollback' },
    version: { N: String(label.version) },
    restoredFrom: { N: String(label.restoredFrom) },
    actorSource: { S: label.actorSource },
    keyId: { S: key.keyId },
    mac: { B: await key.mac(labelMessage(table, itemKey, label)) },
  };
  if (label.reason !== undefined) context.reason = { S: label.reason };
  if (label.actor !== undefined) context.actor = { S: label.actor };
  return { M: context };
}

const own = (map: AttributeMap | undefined, name: string): AttributeValue | undefined =>
  map !== undefined && Object.hasOwn(map, name) ? map[name] : undefined;

/**
 * The label a write claims, if it claims one *with this write*: a context that
 * says `source: rollback` and differs from the one the item already had. A context
 * carried over unchanged by a later write claims nothing (the writer ignores it).
 */
export function claimedLabel(
  newImage: AttributeMap | undefined,
  oldImage: AttributeMap | undefined,
  config: HistoryConfig,
): AttributeMap | undefined {
  const context = own(newImage, config.attributes.context);
  if (own(context?.M, 'source')?.S !== 'rollback') return undefined;
  if (sameValue(context, own(oldImage, config.attributes.context))) return undefined;
  return context?.M;
}

const wholeNumber = (value: AttributeValue | undefined): number | undefined => {
  const n = Number(value?.N);
  return value?.N !== undefined && Number.isSafeInteger(n) && n > 0 ? n : undefined;
};

/**
 * Checks a claimed label: its fields well-formed, its key the configured one and
 * its MAC valid for this table and item. Anything else is not a rollback.
 */
export async function verifyLabel(
  key: MacKey | undefined,
  table: string,
  itemKey: string,
  context: AttributeMap,
): Promise<LabelVerdict> {
  const version = wholeNumber(own(context, 'version'));
  const restoredFrom = wholeNumber(own(context, 'restoredFrom'));
  const actorSource = own(context, 'actorSource')?.S;
  const mac = own(context, 'mac')?.B;
  const reason = own(context, 'reason');
  const actor = own(context, 'actor');
  const rejected: LabelVerdict =
    version === undefined ? { verified: false } : { verified: false, claimedVersion: version };
  if (
    !key ||
    version === undefined ||
    restoredFrom === undefined ||
    (actorSource !== 'caller' && actorSource !== 'claimed') ||
    !(mac instanceof Uint8Array) ||
    own(context, 'keyId')?.S !== key.keyId ||
    (reason !== undefined && reason.S === undefined) ||
    (actor !== undefined && actor.S === undefined)
  )
    return rejected;
  const label: RollbackLabel = { version, restoredFrom, actorSource, reason: reason?.S, actor: actor?.S };
  return (await key.verify(labelMessage(table, itemKey, label), mac)) ? { verified: true, label } : rejected;
}
