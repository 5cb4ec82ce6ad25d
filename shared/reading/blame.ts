import { ItemNotFoundError } from '../core/errors';
import type { HistoryRecord } from '../core/types';
import type { HistoryReader } from './audit';

/** Who last set one attribute of the current image. */
export interface BlameEntry {
  attribute: string;
  version: number;
  recordedAt: string;
  source: string;
  op: string;
  actor?: string;
  /**
   * `changed`: this version changed the attribute; `created`: the item was created (or
   * re-created) with it here; `retained`: the oldest version retention kept already had it,
   * so it was set here or earlier.
   */
  how: 'changed' | 'created' | 'retained';
}

export interface Blame {
  itemKey: string;
  /** The current version; blame is of its image. */
  version: number;
  /** The item is deleted: its current version is a tombstone, and there is nothing to blame. */
  deleted: boolean;
  attributes: BlameEntry[];
  /** The key and the attributes the writer stamps (version, createdAt, modifiedAt, modifiedBy): not blamed. */
  managed: string[];
}

function entry(attribute: string, record: HistoryRecord, how: BlameEntry['how']): BlameEntry {
  const e: BlameEntry = {
    attribute,
    version: record.versionNumber,
    recordedAt: record.recordedAt,
    source: record.source,
    op: record.op,
    how,
  };
  if (record.actor !== undefined) e.actor = record.actor;
  return e;
}

/**
 * Blame: for each top-level attribute of the item's current image, the version that last
 * set it, with who and when. It walks history newest first, reading metadata only (each
 * record's `changed` names what it changed against the one before), and stops as soon as
 * every attribute is placed: an attribute set at creation costs a walk back to the item's
 * (re-)creation, never past it. The key and the attributes the writer stamps (version,
 * createdAt, modifiedAt, modifiedBy) are listed as managed, not blamed.
 */
export async function blame(reader: HistoryReader, itemKey: string): Promise<Blame> {
  const head = await reader.latest(itemKey);
  if (!head) throw new ItemNotFoundError(itemKey);
  const { config } = reader;
  const { version, modifiedAt, modifiedBy, createdAt } = config.attributes;
  // Stamped by every write, fixed at creation, or the key: none of them says who set a value.
  const managed = new Set([
    version,
    modifiedAt,
    modifiedBy,
    createdAt,
    config.actorAttribute,
    ...config.keySchema.map((k) => k.name),
  ]);
  const result: Blame = {
    itemKey,
    version: head.versionNumber,
    deleted: head.op === 'REMOVE' || !head.image,
    attributes: [],
    managed: [],
  };
  if (result.deleted) return result;
  const names = Object.keys(head.image ?? {}).sort();
  result.managed = names.filter((n) => managed.has(n));
  const pending = new Set(names.filter((n) => !managed.has(n)));
  const found = new Map<string, BlameEntry>();
  const settle = (record: HistoryRecord, how: BlameEntry['how']) => {
    for (const n of pending) found.set(n, entry(n, record, how));
    pending.clear();
  };
  let newer: HistoryRecord | undefined;
  walk: for await (const page of reader.metadata(itemKey, 'desc')) {
    for (const record of page) {
      if (pending.size === 0) break walk;
      if (newer !== undefined && record.op === 'REMOVE') {
        // The newer record re-created the item: whatever is left was set then.
        settle(newer, 'created');
        break walk;
      }
      newer = record;
      // A (re-)creation set everything it holds.
      if (record.op === 'INSERT') {
        settle(record, 'created');
        break walk;
      }
      for (const n of record.changed) {
        if (pending.delete(n)) found.set(n, entry(n, record, 'changed'));
      }
    }
  }
  // The walk reached the oldest record with attributes left: retention removed the versions before it.
  if (newer && pending.size > 0) settle(newer, newer.versionNumber === 1 ? 'created' : 'retained');
  result.attributes = names.filter((n) => found.has(n)).map((n) => found.get(n) as BlameEntry);
  return result;
}
