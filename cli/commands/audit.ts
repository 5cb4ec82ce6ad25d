import { type ActivityEntry, ActivityReader } from '../../shared/reading/activity';
import type { RecordView } from '../../shared/reading/audit';
import { toView } from '../../shared/reading/audit';
import { blame } from '../../shared/reading/blame';
import { parseAuditRequest } from '../../shared/reading/requests';
import { type CommandSpec, opt } from '../command';
import { showDiff, showRecord, versionRows } from '../format';
import { EXIT, int, table, versionArg } from '../io';
import { openSession } from '../session';

const ITEM = {
  name: 'itemKey',
  description: 'the history item key: order-1, or USER%231|ORDER%232 for a composite key',
};

/** The audit queries, each turned into the same request a Lambda payload is (shared/reading/requests.ts). */
export const auditCommands: CommandSpec[] = [
  {
    name: 'versions',
    summary: 'an item’s versions, oldest first',
    args: [ITEM],
    options: [
      { flags: '--limit <n>', description: 'versions per page, 1–1000 (default 100; with --all, 1000)' },
      { flags: '--order <asc|desc>', description: 'oldest first (asc, default) or newest first' },
      { flags: '--from <n>', description: 'the first version' },
      { flags: '--to <n>', description: 'the last version' },
      { flags: '--cursor <c>', description: 'the next page, as the previous one printed it' },
      { flags: '--all', description: 'every page' },
    ],
    run: async (io, [key], options) => {
      const session = openSession(io, options);
      const reader = session.reader();
      const request = parseAuditRequest('listVersions', {
        itemKey: key,
        limit: int(opt(options, 'limit'), '--limit') ?? (options.all ? 1000 : 100),
        order: opt(options, 'order'),
        from: int(opt(options, 'from'), '--from'),
        to: int(opt(options, 'to'), '--to'),
        cursor: opt(options, 'cursor'),
      });
      const { itemKey: requested, table: _table, cursor: first, ...range } = request;
      const itemKey = reader.checkItemKey(requested);
      const items: RecordView[] = [];
      let cursor = first;
      do {
        const page = await reader.listHistory(itemKey, { ...range, ...(cursor ? { cursor } : {}) });
        items.push(...page.items.map(toView));
        cursor = page.cursor;
      } while (options.all && cursor);
      session.print(
        { itemKey, items, ...(cursor ? { cursor } : {}) },
        () => `${table(versionRows(items))}${cursor ? `\n(more: --cursor ${cursor})` : ''}`,
      );
      return EXIT.ok;
    },
  },
  {
    name: 'show',
    summary: 'one version: metadata, hash and image',
    args: [ITEM, { name: 'version', description: '3, v3 or v0003' }],
    options: [],
    run: async (io, [key, version], options) => {
      const session = openSession(io, options);
      const request = parseAuditRequest('getVersion', {
        itemKey: key,
        version: versionArg(version, 'version'),
      });
      const reader = session.reader();
      const view = toView(await reader.getVersion(reader.checkItemKey(request.itemKey), request.version));
      session.print(view, () => showRecord(view));
      return EXIT.ok;
    },
  },
  {
    name: 'as-of',
    summary: 'the version in force at an instant',
    args: [ITEM, { name: 'instant', description: 'ISO-8601 with a time zone, such as 2026-01-31T12:00:00Z' }],
    options: [],
    run: async (io, [key, at], options) => {
      const session = openSession(io, options);
      const request = parseAuditRequest('asOf', { itemKey: key, at });
      const reader = session.reader();
      const view = await reader.asOfAnswer(reader.checkItemKey(request.itemKey), request.at);
      session.print(
        view,
        () => `as of ${at}:\n${showRecord(view)}${view.uncertain ? `\nnote: ${view.uncertain}` : ''}`,
      );
      return EXIT.ok;
    },
  },
  {
    name: 'diff',
    summary: 'what changed between two versions, by nested path',
    args: [
      ITEM,
      { name: 'fromVersion', description: 'the older version' },
      { name: 'toVersion', description: 'the newer version' },
    ],
    options: [],
    run: async (io, [key, from, to], options) => {
      const session = openSession(io, options);
      const request = parseAuditRequest('diff', {
        itemKey: key,
        from: versionArg(from, 'fromVersion'),
        to: versionArg(to, 'toVersion'),
      });
      const reader = session.reader();
      const diff = await reader.diff(reader.checkItemKey(request.itemKey), request.from, request.to);
      session.print(diff, () => showDiff(io, diff), true);
      return EXIT.ok;
    },
  },
  {
    name: 'activity',
    summary: 'every item’s changes in a time window, across the table',
    args: [],
    options: [
      { flags: '--from <instant>', description: 'the window’s start, ISO-8601 with a zone (included)' },
      { flags: '--to <instant>', description: 'the window’s end (excluded); default now' },
      { flags: '--limit <n>', description: 'changes per page, 1–1000 (default 100; with --all, 1000)' },
      { flags: '--order <asc|desc>', description: 'oldest first (asc, default) or newest first' },
      { flags: '--cursor <c>', description: 'the next page, as the previous one printed it' },
      { flags: '--all', description: 'every page' },
    ],
    more: 'Read from the history table’s byActivity index (README, "Table-wide activity").',
    run: async (io, _args, options) => {
      const session = openSession(io, options);
      const request = parseAuditRequest('listActivity', {
        from: opt(options, 'from'),
        to: opt(options, 'to') ?? new Date().toISOString(),
        limit: int(opt(options, 'limit'), '--limit') ?? (options.all ? 1000 : 100),
        order: opt(options, 'order'),
        cursor: opt(options, 'cursor'),
      });
      const reader = new ActivityReader({
        client: session.client,
        config: session.config(),
        cursorSecret: session.env.CURSOR_SECRET,
      });
      const items: ActivityEntry[] = [];
      let cursor = request.cursor;
      let window = { from: request.from, to: request.to };
      do {
        const page = await reader.list(request.from, request.to, {
          ...(request.limit !== undefined ? { limit: request.limit } : {}),
          ...(request.order !== undefined ? { order: request.order } : {}),
          ...(cursor ? { cursor } : {}),
        });
        window = { from: page.from, to: page.to };
        items.push(...page.items);
        cursor = page.cursor;
      } while (options.all && cursor);
      session.print(
        { ...window, items, ...(cursor ? { cursor } : {}) },
        () =>
          `${table([
            ['RECORDED AT', 'ITEM', 'VERSION', 'OP', 'SOURCE', 'ACTOR'],
            ...items.map((e) => [
              e.recordedAt,
              e.itemKey,
              String(e.version),
              e.op,
              e.source + (e.restoredFrom ? ` (from v${e.restoredFrom})` : ''),
              e.actor ?? '',
            ]),
          ])}${cursor ? `\n(more: --cursor ${cursor})` : ''}`,
      );
      return EXIT.ok;
    },
  },
  {
    name: 'blame',
    summary: 'for each attribute of the current image, the version that last set it',
    args: [ITEM],
    options: [],
    run: async (io, [key], options) => {
      const session = openSession(io, options);
      const reader = session.reader();
      const result = await blame(reader, reader.checkItemKey(key));
      session.print(result, () =>
        result.deleted
          ? `${result.itemKey} is deleted (v${result.version} is a tombstone)`
          : table([
              ['ATTRIBUTE', 'VERSION', 'RECORDED AT', 'SOURCE', 'ACTOR'],
              ...result.attributes.map((e) => [
                e.attribute,
                `${e.version}${e.how === 'retained' ? ' or earlier' : ''}`,
                e.recordedAt,
                e.source,
                e.actor ?? '',
              ]),
            ]) +
            (result.managed.length
              ? `\nmanaged (set by every write or at creation): ${result.managed.join(', ')}`
              : ''),
      );
      return EXIT.ok;
    },
  },
];
