// @ts-check
// A stage's deployment settings, in one versioned file per stage (config/<stage>.json, written by
// `dynamo-history init`). It is JavaScript so that the CloudFormation Serverless loads with require()
// (resources/*.js), the local stack and the code (shared/core/config.ts) read it the same way.

const { existsSync, readFileSync } = require('node:fs');
const { createHash } = require('node:crypto');
const { join, resolve } = require('node:path');
const { parseKeyAttributeSpec } = require('./key-attributes.js');

/**
 * A table the deployment records but does not own: the team's own table, named in the stage file.
 * @typedef {{ name: string, key: string, streamArn: string, versionAttribute?: string, actorAttribute?: string }} AttachedTable
 */
/**
 * The stage file. Without `tables`, the deployment creates its own latest table (keyed by `keyAttributes`).
 * `versionAttribute` and `actorAttribute` apply to the created table, and to attached tables that name none.
 * `activityIndex: false` leaves out the history tables' `byActivity` index (table-wide activity), saving its write unit per record.
 * @typedef {{ tables?: AttachedTable[], keyAttributes?: string, versionAttribute?: string, actorAttribute?: string, retentionDays?: number, keepVersions?: number, alarmEmail?: string, activityIndex?: boolean }} StageFile
 */
/**
 * One recorded table and the history it gets. `id` suffixes the CloudFormation logical ids
 * ('' for the created table, which keeps LatestTable/HistoryTable/FailuresTable).
 * @typedef {{ latest: string, history: string, failures: string, key: string, stream?: string, version?: string, actor?: string, id: string }} RecordedTable
 */
/**
 * @typedef {{ file: string | undefined, mode: 'created' | 'attached', keyAttributes: string,
 *   retention: { days: string, versions: string }, alarmEmail: string, activityIndex: boolean, tables: RecordedTable[] }} DeploymentSettings
 */

/** DynamoDB's table-name rule (Developer Guide, "Naming rules"). */
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
const ATTRIBUTE = /^[^\s,:]{1,255}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const STREAM_ARN =
  /^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table\/[A-Za-z0-9_.-]{3,255}\/stream\/[^\s/]{1,64}$/;
/** Lambda allows 4 KB of environment in all; RECORDED_TABLES must leave room for the rest. */
const MAX_RECORDED_TABLES_BYTES = 2500;
const FILE_FIELDS = [
  'tables',
  'keyAttributes',
  'versionAttribute',
  'actorAttribute',
  'retentionDays',
  'keepVersions',
  'alarmEmail',
  'activityIndex',
];
/** The attribute names a stage file (or one of its tables) may set. */
const ATTRIBUTE_FIELDS = /** @type {const} */ (['versionAttribute', 'actorAttribute']);
const TABLE_FIELDS = ['name', 'key', 'streamArn', 'versionAttribute', 'actorAttribute'];

/** A settings mistake: names the file (or variable) and what to change. */
class StageConfigError extends Error {}

/**
 * Where a stage's settings live: `DYNAMO_HISTORY_CONFIG` when set, else `config/<stage>.json`.
 * @param {string} stage @param {NodeJS.ProcessEnv} [env] @param {string} [cwd]
 */
function stageConfigPath(stage, env = process.env, cwd = process.cwd()) {
  const named = env.DYNAMO_HISTORY_CONFIG?.trim();
  return named ? resolve(cwd, named) : join(cwd, 'config', `${stage}.json`);
}

/**
 * @param {unknown} value @param {string} where
 * @returns {Record<string, unknown>}
 */
function record(value, where) {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new StageConfigError(`${where} must be a JSON object`);
  return /** @type {Record<string, unknown>} */ (value);
}

/** @param {Record<string, unknown>} obj @param {string[]} allowed @param {string} where */
function onlyFields(obj, allowed, where) {
  const unknown = Object.keys(obj).filter((k) => !allowed.includes(k));
  if (unknown.length > 0)
    throw new StageConfigError(
      `${where} has unknown field(s) ${unknown.join(', ')}; allowed: ${allowed.join(', ')}`,
    );
}

/** @param {unknown} value @param {string} where @param {number} max */
function optionalInteger(value, where, max) {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max)
    throw new StageConfigError(`${where} must be an integer from 1 to ${max}, got ${JSON.stringify(value)}`);
  return value;
}

/** @param {unknown} value @param {string} where @param {RegExp} pattern @param {string} what */
function text(value, where, pattern, what) {
  if (typeof value !== 'string' || !pattern.test(value))
    throw new StageConfigError(`${where} must be ${what}, got ${JSON.stringify(value)}`);
  return value;
}

/** @param {string} spec @param {string} where */
function keySpec(spec, where) {
  try {
    parseKeyAttributeSpec(spec);
  } catch (error) {
    throw new StageConfigError(`${where}: ${/** @type {Error} */ (error).message}`);
  }
  return spec;
}

/**
 * Checks a stage file's content; every mistake names the field.
 * @param {unknown} json @param {string} path
 * @returns {StageFile}
 */
function parseStageFile(json, path) {
  const obj = record(json, path);
  onlyFields(obj, FILE_FIELDS, path);
  /** @type {StageFile} */
  const out = {};
  if (obj.keyAttributes !== undefined)
    out.keyAttributes = keySpec(
      text(obj.keyAttributes, `${path}: keyAttributes`, /./, 'a key spec'),
      `${path}: keyAttributes`,
    );
  for (const field of ATTRIBUTE_FIELDS)
    if (obj[field] !== undefined)
      out[field] = text(obj[field], `${path}: ${field}`, ATTRIBUTE, 'an attribute name');
  const days = optionalInteger(obj.retentionDays, `${path}: retentionDays`, 36_500);
  if (days !== undefined) out.retentionDays = days;
  const versions = optionalInteger(obj.keepVersions, `${path}: keepVersions`, 1_000);
  if (versions !== undefined) out.keepVersions = versions;
  if (obj.alarmEmail !== undefined)
    out.alarmEmail = text(obj.alarmEmail, `${path}: alarmEmail`, EMAIL, 'an e-mail address');
  if (obj.activityIndex !== undefined) {
    if (typeof obj.activityIndex !== 'boolean')
      throw new StageConfigError(`${path}: activityIndex must be true or false`);
    out.activityIndex = obj.activityIndex;
  }
  if (obj.tables !== undefined) {
    if (!Array.isArray(obj.tables) || obj.tables.length === 0)
      throw new StageConfigError(`${path}: tables must be a non-empty list (leave it out to create a table)`);
    if (out.keyAttributes !== undefined)
      throw new StageConfigError(
        `${path}: keyAttributes is for the created table; attached tables each have their own key`,
      );
    const seen = new Set();
    out.tables = obj.tables.map((entry, i) => {
      const where = `${path}: tables[${i}]`;
      const t = record(entry, where);
      onlyFields(t, TABLE_FIELDS, where);
      const name = text(t.name, `${where}.name`, TABLE_NAME, 'a DynamoDB table name');
      if (seen.has(name)) throw new StageConfigError(`${where}: table ${name} is listed twice`);
      seen.add(name);
      const streamArn = text(t.streamArn, `${where}.streamArn`, STREAM_ARN, 'a DynamoDB stream ARN');
      if (!streamArn.includes(`:table/${name}/stream/`))
        throw new StageConfigError(`${where}: streamArn ${streamArn} is not a stream of table ${name}`);
      /** @type {AttachedTable} */
      const table = {
        name,
        key: keySpec(text(t.key, `${where}.key`, /./, 'a key spec'), `${where}.key`),
        streamArn,
      };
      for (const field of ATTRIBUTE_FIELDS)
        if (t[field] !== undefined)
          table[field] = text(t[field], `${where}.${field}`, ATTRIBUTE, 'an attribute name');
      return table;
    });
  }
  return out;
}

/**
 * Reads a stage file, or undefined when there is none.
 * @param {string} path
 * @returns {StageFile | undefined}
 */
function readStageFile(path) {
  if (!existsSync(path)) return undefined;
  let json;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new StageConfigError(`${path} is not valid JSON: ${/** @type {Error} */ (error).message}`);
  }
  return parseStageFile(json, path);
}

/** A CloudFormation logical-id suffix for a table name: letters and digits, unique per name. @param {string} name */
function logicalSuffix(name) {
  const alnum = name.replace(/[^A-Za-z0-9]/g, '');
  if (alnum === name) return name;
  return `${alnum}${createHash('sha256').update(name).digest('hex').slice(0, 6)}`;
}

/**
 * The table the deployment creates (its logical ids keep no suffix: LatestTable, HistoryTable, FailuresTable).
 * @param {string} prefix `<service>-<stage>` @param {string} key
 * @param {string | undefined} version @param {string | undefined} actor
 * @returns {RecordedTable}
 */
const createdTable = (prefix, key, version, actor) => ({
  latest: `${prefix}-latest`,
  history: `${prefix}-history`,
  failures: `${prefix}-failures`,
  key,
  id: '',
  ...(version ? { version } : {}),
  ...(actor ? { actor } : {}),
});

/**
 * What a stage records, and how. With a stage file, the file governs: a shell variable that
 * says otherwise (KEY_ATTRIBUTES, HISTORY_RETENTION_DAYS, HISTORY_KEEP_VERSIONS) is refused,
 * so a redeploy from another shell cannot silently change retention or a key schema.
 * Without one (the zero-configuration `dev` stage), the variables decide, as before.
 * @param {{ service?: string, stage?: string, env?: NodeJS.ProcessEnv, cwd?: string, requireFile?: boolean }} [options]
 * @returns {DeploymentSettings}
 */
function deploymentSettings({
  service = 'dynamo-history',
  stage = 'dev',
  env = process.env,
  cwd = process.cwd(),
  requireFile = false,
} = {}) {
  const path = stageConfigPath(stage, env, cwd);
  const file = readStageFile(path);
  if (!file && requireFile)
    throw new StageConfigError(
      `stage ${stage} has no settings file ${path}: write it with \`dynamo-history init --stage ${stage}\` (README, "Deploying to AWS")`,
    );
  const fromEnv = {
    keyAttributes: env.KEY_ATTRIBUTES?.trim() ?? '',
    days: env.HISTORY_RETENTION_DAYS?.trim() ?? '',
    versions: env.HISTORY_KEEP_VERSIONS?.trim() ?? '',
  };
  const prefix = `${service}-${stage}`;
  if (!file) {
    const keyAttributes = keySpec(fromEnv.keyAttributes || 'id', 'KEY_ATTRIBUTES');
    return {
      file: undefined,
      mode: 'created',
      keyAttributes,
      retention: { days: fromEnv.days, versions: fromEnv.versions },
      alarmEmail: env.ALARM_EMAIL?.trim() ?? '',
      activityIndex: true,
      tables: [
        createdTable(prefix, keyAttributes, env.VERSION_ATTRIBUTE?.trim(), env.ACTOR_ATTRIBUTE?.trim()),
      ],
    };
  }
  const days = file.retentionDays === undefined ? '' : String(file.retentionDays);
  const versions = file.keepVersions === undefined ? '' : String(file.keepVersions);
  /** @param {string} variable @param {string} shell @param {string} governed */
  const agree = (variable, shell, governed) => {
    if (shell !== '' && shell !== governed)
      throw new StageConfigError(
        `${variable}=${shell} is set in the shell, but ${path} governs stage ${stage} (${governed || 'unset'}): unset ${variable} or edit the file`,
      );
  };
  agree('HISTORY_RETENTION_DAYS', fromEnv.days, days);
  agree('HISTORY_KEEP_VERSIONS', fromEnv.versions, versions);
  agree('VERSION_ATTRIBUTE', env.VERSION_ATTRIBUTE?.trim() ?? '', file.versionAttribute ?? 'version');
  agree('ACTOR_ATTRIBUTE', env.ACTOR_ATTRIBUTE?.trim() ?? '', file.actorAttribute ?? 'modifiedBy');
  const retention = { days, versions };
  const alarmEmail = file.alarmEmail ?? '';
  const activityIndex = file.activityIndex ?? true;
  if (!file.tables) {
    const keyAttributes = file.keyAttributes ?? 'id';
    agree('KEY_ATTRIBUTES', fromEnv.keyAttributes, keyAttributes);
    return {
      file: path,
      mode: 'created',
      keyAttributes,
      retention,
      alarmEmail,
      activityIndex,
      tables: [createdTable(prefix, keyAttributes, file.versionAttribute, file.actorAttribute)],
    };
  }
  if (fromEnv.keyAttributes !== '')
    throw new StageConfigError(
      `KEY_ATTRIBUTES=${fromEnv.keyAttributes} is set in the shell, but the tables ${path} attaches each have their own key: unset it`,
    );
  const tables = file.tables.map((t) => {
    const history = `${prefix}-${t.name}-history`;
    const failures = `${prefix}-${t.name}-failures`;
    if (failures.length > 255)
      throw new StageConfigError(
        `${path}: the history tables of ${t.name} would be named past 255 characters`,
      );
    /** @type {RecordedTable} */
    const table = {
      latest: t.name,
      history,
      failures,
      key: t.key,
      stream: t.streamArn,
      id: logicalSuffix(t.name),
    };
    const version = t.versionAttribute ?? file.versionAttribute;
    const actor = t.actorAttribute ?? file.actorAttribute;
    if (version) table.version = version;
    if (actor) table.actor = actor;
    return table;
  });
  const settings = /** @type {DeploymentSettings} */ ({
    file: path,
    mode: 'attached',
    keyAttributes: '',
    retention,
    alarmEmail,
    activityIndex,
    tables,
  });
  const bytes = recordedTablesEnv(settings).length;
  if (bytes > MAX_RECORDED_TABLES_BYTES)
    throw new StageConfigError(
      `${path} attaches ${tables.length} tables: their settings take ${bytes} bytes of the Lambda's 4 KB environment (at most ${MAX_RECORDED_TABLES_BYTES}); split them over two stages`,
    );
  return settings;
}

/**
 * RECORDED_TABLES for the functions: the attached tables as JSON, '' for the created table
 * (which the LATEST_TABLE_NAME, HISTORY_TABLE_NAME, ... variables describe).
 * @param {DeploymentSettings} settings
 */
function recordedTablesEnv(settings) {
  if (settings.mode === 'created') return '';
  return JSON.stringify(
    settings.tables.map(({ latest, history, failures, key, stream, version, actor }) => ({
      latest,
      history,
      failures,
      key,
      stream,
      ...(version ? { version } : {}),
      ...(actor ? { actor } : {}),
    })),
  );
}

module.exports = {
  StageConfigError,
  stageConfigPath,
  parseStageFile,
  readStageFile,
  deploymentSettings,
  recordedTablesEnv,
  logicalSuffix,
  TABLE_NAME,
};
