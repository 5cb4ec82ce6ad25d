import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ValidationError } from '../../shared/core/errors';
import { type BackfillCheckpoint, backfill } from '../../shared/integrity/backfill';
import { Repairer } from '../../shared/integrity/repair';
import { Verifier } from '../../shared/integrity/verify';
import { type CommandSpec, opt } from '../command';
import { findingRows } from '../format';
import { EXIT, type Io, int, type Print, printer, progressBar, progressLine, table } from '../io';
import { openSession } from '../session';

async function itemCount(client: DynamoDBClient, tableName: string): Promise<number | undefined> {
  const out = await client.send(new DescribeTableCommand({ TableName: tableName }));
  return out.Table?.ItemCount;
}

function fileCheckpoint(path: string): {
  load(): BackfillCheckpoint | undefined;
  save(c: BackfillCheckpoint): void;
} {
  return {
    load: () => {
      if (!existsSync(path)) return undefined;
      try {
        return JSON.parse(readFileSync(path, 'utf8')) as BackfillCheckpoint;
      } catch {
        throw new ValidationError(`checkpoint ${path} is not readable JSON; delete it to start over`);
      }
    },
    save: (c) => {
      writeFileSync(`${path}.tmp`, JSON.stringify(c));
      renameSync(`${path}.tmp`, path);
    },
  };
}

/** One table's verify: the report, printed; exit 1 on findings. */
async function verifyOne(
  verifier: Verifier,
  key: string | undefined,
  segments: number | undefined,
  io: Io,
  print: Print,
): Promise<number> {
  const report = key
    ? await verifier.verifyItem(key)
    : await verifier.verifyAll({ segments, onProgress: progressLine(io, 'records read') });
  const { lines: _lines, ...shown } = report;
  print(shown, () => {
    const lines = [
      `verified ${report.items} item(s), ${report.records} record(s): ${report.findings.length} finding(s)`,
    ];
    if (report.truncated > 0)
      lines.push(
        `${report.truncated} chain(s) start at a retained anchor: older versions expired under the retention policy`,
      );
    if (report.findings.length > 0) lines.push(findingRows(report.findings));
    lines.push(`digest ${report.digest}`);
    return lines.join('\n');
  });
  return report.findings.length > 0 ? EXIT.findings : EXIT.ok;
}

export const integrityCommands: CommandSpec[] = [
  {
    name: 'verify',
    summary: 'check hash chains, gaps, time order and latest against history; print a digest',
    args: [],
    options: [
      { flags: '--key <itemKey>', description: 'one item only' },
      { flags: '--segments <n>', description: 'parallel Scan segments' },
    ],
    more: 'Without --table, a stage that records several tables has each verified in turn.',
    run: async (io, _args, options) => {
      const session = openSession(io, options);
      const segments = int(opt(options, 'segments'), '--segments');
      const key = opt(options, 'key');
      if (!options.table?.length && session.configs.length > 1 && key === undefined) {
        // Every recorded table, one after the other; the exit code is the worst of them.
        let worst: number = EXIT.ok;
        const reports: unknown[] = [];
        const print = printer(io, session.json);
        for (const config of session.configs) {
          session.current = config;
          const name = config.latestTableName;
          const code = await verifyOne(
            new Verifier({ client: session.client, config }),
            undefined,
            segments,
            io,
            (data, human) =>
              session.json
                ? reports.push({ table: name, ...(data as object) })
                : print(data, () => `${name}: ${human()}`),
          );
          worst = Math.max(worst, code);
        }
        if (session.json) io.out(JSON.stringify({ tables: reports }, null, 2));
        return worst;
      }
      const reader = session.reader();
      const itemKey = key === undefined ? undefined : reader.checkItemKey(key);
      return verifyOne(
        new Verifier({ client: session.client, config: session.config() }),
        itemKey,
        segments,
        io,
        session.print,
      );
    },
  },
  {
    name: 'backfill',
    summary: 'record the current version of every item history does not hold yet',
    args: [],
    options: [
      { flags: '--segments <n>', description: 'parallel Scan segments (default 4)' },
      { flags: '--max-writes-per-second <n>', description: 'a ceiling on history writes' },
      {
        flags: '--checkpoint <file>',
        description: 'where to keep progress (default backfill-<table>.checkpoint.json)',
      },
    ],
    run: async (io, _args, options) => {
      const session = openSession(io, options);
      const config = session.config();
      const abort = new AbortController();
      const stop = () => abort.abort();
      process.once('SIGINT', stop);
      const started = Date.now();
      const total = await itemCount(session.client, config.latestTableName);
      try {
        const result = await backfill(session.client, config, {
          segments: int(opt(options, 'segments'), '--segments'),
          maxWritesPerSecond: int(opt(options, 'maxWritesPerSecond'), '--max-writes-per-second'),
          checkpoint: fileCheckpoint(
            opt(options, 'checkpoint') ?? `backfill-${config.latestTableName}.checkpoint.json`,
          ),
          onProgress: (p) => progressBar(io, p.scanned, total, started),
          signal: abort.signal,
        });
        if (!session.json && io.progress) io.err('');
        const interrupted = abort.signal.aborted;
        session.print(
          { ...result, interrupted },
          () =>
            `${interrupted ? 'interrupted; run again to resume: ' : ''}scanned ${result.scanned}, recorded ${result.written}, skipped ${result.skipped} (already in history)`,
        );
        return interrupted ? EXIT.error : EXIT.ok;
      } finally {
        process.off('SIGINT', stop);
      }
    },
  },
  {
    name: 'repair',
    summary: 're-drive parked records, record missing current versions',
    args: [],
    options: [
      { flags: '--key <itemKey>', description: 'one item only' },
      { flags: '--dry-run', description: 'say what it would do, write nothing' },
      { flags: '--force', description: 'write even while the stream may still deliver' },
      {
        flags: '--settle-seconds <n>',
        description: 'how long a change must be old before repair records it',
      },
    ],
    run: async (io, _args, options) => {
      const session = openSession(io, options);
      const reader = session.reader();
      const key = opt(options, 'key');
      const itemKey = key === undefined ? undefined : reader.checkItemKey(key);
      const settle = opt(options, 'settleSeconds');
      const dryRun = options.dryRun === true;
      const report = await new Repairer({ client: session.client, config: session.config() }).repair({
        dryRun,
        force: options.force === true,
        ...(settle === undefined ? {} : { settleMs: (int(settle, '--settle-seconds', 0) ?? 0) * 1000 }),
        ...(itemKey ? { itemKey } : {}),
      });
      session.print(report, () => {
        const lines = [`${dryRun ? 'would take' : 'took'} ${report.actions.length} action(s)`];
        if (report.actions.length > 0)
          lines.push(
            table([
              ['ACTION', 'ITEM', 'OUTCOME', 'DETAIL'],
              ...report.actions.map((a) => [a.kind, a.itemKey ?? a.failureId ?? '', a.outcome, a.detail]),
            ]),
          );
        if (report.unrepairable.length > 0) {
          lines.push(
            `${report.unrepairable.length} finding(s) repair does not touch (history is never rewritten):`,
          );
          lines.push(
            table(report.unrepairable.map((f) => [f.itemKey, String(f.version ?? ''), f.kind, f.message])),
          );
        }
        return lines.join('\n');
      });
      return report.unrepairable.length > 0 ||
        report.actions.some((a) =>
          ['still-failing', 'deferred', 'superseded', 'untrusted'].includes(a.outcome),
        )
        ? EXIT.findings
        : EXIT.ok;
    },
  },
];
