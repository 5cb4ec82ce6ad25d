import { existsSync, readFileSync } from 'node:fs';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LOCAL_LABEL_SECRET_FILE } from '../local/keys';
import { createDynamoClient } from '../shared/aws/clients';
import { requireLabelKey } from '../shared/aws/kms';
import { type HistoryConfig, loadConfigs, selectTable } from '../shared/core/config';
import { ValidationError } from '../shared/core/errors';
import { HmacKey, parseSecret } from '../shared/core/mac';
import { deploymentSettings, recordedTablesEnv } from '../shared/core/stage-config.js';
import { HistoryReader } from '../shared/reading/audit';
import { checkEndpoint, regionOf } from './hints';
import { type Io, type Print, printer } from './io';

/** The options every command takes. */
export interface CommonOptions {
  json?: boolean;
  stage?: string;
  table?: string[];
}

/** What a command runs with: its output, the stage's environment, a client, and the recorded tables. */
export interface Session {
  io: Io;
  json: boolean;
  print: Print;
  /** The environment with the stage's settings file applied. */
  env: NodeJS.ProcessEnv;
  region: string | undefined;
  client: DynamoDBClient;
  configs: HistoryConfig[];
  /** The table `--table` names, or the only one. */
  config(): HistoryConfig;
  /** A reader of `config()`'s history. */
  reader(): HistoryReader;
  /** `config()` with the rollback label key (see {@link labelled}). */
  labelled(): HistoryConfig;
  /** Set to the table being worked on, for hints on SDK errors. */
  current: HistoryConfig | undefined;
}

/**
 * The environment with the stage's settings file applied (shared/core/stage-config.js): attached
 * tables become RECORDED_TABLES, a created table's key and retention come from the file. Without
 * a file, the environment stays as it is.
 */
export function stageEnv(env: NodeJS.ProcessEnv, stageOption: string | undefined): NodeJS.ProcessEnv {
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
 * The rollback label key: LABEL_KMS_KEY_ID in AWS, LABEL_SECRET, or else the
 * local stack's own secret file (made by `npm start`), so that a local rollback
 * seals labels the local writeHistory accepts.
 */
export function labelled(config: HistoryConfig, env: NodeJS.ProcessEnv): HistoryConfig {
  if (!env.LABEL_KMS_KEY_ID?.trim() && !config.labelKey && existsSync(LOCAL_LABEL_SECRET_FILE))
    return {
      ...config,
      labelKey: new HmacKey(
        parseSecret(readFileSync(LOCAL_LABEL_SECRET_FILE, 'utf8').trim(), LOCAL_LABEL_SECRET_FILE),
      ),
    };
  return requireLabelKey(config, env);
}

/** A client for the region and endpoint the environment names (checked before any request). */
export function clientFor(io: Io): { client: DynamoDBClient; region: string | undefined } {
  checkEndpoint(io.env);
  const region = regionOf(io.env);
  return { client: createDynamoClient(region ? { region } : {}), region };
}

let inUse: HistoryConfig | undefined;
/** The table the running command works on, for hints on SDK errors (cli/hints.ts); reset per command. */
export const tableInUse = (reset = false): HistoryConfig | undefined => {
  const config = inUse;
  if (reset) inUse = undefined;
  return config;
};

/** Opens a session for a command that reads the recorded tables. */
export function openSession(io: Io, options: CommonOptions): Session {
  const json = options.json ?? false;
  const tables = options.table ?? [];
  if (tables.length > 1) throw new ValidationError(`give one --table, got ${tables.length}`);
  const { client, region } = clientFor(io);
  const env = stageEnv(io.env, options.stage);
  const configs = loadConfigs(env);
  const session: Session = {
    io,
    json,
    print: printer(io, json),
    env,
    region,
    client,
    configs,
    get current() {
      return inUse;
    },
    set current(config) {
      inUse = config;
    },
    config: () => {
      const config = selectTable(configs, tables[0]);
      inUse = config;
      return config;
    },
    reader: () => new HistoryReader({ client, config: session.config(), cursorSecret: env.CURSOR_SECRET }),
    labelled: () => labelled(session.config(), env),
  };
  return session;
}
