import { ConfigurationError } from './errors';
import { parseKeyAttributeSpec } from './key-attributes';
import { HmacKey, type MacKey, parseSecret } from './mac';
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

/**
 * Reads and checks the configuration once, at cold start. Table names default
 * to the local `dev` stage names, so a bare `npm start` and the CLI agree.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): HistoryConfig {
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
