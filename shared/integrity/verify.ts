import { createHash } from 'node:crypto';
import { type DynamoDBClient, GetItemCommand, QueryCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { canonicalItemJson } from '../core/canonical';
import { mapLimit } from '../core/concurrency';
import type { HistoryConfig } from '../core/config';
import { GENESIS_HASH } from '../core/constants';
import { decodeItemKey, encodeItemKey, keyOf } from '../core/keys';
import type { AttributeMap, HistoryRecord } from '../core/types';
import { itemHash } from '../recording/chain-hash';
import { atStartSlot, chainMarker, isRecordItem, itemPartition } from '../recording/history-put';
import { activityKeysOf, contentHashOf, fromHistoryItem, timeKeyOf } from '../recording/history-record';
import { expiryPlausible, mayHaveExpired, policiesOf } from '../recording/retention';

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
  | 'record.unreadable'
  | 'marker.missing'
  | 'marker.mismatch'
  | 'marker.orphan'
  | 'record.parked';

export interface Finding {
  itemKey: string;
  kind: FindingKind;
  version?: number;
  message: string;
}

export interface VerifyReport {
  items: number;
  records: number;
  findings: Finding[];
  /** Chains whose oldest retained record follows versions retention deleted. */
  truncated: number;
  /** SHA-256 over every item's recomputed chain (see {@link digestLine}): store it, and compare it later. */
  digest: string;
  /** Every item's {@link digestLine}, sorted: what a signed digest keeps, so that each chain head can be checked later. */
  lines: string[];
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
  let truncated = false;
  let prev: HistoryRecord | undefined;
  for (const r of records) {
    const at = { itemKey, version: r.versionNumber };
    if ((r.contentHash ?? contentHashOf(r)) !== r.hash)
      findings.push({
        ...at,
        kind: 'hash.mismatch',
        message: `v${r.versionNumber}: content does not match its hash (edited)`,
      });
    if (!expiryPlausible(policies, r, records)) {
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
      mayHaveExpired(policies, r.versionNumber - 1, records, nowMs);
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
    // Format 2 names the predecessor inside the hash: a linked record after a skip is the app's skip.
    const skipped = linked && prev !== undefined && r.prevVersion === prev.versionNumber;
    if (prev && !expiredBefore && !skipped && r.versionNumber !== prev.versionNumber + 1) {
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
    if (r.activityBucket !== undefined || r.activityKey !== undefined) {
      // A record filed under another day, shard or item would be missing from the activity it belongs to.
      const expected = activityKeysOf(r.itemKey, r.recordedAt, r.versionNumber);
      if (r.activityBucket !== expected.activityBucket || r.activityKey !== expected.activityKey)
        findings.push({
          ...at,
          kind: 'time.keyMismatch',
          message: `v${r.versionNumber}: activityBucket/activityKey do not match the record's item, version and recordedAt`,
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

const MARKER_ATTRIBUTES = new Set(['itemKey', 'version', 'startedBy', 'format', 'genesisHash']);

/**
 * Checks an item's chain marker against its records: present when there are
 * records, naming the event and (format 2) the hash of the chain's first
 * record, with nothing else on it. Without it a second chain could be started. Pure.
 */
export function checkMarker(
  itemKey: string,
  marker: AttributeMap | undefined,
  records: readonly HistoryRecord[],
): Finding[] {
  if (!marker) {
    return records.length > 0
      ? [{ itemKey, kind: 'marker.missing', message: 'the chain marker is missing (deleted)' }]
      : [];
  }
  if (records.length === 0)
    return [{ itemKey, kind: 'marker.orphan', message: 'a chain marker without records (history deleted)' }];
  const first = records[0] as HistoryRecord;
  if (first.stored && atStartSlot(first.stored) && first.prevHash !== GENESIS_HASH)
    return [
      {
        itemKey,
        version: first.versionNumber,
        kind: 'marker.mismatch',
        message: `the record at the chain start slot (v${first.versionNumber}) does not start a chain`,
      },
    ];
  const problems: string[] = [];
  const extra = Object.keys(marker).filter((k) => !MARKER_ATTRIBUTES.has(k));
  if (extra.length > 0) problems.push(`unexpected attribute(s) ${extra.join(', ')}`);
  const genesis = first.prevHash === GENESIS_HASH ? first : undefined;
  const format = marker.format?.N;
  if (format !== undefined || (genesis?.format ?? 1) >= 2) {
    if (format !== String(genesis?.format ?? format)) problems.push('format differs from the first record');
    if (!marker.genesisHash?.S) problems.push('genesisHash missing');
    else if (genesis && marker.genesisHash.S !== genesis.hash)
      problems.push('genesisHash is not the first record');
  }
  if (genesis && marker.startedBy?.S !== (genesis.eventId ?? 'unknown'))
    problems.push('startedBy is not the first record');
  return problems.length > 0
    ? [{ itemKey, kind: 'marker.mismatch', message: `chain marker edited: ${problems.join('; ')}` }]
    : [];
}

/**
 * The item's line of the digest. Its hashes are recomputed from content and
 * rolled along the chain (each record hashed with the recomputed hash of the one
 * before as its link), so an edit of any record's content changes the head's
 * value, while expired records (retention deletes only the oldest) change nothing.
 * Where a stored `hash` or `prevHash` disagrees with the rolled values, the
 * disagreement is folded into a second value, empty for an intact chain. Then the
 * marker's hash. `expiresAt`, which retention sets, is left out, as in the hash.
 */
export function digestLine(
  itemKey: string,
  records: readonly HistoryRecord[],
  marker: AttributeMap | undefined,
): string {
  let rolled: string | undefined;
  let taint = '';
  for (const r of records) {
    const link = rolled ?? r.prevHash;
    // Where the link is the record's own (every record of an intact chain), its hash was computed on read.
    const next = link === r.prevHash && r.contentHash !== undefined ? r.contentHash : contentHashOf(r, link);
    if (r.prevHash !== link || r.hash !== next) {
      taint = sha256Hex(`${taint}|${r.version}|${r.prevHash}|${r.hash}`);
    }
    rolled = next;
  }
  const head = records.at(-1);
  const markerHash = marker ? itemHash(marker) : '-';
  return `${itemKey}\t${head?.versionNumber ?? 0}\t${rolled ?? '-'}\t${taint || '-'}\t${markerHash}\n`;
}

/** A digest line for a stored item verify could not read as a record. */
export const unreadableDigestLine = (item: AttributeMap): string =>
  `${item.itemKey?.S ?? '?'}\t?\t${itemHash(item)}\n`;

const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

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

/** An unreadable stored record: its finding, and its digest line. */
export interface Unreadable {
  finding: Finding;
  line: string;
}

/** A stored record, or (edited past reading) a `record.unreadable` finding. */
function readRecord(item: AttributeMap, unreadable: Unreadable[]): HistoryRecord | undefined {
  try {
    return fromHistoryItem(item);
  } catch (error) {
    unreadable.push({
      finding: {
        itemKey: item.itemKey?.S ?? '?',
        kind: 'record.unreadable',
        message: `unreadable history record ${item.version?.S ?? '?'}: ${String(error)}`,
      },
      line: unreadableDigestLine(item),
    });
    return undefined;
  }
}

/** Every history record of one item, oldest first, and its chain marker. */
export async function readItemChain(
  client: DynamoDBClient,
  historyTable: string,
  itemKey: string,
): Promise<{ records: HistoryRecord[]; marker: AttributeMap | undefined; unreadable: Unreadable[] }> {
  const records: HistoryRecord[] = [];
  const unreadable: Unreadable[] = [];
  let marker: AttributeMap | undefined;
  let start: AttributeMap | undefined;
  do {
    const out = await client.send(
      new QueryCommand({ ...itemPartition(historyTable, itemKey), ExclusiveStartKey: start }),
    );
    for (const item of out.Items ?? []) {
      if (!isRecordItem(item)) marker = item;
      else {
        // The chain's first record at the start slot is its own marker: the one retention leaves
        // when it moves the record (chainMarker), so the digest does not change with the move.
        if (atStartSlot(item)) marker = chainMarker(item);
        const record = readRecord(item, unreadable);
        if (record) records.push(record);
      }
    }
    start = out.LastEvaluatedKey;
  } while (start);
  return { records, marker, unreadable };
}

/** Every history record of one item, oldest first (the chain marker left out). */
export async function readItemHistory(
  client: DynamoDBClient,
  historyTable: string,
  itemKey: string,
): Promise<HistoryRecord[]> {
  return (await readItemChain(client, historyTable, itemKey)).records;
}

/** A strongly consistent Scan in `segments` parallel segments, page by page. */
async function parallelScan(
  client: DynamoDBClient,
  table: string,
  segments: number,
  onPage: (items: AttributeMap[]) => void,
  /** Attribute names to read: a Scan that needs only keys holds only keys. */
  only?: readonly string[],
): Promise<void> {
  const projection = only && {
    ProjectionExpression: only.map((_, i) => `#a${i}`).join(', '),
    ExpressionAttributeNames: Object.fromEntries(only.map((name, i) => [`#a${i}`, name])),
  };
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
            ...projection,
          }),
        );
        onPage(out.Items ?? []);
        start = out.LastEvaluatedKey;
      } while (start);
    },
  );
}

/** The digest: SHA-256 over every item's {@link digestLine}, sorted by item key. */
export function digestOf(lines: string[]): string {
  const hash = createHash('sha256');
  for (const line of [...lines].sort()) hash.update(line);
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

  private itemChain(itemKey: string) {
    return readItemChain(this.options.client, this.options.config.historyTableName, itemKey);
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
    markers: Map<string, AttributeMap>,
    unreadable: Unreadable[],
  ): VerifyReport {
    const findings = unreadable.map((u) => u.finding);
    const lines = unreadable.map((u) => u.line);
    let records = 0;
    let truncated = 0;
    for (const [itemKey, list] of byItem) {
      records += list.length;
      const chain = checkChain(itemKey, list, this.now());
      findings.push(...chain.findings);
      if (chain.truncated) truncated++;
      findings.push(...checkMarker(itemKey, markers.get(itemKey), list));
      lines.push(digestLine(itemKey, list, markers.get(itemKey)));
      const newest = list.at(-1);
      if (latest.has(itemKey))
        findings.push(
          ...checkLatest(itemKey, newest, latest.get(itemKey), this.options.config.attributes.context),
        );
    }
    for (const [itemKey, item] of latest) {
      if (!byItem.has(itemKey))
        findings.push(...checkLatest(itemKey, undefined, item, this.options.config.attributes.context));
    }
    for (const [itemKey, marker] of markers) {
      if (!byItem.has(itemKey)) {
        findings.push(...checkMarker(itemKey, marker, []));
        lines.push(digestLine(itemKey, [], marker));
      }
    }
    return {
      items: new Set([...byItem.keys(), ...latest.keys()]).size,
      records,
      findings,
      truncated,
      digest: digestOf(lines),
      lines: [...lines].sort(),
    };
  }

  /**
   * Unresolved parked records: changes the stream delivered that history lacks.
   * Not tampering, but history is incomplete until repair re-drives them.
   */
  private async parked(itemKey?: string): Promise<Finding[]> {
    const findings: Finding[] = [];
    let start: AttributeMap | undefined;
    do {
      const out = await this.options.client.send(
        new ScanCommand({
          TableName: this.options.config.failuresTableName,
          ExclusiveStartKey: start,
          ConsistentRead: true,
          ...(itemKey === undefined
            ? {}
            : {
                FilterExpression: '#k = :k',
                ExpressionAttributeNames: { '#k': 'itemKey' },
                ExpressionAttributeValues: { ':k': { S: itemKey } },
              }),
        }),
      );
      for (const item of out.Items ?? []) {
        if (!item.errorCode || item.resolvedAt) continue; // chunks and resolved records
        const untrusted =
          item.errorCode.S === 'record.foreignStream' || item.errorCode.S === 'record.outOfWindow';
        findings.push({
          itemKey: item.itemKey?.S ?? '(unparsed record)',
          kind: 'record.parked',
          message: `stream record ${item.failureId?.S ?? '?'} (sequence ${item.sequenceNumber?.S ?? '?'}) is parked as ${item.errorCode.S}: ${
            untrusted
              ? 'it did not come from the recorded stream (a forged event?); find who sent it, it is never recorded'
              : 'history lacks that change until repair re-drives it'
          }`,
        });
      }
      start = out.LastEvaluatedKey;
    } while (start);
    return findings;
  }

  /** One item. */
  async verifyItem(itemKey: string): Promise<VerifyReport> {
    decodeItemKey(itemKey, this.options.config.keySchema);
    const [{ records, marker, unreadable }, latest, parked] = await Promise.all([
      this.itemChain(itemKey),
      this.latestItem(itemKey),
      this.parked(itemKey),
    ]);
    const byItem = new Map(records.length > 0 ? [[itemKey, records]] : []);
    const markers = new Map(marker ? [[itemKey, marker]] : []);
    const report = this.report(byItem, new Map([[itemKey, latest]]), markers, unreadable);
    return { ...report, findings: [...report.findings, ...parked] };
  }

  /**
   * Every item, streamed: a Scan of history that keeps only item keys, then each
   * item's chain read and checked on its own (Query) with its latest item (GetItem),
   * then a keys-only Scan of the latest table for items history lacks. Memory holds
   * one chain at a time plus a key and a digest line per item, never the table's
   * images; the price is reading history twice (README, "Verify").
   */
  async verifyAll(options: VerifyOptions = {}): Promise<VerifyReport> {
    const segments = Math.max(1, Math.min(options.segments ?? 4, 64));
    const { client, config } = this.options;
    const keys = new Set<string>();
    await parallelScan(
      client,
      config.historyTableName,
      segments,
      (items) => {
        for (const item of items) keys.add(item.itemKey?.S ?? '?');
      },
      ['itemKey'],
    );
    const findings: Finding[] = [];
    const lines: string[] = [];
    let records = 0;
    let truncated = 0;
    let items = 0;
    await mapLimit([...keys], segments * 4, async (itemKey) => {
      const [chain, latest] = await Promise.all([this.itemChain(itemKey), this.latestOrUnknown(itemKey)]);
      const report = this.report(
        new Map(chain.records.length > 0 ? [[itemKey, chain.records]] : []),
        latest === UNKNOWN ? new Map() : new Map([[itemKey, latest]]),
        new Map(chain.marker ? [[itemKey, chain.marker]] : []),
        chain.unreadable,
      );
      findings.push(...report.findings);
      lines.push(...report.lines);
      records += report.records;
      truncated += report.truncated;
      items += Math.max(1, report.items);
      options.onProgress?.({ records });
    });
    const { keySchema } = config;
    await parallelScan(
      client,
      config.latestTableName,
      segments,
      (page) => {
        for (const item of page) {
          const itemKey = encodeItemKey(keyOf(item, keySchema), keySchema);
          if (keys.has(itemKey)) continue;
          items++;
          findings.push(...checkLatest(itemKey, undefined, item, config.attributes.context));
        }
      },
      keySchema.map((k) => k.name),
    );
    findings.sort((a, b) => (a.itemKey < b.itemKey ? -1 : a.itemKey > b.itemKey ? 1 : 0));
    return {
      items,
      records,
      findings: [...findings, ...(await this.parked())],
      truncated,
      digest: digestOf(lines),
      lines: lines.sort(),
    };
  }

  /** The latest item, or UNKNOWN when history names an item key no table key can spell (an edited record). */
  private async latestOrUnknown(itemKey: string): Promise<AttributeMap | undefined | typeof UNKNOWN> {
    try {
      decodeItemKey(itemKey, this.options.config.keySchema);
    } catch {
      return UNKNOWN;
    }
    return this.latestItem(itemKey);
  }
}

const UNKNOWN = Symbol('unknown');
