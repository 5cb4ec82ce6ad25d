import { type AttributeValue, type DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { awsErrorName } from '../aws/aws-errors';
import { mapLimit } from '../core/concurrency';
import type { HistoryConfig } from '../core/config';
import { ACTIVITY_SHARDS, BY_ACTIVITY_INDEX, CHAIN_MARKER } from '../core/constants';
import { ValidationError } from '../core/errors';
import { decodeVersion } from '../core/keys';
import type { AttributeMap, Operation, Source } from '../core/types';
import { parseInstant } from './audit';
import { CursorCodec } from './cursor';
import { MAX_LIMIT } from './requests';

/** One change in a table-wide activity listing: what the `byActivity` index projects. */
export interface ActivityEntry {
  itemKey: string;
  version: number;
  op: Operation;
  source: Source;
  recordedAt: string;
  actor?: string;
  restoredFrom?: number;
}

export interface ActivityPage {
  from: string;
  to: string;
  items: ActivityEntry[];
  /** Present when the window holds more: pass it back for the next page. */
  cursor?: string;
}

export interface ActivityOptions {
  /** Changes per page, 1–1000; default 100. */
  limit?: number;
  cursor?: string;
  /** `asc` (oldest first, the default) or `desc`. */
  order?: 'asc' | 'desc';
}

/** The longest window one listing may cover: a wider question is asked in steps. */
export const MAX_ACTIVITY_DAYS = 366;
/** Day buckets one page reads at most; a page of a sparse window may end early, with a cursor. */
export const DAYS_PER_PAGE = 31;

const DAY_MS = 86_400_000;
const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

interface Cursor {
  /** The day bucket to go on with. */
  d: string;
  /** The last activityKey given out, in that day; absent at the start of a day. */
  a?: string;
  o: 'asc' | 'desc';
  f: string;
  t: string;
}

function entryOf(item: AttributeMap): ActivityEntry & { key: string } {
  const entry: ActivityEntry & { key: string } = {
    key: item.activityKey?.S ?? '',
    itemKey: item.itemKey?.S ?? '',
    // The start slot's record carries its version in versionNumber (the index projects it).
    version:
      item.version?.S === CHAIN_MARKER ? Number(item.versionNumber?.N) : decodeVersion(item.version?.S ?? ''),
    op: (item.op?.S ?? 'MODIFY') as Operation,
    source: (item.source?.S ?? 'app') as Source,
    recordedAt: item.recordedAt?.S ?? '',
  };
  if (item.actor?.S !== undefined) entry.actor = item.actor.S;
  if (item.restoredFrom?.N !== undefined) entry.restoredFrom = Number(item.restoredFrom.N);
  return entry;
}

/**
 * Table-wide activity: every recorded change of every item in a time window, in time
 * order, as SQL's `FOR SYSTEM_TIME BETWEEN` answers it. Read from the history table's
 * `byActivity` GSI: one Query per write shard of each UTC day in the window, merged by
 * `activityKey` (time, then item, then version: a total order), so a page is exact
 * whatever the shards hold. The index is eventually consistent (as every GSI): a change
 * recorded a moment ago may be missing from a listing for a moment.
 */
export class ActivityReader {
  private readonly cursors: CursorCodec;

  constructor(
    private readonly options: { client: DynamoDBClient; config: HistoryConfig; cursorSecret?: string },
  ) {
    const table = options.config.historyTableName;
    this.cursors = new CursorCodec(options.cursorSecret || `dynamo-history:${table}`, `${table}\nactivity`);
  }

  /**
   * The changes recorded at or after `from` and before `to`.
   * @throws ValidationError for a bad instant, an empty or too long window, or a foreign cursor
   */
  async list(from: string, to: string, options: ActivityOptions = {}): Promise<ActivityPage> {
    const f = parseInstant(from);
    const t = parseInstant(to);
    if (f >= t) throw new ValidationError(`"from" (${f}) must be before "to" (${t})`);
    const fromMs = Date.parse(f);
    const toMs = Date.parse(t);
    if (toMs - fromMs > MAX_ACTIVITY_DAYS * DAY_MS)
      throw new ValidationError(`the window is over ${MAX_ACTIVITY_DAYS} days; ask for it in steps`);
    const limit = options.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT)
      throw new ValidationError(
        `limit must be an integer from 1 to ${MAX_LIMIT}, got ${JSON.stringify(limit)}`,
      );
    const order = options.order ?? 'asc';
    if (order !== 'asc' && order !== 'desc')
      throw new ValidationError(`order must be asc or desc, got ${JSON.stringify(order)}`);

    // The window's days, in reading order.
    const days: string[] = [];
    for (let ms = Date.parse(dayOf(fromMs)); ms < toMs; ms += DAY_MS) days.push(dayOf(ms));
    if (order === 'desc') days.reverse();
    let dayIndex = 0;
    let after: string | undefined;
    if (options.cursor !== undefined) {
      const c = this.readCursor(options.cursor, { o: order, f, t });
      dayIndex = days.indexOf(c.d);
      if (dayIndex < 0) throw this.invalid();
      after = c.a;
    }

    const items: (ActivityEntry & { key: string })[] = [];
    let read = 0;
    while (dayIndex < days.length && read < DAYS_PER_PAGE) {
      const day = days[dayIndex] as string;
      const got = await this.readDay(day, f, t, order, after, limit - items.length);
      read++;
      items.push(...got.items);
      if (got.more) {
        after = items.at(-1)?.key ?? after;
        break;
      }
      dayIndex++;
      after = undefined;
      if (items.length >= limit) break;
    }
    const page: ActivityPage = { from: f, to: t, items: items.map(({ key: _key, ...entry }) => entry) };
    if (dayIndex < days.length) {
      const cursor: Cursor = { d: days[dayIndex] as string, o: order, f, t };
      if (after !== undefined) cursor.a = after;
      page.cursor = this.cursors.write(cursor);
    }
    return page;
  }

  /**
   * Up to `limit` changes of one day, after `after`, merged from every shard. `more` says the
   * day holds changes past the last one returned.
   */
  private async readDay(
    day: string,
    from: string,
    to: string,
    order: 'asc' | 'desc',
    after: string | undefined,
    limit: number,
  ): Promise<{ items: (ActivityEntry & { key: string })[]; more: boolean }> {
    const asc = order === 'asc';
    // activityKey starts with recordedAt: BETWEEN from AND to holds [from, to), since no key is a bare instant.
    const lo = asc && after !== undefined ? after : from;
    const hi = !asc && after !== undefined ? after : to;
    const shards = Array.from({ length: ACTIVITY_SHARDS }, (_, i) => i);
    // One more than asked: the entry at `after` itself (inclusive bound) is dropped below.
    const perShard = await mapLimit(shards, ACTIVITY_SHARDS, async (shard) => {
      const out = await this.query(
        new QueryCommand({
          TableName: this.options.config.historyTableName,
          IndexName: BY_ACTIVITY_INDEX,
          KeyConditionExpression: '#b = :b AND #k BETWEEN :lo AND :hi',
          ExpressionAttributeNames: { '#b': 'activityBucket', '#k': 'activityKey' },
          ExpressionAttributeValues: { ':b': { S: `${day}#${shard}` }, ':lo': s(lo), ':hi': s(hi) },
          ScanIndexForward: asc,
          Limit: limit + 1,
        }),
      );
      const entries = (out.Items ?? []).map(entryOf).filter((e) => e.key !== after);
      const cut = out.LastEvaluatedKey !== undefined;
      return { entries, last: cut ? entries.at(-1)?.key : undefined };
    });
    const before = (a: string, b: string) => (asc ? a < b : a > b);
    const merged = perShard.flatMap((p) => p.entries).sort((a, b) => (before(a.key, b.key) ? -1 : 1));
    // A shard that stopped early has unread entries after its last one: nothing past that may be given out yet.
    let bound: string | undefined;
    for (const p of perShard)
      if (p.last !== undefined && (bound === undefined || before(p.last, bound))) bound = p.last;
    const safe = bound === undefined ? merged : merged.filter((e) => !before(bound as string, e.key));
    const items = safe.slice(0, limit);
    return { items, more: items.length < merged.length || bound !== undefined };
  }

  private async query(command: QueryCommand) {
    try {
      return await this.options.client.send(command);
    } catch (error) {
      if (awsErrorName(error) === 'ValidationException' && /index/i.test(String((error as Error).message)))
        throw new ValidationError(
          `${this.options.config.historyTableName} has no ${BY_ACTIVITY_INDEX} index: this stage turned table-wide activity off (activityIndex: false in its settings file); turn it on to list activity`,
          {},
          { code: 'activity.off', cause: error },
        );
      throw error;
    }
  }

  private invalid(): ValidationError {
    return new ValidationError('cursor is not valid for this query; start again without one');
  }

  private readCursor(cursor: string, expected: Omit<Cursor, 'd' | 'a'>): Cursor {
    const body = this.cursors.read(cursor);
    if (body.o !== expected.o || body.f !== expected.f || body.t !== expected.t || typeof body.d !== 'string')
      throw this.invalid();
    if (body.a !== undefined && (typeof body.a !== 'string' || body.a.length > 200)) throw this.invalid();
    return body as unknown as Cursor;
  }
}

const s = (value: string): AttributeValue => ({ S: value });
