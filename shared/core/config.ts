import { ConfigurationError, UnknownTableError } from './errors';
import { parseKeyAttributeSpec } from './key-attributes';
import { HmacKey, type MacKey, parseSecret } from './mac';
import { object, optional, string } from './schema';
import type { KeySchema, RetentionPolicy } from './types';

/** Attribute names the writer library manages on latest-table items. */
export interface ManagedAttributes {
  version: string;
  createdAt: string;
  modifiedAt: string;
  modifiedBy: string;
  /**
   * Set only by rollback: `{source, version, restoredFrom, reason}`. It labels
   * the history record of exactly that version; stripped from history images.
   */
  context: string;
}

export interface HistoryConfig {
  latestTableName: string;
  historyTableName: string;
  failuresTableName: string;
  keySchema: KeySchema;
  attributes: ManagedAttributes;
  /** Attribute of the latest item naming who changed it; copied to history as `actor`. */
  actorAttribute: string;
  /**
   * How coarsely the stream dates records: AWS rounds ApproximateCreationDateTime
   * down to the second, DynamoDB Local to the minute. Backfill ordering relies on it.
   */
  streamTimeResolutionMs: number;
  /**
   * Opt-in retention (`HISTORY_RETENTION_DAYS`, `HISTORY_KEEP_VERSIONS`); undefined
   * keeps history forever. Recorded in every record's hash so verify can tell expiry from tampering.
   */
  retention: RetentionPolicy | undefined;
  /**
   * The key of rollback labels (README, "Threat model"): the rollback service MACs
   * its label with it, writeHistory verifies it. `LABEL_SECRET` locally; in AWS the
   * handlers set a KMS HMAC key (`LABEL_KMS_KEY_ID`). Without one, rollback refuses
   * to run and writeHistory records no write as a rollback.
   */
  labelKey?: MacKey | undefined;
  /**
   * The stream writeHistory records for this table (`LATEST_STREAM_ARN`, or the table's entry
   * in `RECORDED_TABLES`). Only writeHistory needs it.
   */
  streamArn?: string | undefined;
}

const NAME = /^[^\s,:]{1,255}$/;

/**
 * Parses `KEY_ATTRIBUTES`: `id`, `pk,sk`, or with types `pk:S,sk:N`.
 * String is the default type, as in most tables. The same parser as the template's.
 * @throws ConfigurationError
 */
export function parseKeyAttributes(spec: string): KeySchema {
  try {
    return parseKeyAttributeSpec(spec) as KeySchema;
  } catch (error) {
    throw new ConfigurationError((error as Error).message, { cause: error });
  }
}

function name(env: NodeJS.ProcessEnv, variable: string, fallback?: string): string {
  const value = env[variable]?.trim() || fallback;
  if (!value) throw new ConfigurationError(`${variable} is not set`);
  if (!NAME.test(value)) throw new ConfigurationError(`${variable} is not a valid name: "${value}"`);
  return value;
}

function resolution(value: string | undefined): number {
  const seconds = Number(value?.trim() || '1');
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 3600) {
    throw new ConfigurationError(
      `STREAM_TIME_RESOLUTION_SECONDS must be an integer from 1 to 3600, got "${value}"`,
    );
  }
  return seconds * 1000;
}

function positiveInteger(env: NodeJS.ProcessEnv, variable: string, max: number): number | undefined {
  const raw = env[variable]?.trim();
  if (!raw) return undefined;
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new ConfigurationError(`${variable} must be an integer from 1 to ${max}, got "${raw}"`);
  }
  return n;
}

/** Upper bounds: about 100 years, and a window the writer can expire in one batch. */
const MAX_RETENTION_DAYS = 36_500;
const MAX_KEEP_VERSIONS = 1_000;

/** Parses the retention policy; undefined when neither variable is set. */
export function parseRetention(env: NodeJS.ProcessEnv): RetentionPolicy | undefined {
  const days = positiveInteger(env, 'HISTORY_RETENTION_DAYS', MAX_RETENTION_DAYS);
  const versions = positiveInteger(env, 'HISTORY_KEEP_VERSIONS', MAX_KEEP_VERSIONS);
  if (days === undefined && versions === undefined) return undefined;
  const policy: RetentionPolicy = {};
  if (days !== undefined) policy.days = days;
  if (versions !== undefined) policy.versions = versions;
  return policy;
}

/** Log levels, lowest first. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What a function knows of where it runs, beyond its tables: read here, never elsewhere. */
export interface RuntimeSettings {
  /** The metrics' `Service` dimension (`SERVICE`, the template sets the service's name). */
  service: string;
  /** `STAGE`: the metrics' `Stage` dimension and the default table names. */
  stage: string;
  /** `LOG_LEVEL`, default `info`. */
  logLevel: LogLevel;
  /**
   * Where list cursors' HMAC key comes from: a Secrets Manager secret (`CURSOR_SECRET_ARN`, AWS)
   * or the key itself (`CURSOR_SECRET`, local). Read by `shared/aws/secrets.ts`.
   */
  cursorSecret: { arn?: string; value?: string };
}

/**
 * Reads and checks the runtime settings, once, at cold start.
 * @throws ConfigurationError
 */
export function loadRuntime(env: NodeJS.ProcessEnv = process.env): RuntimeSettings {
  const level = (env.LOG_LEVEL?.trim() || 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    throw new ConfigurationError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${env.LOG_LEVEL}"`);
  const arn = env.CURSOR_SECRET_ARN?.trim();
  const value = env.CURSOR_SECRET?.trim();
  return {
    service: env.SERVICE?.trim() || 'dynamo-history',
    stage: env.STAGE?.trim() || 'dev',
    logLevel: level as LogLevel,
    cursorSecret: { ...(arn ? { arn } : {}), ...(value ? { value } : {}) },
  };
}

/**
 * Reads and checks the configuration of the one recorded table, once, at cold start.
 * With several attached tables (`RECORDED_TABLES`), `table` names the one; it may be
 * left out only when there is exactly one. Table names default to the local `dev`
 * stage names, so a bare `npm start` and the CLI agree.
 * @throws ConfigurationError
 * @throws UnknownTableError when `table` is not recorded, or is needed and missing
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, table?: string): HistoryConfig {
  return selectTable(loadConfigs(env), table);
}

/** The recorded table named `table`, or the only one. @throws UnknownTableError */
export function selectTable(configs: readonly HistoryConfig[], table?: string): HistoryConfig {
  const names = configs.map((c) => c.latestTableName);
  if (table === undefined || table === '') {
    if (configs.length === 1) return configs[0] as HistoryConfig;
    throw new UnknownTableError(
      `this deployment records ${configs.length} tables (${names.join(', ')}): name one`,
      names,
      { required: true },
    );
  }
  const found = configs.find((c) => c.latestTableName === table);
  if (!found)
    throw new UnknownTableError(
      `table ${JSON.stringify(table.slice(0, 300))} is not recorded here; recorded: ${names.join(', ')}`,
      names,
    );
  return found;
}

/**
 * One service per recorded table, built on first use: `of(table)` answers for the table
 * named (or the only one), as {@link selectTable} picks it.
 */
export function perTable<T>(
  configs: readonly HistoryConfig[],
  build: (config: HistoryConfig) => T,
): (table?: string) => T {
  const built = new Map<HistoryConfig, T>();
  return (table) => {
    const config = selectTable(configs, table);
    let service = built.get(config);
    if (service === undefined) {
      service = build(config);
      built.set(config, service);
    }
    return service;
  };
}

/** One entry of RECORDED_TABLES, as shared/core/stage-config.js writes it. */
const recordedTable = object(
  {
    latest: string({ min: 3, max: 255 }),
    history: string({ min: 3, max: 255 }),
    failures: string({ min: 3, max: 255 }),
    key: string({ min: 1, max: 600 }),
    stream: string({ min: 1, max: 1024 }),
    version: optional(string({ min: 1, max: 255 })),
    actor: optional(string({ min: 1, max: 255 })),
  },
  { strict: true },
);

/**
 * The configuration of every recorded table: the attached tables of `RECORDED_TABLES`
 * (each with its own history and failures tables, so histories never collide), or the
 * one table the LATEST_TABLE_NAME, HISTORY_TABLE_NAME, ... variables describe.
 * @throws ConfigurationError
 */
export function loadConfigs(env: NodeJS.ProcessEnv = process.env): HistoryConfig[] {
  const recorded = env.RECORDED_TABLES?.trim();
  if (!recorded) return [configOf(env)];
  let entries: unknown;
  try {
    entries = JSON.parse(recorded);
  } catch (error) {
    throw new ConfigurationError(`RECORDED_TABLES is not JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!Array.isArray(entries) || entries.length === 0)
    throw new ConfigurationError('RECORDED_TABLES must be a non-empty JSON list');
  const configs = entries.map((entry, i) => {
    let t: ReturnType<typeof recordedTable>;
    try {
      t = recordedTable(entry, `RECORDED_TABLES[${i}]`);
    } catch (error) {
      throw new ConfigurationError((error as Error).message, { cause: error });
    }
    return configOf({
      ...env,
      LATEST_TABLE_NAME: t.latest,
      HISTORY_TABLE_NAME: t.history,
      FAILURES_TABLE_NAME: t.failures,
      KEY_ATTRIBUTES: t.key,
      LATEST_STREAM_ARN: t.stream,
      ...(t.version ? { VERSION_ATTRIBUTE: t.version } : {}),
      ...(t.actor ? { ACTOR_ATTRIBUTE: t.actor } : {}),
    });
  });
  const names = configs.map((c) => c.latestTableName);
  if (new Set(names).size !== names.length)
    throw new ConfigurationError(`RECORDED_TABLES lists a table twice: ${names.join(', ')}`);
  const histories = configs.flatMap((c) => [c.historyTableName, c.failuresTableName]);
  if (new Set(histories).size !== histories.length)
    throw new ConfigurationError('RECORDED_TABLES gives two tables the same history or failures table');
  return configs;
}

function configOf(env: NodeJS.ProcessEnv): HistoryConfig {
  const prefix = `dynamo-history-${env.STAGE?.trim() || 'dev'}`;
  const config: HistoryConfig = {
    latestTableName: name(env, 'LATEST_TABLE_NAME', `${prefix}-latest`),
    historyTableName: name(env, 'HISTORY_TABLE_NAME', `${prefix}-history`),
    failuresTableName: name(env, 'FAILURES_TABLE_NAME', `${prefix}-failures`),
    keySchema: parseKeyAttributes(env.KEY_ATTRIBUTES?.trim() || 'id'),
    attributes: {
      version: name(env, 'VERSION_ATTRIBUTE', 'version'),
      createdAt: name(env, 'CREATED_AT_ATTRIBUTE', 'createdAt'),
      modifiedAt: name(env, 'MODIFIED_AT_ATTRIBUTE', 'modifiedAt'),
      modifiedBy: name(env, 'MODIFIED_BY_ATTRIBUTE', 'modifiedBy'),
      context: name(env, 'HISTORY_CONTEXT_ATTRIBUTE', 'historyContext'),
    },
    actorAttribute: '',
    streamTimeResolutionMs: resolution(env.STREAM_TIME_RESOLUTION_SECONDS),
    retention: parseRetention(env),
  };
  const streamArn = env.LATEST_STREAM_ARN?.trim();
  if (streamArn) config.streamArn = streamArn;
  const secret = env.LABEL_SECRET?.trim();
  if (secret) config.labelKey = new HmacKey(parseSecret(secret, 'LABEL_SECRET'));
  config.actorAttribute = name(env, 'ACTOR_ATTRIBUTE', config.attributes.modifiedBy);
  const managed = Object.values(config.attributes);
  if (new Set(managed).size !== managed.length) {
    throw new ConfigurationError(`managed attribute names must differ: ${managed.join(', ')}`);
  }
  for (const key of config.keySchema) {
    if (managed.includes(key.name)) {
      throw new ConfigurationError(`key attribute "${key.name}" clashes with a managed attribute`);
    }
  }
  return config;
}
