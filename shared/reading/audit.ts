import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/client-dynamodb';
import type { HistoryConfig } from '../core/config';
import { BY_TIME_INDEX, CHAIN_MARKER } from '../core/constants';
import { ItemNotFoundError, ValidationError, VersionNotFoundError } from '../core/errors';
import { decodeItemKey, decodeVersion, encodeVersion } from '../core/keys';
import type { HistoryRecord, RetentionPolicy } from '../core/types';
import { atStartSlot, isRecordItem } from '../recording/history-put';
import { fromHistoryItem } from '../recording/history-record';
import { CursorCodec } from './cursor';
import { diffImages, type ImageDiff } from './diff';
import { imageToJson, type Json } from './json-values';
import { parseAuditRequest } from './requests';

export type Order = 'asc' | 'desc';

export interface ListOptions {
  /** Records per page, 1–1000; default 100. */
  limit?: number;
  /** From a previous page's `cursor`. */
  cursor?: string;
  order?: Order;
  /** Lowest version to include. */
  from?: number;
  /** Highest version to include. */
  to?: number;
}

/** Bytes of JSON a page of versions may hold: under Lambda's 6 MB response, with room for the envelope. */
export const MAX_PAGE_BYTES = 5 * 1024 * 1024;
/** Bytes of JSON a diff may hold; a larger one is a clear error, never a truncated answer. */
export const MAX_DIFF_BYTES = 1024 * 1024;

export interface Page {
  items: HistoryRecord[];
  /** Present when there is a next page. */
  cursor?: string;
}

export interface VersionDiff extends ImageDiff {
  itemKey: string;
  from: number;
  to: number;
  /** True when that version is a tombstone: the item did not exist then. */
  fromDeleted: boolean;
  toDeleted: boolean;
}

/** A history record as JSON for APIs and the CLI. */
export interface RecordView {
  itemKey: string;
  version: number;
  versionKey: string;
  op: string;
  source: string;
  recordedAt: string;
  deleted: boolean;
  image: { [key: string]: Json } | null;
  changed: string[];
  actor?: string;
  declaredVersion?: string;
  restoredFrom?: number;
  reason?: string;
  /** On rollbacks: whether `actor` is the caller's IAM identity (`caller`) or the invoker's claim (`claimed`). */
  actorSource?: 'caller' | 'claimed';
  /** The write claimed to be a rollback and its label did not verify. */
  labelRejected?: true;
  eventId?: string;
  sequenceNumber?: string;
  /** The retention policy the record was written under. */
  retention?: RetentionPolicy;
  /** When retention lets DynamoDB delete this version (ISO-8601); absent while it is kept. */
  expiresAt?: string;
  prevHash: string;
  hash: string;
}

/** Why an as-of answer may be the version after the one in force, or undefined when it is certain. */
export function asOfUncertainty(record: HistoryRecord, at: string, resolutionMs: number): string | undefined {
  const step = Date.parse(record.recordedAt);
  if (Date.parse(at) >= step + resolutionMs) return undefined;
  const seconds = resolutionMs / 1000;
  return `v${record.versionNumber} was recorded at ${record.recordedAt}, in the same ${seconds === 1 ? 'second' : `${seconds}-second step`} as ${at}: the stream dates changes only to that step, so at ${at} the item may still have been at the version before`;
}

export function toView(record: HistoryRecord): RecordView {
  const view: RecordView = {
    itemKey: record.itemKey,
    version: record.versionNumber,
    versionKey: record.version,
    op: record.op,
    source: record.source,
    recordedAt: record.recordedAt,
    deleted: record.op === 'REMOVE',
    image: record.image ? imageToJson(record.image) : null,
    changed: record.changed,
    prevHash: record.prevHash,
    hash: record.hash,
  };
  for (const name of ['actor', 'declaredVersion', 'reason', 'eventId', 'sequenceNumber'] as const) {
    if (record[name] !== undefined) view[name] = record[name];
  }
  if (record.restoredFrom !== undefined) view.restoredFrom = record.restoredFrom;
  if (record.actorSource !== undefined) view.actorSource = record.actorSource;
  if (record.labelRejected) view.labelRejected = true;
  if (record.retention) view.retention = record.retention;
  if (record.expiresAt !== undefined) view.expiresAt = new Date(record.expiresAt * 1000).toISOString();
  return view;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

export function checkVersionNumber(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new ValidationError(
      `${name} must be a positive integer up to ${Number.MAX_SAFE_INTEGER}, got ${JSON.stringify(value)}`,
      {
        [name]: value,
      },
    );
  }
  return value;
}

/** Parses an ISO-8601 instant with an explicit zone into the history's format (UTC, milliseconds). */
export function parseInstant(at: unknown): string {
  if (typeof at !== 'string' || !ISO_INSTANT.test(at)) {
    throw new ValidationError(
      `"at" must be an ISO-8601 instant with a time zone, such as 2026-01-31T12:00:00Z; got ${JSON.stringify(at)}`,
    );
  }
  const ms = Date.parse(at);
  if (Number.isNaN(ms)) throw new ValidationError(`"at" is not a real instant: ${at}`);
  // Date.parse rolls impossible dates over (Feb 30 → Mar 2), whatever the offset: check the calendar itself.
  const [, y, mo, d] = /^(\d{4})-(\d{2})-(\d{2})/.exec(at) ?? [];
  const daysInMonth = new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate();
  if (Number(mo) < 1 || Number(mo) > 12 || Number(d) < 1 || Number(d) > daysInMonth) {
    throw new ValidationError(`"at" is not a real date: ${at}`);
  }
  return new Date(ms).toISOString();
}

interface CursorBody {
  k: string;
  v: string;
  o: Order;
  f?: number;
  t?: number;
}

/**
 * Reads an item's past versions from the history table.
 * Items are addressed by their encoded item key (see `encodeItemKey`).
 */
export class HistoryReader {
  private readonly client: DynamoDBClient;
  readonly config: HistoryConfig;
  private readonly cursors: CursorCodec;

  constructor(options: { client: DynamoDBClient; config: HistoryConfig; cursorSecret?: string }) {
    this.client = options.client;
    this.config = options.config;
    this.cursors = new CursorCodec(
      options.cursorSecret || `dynamo-history:${options.config.historyTableName}`,
      options.config.historyTableName,
    );
  }

  /** Checks that an item key decodes under this deployment's key schema. */
  checkItemKey(itemKey: unknown): string {
    if (typeof itemKey !== 'string' || itemKey.length === 0 || itemKey.length > 2048) {
      throw new ValidationError('itemKey must be a non-empty string of at most 2048 characters');
    }
    decodeItemKey(itemKey, this.config.keySchema);
    return itemKey;
  }

  /** One version. @throws VersionNotFoundError, ItemNotFoundError (no history at all) */
  async getVersion(itemKey: string, version: number): Promise<HistoryRecord> {
    this.checkItemKey(itemKey);
    checkVersionNumber(version, 'version');
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.config.historyTableName,
        Key: { itemKey: { S: itemKey }, version: { S: encodeVersion(version) } },
        ConsistentRead: true,
      }),
    );
    if (out.Item) return fromHistoryItem(out.Item);
    // The chain's first record is kept at the start slot until retention moves it.
    const start = await this.startRecord(itemKey);
    if (start?.versionNumber === version) return start;
    await this.assertHasHistory(itemKey);
    throw new VersionNotFoundError(itemKey, version);
  }

  /** The record at the item's chain start slot, when it holds one (not a bare marker). */
  private async startRecord(itemKey: string): Promise<HistoryRecord | undefined> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.config.historyTableName,
        Key: { itemKey: { S: itemKey }, version: { S: CHAIN_MARKER } },
        ConsistentRead: true,
      }),
    );
    return out.Item && isRecordItem(out.Item) ? fromHistoryItem(out.Item) : undefined;
  }

  /** The newest record, or undefined when the item has no history. */
  async latest(itemKey: string): Promise<HistoryRecord | undefined> {
    const page = await this.listVersions(itemKey, { limit: 1, order: 'desc' });
    return page.items[0];
  }

  private async assertHasHistory(itemKey: string): Promise<void> {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.config.historyTableName,
        KeyConditionExpression: '#k = :k',
        ExpressionAttributeNames: { '#k': 'itemKey' },
        ExpressionAttributeValues: { ':k': { S: itemKey } },
        Limit: 1,
        ProjectionExpression: '#k',
      }),
    );
    if (!out.Items?.length) throw new ItemNotFoundError(itemKey);
  }

  /**
   * A page of an item's versions, as the routes and the CLI answer it: an item
   * with no history at all is an ItemNotFoundError (404), as in every other query,
   * not an empty page; a page that is empty because of its range or cursor is a page.
   */
  async listHistory(itemKey: string, options: ListOptions = {}): Promise<Page> {
    const page = await this.listVersions(itemKey, options);
    if (
      page.items.length === 0 &&
      options.cursor === undefined &&
      options.from === undefined &&
      options.to === undefined
    )
      throw new ItemNotFoundError(itemKey);
    return page;
  }

  /** A page of versions, oldest first by default. The cursor is opaque and checked. */
  async listVersions(itemKey: string, options: ListOptions = {}): Promise<Page> {
    this.checkItemKey(itemKey);
    // The same checks as every audit request's (shared/reading/requests.ts).
    const checked = parseAuditRequest('listOptions', options);
    const limit = checked.limit ?? 100;
    const order = checked.order ?? 'asc';
    const { from, to } = checked;

    // The chain's first record sits at the start slot, which sorts before every version: a query
    // over all versions starts there; one from a version on cannot reach it, so the start slot is
    // read on its own where the range may hold it, before the first page (oldest first) or after
    // the last (newest first).
    const names: Record<string, string> = { '#k': 'itemKey', '#v': 'version' };
    const values: QueryCommandInput['ExpressionAttributeValues'] = {
      ':k': { S: itemKey },
      ':from': { S: from === undefined ? CHAIN_MARKER : encodeVersion(from) },
    };
    let condition = '#k = :k';
    if (to !== undefined) {
      condition += ' AND #v BETWEEN :from AND :to';
      values[':to'] = { S: encodeVersion(to) };
    } else {
      condition += ' AND #v >= :from';
    }
    const start =
      options.cursor === undefined
        ? undefined
        : this.readCursor(options.cursor, { k: itemKey, o: order, f: from, t: to });
    // Nothing sorts below the start slot: newest first, a page that ended there was the last.
    if (start === CHAIN_MARKER && order === 'desc') return { items: [] };
    const inRange = (r: HistoryRecord | undefined): r is HistoryRecord =>
      r !== undefined &&
      from !== undefined &&
      r.versionNumber >= from &&
      (to === undefined || r.versionNumber <= to);
    const read: HistoryRecord[] = [];
    if (from !== undefined && order === 'asc' && start === undefined) {
      const first = await this.startRecord(itemKey);
      if (inRange(first)) read.push(first);
    }
    let next: Record<string, AttributeValue> | undefined = start
      ? { itemKey: { S: itemKey }, version: { S: start } }
      : undefined;
    // A position at the range's far end (DynamoDB refuses it as a start): nothing is left to query.
    const lower = values[':from']?.S ?? '';
    let exhausted =
      start !== undefined &&
      (order === 'asc' ? to !== undefined && start >= encodeVersion(to) : start <= lower);
    // A bare chain marker counts towards a page's Limit but is no record: read on past it.
    while (!exhausted && read.length < limit) {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.config.historyTableName,
          KeyConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ScanIndexForward: order === 'asc',
          Limit: limit - read.length,
          ConsistentRead: true,
          ExclusiveStartKey: next,
        }),
      );
      read.push(...(out.Items ?? []).filter(isRecordItem).map(fromHistoryItem));
      next = out.LastEvaluatedKey;
      if (!next) {
        exhausted = true;
        break;
      }
    }
    if (from !== undefined && order === 'desc' && exhausted) {
      if (read.length < limit) {
        const first = await this.startRecord(itemKey);
        if (inRange(first)) read.push(first);
      } else exhausted = false; // a full page that ends the versions: the start slot is read on the next
    }
    // A page is bounded by bytes as well as by count: images inflated from `imageGz` can make 100
    // records tens of megabytes, past what a Lambda response (6 MB) or a person can take.
    const items: HistoryRecord[] = [];
    let bytes = 0;
    for (const record of read) {
      const size = Buffer.byteLength(JSON.stringify(toView(record)));
      if (items.length > 0 && bytes + size > MAX_PAGE_BYTES) break;
      items.push(record);
      bytes += size;
    }
    const page: Page = { items };
    const last = items.at(-1);
    if (last && (items.length < read.length || !exhausted)) {
      // Where the page stopped: a record's own key, or its version (the start slot's record,
      // oldest first, is followed by the versions above it, wherever retention has put it).
      const key = order === 'desc' && last.stored && atStartSlot(last.stored) ? CHAIN_MARKER : last.version;
      page.cursor = this.cursors.write({ k: itemKey, v: key, o: order, f: from, t: to });
    }
    return page;
  }

  /**
   * Every record of an item without its image, newest first by default, page by page: what a
   * walk over a long history needs (blame), at a small fraction of the bytes. The records'
   * `image` and hashes are absent, so these are for reading metadata, never for verifying.
   */
  async *metadata(itemKey: string, order: Order = 'desc'): AsyncGenerator<HistoryRecord[]> {
    this.checkItemKey(itemKey);
    const names = [
      ...['itemKey', 'version', 'versionNumber', 'timeKey', 'op', 'source', 'recordedAt', 'changed'],
      ...['actor', 'restoredFrom', 'reason', 'prevHash', 'hash'],
    ];
    let start: QueryCommandInput['ExclusiveStartKey'];
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.config.historyTableName,
          KeyConditionExpression: '#k = :k AND #v >= :from',
          ExpressionAttributeNames: {
            '#k': 'itemKey',
            '#v': 'version',
            ...Object.fromEntries(names.slice(2).map((n, i) => [`#a${i}`, n])),
          },
          // From the start slot on: it holds the chain's first record (a bare marker is skipped).
          ExpressionAttributeValues: { ':k': { S: itemKey }, ':from': { S: CHAIN_MARKER } },
          ProjectionExpression: ['#k', '#v', ...names.slice(2).map((_, i) => `#a${i}`)].join(', '),
          ScanIndexForward: order === 'asc',
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      yield (out.Items ?? []).filter(isRecordItem).map(fromHistoryItem);
      start = out.LastEvaluatedKey;
    } while (start);
  }

  /**
   * The version in force at an instant: the newest record at or before it,
   * found with one Query on the `byTime` index (`Limit: 1`), whatever the
   * history's length. A tombstone means the item did not exist then.
   * @throws VersionNotFoundError before the first version
   */
  async asOf(itemKey: string, at: string): Promise<HistoryRecord> {
    this.checkItemKey(itemKey);
    const instant = parseInstant(at);
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.config.historyTableName,
        IndexName: BY_TIME_INDEX,
        // timeKey is `recordedAt#version`; '#w' sorts after every '#v…' at the same instant.
        KeyConditionExpression: '#k = :k AND #t < :t',
        ExpressionAttributeNames: { '#k': 'itemKey', '#t': 'timeKey' },
        ExpressionAttributeValues: { ':k': { S: itemKey }, ':t': { S: `${instant}#w` } },
        ScanIndexForward: false,
        Limit: 1,
        // The index projects keys only; ALL_ATTRIBUTES fetches the item from the table in the same call.
        Select: 'ALL_ATTRIBUTES',
      }),
    );
    const item = out.Items?.[0];
    if (!item) {
      await this.assertHasHistory(itemKey);
      throw new VersionNotFoundError(itemKey, `as of ${instant}`);
    }
    return fromHistoryItem(item);
  }

  /**
   * `asOf` with what the stream's time resolution leaves open. The stream dates a
   * change to the step it happened in (AWS: the second; DynamoDB Local: the minute),
   * so when the instant asked falls in the same step as the answer's change, the
   * item may still have been at the version before: the answer says so.
   */
  async asOfAnswer(itemKey: string, at: string): Promise<RecordView & { uncertain?: string }> {
    const record = await this.asOf(itemKey, at);
    const view: RecordView & { uncertain?: string } = toView(record);
    const note = asOfUncertainty(record, parseInstant(at), this.config.streamTimeResolutionMs);
    if (note) view.uncertain = note;
    return view;
  }

  /** What changed between two versions. */
  async diff(itemKey: string, from: number, to: number): Promise<VersionDiff> {
    checkVersionNumber(from, 'from');
    checkVersionNumber(to, 'to');
    const [a, b] = await Promise.all([this.getVersion(itemKey, from), this.getVersion(itemKey, to)]);
    const diff: VersionDiff = {
      itemKey,
      from,
      to,
      fromDeleted: a.op === 'REMOVE',
      toDeleted: b.op === 'REMOVE',
      ...diffImages(a.image, b.image),
    };
    const bytes = Buffer.byteLength(JSON.stringify(diff));
    if (bytes > MAX_DIFF_BYTES) {
      throw new ValidationError(
        `the diff of v${from} and v${to} is ${bytes} bytes, over the ${MAX_DIFF_BYTES} a response may hold; show the two versions instead`,
        { bytes, limit: MAX_DIFF_BYTES },
        { code: 'diff.tooLarge' },
      );
    }
    return diff;
  }

  /**
   * Checks a cursor: it must be one this service issued (HMAC), for the same
   * item, order and range. Anything else is a ValidationError, never a crash.
   */
  private readCursor(cursor: unknown, expected: Omit<CursorBody, 'v'>): string {
    const invalid = () => new ValidationError('cursor is not valid for this query; start again without one');
    const body = this.cursors.read(cursor) as Partial<CursorBody>;
    if (body.k !== expected.k || body.o !== expected.o || body.f !== expected.f || body.t !== expected.t)
      throw invalid();
    // The start slot: a position below every version, where a page newest first ended.
    if (body.v === CHAIN_MARKER && expected.o === 'desc') return CHAIN_MARKER;
    let version: number;
    try {
      version = decodeVersion(typeof body.v === 'string' ? body.v : '');
    } catch {
      throw invalid();
    }
    // A position outside the query's range would make DynamoDB refuse the query.
    if (
      (expected.f !== undefined && version < expected.f) ||
      (expected.t !== undefined && version > expected.t)
    )
      throw invalid();
    return body.v as string;
  }
}
