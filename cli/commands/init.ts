import { mkdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, relative } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { TableNotAttachableError, ValidationError } from '../../shared/core/errors';
import {
  type AttachedTable,
  deploymentSettings,
  readStageFile,
  type StageFile,
  stageConfigPath,
} from '../../shared/core/stage-config.js';
import { checkHistoryKey, inspectTable, type TableInspection } from '../../shared/integrity/attach';
import { type CommandSpec, opt } from '../command';
import { EXIT, int, printer } from '../io';
import { clientFor } from '../session';

export interface InitOptions {
  stage: string;
  tables: string[];
  keyAttributes?: string | undefined;
  retentionDays?: number | undefined;
  keepVersions?: number | undefined;
  alarmEmail?: string | undefined;
  service?: string;
}

export interface InitResult {
  file: string;
  /** The file as the user would name it: relative to the working directory when under it. */
  shownFile: string;
  settings: StageFile;
  attached: (TableInspection & { history: string; streamChanged: boolean })[];
  next: string[];
}

/**
 * `dynamo-history init`: writes (or updates) the stage's settings file. With `--table`, it
 * reads each existing table with DescribeTable, checks its stream, and attaches it; it never
 * changes the table. A table already attached keeps its entry, and must keep its key.
 * Nothing is written unless every table passes.
 * @throws TableNotAttachableError, ValidationError
 */
export async function initStage(
  client: DynamoDBClient,
  options: InitOptions,
  where: {
    endpoint: string;
    region?: string;
    endpointUrl?: string;
    env: NodeJS.ProcessEnv;
    cwd: string;
    local: boolean;
  },
): Promise<InitResult> {
  const file = stageConfigPath(options.stage, where.env, where.cwd);
  const existing = readStageFile(file);
  const settings: StageFile = { ...(existing ?? {}) };
  const service = options.service ?? 'dynamo-history';
  const attached: InitResult['attached'] = [];

  if (options.tables.length > 0) {
    if (existing && !existing.tables && existing.keyAttributes !== undefined)
      throw new ValidationError(
        `${file} creates its own latest table for stage ${options.stage}; attaching tables would drop it from the stack (its history stays in ${service}-${options.stage}-history). Attach under another stage`,
      );
    if (options.keyAttributes !== undefined)
      throw new ValidationError(
        '--key-attributes is for the created table; an attached table’s key is read from DescribeTable',
      );
    const tables: AttachedTable[] = [...(existing?.tables ?? [])];
    for (const name of options.tables) {
      const inspection = await inspectTable(client, name, where);
      const history = `${service}-${options.stage}-${name}-history`;
      const before = tables.find((t) => t.name === name);
      if (before && before.key !== inspection.key)
        throw new TableNotAttachableError(
          'table.keyMismatch',
          `${file} attaches ${name} keyed ${before.key}, but the table is now keyed ${inspection.key}: its history (${history}) was written under the old key`,
          { table: name, fix: 'attach the new table under another stage' },
        );
      await checkHistoryKey(client, inspection, history);
      const entry: AttachedTable = {
        ...(before ?? {}),
        name,
        key: inspection.key,
        streamArn: inspection.streamArn,
      };
      if (before) tables[tables.indexOf(before)] = entry;
      else tables.push(entry);
      attached.push({
        ...inspection,
        history,
        streamChanged: before !== undefined && before.streamArn !== inspection.streamArn,
      });
    }
    settings.tables = tables;
  } else if (options.keyAttributes !== undefined) {
    if (existing?.tables)
      throw new ValidationError(`${file} attaches existing tables; --key-attributes is for a created table`);
    if (existing?.keyAttributes !== undefined && existing.keyAttributes !== options.keyAttributes)
      throw new ValidationError(
        `${file} keys the created table ${existing.keyAttributes}; changing it to ${options.keyAttributes} would replace the table. Use another stage`,
      );
    settings.keyAttributes = options.keyAttributes;
  } else if (!existing) {
    settings.keyAttributes = 'id';
  }
  if (options.retentionDays !== undefined) settings.retentionDays = options.retentionDays;
  if (options.keepVersions !== undefined) settings.keepVersions = options.keepVersions;
  if (options.alarmEmail !== undefined) settings.alarmEmail = options.alarmEmail;

  // The whole file must read back as valid settings before it replaces the old one.
  const text = `${JSON.stringify(settings, null, 2)}\n`;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, text);
  try {
    deploymentSettings({
      service,
      stage: options.stage,
      env: { DYNAMO_HISTORY_CONFIG: `${file}.tmp` },
      cwd: where.cwd,
    });
  } catch (error) {
    unlinkSync(`${file}.tmp`);
    throw new ValidationError(
      `the settings would not be valid, so ${file} is unchanged: ${(error as Error).message}`,
    );
  }
  renameSync(`${file}.tmp`, file);

  const rel = relative(where.cwd, file);
  const shown = rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
  const stageFlag = options.stage === 'dev' ? '' : ` --stage ${options.stage}`;
  const next = [
    `keep ${shown} under version control: every deploy of stage ${options.stage} reads it`,
    where.local
      ? 'restart npm start to record the attached tables'
      : `npx serverless deploy${stageFlag || ' --stage dev'}`,
    ...attached.map(
      (t) =>
        `dynamo-history backfill --table ${t.table}${stageFlag}   (records the ${t.itemCount ?? 'existing'} item(s) already there)`,
    ),
  ];
  return { file, shownFile: shown, settings, attached, next };
}

/** `init`: the command around {@link initStage}. */
export const initCommands: CommandSpec[] = [
  {
    name: 'init',
    summary: 'write the stage’s settings file, config/<stage>.json; --table attaches an existing table',
    args: [],
    manyTables: true,
    options: [
      { flags: '--key-attributes <spec>', description: 'the created table’s key: id, pk,sk or pk:S,sk:N' },
      { flags: '--retention-days <n>', description: 'keep superseded versions this many days' },
      { flags: '--keep-versions <n>', description: 'always keep this many newest versions' },
      { flags: '--alarm-email <address>', description: 'subscribe this address to the alarms' },
    ],
    more: 'Each --table is read with DescribeTable (its key and stream); the table itself is never changed.',
    run: async (io, _args, options) => {
      const { client, region } = clientFor(io);
      const stage = options.stage ?? io.env.STAGE?.trim() ?? 'dev';
      const endpoint = io.env.AWS_ENDPOINT_URL_DYNAMODB?.trim() || io.env.AWS_ENDPOINT_URL?.trim();
      const result = await initStage(
        client,
        {
          stage: stage || 'dev',
          tables: options.table ?? [],
          keyAttributes: opt(options, 'keyAttributes'),
          retentionDays: int(opt(options, 'retentionDays'), '--retention-days'),
          keepVersions: int(opt(options, 'keepVersions'), '--keep-versions'),
          alarmEmail: opt(options, 'alarmEmail'),
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
      printer(io, options.json ?? false)(result, () =>
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
    },
  },
];
