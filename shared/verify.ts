import { createHash } from 'node:crypto';
import { type DynamoDBClient, GetItemCommand, QueryCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { canonicalItemJson, recordHash } from './canonical';
import { mapLimit } from './concurrency';
import type { HistoryConfig } from './config';
import { GENESIS_HASH } from './constants';
import { isRecordItem } from './history-put';
import { fromHistoryItem, timeKeyOf } from './history-record';
import { decodeItemKey, encodeItemKey, keyOf } from './keys';
import { expiryPlausible, mayHaveExpired, policiesOf } from './retention';
import type { AttributeMap, HistoryRecord } from './types';

export type FindingKind =
  | 'hash.mismatch'
  | 'chain.broken'
  | 'version.gap'
  | 'time.outOfOrder'
  | 'time.keyMismatch'
  | 'tombstone.modified'
  | 'retention.early'
  | 'latest.mismatch'
  | 'latest.notRecorded'
  | 'latest.deleteNotRecorded'
  | 'latest.noHistory'
  | 'record.unreadable';

export interface Finding {
  itemKey: string;
  kind: FindingKind;
  version?: number;
  message: string;
}

export interface ChainHeadSummary {
  itemKey: string;
  version: number;
  hash: string;
}

export interface VerifyReport {
  items: number;
  records: number;
  findings: Finding[];
  /** Chains whose oldest retained record follows versions retention deleted. */
  truncated: number;
  /** SHA-256 over every item's chain head (sorted): store it, and compare it later. */
  digest: string;
}

export interface ChainCheck {
  findings: Finding[];
  /** The oldest retained record follows versions that retention deleted. */
  truncated: boolean;
}

/**
 * Checks one item's history, oldest first: every hash matches its content,
 * every record links to the one before, versions are contiguous, time never
 * runs backwards, and a tombstone is followed by a re-creation, not a change.
 *
 * Under a retention policy (recorded in the records' hashes) versions may be
 * missing, but only those the policy had let go by `nowMs`: the record after
 * them then anchors the rest. A missing version the policy still keeps, or an
 * `expiresAt` earlier than the policy allows, is a finding. Pure.
 */
export function checkChain(itemKey: string, records: HistoryRecord[], nowMs = Date.now()): ChainCheck {
  const findings: Finding[] = [];
  const policies = policiesOf(records);
  const headVersion = records.at(-1)?.versionNumber ?? 0;
  let truncated = false;
  let prev: HistoryRecord | undefined;
  for (const [i, r] of records.entries()) {
    const at = { itemKey, version: r.versionNumber };
    if (recordHash(r) !== r.hash)
      findings.push({
        ...at,
        kind: 'hash.mismatch',
        message: `v${r.versionNumber}: content does not match its hash (edited)`,
      });
    const next = records[i + 1];
    const successor = next?.prevHash === r.hash ? next : undefined;
    if (!expiryPlausible(policies, r, successor, headVersion)) {
      findings.push({
        ...at,
        kind: 'retention.early',
        message: `v${r.versionNumber}: expiresAt ${new Date((r.expiresAt ?? 0) * 1000).toISOString()} is earlier than the retention policy allows`,
      });
    }
    const link = prev ? prev.hash : GENESIS_HASH;
    const linked = r.prevHash === link;
    // Versions below r are gone, deliberately: retention let them go, and r was written after them.
    const expiredBefore =
      !linked &&
      r.prevHash !== GENESIS_HASH &&
      (prev === undefined || prev.versionNumber < r.versionNumber - 1) &&
      mayHaveExpired(policies, r.versionNumber - 1, r, headVersion, nowMs);
    if (expiredBefore && !prev) truncated = true;
    if (!linked && !expiredBefore) {
      findings.push({
        ...at,
        kind: 'chain.broken',
        message: prev
          ? `v${r.versionNumber} does not link to v${prev.versionNumber} (a record was removed, inserted or reordered)`
          : `v${r.versionNumber} is the oldest record but does not start the chain (earlier records missing)`,
      });
    }
    if (prev && !expiredBefore && r.versionNumber !== prev.versionNumber + 1) {
      findings.push({
        ...at,
        kind: 'version.gap',
        message: `versions ${prev.versionNumber + 1}–${r.versionNumber - 1} are missing`,
      });
    }
    if (prev && r.recordedAt < prev.recordedAt) {
      findings.push({
        ...at,
        kind: 'time.outOfOrder',
        message: `v${r.versionNumber} is recorded before v${prev.versionNumber}`,
      });
    }
    if (r.timeKey !== timeKeyOf(r.recordedAt, r.versionNumber)) {
      findings.push({
        ...at,
        kind: 'time.keyMismatch',
        message: `v${r.versionNumber}: timeKey does not match recordedAt`,
      });
    }
    if (prev?.op === 'REMOVE' && r.op === 'MODIFY') {
      findings.push({
        ...at,
        kind: 'tombstone.modified',
        message: `v${r.versionNumber} modifies an item deleted at v${prev.versionNumber}`,
      });
    }
    prev = r;
  }
  return { findings, truncated };
}

/** Compares the latest table's item with the newest history record. Pure. */
export function checkLatest(
  itemKey: string,
  newest: HistoryRecord | undefined,
  latest: AttributeMap | undefined,
  contextAttribute: string,
): Finding[] {
  if (!newest)
    return latest
      ? [{ itemKey, kind: 'latest.noHistory', message: 'the item has no history (backfill it)' }]
      : [];
  if (!latest) {
    return newest.op === 'REMOVE'
      ? []
      : [
          {
            itemKey,
            version: newest.versionNumber,
            kind: 'latest.deleteNotRecorded',
            message: `deleted, but history ends at v${newest.versionNumber}`,
          },
        ];
  }
  if (newest.op === 'REMOVE') {
    return [
      {
        itemKey,
        version: newest.versionNumber,
        kind: 'latest.notRecorded',
        message: 'the item exists, but history ends with a tombstone',
      },
    ];
  }
  const { [contextAttribute]: _context, ...current } = latest;
  if (canonicalItemJson(current) !== canonicalItemJson(newest.image ?? {})) {
    return [
      {
        itemKey,
        version: newest.versionNumber,
        kind: 'latest.mismatch',
        message: `the item differs from its newest history image v${newest.versionNumber}`,
      },
    ];
  }
  return [];
}

/** Every history record of one item, oldest first (the chain marker left out). */
export async function readItemHistory(
  client: DynamoDBClient,
  historyTable: string,
  itemKey: string,
): Promise<HistoryRecord[]> {
  const records: HistoryRecord[] = [];
  let start: AttributeMap | undefined;
  do {
    const out = await client.send(
      new QueryCommand({
        TableName: historyTable,
        KeyConditionExpression: '#k = :k',
        ExpressionAttributeNames: { '#k': 'itemKey' },
        ExpressionAttributeValues: { ':k': { S: itemKey } },
        ExclusiveStartKey: start,
        ConsistentRead: true,
      }),
    );
    records.push(...(out.Items ?? []).filter(isRecordItem).map(fromHistoryItem));
    start = out.LastEvaluatedKey;
  } while (start);
  return records;
}

/** A strongly consistent Scan in `segments` parallel segments, page by page. */
async function parallelScan(
  client: DynamoDBClient,
  table: string,
  segments: number,
  onPage: (items: AttributeMap[]) => void,
): Promise<void> {
  await mapLimit(
    Array.from({ length: segments }, (_, i) => i),
    segments,
    async (segment) => {
      let start: AttributeMap | undefined;
      do {
        const out = await client.send(
          new ScanCommand({
            TableName: table,
            Segment: segment,
            TotalSegments: segments,
            ExclusiveStartKey: start,
            ConsistentRead: true,
          }),
        );
        onPage(out.Items ?? []);
        start = out.LastEvaluatedKey;
      } while (start);
    },
  );
}

/** The digest of a set of chain heads: SHA-256 over `itemKey\tversion\thash` lines, sorted by item key. */
export function digestOf(heads: ChainHeadSummary[]): string {
  const hash = createHash('sha256');
  for (const h of [...heads].sort((a, b) => (a.itemKey < b.itemKey ? -1 : a.itemKey > b.itemKey ? 1 : 0))) {
    hash.update(`${h.itemKey}\t${h.version}\t${h.hash}\n`);
  }
  return hash.digest('hex');
}

export interface VerifyOptions {
  /** Parallel scan segments for a whole-table check. */
  segments?: number;
  onProgress?: (done: { records: number }) => void;
}

/**
 * Verifies history against itself and against the latest table. Findings
 * never stop the run; the report lists them all. History is read, never written.
 */
export class Verifier {
  constructor(
    private readonly options: { client: DynamoDBClient; config: HistoryConfig; clock?: () => Date },
  ) {}

  private now(): number {
    return (this.options.clock?.() ?? new Date()).getTime();
  }

  private itemHistory(itemKey: string): Promise<HistoryRecord[]> {
    return readItemHistory(this.options.client, this.options.config.historyTableName, itemKey);
  }

  private async latestItem(itemKey: string): Promise<AttributeMap | undefined> {
    const out = await this.options.client.send(
      new GetItemCommand({
        TableName: this.options.config.latestTableName,
        Key: decodeItemKey(itemKey, this.options.config.keySchema),
        ConsistentRead: true,
      }),
    );
    return out.Item;
  }

  private report(
    byItem: Map<string, HistoryRecord[]>,
    latest: Map<string, AttributeMap | undefined>,
    extra: Finding[],
  ): VerifyReport {
    const findings = [...extra];
    const heads: ChainHeadSummary[] = [];
    let records = 0;
    let truncated = 0;
    for (const [itemKey, list] of byItem) {
      records += list.length;
      const chain = checkChain(itemKey, list, this.now());
      findings.push(...chain.findings);
      if (chain.truncated) truncated++;
      const newest = list.at(-1);
      if (newest) heads.push({ itemKey, version: newest.versionNumber, hash: newest.hash });
      if (latest.has(itemKey))
        findings.push(
          ...checkLatest(itemKey, newest, latest.get(itemKey), this.options.config.attributes.context),
        );
    }
    for (const [itemKey, item] of latest) {
      if (!byItem.has(itemKey))
        findings.push(...checkLatest(itemKey, undefined, item, this.options.config.attributes.context));
    }
    return {
      items: new Set([...byItem.keys(), ...latest.keys()]).size,
      records,
      findings,
      truncated,
      digest: digestOf(heads),
    };
  }

  /** One item. */
  async verifyItem(itemKey: string): Promise<VerifyReport> {
    decodeItemKey(itemKey, this.options.config.keySchema);
    const [records, latest] = await Promise.all([this.itemHistory(itemKey), this.latestItem(itemKey)]);
    const byItem = new Map(records.length > 0 ? [[itemKey, records]] : []);
    return this.report(byItem, new Map([[itemKey, latest]]), []);
  }

  /** Every item: a parallel Scan of history and of the latest table. */
  async verifyAll(options: VerifyOptions = {}): Promise<VerifyReport> {
    const segments = Math.max(1, Math.min(options.segments ?? 4, 64));
    const byItem = new Map<string, HistoryRecord[]>();
    const extra: Finding[] = [];
    let scanned = 0;
    await parallelScan(this.options.client, this.options.config.historyTableName, segments, (items) => {
      for (const item of items) {
        if (!isRecordItem(item)) continue;
        const itemKey = item.itemKey?.S ?? '?';
        try {
          const record = fromHistoryItem(item);
          const list = byItem.get(itemKey);
          if (list) list.push(record);
          else byItem.set(itemKey, [record]);
        } catch (error) {
          extra.push({
            itemKey,
            kind: 'record.unreadable',
            message: `unreadable history record ${item.version?.S ?? '?'}: ${String(error)}`,
          });
        }
      }
      scanned += items.length;
      options.onProgress?.({ records: scanned });
    });
    for (const list of byItem.values())
      list.sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));

    const latest = new Map<string, AttributeMap | undefined>();
    const { keySchema } = this.options.config;
    await parallelScan(this.options.client, this.options.config.latestTableName, segments, (items) => {
      for (const item of items) latest.set(encodeItemKey(keyOf(item, keySchema), keySchema), item);
    });
    // Items whose history exists but that are gone from the latest table: deleted.
    for (const itemKey of byItem.keys()) if (!latest.has(itemKey)) latest.set(itemKey, undefined);
    return this.report(byItem, latest, extra);
  }
}
