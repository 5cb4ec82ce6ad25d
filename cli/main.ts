import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { LOCAL_LABEL_SECRET_FILE } from '../local/keys';
import { createDynamoClient } from '../shared/aws/clients';
import { requireLabelKey } from '../shared/aws/kms';
import { type HistoryConfig, loadConfigs, selectTable } from '../shared/core/config';
import {
  HistoryError,
  ItemNotFoundError,
  TableNotAttachableError,
  ValidationError,
  VersionNotFoundError,
} from '../shared/core/errors';
import { decodeItemKey, decodeVersion } from '../shared/core/keys';
import { HmacKey, parseSecret } from '../shared/core/mac';
import { deploymentSettings, recordedTablesEnv } from '../shared/core/stage-config.js';
import { type BackfillCheckpoint, backfill } from '../shared/integrity/backfill';
import {
  checkDigest,
  generateDigestKey,
  KeyFileSigner,
  parseDigest,
  publicKeyCheck,
  serializeDigest,
  signDigest,
} from '../shared/integrity/digest';
import { DirectoryDigestStore, digestName } from '../shared/integrity/digest-store';
import { Repairer } from '../shared/integrity/repair';
import { Verifier } from '../shared/integrity/verify';
import { HistoryReader, type RecordView, toView, type VersionDiff } from '../shared/reading/audit';
import { parseRollbackRequest, RollbackService } from '../shared/writing/rollback';
import { checkEndpoint, explain, regionOf } from './hints';
import { initStage } from './init';

export const EXIT = { ok: 0, findings: 1, error: 2 } as const;

const USAGE = `usage: dynamo-history <command> [options]

commands:
  versions <itemKey> [--limit N] [--order asc|desc] [--from N] [--to N] [--cursor C] [--all]
  show     <itemKey> <version>
  as-of    <itemKey> <ISO-8601 instant>
  diff     <itemKey> <fromVersion> <toVersion>
  rollback <itemKey> <toVersion> [--expected-version N] [--actor NAME] [--reason TEXT] [--dry-run]
  verify   [--key itemKey] [--segments N]        check hash chains, gaps, time order, latest vs history; print a digest
  backfill [--segments N] [--max-writes-per-second N] [--checkpoint FILE]
  repair   [--key itemKey] [--dry-run] [--force] [--settle-seconds N]
                                               re-drive parked records, record missing current versions
  digest keygen  --key-file FILE               make an Ed25519 key pair (FILE, FILE.pub) for signing digests
  digest publish --key-file FILE --store DIR [--segments N]
                                               verify every chain, sign the heads, store the digest write-once
  digest check   --public-key FILE --store DIR [--name NAME]
                                               check a stored digest (the newest by default) against today's history
  init     [--table NAME]... [--key-attributes SPEC] [--retention-days N] [--keep-versions N] [--alarm-email ADDRESS]
                                               write the stage's settings file (config/<stage>.json); --table attaches
                                               an existing table (its key and stream read with DescribeTable)

options:
  --table NAME   the recorded table (needed when the stage records several; verify checks all by default)
  --stage NAME   the stage (default: STAGE, or dev); its settings come from config/<stage>.json
  --json         machine-readable output
  --help         this text

<itemKey> is the history item key: the plain value for a single string key (order-1),
otherwise the percent-encoded parts joined by "|" (USER%231|ORDER%232).
Configuration comes from the stage's settings file when there is one, otherwise from the environment
(LATEST_TABLE_NAME, HISTORY_TABLE_NAME, KEY_ATTRIBUTES, ...); endpoints from AWS_ENDPOINT_URL_DYNAMODB. Exit codes: 0 ok, 1 not found or findings, 2 error.`;

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  color: boolean;
  env: NodeJS.ProcessEnv;
  /** Redraw a progress line in place (stderr is a terminal). */
  progress?: (line: string) => void;
}

async function itemCount(client: DynamoDBClient, table: string): Promise<number | undefined> {
  const out = await client.send(new DescribeTableCommand({ TableName: table }));
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

let lastProgress = 0;
/** `[#####-----] 5000/10000 items  1234 items/s  ETA 4s`, on stderr, at most 5 times a second. */
function progressBar(io: Io, done: number, total: number | undefined, startedMs: number): void {
  const now = Date.now();
  if (!io.progress || now - lastProgress < 200) return;
  lastProgress = now;
  const rate = done / Math.max(0.001, (now - startedMs) / 1000);
  const share = total ? Math.min(1, done / total) : 0;
  const bar = total ? `[${'#'.repeat(Math.round(share * 20)).padEnd(20, '-')}] ` : '';
  const eta = total && rate > 0 ? `  ETA ${Math.max(0, Math.round((total - done) / rate))}s` : '';
  io.progress(`${bar}${done}${total ? `/${total}` : ''} items  ${Math.round(rate)} items/s${eta}`);
}

function progressLine(io: Io, unit: string): (p: { records: number }) => void {
  const started = Date.now();
  return (p) => {
    const now = Date.now();
    if (!io.progress || now - lastProgress < 200) return;
    lastProgress = now;
    io.progress(`${p.records} ${unit}  ${Math.round(p.records / Math.max(0.001, (now - started) / 1000))}/s`);
  };
}

const OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean' },
  all: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  limit: { type: 'string' },
  order: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  cursor: { type: 'string' },
  'expected-version': { type: 'string' },
  actor: { type: 'string' },
  reason: { type: 'string' },
  key: { type: 'string' },
  segments: { type: 'string' },
  'max-writes-per-second': { type: 'string' },
  checkpoint: { type: 'string' },
  force: { type: 'boolean' },
  'settle-seconds': { type: 'string' },
  'key-file': { type: 'string' },
  'public-key': { type: 'string' },
  store: { type: 'string' },
  name: { type: 'string' },
  table: { type: 'string', multiple: true },
  stage: { type: 'string' },
  'key-attributes': { type: 'string' },
  'retention-days': { type: 'string' },
  'keep-versions': { type: 'string' },
  'alarm-email': { type: 'string' },
} as const;

const ADDRESS = ['table', 'stage'];
const ALLOWED: Record<string, { args: number; options: string[] }> = {
  versions: { args: 1, options: [...ADDRESS, 'limit', 'order', 'from', 'to', 'cursor', 'all'] },
  show: { args: 2, options: ADDRESS },
  'as-of': { args: 2, options: ADDRESS },
  diff: { args: 3, options: ADDRESS },
  rollback: { args: 2, options: [...ADDRESS, 'expected-version', 'actor', 'reason', 'dry-run'] },
  verify: { args: 0, options: [...ADDRESS, 'key', 'segments'] },
  backfill: { args: 0, options: [...ADDRESS, 'segments', 'max-writes-per-second', 'checkpoint'] },
  repair: { args: 0, options: [...ADDRESS, 'key', 'dry-run', 'force', 'settle-seconds'] },
  digest: { args: 1, options: [...ADDRESS, 'key-file', 'public-key', 'store', 'name', 'segments'] },
  init: {
    args: 0,
    options: [...ADDRESS, 'key-attributes', 'retention-days', 'keep-versions', 'alarm-email'],
  },
};

/**
 * The environment with the stage's settings file applied (shared/core/stage-config.js): attached
 * tables become RECORDED_TABLES, a created table's key and retention come from the file. Without
 * a file, the environment stays as it is.
 */
function stageEnv(env: NodeJS.ProcessEnv, stageOption: string | undefined): NodeJS.ProcessEnv {
  const stage = stageOption ?? env.STAGE?.trim() ?? 'dev';
  const withStage = { ...env, STAGE: stage || 'dev' };
  if (env.RECORDED_TABLES?.trim()) return withStage;
  let settings: ReturnType<typeof deploymentSettings>;
  try {
    settings = deploymentSettings({ stage: withStage.STAGE, env: withStage, cwd: process.cwd() });
  } catch (error) {
    throw new ValidationError((error as Error).message, {}, { cause: error });
  }
  if (!settings.file) return withStage;
  if (settings.mode === 'attached') return { ...withStage, RECORDED_TABLES: recordedTablesEnv(settings) };
  const [created] = settings.tables;
  return {
    ...withStage,
    KEY_ATTRIBUTES: settings.keyAttributes,
    HISTORY_RETENTION_DAYS: settings.retention.days,
    HISTORY_KEEP_VERSIONS: settings.retention.versions,
    ...(created?.version ? { VERSION_ATTRIBUTE: created.version } : {}),
    ...(created?.actor ? { ACTOR_ATTRIBUTE: created.actor } : {}),
  };
}

/**
 * A version as every output writes it, or as a number: `3`, `v3`, or the history key `v0003`.
 * @throws ValidationError
 */
function versionArg(value: string | undefined, name: string): number {
  const written = /^v(\d{1,16})$/.exec(value ?? '');
  if (written?.[1] !== undefined && !written[1].startsWith('0')) return int(written[1], name) as number;
  if (value?.startsWith('v')) {
    try {
      return decodeVersion(value);
    } catch {
      throw new ValidationError(`${name} must be a version such as 3, v3 or v0003, got "${value}"`);
    }
  }
  return int(value, name) as number;
}

function int(value: string | undefined, name: string, min = 1): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,16}$/.test(value) || !Number.isSafeInteger(Number(value)) || Number(value) < min) {
    throw new ValidationError(`${name} must be an integer ≥ ${min}, got "${value}"`);
  }
  return Number(value);
}

/**
 * Item keys and values are untrusted: a control character in them (an escape
 * sequence, a bell) is shown as `\xNN`, never sent to the terminal. Newlines stay.
 */
export const printable = (text: string): string =>
  text.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters refused.
    /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );

/** Colours a line; the text is made printable first, so the only escape sequences are the colour's own. */
const paint = (io: Io, code: number, text: string) =>
  io.color ? `\u001b[${code}m${printable(text)}\u001b[0m` : printable(text);

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function versionRows(items: RecordView[]): string[][] {
  return [
    ['VERSION', 'OP', 'SOURCE', 'RECORDED AT', 'ACTOR', 'CHANGED'],
    ...items.map((r) => [
      String(r.version),
      r.op,
      r.source +
        (r.restoredFrom ? ` (from v${r.restoredFrom})` : '') +
        (r.labelRejected ? ' (label rejected)' : ''),
      r.recordedAt,
      r.actor ?? '',
      r.changed.join(','),
    ]),
  ];
}

function showRecord(view: RecordView): string {
  const head = [
    `item      ${view.itemKey}`,
    `version   ${view.version} (${view.versionKey})`,
    `op        ${view.op}${view.deleted ? ' (tombstone: the item did not exist)' : ''}`,
    `source    ${view.source}${view.restoredFrom ? ` (restored from v${view.restoredFrom})` : ''}`,
    `recorded  ${view.recordedAt}`,
  ];
  if (view.actor)
    head.push(
      `actor     ${view.actor}${view.actorSource === 'caller' ? ' (the IAM caller)' : view.actorSource === 'claimed' ? ' (claimed by the invoker)' : ''}`,
    );
  if (view.labelRejected)
    head.push('label     rejected: the write claimed to be a rollback without a valid label');
  if (view.reason) head.push(`reason    ${view.reason}`);
  if (view.declaredVersion) head.push(`declared  ${view.declaredVersion}`);
  head.push(`hash      ${view.hash}`);
  return `${head.join('\n')}\n${view.image ? JSON.stringify(view.image, null, 2) : ''}`.trimEnd();
}

function showDiff(io: Io, diff: VersionDiff): string {
  const lines = [printable(`diff ${diff.itemKey} v${diff.from} → v${diff.to}`)];
  if (diff.fromDeleted) lines.push(`(v${diff.from} is a tombstone: the item did not exist)`);
  if (diff.toDeleted) lines.push(`(v${diff.to} is a tombstone: the item was deleted)`);
  for (const e of diff.added) lines.push(paint(io, 32, `+ ${e.path}: ${JSON.stringify(e.after)}`));
  for (const e of diff.removed) lines.push(paint(io, 31, `- ${e.path}: ${JSON.stringify(e.before)}`));
  for (const e of diff.changed)
    lines.push(paint(io, 33, `~ ${e.path}: ${JSON.stringify(e.before)} → ${JSON.stringify(e.after)}`));
  if (diff.added.length + diff.removed.length + diff.changed.length === 0) lines.push('(no differences)');
  return lines.join('\n');
}

/** Runs one CLI command; returns the exit code. Never throws. */
export async function main(argv: string[], io: Io): Promise<number> {
  let json = argv.includes('--json');
  let loaded: HistoryConfig | undefined;
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
    json = values.json ?? false;
    const [command, ...args] = positionals;
    if (values.help || !command) {
      io.out(USAGE);
      return values.help ? EXIT.ok : EXIT.error;
    }
    const spec = ALLOWED[command];
    if (!spec) throw new ValidationError(`unknown command "${command}"; see --help`);
    if (args.length !== spec.args)
      throw new ValidationError(`${command} takes ${spec.args} argument(s), got ${args.length}; see --help`);
    const given = Object.keys(values).filter((k) => k !== 'json' && k !== 'help');
    const misplaced = given.filter((k) => !spec.options.includes(k));
    if (misplaced.length > 0)
      throw new ValidationError(`${command} does not take --${misplaced.join(', --')}`);

    checkEndpoint(io.env);
    const region = regionOf(io.env);
    const client = createDynamoClient(region ? { region } : {});
    const tables = values.table ?? [];
    if (command === 'init')
      return await initCommand(client, { values, tables, region, io, print: printer(io, json) });
    if (tables.length > 1) throw new ValidationError(`${command} takes one --table, got ${tables.length}`);
    const env = stageEnv(io.env, values.stage);
    const configs = loadConfigs(env);
    if (command === 'verify' && tables.length === 0 && configs.length > 1 && values.key === undefined) {
      // Every recorded table, one after the other; the exit code is the worst of them.
      let worst: number = EXIT.ok;
      const reports: unknown[] = [];
      const print = printer(io, json);
      for (const config of configs) {
        loaded = config;
        const table = config.latestTableName;
        const code = await verifyCommand(
          new Verifier({ client, config }),
          undefined,
          values,
          io,
          (data, human) =>
            json ? reports.push({ table, ...(data as object) }) : print(data, () => `${table}: ${human()}`),
        );
        worst = Math.max(worst, code);
      }
      if (json) io.out(JSON.stringify({ tables: reports }, null, 2));
      return worst;
    }
    const config = selectTable(configs, tables[0]);
    loaded = config;
    const reader = new HistoryReader({ client, config, cursorSecret: io.env.CURSOR_SECRET });
    const print = printer(io, json);

    switch (command) {
      case 'digest':
        return await digestCommand(args[0] ?? '', values, { io, client, config, print });
      case 'verify': {
        const key = values.key === undefined ? undefined : reader.checkItemKey(values.key);
        return await verifyCommand(new Verifier({ client, config }), key, values, io, print);
      }
      case 'backfill': {
        const abort = new AbortController();
        const stop = () => abort.abort();
        process.once('SIGINT', stop);
        const started = Date.now();
        const total = await itemCount(client, config.latestTableName);
        try {
          const result = await backfill(client, config, {
            segments: int(values.segments, '--segments'),
            maxWritesPerSecond: int(values['max-writes-per-second'], '--max-writes-per-second'),
            checkpoint: fileCheckpoint(
              values.checkpoint ?? `backfill-${config.latestTableName}.checkpoint.json`,
            ),
            onProgress: (p) => progressBar(io, p.scanned, total, started),
            signal: abort.signal,
          });
          if (!json && io.progress) io.err('');
          const interrupted = abort.signal.aborted;
          print(
            { ...result, interrupted },
            () =>
              `${interrupted ? 'interrupted; run again to resume: ' : ''}scanned ${result.scanned}, recorded ${result.written}, skipped ${result.skipped} (already in history)`,
          );
          return interrupted ? EXIT.error : EXIT.ok;
        } finally {
          process.off('SIGINT', stop);
        }
      }
      case 'repair': {
        const key = values.key === undefined ? undefined : reader.checkItemKey(values.key);
        const settle = values['settle-seconds'];
        const report = await new Repairer({ client, config }).repair({
          dryRun: values['dry-run'] ?? false,
          force: values.force ?? false,
          ...(settle === undefined ? {} : { settleMs: (int(settle, '--settle-seconds', 0) ?? 0) * 1000 }),
          ...(key ? { itemKey: key } : {}),
        });
        print(report, () => {
          const lines = [`${values['dry-run'] ? 'would take' : 'took'} ${report.actions.length} action(s)`];
          if (report.actions.length > 0) {
            lines.push(
              table([
                ['ACTION', 'ITEM', 'OUTCOME', 'DETAIL'],
                ...report.actions.map((a) => [a.kind, a.itemKey ?? a.failureId ?? '', a.outcome, a.detail]),
              ]),
            );
          }
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
      }
    }
    const itemKey = reader.checkItemKey(args[0]);
    switch (command) {
      case 'versions': {
        const order = values.order ?? 'asc';
        if (order !== 'asc' && order !== 'desc')
          throw new ValidationError(`--order must be asc or desc, got "${order}"`);
        const options = {
          limit: int(values.limit, '--limit') ?? (values.all ? 1000 : 100),
          order,
          from: int(values.from, '--from'),
          to: int(values.to, '--to'),
          cursor: values.cursor,
        } as const;
        const items: RecordView[] = [];
        let cursor = options.cursor;
        do {
          const page = await reader.listHistory(itemKey, { ...options, cursor });
          items.push(...page.items.map(toView));
          cursor = page.cursor;
        } while (values.all && cursor);
        print(
          { itemKey, items, ...(cursor ? { cursor } : {}) },
          () => `${table(versionRows(items))}${cursor ? `\n(more: --cursor ${cursor})` : ''}`,
        );
        return EXIT.ok;
      }
      case 'show': {
        const view = toView(await reader.getVersion(itemKey, versionArg(args[1], 'version')));
        print(view, () => showRecord(view));
        return EXIT.ok;
      }
      case 'as-of': {
        const view = await reader.asOfAnswer(itemKey, args[1] as string);
        print(
          view,
          () => `as of ${args[1]}:\n${showRecord(view)}${view.uncertain ? `\nnote: ${view.uncertain}` : ''}`,
        );
        return EXIT.ok;
      }
      case 'diff': {
        const diff = await reader.diff(
          itemKey,
          versionArg(args[1], 'fromVersion'),
          versionArg(args[2], 'toVersion'),
        );
        print(diff, () => showDiff(io, diff), true);
        return EXIT.ok;
      }
      case 'rollback': {
        const key = unmarshall(decodeItemKey(itemKey, config.keySchema));
        const request = parseRollbackRequest({
          key,
          toVersion: versionArg(args[1], 'toVersion'),
          expectedVersion: int(values['expected-version'], '--expected-version', 0),
          actor: values.actor,
          reason: values.reason,
          dryRun: values['dry-run'],
        });
        const result = await new RollbackService({ client, config: labelled(config, io.env) }).rollback(
          request,
        );
        print(
          result,
          () =>
            `${result.dryRun ? 'dry run: would restore' : 'restored'} ${itemKey} v${result.restoredVersion} as v${result.newVersion}` +
            ` (was v${result.previousVersion})${result.image ? '' : ': the item is deleted'}`,
        );
        return EXIT.ok;
      }
    }
    throw new ValidationError(`unknown command "${command}"`);
  } catch (error) {
    const notFound = error instanceof ItemNotFoundError || error instanceof VersionNotFoundError;
    const code =
      error instanceof HistoryError
        ? error.code
        : error instanceof TypeError && /ERR_PARSE_ARGS/.test(String((error as { code?: string }).code))
          ? 'validation'
          : 'error';
    const message =
      explain(error, loaded, io.env) ??
      // A table that cannot be attached says how to fix it on its second line.
      (error instanceof TableNotAttachableError
        ? error.message
        : error instanceof Error
          ? error.message.split('\n')[0]
          : String(error));
    if (json)
      io.err(JSON.stringify({ code, message, errorType: error instanceof Error ? error.name : 'Error' }));
    else io.err(`dynamo-history: ${printable(message ?? '')}`);
    return notFound ? EXIT.findings : EXIT.error;
  }
}

type Print = (data: unknown, human: () => string, painted?: boolean) => void;

/** JSON escapes control characters itself; human text is made printable (the diff paints its own lines). */
const printer =
  (io: Io, json: boolean): Print =>
  (data, human, painted = false) =>
    io.out(json ? JSON.stringify(data, null, 2) : painted ? human() : printable(human()));

async function verifyCommand(
  verifier: Verifier,
  key: string | undefined,
  values: { segments?: string | undefined },
  io: Io,
  print: Print,
): Promise<number> {
  const report = key
    ? await verifier.verifyItem(key)
    : await verifier.verifyAll({
        segments: int(values.segments, '--segments'),
        onProgress: progressLine(io, 'records read'),
      });
  const { lines: _lines, ...shown } = report;
  print(shown, () => {
    const lines = [
      `verified ${report.items} item(s), ${report.records} record(s): ${report.findings.length} finding(s)`,
    ];
    if (report.truncated > 0)
      lines.push(
        `${report.truncated} chain(s) start at a retained anchor: older versions expired under the retention policy`,
      );
    if (report.findings.length > 0) {
      lines.push(
        table([
          ['ITEM', 'VERSION', 'FINDING', 'DETAIL'],
          ...report.findings.map((f) => [
            f.itemKey,
            f.version === undefined ? '' : String(f.version),
            f.kind,
            f.message,
          ]),
        ]),
      );
    }
    lines.push(`digest ${report.digest}`);
    return lines.join('\n');
  });
  return report.findings.length > 0 ? EXIT.findings : EXIT.ok;
}

async function initCommand(
  client: DynamoDBClient,
  {
    values,
    tables,
    region,
    io,
    print,
  }: {
    values: Record<string, unknown>;
    tables: string[];
    region: string | undefined;
    io: Io;
    print: Print;
  },
): Promise<number> {
  const stage = (values.stage as string | undefined) ?? io.env.STAGE?.trim() ?? 'dev';
  const endpoint = io.env.AWS_ENDPOINT_URL_DYNAMODB?.trim() || io.env.AWS_ENDPOINT_URL?.trim();
  const result = await initStage(
    client,
    {
      stage: stage || 'dev',
      tables,
      keyAttributes: values['key-attributes'] as string | undefined,
      retentionDays: int(values['retention-days'] as string | undefined, '--retention-days'),
      keepVersions: int(values['keep-versions'] as string | undefined, '--keep-versions'),
      alarmEmail: values['alarm-email'] as string | undefined,
    },
    {
      endpoint: endpoint ?? `DynamoDB in ${region ?? '(no region)'}`,
      ...(region ? { region } : {}),
      ...(endpoint ? { endpointUrl: endpoint } : {}),
      env: io.env,
      cwd: process.cwd(),
      local: endpoint !== undefined,
    },
  );
  print(result, () =>
    [
      `wrote ${result.shownFile}`,
      ...result.attached.map(
        (t) =>
          `  attached ${t.table}: key ${t.key}, stream ${t.streamArn}${t.streamChanged ? ' (a new stream: changes between the old and this one are not in either; backfill records the current versions)' : ''}; history in ${t.history}`,
      ),
      'next:',
      ...result.next.map((line) => `  ${line}`),
    ].join('\n'),
  );
  return EXIT.ok;
}

/**
 * The rollback label key: LABEL_KMS_KEY_ID in AWS, LABEL_SECRET, or else the
 * local stack's own secret file (made by `npm start`), so that a local rollback
 * seals labels the local writeHistory accepts.
 */
function labelled(config: HistoryConfig, env: NodeJS.ProcessEnv): HistoryConfig {
  if (!env.LABEL_KMS_KEY_ID?.trim() && !config.labelKey && existsSync(LOCAL_LABEL_SECRET_FILE))
    return {
      ...config,
      labelKey: new HmacKey(
        parseSecret(readFileSync(LOCAL_LABEL_SECRET_FILE, 'utf8').trim(), LOCAL_LABEL_SECRET_FILE),
      ),
    };
  return requireLabelKey(config, env);
}

function required(value: string | undefined, option: string, sub: string): string {
  if (!value) throw new ValidationError(`digest ${sub} needs --${option}`);
  return value;
}

/** `digest keygen | publish | check` (README, "Signed digests"). */
async function digestCommand(
  sub: string,
  values: { 'key-file'?: string; 'public-key'?: string; store?: string; name?: string; segments?: string },
  ctx: {
    io: Io;
    client: DynamoDBClient;
    config: HistoryConfig;
    print: (data: unknown, human: () => string) => void;
  },
): Promise<number> {
  const { client, config, print } = ctx;
  switch (sub) {
    case 'keygen': {
      const file = required(values['key-file'], 'key-file', sub);
      const pair = generateDigestKey();
      writeFileSync(file, pair.privateKeyPem, { flag: 'wx', mode: 0o600 });
      writeFileSync(`${file}.pub`, pair.publicKeyPem, { flag: 'wx', mode: 0o644 });
      print(
        { keyFile: file, publicKeyFile: `${file}.pub` },
        () => `wrote ${file} (keep it secret) and ${file}.pub`,
      );
      return EXIT.ok;
    }
    case 'publish': {
      const signer = new KeyFileSigner(readFileSync(required(values['key-file'], 'key-file', sub), 'utf8'));
      const store = new DirectoryDigestStore(required(values.store, 'store', sub));
      const report = await new Verifier({ client, config }).verifyAll({
        segments: int(values.segments, '--segments'),
      });
      const takenAt = new Date();
      const signed = await signDigest(report, config, signer, takenAt);
      const where = await store.put(digestName(takenAt), serializeDigest(signed));
      print(
        {
          stored: where,
          digest: report.digest,
          items: report.items,
          records: report.records,
          findings: report.findings.length,
        },
        () =>
          `signed digest ${report.digest} of ${report.items} item(s), ${report.records} record(s); stored ${where}` +
          (report.findings.length > 0
            ? `\nverify found ${report.findings.length} finding(s): run verify`
            : ''),
      );
      return report.findings.length > 0 ? EXIT.findings : EXIT.ok;
    }
    case 'check': {
      // PEM (a key file's .pub) or DER (what `aws kms get-public-key` returns, base64-decoded).
      const keyBytes = readFileSync(required(values['public-key'], 'public-key', sub));
      const pem = keyBytes.subarray(0, 10).toString('latin1') === '-----BEGIN';
      const check = publicKeyCheck(pem ? keyBytes.toString('utf8') : new Uint8Array(keyBytes));
      const store = new DirectoryDigestStore(required(values.store, 'store', sub));
      const name = values.name ?? (await store.latest());
      if (!name) throw new ValidationError(`no digest in ${values.store}`);
      const result = await checkDigest(parseDigest(await store.get(name)), {
        client,
        config,
        verifySignature: check,
      });
      print({ name, ...result }, () => {
        const lines = [
          `digest ${name} (taken ${result.takenAt}): ${result.checked} chain head(s) checked, ${result.expired} expired, ${result.findings.length} finding(s)`,
        ];
        if (result.findings.length > 0)
          lines.push(
            table([
              ['ITEM', 'VERSION', 'FINDING', 'DETAIL'],
              ...result.findings.map((f) => [
                f.itemKey ?? '',
                f.version === undefined ? '' : String(f.version),
                f.kind,
                f.message,
              ]),
            ]),
          );
        return lines.join('\n');
      });
      return result.findings.length > 0 ? EXIT.findings : EXIT.ok;
    }
    default:
      throw new ValidationError(`digest takes keygen, publish or check, got "${sub}"`);
  }
}
